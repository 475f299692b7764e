"""Storage: the interface the servicer uses, its values, errors, and the SQLite backend."""

from ._base import ClaimStore
from ._errors import (
    AbandonedError,
    AlreadyExistsError,
    AmbiguousError,
    NotFoundError,
    SchemaError,
    StoreError,
    UnavailableError,
)
from ._model import (
    CitationDraft,
    ClaimCursor,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    ImportOutcome,
    Page,
    SearchCursor,
    SearchHit,
    SearchQuery,
    SearchTerm,
    SourceDraft,
    SpeakerDraft,
    Workload,
)
from ._sqlite import SqliteStore

__all__ = [
    "AbandonedError",
    "AlreadyExistsError",
    "AmbiguousError",
    "CitationDraft",
    "ClaimCursor",
    "ClaimDraft",
    "ClaimOrder",
    "ClaimQuery",
    "ClaimStore",
    "ImportOutcome",
    "NotFoundError",
    "Page",
    "SchemaError",
    "SearchCursor",
    "SearchHit",
    "SearchQuery",
    "SearchTerm",
    "SourceDraft",
    "SpeakerDraft",
    "SqliteStore",
    "StoreError",
    "UnavailableError",
    "Workload",
]
