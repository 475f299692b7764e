"""``python -m claimstore_server``: serve claimstore over a SQLite file."""

import argparse
import logging
import sys

from ._config import ServerConfig


def main(argv: list[str] | None = None) -> int:
    """Parses the command line and serves until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m claimstore_server", description="Serve the claimstore gRPC API."
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the serve options to ``parser`` (shared with ``claimstore serve``)."""
    defaults = ServerConfig()
    parser.add_argument(
        "--db",
        default=str(defaults.db_path),
        help="SQLite file to serve, created if missing (default: %(default)s)",
    )
    parser.add_argument(
        "--listen",
        default=defaults.listen,
        help="host:port to listen on; loopback unless told otherwise (default: %(default)s)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=defaults.grace_seconds,
        help="seconds in-flight calls get to finish on shutdown (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (default: %(default)s)",
    )


def run_serve(args: argparse.Namespace) -> int:
    """Serves with the options ``add_serve_arguments`` parsed; returns the exit status."""
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Loaded here, not with the module: the command line reads the options above for every
    # command, and only this one serves.
    from ._server import serve
    from .store import StoreError

    config = ServerConfig(db_path=args.db, listen=args.listen, grace_seconds=args.grace)
    try:
        serve(config)
    except (OSError, StoreError) as error:
        print(f"claimstore: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
