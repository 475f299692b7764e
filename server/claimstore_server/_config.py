"""How a server runs: its configuration, apart from the server itself so that reading it (for
the command line's defaults) loads neither gRPC's server nor the store."""

from dataclasses import dataclass
from pathlib import Path


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
