"""Maps every error the servicer meets to a gRPC status: the one place that does.

============================  ==================  =================================
error                         status code         details
============================  ==================  =================================
ValidationError               INVALID_ARGUMENT    BadRequest, one violation a field
AmbiguousError                INVALID_ARGUMENT    BadRequest naming the field
NotFoundError                 NOT_FOUND           ResourceInfo
AlreadyExistsError            ALREADY_EXISTS      ResourceInfo of the existing one
StaleEtagError                ABORTED             ErrorInfo ETAG_MISMATCH, current etag
FailedPreconditionError       FAILED_PRECONDITION PreconditionFailure naming the state
UnavailableError              UNAVAILABLE         RetryInfo
SchemaError                   FAILED_PRECONDITION
DatabaseFileError             FAILED_PRECONDITION
DataLossError                 DATA_LOSS           ErrorInfo DATABASE_DAMAGED
anything else (a bug)         INTERNAL            none; the server logs the trace
============================  ==================  =================================

A status travels in the call's trailers, which gRPC caps: its message and violations are cut
to what fits, and the message says how many violations were left out.
"""

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, TypeVar

import grpc
from claimstore.v1 import claim_service_pb2
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ._validation import ValidationError
from .store import (
    AlreadyExistsError,
    AmbiguousError,
    DatabaseFileError,
    DataLossError,
    FailedPreconditionError,
    NotFoundError,
    SchemaError,
    StaleEtagError,
    StoreError,
    UnavailableError,
)

_log = logging.getLogger(__name__)

_RETRY_DELAY: Final = duration_pb2.Duration(nanos=100_000_000)
_ERROR_DOMAIN: Final = "claimstore"


_MAX_MESSAGE_BYTES: Final = 800
_MAX_VIOLATION_BYTES: Final = 2400
"""How much of a status's message (UTF-8) and field violations (encoded) go to the client.
Both travel in the call's trailers, the message percent-encoded and the details in base64,
and gRPC drops trailers past 8 KiB (a soft limit, randomly) or 16 KiB: a request with forty
bad ids would otherwise end RESOURCE_EXHAUSTED, its violations lost."""


def _status(code: int, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)  # type: ignore[arg-type]
        packed.append(holder)
    return status_pb2.Status(code=code, message=_shortened(message), details=packed)


def _shortened(message: str, limit: int = _MAX_MESSAGE_BYTES) -> str:
    """``message``, cut to ``limit`` bytes of UTF-8 (ending in "…") when it is longer."""
    encoded = message.encode()
    if len(encoded) <= limit:
        return message
    return encoded[: limit - len("…".encode())].decode(errors="ignore") + "…"


def _bad_request(error: ValidationError) -> status_pb2.Status:
    """INVALID_ARGUMENT with as many of the violations as the trailers carry, in order; the
    message says how many more there are."""
    violations: list[error_details_pb2.BadRequest.FieldViolation] = []
    size = 0
    for v in error.violations:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=v.field, description=v.description
        )
        size += violation.ByteSize() + 3  # its tag and length in the BadRequest
        if violations and size > _MAX_VIOLATION_BYTES:
            break
        violations.append(violation)
    listed = "; ".join(f"{v.field}: {v.description}" for v in violations)
    left = len(error.violations) - len(violations)
    more = f" (and {left} more violations not listed)" if left else ""
    return _status(
        code_pb2.INVALID_ARGUMENT,
        _shortened(listed, _MAX_MESSAGE_BYTES - len(more.encode())) + more,
        error_details_pb2.BadRequest(field_violations=violations),
    )


