"""Assembles the gRPC server: ClaimService, health, reflection, listener.

Each part is added by a small ``_configure_*`` function, as in grpc's own
example servers. The server is grpc.aio: every call's Python work runs on one
event loop (the README's performance section has the measurements behind that
choice). :func:`serve` runs a server until SIGTERM or SIGINT, then marks every
service NOT_SERVING, lets in-flight calls finish within the grace period, and
closes the store. :class:`ClaimServer` runs one on a background thread, for
programs and tests that embed a server.
"""

import asyncio
import errno
import gc
import logging
import signal
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from claimstore.v1 import claim_service_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ._config import SOCKET_PATH_SCHEMES, ServerConfig, listen_problem
from ._handlers import add_servicer
from ._health import HealthServicer
from ._servicer import ClaimServicer
from .store import ClaimStore, SqliteStore, has_wal_reset_bug, sqlite3

_log = logging.getLogger(__name__)

CLAIM_SERVICE = claim_service_pb2.DESCRIPTOR.services_by_name["ClaimService"]
CLAIM_SERVICE_NAME = CLAIM_SERVICE.full_name

T = TypeVar("T")


@dataclass(slots=True)
class _Parts:
    server: grpc.aio.Server
    store: ClaimStore
    servicer: ClaimServicer
    health: HealthServicer
    port: int


def _configure_claim_service(
    server: grpc.aio.Server, store: ClaimStore, max_message_bytes: int
) -> ClaimServicer:
    servicer = ClaimServicer(store, max_response_bytes=max_message_bytes)
    add_servicer(server, servicer, CLAIM_SERVICE)
    return servicer


def _configure_health(server: grpc.aio.Server) -> HealthServicer:
    # NOT_SERVING until the server has started.
    servicer = HealthServicer(("", CLAIM_SERVICE_NAME))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return servicer


