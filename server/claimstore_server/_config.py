"""How a server runs: its configuration, apart from the server itself so that reading it (for
the command line's defaults) loads neither gRPC's server nor the store."""

from dataclasses import dataclass
from pathlib import Path
from typing import Final

SOCKET_PATH_SCHEMES: Final = ("unix:", "unix-abstract:")
"""How gRPC addresses begin that name a Unix socket rather than host:port."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to run a claimstore server.

    Attributes:
        db_path: The SQLite file to serve; created with its schema if missing.
        listen: host:port to listen on. The default is loopback only; use
            "0.0.0.0:50051" or "[::]:50051" to accept other hosts. Port 0 picks a
            free port (see :attr:`ClaimServer.port`).
        grace_seconds: How long a stop waits for in-flight calls to finish.
        max_message_bytes: The largest request or response message accepted.
        max_concurrent_rpcs: Calls served at once; further calls are refused
            with RESOURCE_EXHAUSTED rather than queued without bound.
    """

    db_path: str | Path = "claimstore.db"
    listen: str = "127.0.0.1:50051"
    grace_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    max_concurrent_rpcs: int = 1000


def listen_problem(listen: str) -> str:
    """What is wrong with the address ``listen`` ("" for nothing): "host:port" with a port
    of 0 to 65535 (gRPC itself would take port 99999 for 34463, and none for 443), or a
    Unix socket ("unix:/run/claimstore.sock")."""
    if listen.startswith(SOCKET_PATH_SCHEMES):
        return ""
    host, colon, port = listen.rpartition(":")
    if not colon or not host or not port:
        return "give host:port, such as 127.0.0.1:50051, 0.0.0.0:50051 or [::]:50051"
    if not (port.isascii() and port.isdigit()) or int(port) > 65_535:
        return f"the port must be a number from 0 to 65535, not {port!r}"
    return ""
