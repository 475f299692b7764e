"""claimstore_server: the gRPC server of claimstore, its validation and its store.

Run it with ``claimstore serve`` or ``python -m claimstore_server``; embed it
with :func:`build_server`.
"""

from ._server import ClaimServer, ServerConfig, build_server, serve, serve_async

__all__ = ["ClaimServer", "ServerConfig", "build_server", "serve", "serve_async"]
