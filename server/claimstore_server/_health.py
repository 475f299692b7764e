"""The standard health service (grpc.health.v1.Health): Check, List and Watch.

grpc's own asyncio servicer (``grpc_health.v1.health.aio``) leaves two things to its host:
it has no List, which reflection offers every tool (a call raised NotImplementedError and
logged a traceback), and its Watch streams never end, so a client watching the server's
health (client-side health checking does) held up every shutdown for the whole grace period.
Here a Watch ends with UNAVAILABLE once it has sent NOT_SERVING at shutdown, as the streams of
ClaimService do; the health protocol asks clients to watch again, and a stopping server
refuses them.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

_Context = grpc.aio.ServicerContext[Any, Any]


class HealthServicer:
    """The health of ``services`` ("" is the server as a whole), NOT_SERVING until
    :meth:`set_all` says otherwise; served with ``health_pb2_grpc.add_HealthServicer_to_server``."""

    def __init__(self, services: Iterable[str]) -> None:
        self._statuses: dict[str, int] = dict.fromkeys(
            services, health_pb2.HealthCheckResponse.NOT_SERVING
        )
        # Set, and replaced by a new one, whenever a status changes.
        self._changed = asyncio.Event()
        self._shutting_down = False

    def set_all(self, status: int) -> None:
        """Sets the status of every service; ignored once shutting down."""
        if self._shutting_down:
            return
        self._set_all(status)

    def enter_graceful_shutdown(self) -> None:
        """Sets every service NOT_SERVING for good; each Watch ends once it has sent that."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set_all(self, status: int) -> None:
        for service in self._statuses:
            self._statuses[service] = status
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: _Context
    ) -> health_pb2.HealthCheckResponse:
        status = self._statuses.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, self._unknown(request.service))
        return health_pb2.HealthCheckResponse(status=status)

    async def List(
        self, request: health_pb2.HealthListRequest, context: _Context
    ) -> health_pb2.HealthListResponse:
        return health_pb2.HealthListResponse(
            statuses={
                service: health_pb2.HealthCheckResponse(status=status)
                for service, status in self._statuses.items()
            }
        )

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: _Context
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        sent = None
        while True:
            # Taken before the status is read: a change while the response is written
            # sets this event, and the loop goes round again.
            changed = self._changed
            status = self._statuses.get(
                request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
            )
            if status != sent:
                yield health_pb2.HealthCheckResponse(status=status)
                sent = status
            if self._shutting_down:
                await context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    "the server is shutting down; watch the health of another server",
                )
            await changed.wait()

    def _unknown(self, service: str) -> str:
        known = ", ".join(repr(name) for name in self._statuses)
        return f"no service {service!r} here; the services with a health status are {known}"
