"""The exceptions the client raises. No ``grpc.RpcError`` ever reaches the caller.

    ClaimstoreError                 anything that went wrong talking to claimstore
    └── ServiceError                the call ended with a non-OK gRPC status
        ├── InvalidArgument         the request is malformed; see field_violations
        ├── NotFound                the resource does not exist
        ├── AlreadyExists           a unique key is taken
        ├── FailedPrecondition      the system is not in a state to do it
        ├── Aborted                 a conflict, such as a stale etag; retry from a read
        ├── OutOfRange
        ├── PermissionDenied
        ├── Unauthenticated
        ├── ResourceExhausted
        ├── Cancelled
        ├── DeadlineExceeded        the call took longer than its timeout
        ├── Unavailable             the server is down or busy; already retried by gRPC
        ├── Unimplemented           the server does not have this method
        ├── Internal                a server bug
        ├── DataLoss                the server's database is damaged; its operator must act
        └── Unknown                 any other status

A bad Python value given to a client method (an unknown enum name, a string
that is not a date) raises ``ValueError`` or ``TypeError`` before any call.
"""

from collections.abc import Sequence
from typing import Final

import grpc
import grpc.aio
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

_DETAIL_TYPES: Final = (
    error_details_pb2.BadRequest,
    error_details_pb2.ResourceInfo,
    error_details_pb2.RetryInfo,
    error_details_pb2.ErrorInfo,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.QuotaFailure,
    error_details_pb2.DebugInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
)


class ClaimstoreError(Exception):
    """Base class of every exception the claimstore client raises."""


class ServiceError(ClaimstoreError):
    """A call ended with a non-OK status.

    Attributes:
        code: The gRPC status code.
        message: The status message from the server.
        details: The google.rpc detail messages the server attached, decoded.
    """

    def __init__(
        self, code: grpc.StatusCode, message: str, details: Sequence[Message] = ()
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.details = tuple(details)

    def __reduce__(self) -> tuple[type["ServiceError"], tuple[object, ...]]:
        # Made again from its own arguments: pickle and copy call the class with ``args``,
        # the one string given to Exception, which would be short of ``message``.
        return type(self), (self.code, self.message, self.details)

    @property
    def field_violations(self) -> dict[str, str]:
        """The fields the server found at fault, each with what is wrong with it."""
        return {
            violation.field: violation.description
            for detail in self.details
            if isinstance(detail, error_details_pb2.BadRequest)
            for violation in detail.field_violations
        }

    @property
    def resource_name(self) -> str:
        """The id of the resource the server named in the error's ResourceInfo: the one not
        found (NotFound), or the one that holds the key given (AlreadyExists); "" if none."""
        for detail in self.details:
            if isinstance(detail, error_details_pb2.ResourceInfo):
                return str(detail.resource_name)
        return ""


class InvalidArgument(ServiceError):
    """The request is malformed; :attr:`field_violations` names each field at fault."""


class NotFound(ServiceError):
    """The resource does not exist; :attr:`resource_name` is the id asked for."""


class AlreadyExists(ServiceError):
    """A resource already holds this unique key; :attr:`resource_name` is its id."""


class FailedPrecondition(ServiceError):
    """The system is not in a state that allows the operation."""


class Aborted(ServiceError):
    """The operation lost a race with another; read again and retry."""


class OutOfRange(ServiceError):
    """A value lies outside the valid range."""


class PermissionDenied(ServiceError):
    """The caller may not do this."""


class Unauthenticated(ServiceError):
    """The caller's credentials are missing or invalid."""


class ResourceExhausted(ServiceError):
    """A quota or a limit such as the message size was exceeded."""


class Cancelled(ServiceError):
    """The call was cancelled."""


class DeadlineExceeded(ServiceError):
    """The call did not finish before its deadline."""


class Unavailable(ServiceError):
    """The server cannot be reached or is busy, even after gRPC's retries."""


class Unimplemented(ServiceError):
    """The server does not implement this method."""


class Internal(ServiceError):
    """The server failed; its log has the details."""


class DataLoss(ServiceError):
    """The server's database is damaged: what the call needs cannot be read from it. Retrying
    does not help until its operator restores the database."""


class Unknown(ServiceError):
    """The call failed with a status the client does not otherwise know."""


EXCEPTION_BY_CODE: Final[dict[grpc.StatusCode, type[ServiceError]]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.UNKNOWN: Unknown,
}
"""The one table from gRPC status code to exception class."""


def _decode_details(error: grpc.Call | grpc.aio.AioRpcError) -> list[Message]:
    # The status of an asyncio call's error is read as a blocking call's: its code,
    # message and trailers are plain methods there too.
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        return []  # the trailers disagree with the status: keep code and message only
    if status is None:
        return []
    details: list[Message] = []
    for packed in status.details:
        for detail_type in _DETAIL_TYPES:
            if packed.Is(detail_type.DESCRIPTOR):
                detail = detail_type()
                packed.Unpack(detail)
                details.append(detail)
                break
    return details


def from_rpc_error(error: grpc.RpcError) -> ServiceError:
    """Returns the ServiceError for a failed call, blocking or asyncio; raise it ``from`` the
    RpcError."""
    if not isinstance(error, grpc.Call | grpc.aio.AioRpcError):
        return Unknown(grpc.StatusCode.UNKNOWN, str(error))
    code = error.code()
    message = error.details() or ""
    exception_type = EXCEPTION_BY_CODE.get(code, Unknown)
    return exception_type(code, message, _decode_details(error))
