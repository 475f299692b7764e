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
anything else (a bug)         INTERNAL            none; the server logs the trace
============================  ==================  =================================
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


def _status(code: int, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)  # type: ignore[arg-type]
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


def status_for(error: Exception) -> status_pb2.Status:
    """Returns the google.rpc.Status that reports ``error`` to the client."""
    if isinstance(error, ValidationError):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ]
        return _status(
            code_pb2.INVALID_ARGUMENT,
            str(error),
            error_details_pb2.BadRequest(field_violations=violations),
        )
    if isinstance(error, AmbiguousError):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field, description=str(error).split(": ", 1)[1]
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
