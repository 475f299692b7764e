"""Assembles the gRPC server: ClaimService, health, reflection, listener.

Each part is added by a small ``_configure_*`` function, as in grpc's own
example servers. :func:`serve` runs a server until SIGTERM or SIGINT, then marks
every service NOT_SERVING, lets in-flight calls finish within the grace period,
and closes the store.
"""

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc
from claimstore.v1 import claim_service_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ._handlers import add_servicer
from ._servicer import ClaimServicer
from .store import ClaimStore, SqliteStore

_log = logging.getLogger(__name__)

CLAIM_SERVICE = claim_service_pb2.DESCRIPTOR.services_by_name["ClaimService"]
CLAIM_SERVICE_NAME = CLAIM_SERVICE.full_name


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to run a claimstore server.

    Attributes:
        db_path: The SQLite file to serve; created with its schema if missing.
        listen: host:port to listen on. The default is loopback only; use
            "0.0.0.0:50051" or "[::]:50051" to accept other hosts. Port 0 picks a
            free port (see :attr:`ClaimServer.port`).
        max_workers: Threads serving calls at once; each has its own database
            connection.
        grace_seconds: How long a stop waits for in-flight calls to finish.
        max_message_bytes: The largest request or response message accepted.
    """

    db_path: str | Path = "claimstore.db"
    listen: str = "127.0.0.1:50051"
    max_workers: int = 8
    grace_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024


class ClaimServer:
    """A running claimstore server: the gRPC server, its health service and its store."""

    def __init__(
        self,
        server: grpc.Server,
        store: ClaimStore,
        health_servicer: health.HealthServicer,
        port: int,
        config: ServerConfig,
    ) -> None:
        self.port = port
        self.config = config
        self._server = server
        self._store = store
        self._health = health_servicer
        self._stopped = threading.Event()

    @property
    def target(self) -> str:
        """The address a client on this machine dials to reach the server."""
        host = self.config.listen.rsplit(":", 1)[0]
        if host in ("", "0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    def start(self) -> None:
        """Starts serving; every service reports SERVING."""
        self._server.start()
        _set_health(self._health, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float | None = None) -> None:
        """Stops taking calls, waits up to ``grace`` seconds for running ones, closes the store."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        _set_health(self._health, health_pb2.HealthCheckResponse.NOT_SERVING)
        self._server.stop(self.config.grace_seconds if grace is None else grace).wait()
        self._store.close()

    def wait(self) -> None:
        """Blocks until the server has stopped."""
        self._server.wait_for_termination()


def _set_health(servicer: health.HealthServicer, status: int) -> None:
    for service in ("", CLAIM_SERVICE_NAME):
        servicer.set(service, status)


def _configure_claim_service(server: grpc.Server, store: ClaimStore) -> None:
    add_servicer(server, ClaimServicer(store), CLAIM_SERVICE)


def _configure_health(server: grpc.Server) -> health.HealthServicer:
    # experimental_non_blocking keeps Watch streams from holding worker threads.
    servicer = health.HealthServicer(experimental_non_blocking=True)
    _set_health(servicer, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return servicer


def _configure_reflection(server: grpc.Server) -> None:
    reflection.enable_server_reflection(
        (CLAIM_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )


def _configure_listener(server: grpc.Server, listen: str) -> int:
    try:
        port = server.add_insecure_port(listen)
    except RuntimeError as error:
        raise OSError(f"cannot listen on {listen}: {error}") from error
    if port == 0:
        raise OSError(f"cannot listen on {listen}: the address is taken or invalid")
    return port


def build_server(config: ServerConfig, store: ClaimStore | None = None) -> ClaimServer:
    """Builds a server for ``config`` (not yet started), over ``store`` or the SQLite file."""
    store = store if store is not None else SqliteStore(config.db_path)
    try:
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=config.max_workers, thread_name_prefix="claimstore"
            ),
            options=[
                ("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
        )
        _configure_claim_service(server, store)
        health_servicer = _configure_health(server)
        _configure_reflection(server)
        port = _configure_listener(server, config.listen)
    except BaseException:
        store.close()
        raise
    return ClaimServer(server, store, health_servicer, port, config)


def serve(config: ServerConfig) -> None:
    """Serves until SIGTERM or SIGINT, then drains in-flight calls and returns."""
    claim_server = build_server(config)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        _log.info("received %s; stopping", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        claim_server.start()
        _log.info(
            "claimstore serving %s on %s (schema %s)",
            config.db_path,
            claim_server.target,
            getattr(claim_server._store, "schema_version", "?"),
        )
        stop_requested.wait()
    finally:
        claim_server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _log.info("claimstore stopped")
