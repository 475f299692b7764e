"""claimstore: the Python client of the claimstore service.

from claimstore import Client

with Client("localhost:50051") as client:
    claim = client.create_claim(
        "Consultations are not currently under way",
        speaker="Dmitry Peskov",
        attribution="direct_quote",
        stated_at="2025-11-20",
    )
    for found in client.list_claims(speaker="Peskov"):
        print(found.id, found.text)
"""

from ._client import Client
from ._config import ClientConfig, RetryPolicy
from ._exceptions import (
    Aborted,
    AlreadyExists,
    Cancelled,
    ClaimstoreError,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from ._jsonl import format_import_line, import_request, parse_import_line
from ._pagers import Pager
from .v1.claim_filter_pb2 import ClaimFilter
from .v1.claim_pb2 import Citation, Claim
from .v1.claim_service_pb2 import CreateClaimRequest, ImportResult, SearchResult
from .v1.source_pb2 import Source
from .v1.speaker_pb2 import Speaker

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "Citation",
    "Claim",
    "ClaimFilter",
    "ClaimstoreError",
    "Client",
    "ClientConfig",
    "CreateClaimRequest",
    "DeadlineExceeded",
    "FailedPrecondition",
    "ImportResult",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "Pager",
    "PermissionDenied",
    "ResourceExhausted",
    "RetryPolicy",
    "SearchResult",
    "ServiceError",
    "Source",
    "Speaker",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "format_import_line",
    "import_request",
    "parse_import_line",
]
