"""What the options of the ``claimstore`` command take: the parsers argparse calls for their
values, the choices they offer, and the client configuration they make."""

import argparse
import os
import signal
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .._batches import MAX_BATCH_CLAIMS, check_batch_size
from .._client import Client
from .._config import MAX_TIMEOUT, ClientConfig, check_target, check_timeout
from .._values import partial_date

DEFAULT_TARGET = "localhost:50051"
TARGET_VARIABLE = "CLAIMSTORE_TARGET"
ACTOR_VARIABLE = "CLAIMSTORE_ACTOR"
ATTRIBUTIONS = ["direct_quote", "paraphrase", "reported"]
PRECISIONS = ["year", "month", "day", "exact"]
DELETION_REASONS = ["retracted", "duplicate", "fabricated", "other"]


def client_config(args: argparse.Namespace) -> ClientConfig:
    try:
        return ClientConfig(target=args.target, timeout=args.timeout, actor=args.actor or "")
    except ValueError as error:
        # Only the actor can be at fault here: the parser checked the rest.
        reason = str(error).removeprefix("actor: ")
        raise argparse.ArgumentTypeError(f"--actor (or ${ACTOR_VARIABLE}): {reason}") from error


def open_client(args: argparse.Namespace) -> Client:
    return Client(config=client_config(args))


def server_target(value: str) -> str:
    """Refuses a server address no call could reach (see ``check_target``)."""
    try:
        check_target(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


@dataclass(frozen=True)
class When:
    """A date or time as the command line gave it, and how precisely: "year" for 2025,
    "month" for 2025-11, "day" for 2025-11-20, "exact" for a time."""

    text: str
    start: datetime | date
    precision: str

    def end(self) -> datetime | date | None:
        """The exclusive end of an inclusive --until: the start of the next year, month or
        day; for a time, the next microsecond (the finest time a claim keeps), so that a claim
        stated at that very time is in. None past the last one there is (9999-12-31): no end."""
        start = self.start
        try:
            if isinstance(start, datetime):
                return start + timedelta(microseconds=1)
            if self.precision == "year":
                return start.replace(year=start.year + 1)
            if self.precision == "month":
                return (start + timedelta(days=31)).replace(day=1)
            return start + timedelta(days=1)
        except (OverflowError, ValueError):
            return None


def parse_when(value: str) -> When:
    """Parses a year ("2025"), a month ("2025-11"), a date ("2025-11-20") or an ISO 8601 time
    for the command line; a year or a month stands for its first day."""
    try:
        partial = partial_date(value)
        if partial is not None:
            return When(value, *partial)
        if len(value) == len("2025-11-20"):
            return When(value, date.fromisoformat(value), "day")
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (2025-11-20, 2025-11 or 2025) or an ISO 8601 time"
        ) from error
    return When(value, moment if moment.tzinfo else moment.replace(tzinfo=UTC), "exact")


_PRECISION_EXAMPLES = {
    "month": "a month (2025-11)",
    "day": "a whole date (2025-11-20)",
    "exact": "an ISO 8601 time (2025-11-20T10:30:00Z)",
}


def claim_precision(stated: When, precision: str | None) -> str:
    """The precision of a claim's time: the one given, else as precise as the time was written.
    A finer one than that is a usage error: 2025-11 says nothing of the day."""
    if precision is None:
        return stated.precision
    if PRECISIONS.index(precision) > PRECISIONS.index(stated.precision):
        wanted = "time of day" if precision == "exact" else precision
        raise argparse.ArgumentTypeError(
            f"{stated.text} gives no {wanted} for --precision {precision}: give"
            f" {_PRECISION_EXAMPLES[precision]}, or --precision {stated.precision}"
        )
    return precision


def undecodable_argument(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The usage error of the first value given that is not UTF-8 (a byte Python kept as a
    lone surrogate, which no call can send), naming its option; None when all are."""
    for action in parser._actions:
        values = getattr(args, action.dest, None)
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str):
                continue
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                name = "/".join(action.option_strings) or action.dest
                byte = ord(value[error.start]) - 0xDC00  # as Python decodes a stray byte
                return f"argument {name}: is not UTF-8 text (it has the byte 0x{byte:02x})"
    return None


INTERRUPTED = 128 + signal.SIGINT
"""The exit status of a command stopped by Ctrl-C, as shells report one killed by SIGINT."""


def whole_number(value: str) -> int:
    """Parses a whole number of at least 1 for the command line."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def batch_size(value: str) -> int:
    """Parses the claims of an import batch for the command line, as the client takes them."""
    size = whole_number(value)
    try:
        check_batch_size(size)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is more than {MAX_BATCH_CLAIMS:,}") from error
    return size


def seconds_value(value: str) -> float:
    """Parses a timeout for the command line, as the client takes them."""
    try:
        seconds = float(value)
        check_timeout(seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number of seconds above 0 and at most {MAX_TIMEOUT:,}"
        ) from error
    return seconds


def add_client_options(parser: argparse.ArgumentParser, *, actor: bool = True) -> None:
    """Adds the options of every command that calls the server: where, how long, as whom
    (unless ``actor`` is False: for a change that records no revision), and --json."""
    parser.add_argument(
        "--target",
        type=server_target,
        default=os.environ.get(TARGET_VARIABLE) or DEFAULT_TARGET,
        help=f"server address (default: ${TARGET_VARIABLE} or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--timeout",
        type=seconds_value,
        default=10.0,
        help="seconds per call (default: %(default)s)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON (one object a line) for scripts"
    )
    if not actor:
        return
    # No default here: the one of the main parser (given before the command, or from the
    # environment) stays unless the option is given after the command.
    parser.add_argument(
        "--actor",
        default=argparse.SUPPRESS,
        help=f"who makes the changes, recorded in each revision (default: ${ACTOR_VARIABLE})",
    )
