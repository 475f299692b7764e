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
    client.update_claim(claim.id, channel="remarks to reporters", etag=claim.etag)

``AsyncClient`` is the same client for asyncio: ``async with AsyncClient(...)``,
``await client.get_claim(...)``, ``async for claim in client.list_claims(...)``.
"""

from ._async_client import AsyncClient
from ._client import Client
from ._config import ClientConfig, RetryPolicy
from ._exceptions import (
    Aborted,
    AlreadyExists,
    Cancelled,
    ClaimstoreError,
    DataLoss,
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
from ._pagers import AsyncPager, Pager
from ._watch import AsyncClaimWatch, ClaimWatch
from .v1.claim_filter_pb2 import ClaimFilter
from .v1.claim_pb2 import Citation, Claim, Deletion
from .v1.claim_revision_pb2 import ClaimRevision
from .v1.claim_service_pb2 import ClaimEvent, CreateClaimRequest, ImportResult, SearchResult
from .v1.source_pb2 import Source
from .v1.speaker_pb2 import Speaker

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AlreadyExists",
    "AsyncClaimWatch",
    "AsyncClient",
    "AsyncPager",
    "Cancelled",
    "Citation",
    "Claim",
    "ClaimEvent",
    "ClaimFilter",
    "ClaimRevision",
    "ClaimWatch",
    "ClaimstoreError",
    "Client",
    "ClientConfig",
    "CreateClaimRequest",
    "DataLoss",
    "DeadlineExceeded",
    "Deletion",
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
