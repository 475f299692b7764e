"""claimstore_server: the gRPC server of claimstore, its validation and its store.

Run it with ``claimstore serve`` or ``python -m claimstore_server``; embed it
with :func:`build_server`. The server and its store load when first named, so
that the command line, which reads :class:`ServerConfig` for its defaults, starts
without them.
"""

from typing import TYPE_CHECKING, Any

from ._config import ServerConfig

if TYPE_CHECKING:
    from ._server import ClaimServer, build_server, serve, serve_async

__all__ = ["ClaimServer", "ServerConfig", "build_server", "serve", "serve_async"]

_SERVER_NAMES = frozenset({"ClaimServer", "build_server", "serve", "serve_async"})


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