def status_for(error: Exception) -> status_pb2.Status:
    """Returns the google.rpc.Status that reports ``error`` to the client."""
    if isinstance(error, ValidationError):
        return _bad_request(error)
    if isinstance(error, AmbiguousError):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field,
            description=_shortened(str(error).split(": ", 1)[1], _MAX_VIOLATION_BYTES),
        )
        return _status(
            code_pb2.INVALID_ARGUMENT,
            str(error),
            error_details_pb2.BadRequest(field_violations=[violation]),
        )
    if isinstance(error, NotFoundError):
        return _status(
            code_pb2.NOT_FOUND,
            str(error),
            error_details_pb2.ResourceInfo(
                resource_type=error.resource_type,
                resource_name=error.resource_id,
                description=f"named by {error.field}",
            ),
        )
    if isinstance(error, AlreadyExistsError):
        return _status(
            code_pb2.ALREADY_EXISTS,
            str(error),
            error_details_pb2.ResourceInfo(
                resource_type=error.resource_type,
                resource_name=error.existing_id,
                description=f"holds the {error.field} given",
            ),
        )
    if isinstance(error, StaleEtagError):
        return _status(
            code_pb2.ABORTED,
            str(error),
            error_details_pb2.ErrorInfo(
                reason="ETAG_MISMATCH",
                domain=_ERROR_DOMAIN,
                metadata={"resource_id": error.resource_id, "current_etag": error.current_etag},
            ),
        )
    if isinstance(error, FailedPreconditionError):
        violation = error_details_pb2.PreconditionFailure.Violation(
            type=error.state, subject=error.resource_id, description=error.reason
        )
        return _status(
            code_pb2.FAILED_PRECONDITION,
            str(error),
            error_details_pb2.PreconditionFailure(violations=[violation]),
        )
    if isinstance(error, UnavailableError):
        return _status(
            code_pb2.UNAVAILABLE, str(error), error_details_pb2.RetryInfo(retry_delay=_RETRY_DELAY)
        )
    if isinstance(error, DataLossError):
        return _status(
            code_pb2.DATA_LOSS,
            str(error),
            error_details_pb2.ErrorInfo(reason="DATABASE_DAMAGED", domain=_ERROR_DOMAIN),
        )
    if isinstance(error, (SchemaError, DatabaseFileError)):
        return _status(code_pb2.FAILED_PRECONDITION, str(error))
    return _status(code_pb2.INTERNAL, "internal error: the server log has the details")


Request = TypeVar("Request")
Response = TypeVar("Response")
Servicer = TypeVar("Servicer")
Context = grpc.aio.ServicerContext[Any, Any]
Method = Callable[[Servicer, Request, Context], Awaitable[Response]]


def import_error(error: Exception) -> claim_service_pb2.ImportError:
    """Returns how an import reports ``error`` for one claim: the status CreateClaim would give."""
    status = status_for(error)
    violations: list[claim_service_pb2.FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(
                claim_service_pb2.FieldViolation(field=v.field, description=v.description)
                for v in bad_request.field_violations
            )
    return claim_service_pb2.ImportError(
        code=code_pb2.Code.Name(status.code),
        message=status.message,
        field_violations=violations,
    )


def _failure_status(error: Exception, method_name: str) -> status_pb2.Status:
    """The status for an error a servicer method raised; call it from the ``except`` block,
    so that an unexpected error (a bug) is logged with its traceback."""
    if not isinstance(error, ValidationError | StoreError):
        _log.exception("%s failed", method_name)
    return status_for(error)


def reports_stream_errors(
    method: Callable[[Servicer, Request, Context], AsyncIterator[Response]],
) -> Callable[[Servicer, Request, Context], AsyncIterator[Response]]:
    """Wraps a response-streaming servicer method as :func:`reports_errors` does a unary one."""

    @functools.wraps(method)
    async def wrapper(
        self: Servicer, request: Request, context: Context
    ) -> AsyncIterator[Response]:
        try:
            async for response in method(self, request, context):
                yield response
            return
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            status = _failure_status(error, method.__name__)
        await context.abort_with_status(rpc_status.to_status(status))

    return wrapper


def reports_errors(
    method: Method[Servicer, Request, Response],
) -> Method[Servicer, Request, Response]:
    """Wraps a unary servicer method so that every error it raises becomes a proper status."""

    @functools.wraps(method)
    async def wrapper(self: Servicer, request: Request, context: Context) -> Response:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            status = _failure_status(error, method.__name__)
        await context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returns only by raising")

    return wrapper
