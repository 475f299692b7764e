"""``python -m claimstore_server``: serve claimstore over a SQLite file."""

import argparse
import logging
import sys
from typing import TextIO

from ._config import ServerConfig, listen_problem


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
        type=_database_file,
        default=str(defaults.db_path),
        help="SQLite file to serve, created if missing (default: %(default)s)",
    )
    parser.add_argument(
        "--listen",
        type=_listen_address,
        default=defaults.listen,
        help="host:port to listen on; loopback unless told otherwise (default: %(default)s)",
    )
    parser.add_argument(
        "--grace",
        type=_seconds,
        default=defaults.grace_seconds,
        help="seconds in-flight calls get to finish on shutdown (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity (default: %(default)s)",
    )


def _database_file(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("give the path of a SQLite file, such as claimstore.db")
    if value == ":memory:":
        raise argparse.ArgumentTypeError(
            "give the path of a file: an in-memory database is private to each of the"
            " server's connections"
        )
    return value


def _listen_address(value: str) -> str:
    problem = listen_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{value!r}: {problem}")
    return value


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {value}")
    return seconds


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


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of ``claimstore check``."""
    parser.add_argument(
        "--db",
        type=_database_file,
        default=str(ServerConfig().db_path),
        help="SQLite file to check; it is only read (default: %(default)s)",
    )


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """Checks the file ``add_check_arguments`` parsed: 0 when SQLite finds nothing wrong, 1
    when it finds damage (each problem on a line of ``out``), 2 when there is no file to
    check."""
    from .store import DatabaseFileError, integrity_problems

    try:
        problems = integrity_problems(args.db)
    except DatabaseFileError as error:
        print(f"claimstore check: {error}", file=sys.stderr)
        return 2
    if not problems:
        out.write(f"{args.db}: ok\n")
        return 0
    out.write(f"{args.db}: damaged; SQLite finds:\n")
    for problem in problems:
        out.write(f"  {problem}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