def _configure_reflection(server: grpc.aio.Server) -> None:
    reflection.enable_server_reflection(
        (CLAIM_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )


def _configure_listener(server: grpc.aio.Server, listen: str) -> int:
    problem = listen_problem(listen) or _bind_problem(listen)
    if problem:
        raise OSError(f"cannot listen on {listen}: {problem}")
    try:
        port = server.add_insecure_port(listen)
    except RuntimeError as error:
        raise OSError(f"cannot listen on {listen}: {error}") from error
    if port == 0:
        raise OSError(f"cannot listen on {listen}: the address is taken or invalid")
    return port


def _bind_problem(listen: str) -> str:
    """Why the TCP address ``listen`` cannot be bound ("" when it can, or when only gRPC
    can tell): asked of the operating system first, which names the reason (gRPC says
    "failed to bind" and logs the reason natively). gRPC binds every address a host name
    resolves to and needs one of them, so there is a problem only when all of them fail."""
    host, _, port = listen.rpartition(":")
    if listen.startswith(SOCKET_PATH_SCHEMES) or not port.isdigit() or int(port) == 0:
        return ""
    try:
        addresses = socket.getaddrinfo(
            host.strip("[]"), int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        return f"cannot find the host {host!r}: {error.strerror}"
    except (OSError, UnicodeError):
        return ""
    reasons = []
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                reasons.append(error)
                continue
        return ""
    first = reasons[0]
    reason = (first.strerror or str(first)).lower()
    if first.errno == errno.EADDRINUSE:
        return f"{reason}: is another server running on it?"
    return reason


async def _assemble(config: ServerConfig, store: ClaimStore | None) -> _Parts:
    """Builds the server for ``config`` on the running loop, not yet started."""
    store = store if store is not None else SqliteStore(config.db_path)
    try:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=config.max_concurrent_rpcs,
        )
        servicer = _configure_claim_service(server, store, config.max_message_bytes)
        health_servicer = _configure_health(server)
        _configure_reflection(server)
        port = _configure_listener(server, config.listen)
    except BaseException:
        store.close()
        raise
    return _Parts(server, store, servicer, health_servicer, port)


async def _start(parts: _Parts) -> None:
    await parts.server.start()
    parts.health.set_all(health_pb2.HealthCheckResponse.SERVING)


async def _stop(parts: _Parts, grace: float) -> None:
    """Marks every service NOT_SERVING, ends the streams, drains in-flight calls, closes the
    store."""
    # Health watches end once they have sent NOT_SERVING.
    parts.health.enter_graceful_shutdown()
    # The server stops taking calls first; then the watches, which never end by themselves,
    # and the imports, which end when their clients say so, would hold up the whole grace
    # period: they end with UNAVAILABLE (an import once its group is answered), while
    # other calls in flight finish within it.
    stopping = asyncio.ensure_future(parts.server.stop(grace))
    await asyncio.sleep(0)
    await parts.servicer.stop_streams()
    await stopping
    parts.servicer.close()
    parts.store.close()


def _target(listen: str, port: int) -> str:
    """The address a client on this host reaches the server at."""
    if listen.startswith(SOCKET_PATH_SCHEMES):
        return listen
    host = listen.rsplit(":", 1)[0]
    if host in ("", "0.0.0.0", "[::]"):
        host = "127.0.0.1"
    return f"{host}:{port}"


class ClaimServer:
    """A claimstore server on its own event loop in a background thread.

    For programs and tests that embed a server::

        server = build_server(ServerConfig(db_path="claims.db", listen="127.0.0.1:0"))
        server.start()
        ...  # Client(server.target)
        server.stop()
    """

    def __init__(self, config: ServerConfig, store: ClaimStore | None = None) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="claimstore-server", daemon=True
        )
        self._thread.start()
        self._stopped = False
        try:
            self._parts = self._run(_assemble(config, store))
        except BaseException:
            self._close_loop()
            raise
        self.port = self._parts.port

    @property
    def target(self) -> str:
        """The address a client on this machine dials to reach the server."""
        return _target(self.config.listen, self.port)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def start(self) -> None:
        """Starts serving; every service reports SERVING."""
        self._run(_start(self._parts))

    def stop(self, grace: float | None = None) -> None:
        """Stops taking calls, waits up to ``grace`` seconds for running ones, closes the store."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._run(_stop(self._parts, self.config.grace_seconds if grace is None else grace))
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def build_server(config: ServerConfig, store: ClaimStore | None = None) -> ClaimServer:
    """Builds a server for ``config`` (not yet started), over ``store`` or the SQLite file."""
    return ClaimServer(config, store)


async def serve_async(config: ServerConfig) -> None:
    """Serves on the running loop until SIGTERM or SIGINT, then drains and returns."""
    parts = await _assemble(config, None)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _request_stop, sig, stop_requested)
    try:
        await _start(parts)
        _log.info("claimstore serving %s on %s", config.db_path, _target(config.listen, parts.port))
        if has_wal_reset_bug(sqlite3.sqlite_version_info):
            _log.warning(
                "the store reaches SQLite %s through %s, and that SQLite has the WAL-reset bug"
                " (fixed in 3.51.3): under concurrent writes and checkpoints it can corrupt the"
                " database; install pysqlite3 0.6.1 or later beside claimstore (it carries a"
                " fixed SQLite), or serve from a Python whose sqlite3 links SQLite 3.51.3 or later",
                sqlite3.sqlite_version,
                sqlite3.__name__,
            )
        await stop_requested.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await _stop(parts, config.grace_seconds)
        _log.info("claimstore stopped")


def _request_stop(sig: signal.Signals, stop_requested: asyncio.Event) -> None:
    _log.info("received %s; stopping", sig.name)
    stop_requested.set()


_GC_THRESHOLDS = (200_000, 20, 20)
"""Python's default (700, 10, 10) runs a collection every 700 allocations. A server makes
and drops messages, rows and drafts by the hundred thousand, hardly any of them in cycles:
at the default, collections took about 6% of an import's CPU. Each collection walks the
objects still alive, and an import keeps up to 32,000 checked drafts waiting to be written:
at 50,000 an import of 100,000 claims ran 12 collections of about 43 ms each (3.7% of its
time, all of it holding the interpreter's lock), at 200,000 one of 0.12 s. What cycles do
become garbage wait for at most 200,000 allocations."""


def _tune_garbage_collector() -> None:
    # Once the modules are loaded, their objects live as long as the process: freezing them
    # keeps the full collections from walking them again and again.
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def serve(config: ServerConfig) -> None:
    """Serves until SIGTERM or SIGINT, then drains in-flight calls and returns.

    This is the server process's entry point, so it also tunes the process's garbage
    collector (an embedded :class:`ClaimServer` leaves its host's alone).
    """
    _tune_garbage_collector()
    asyncio.run(serve_async(config))
