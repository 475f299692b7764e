"""The ``claimstore`` command: serve; add, edit, retract, restore, get, history; list, search,
watch, speakers; import, export."""

import argparse
import json
import os
import re
import shlex
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any, TextIO

from google.rpc import error_details_pb2

from .._batches import MAX_BATCH_CLAIMS, batch_bytes, check_batch_size
from .._client import Client
from .._config import ClientConfig, check_timeout
from .._exceptions import (
    Aborted,
    ClaimstoreError,
    DeadlineExceeded,
    FailedPrecondition,
    ServiceError,
    Unavailable,
)
from .._jsonl import (
    format_import_line,
    import_request,
    is_json_but_not_an_object,
    parse_import_line,
)
from ..v1 import claim_pb2, claim_service_pb2
from . import _render
from ._input import JSON_BYTES_PER_CLAIM_BYTE, UnreadableFile, count_lines, read_lines, unreadable
from ._progress import Progress, drawn, progress

DEFAULT_TARGET = "localhost:50051"
TARGET_VARIABLE = "CLAIMSTORE_TARGET"
ACTOR_VARIABLE = "CLAIMSTORE_ACTOR"
ATTRIBUTIONS = ["direct_quote", "paraphrase", "reported"]
PRECISIONS = ["year", "month", "day", "exact"]
DELETION_REASONS = ["retracted", "duplicate", "fabricated", "other"]

Handler = Callable[[argparse.Namespace, TextIO], int]


def _config(args: argparse.Namespace) -> ClientConfig:
    return ClientConfig(target=args.target, timeout=args.timeout, actor=args.actor or "")


def _client(args: argparse.Namespace) -> Client:
    return Client(config=_config(args))


def _target(value: str) -> str:
    """Refuses an empty server address, which gRPC would fail to make a channel to."""
    if not value.strip():
        raise argparse.ArgumentTypeError(
            f"the server address is empty: give one such as {DEFAULT_TARGET}"
        )
    return value


@dataclass(frozen=True)
class _When:
    """A date or time as the command line gave it, and how precisely: "year" for 2025,
    "month" for 2025-11, "day" for 2025-11-20, "exact" for a time."""

    text: str
    start: datetime | date
    precision: str

    def end(self) -> datetime | date:
        """The exclusive end of an inclusive --until: the start of the next year, month or
        day; a time is its own end."""
        start = self.start
        if isinstance(start, datetime):
            return start
        if self.precision == "year":
            return start.replace(year=start.year + 1)
        if self.precision == "month":
            return (start + timedelta(days=31)).replace(day=1)
        return start + timedelta(days=1)


_YEAR_OR_MONTH = re.compile(r"([0-9]{4})(?:-([0-9]{2}))?")


def _parse_when(value: str) -> _When:
    """Parses a year ("2025"), a month ("2025-11"), a date ("2025-11-20") or an ISO 8601 time
    for the command line; a year or a month stands for its first day."""
    try:
        partial = _YEAR_OR_MONTH.fullmatch(value)
        if partial is not None:
            year, month = partial[1], partial[2]
            start = date(int(year), int(month or 1), 1)
            return _When(value, start, "month" if month else "year")
        if len(value) == len("2025-11-20"):
            return _When(value, date.fromisoformat(value), "day")
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (2025-11-20, 2025-11 or 2025) or an ISO 8601 time"
        ) from error
    return _When(value, moment if moment.tzinfo else moment.replace(tzinfo=UTC), "exact")


_PRECISION_EXAMPLES = {
    "month": "a month (2025-11)",
    "day": "a whole date (2025-11-20)",
    "exact": "an ISO 8601 time (2025-11-20T10:30:00Z)",
}


def _precision(stated: _When, precision: str | None) -> str:
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


_INTERRUPTED = 128 + signal.SIGINT
"""The exit status of a command stopped by Ctrl-C, as shells report one killed by SIGINT."""

_PARTLY_IMPORTED = (
    "the claims counted above are stored, and the ones after them may or may not be:"
    " importing the files again stores what is missing"
)
"""What an import that ended early says of the claims it sent."""


def _count(value: str) -> int:
    """Parses a whole number of at least 1 for the command line."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def _batch_size(value: str) -> int:
    """Parses the claims of an import batch for the command line, as the client takes them."""
    size = _count(value)
    try:
        check_batch_size(size)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is more than {MAX_BATCH_CLAIMS:,}") from error
    return size


def _seconds(value: str) -> float:
    """Parses a timeout for the command line, as the client takes them."""
    try:
        seconds = float(value)
        check_timeout(seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0") from error
    return seconds


# Commands


def _show_claim(claim: claim_pb2.Claim, args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        out.write(_render.to_json(claim) + "\n")
    else:
        _render.write_claim(claim, out)


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from claimstore_server.__main__ import run_serve
    except ImportError:
        print(
            "claimstore: the server is not installed; install it with the 'server' extra,"
            " for example: pip install 'claimstore[server]'",
            file=sys.stderr,
        )
        return 1
    return run_serve(args)


def _cmd_add(args: argparse.Namespace, out: TextIO) -> int:
    if bool(args.speaker) == bool(args.speaker_id):
        raise argparse.ArgumentTypeError("give --speaker NAME or --speaker-id ID (one of them)")
    if args.publisher is not None and not args.report:
        raise argparse.ArgumentTypeError(
            "--publisher names the publisher of the --report URLs: give --report URL too"
        )
    precision = _precision(args.stated_at, args.precision)
    citations = [{"url": url, "role": "origin"} for url in args.origin] + [
        {"url": url, "role": "report", "publisher": args.publisher or ""} for url in args.report
    ]
    with _client(args) as client:
        claim = client.create_claim(
            args.text,
            speaker=args.speaker,
            speaker_id=args.speaker_id,
            attribution=args.attribution,
            stated_at=args.stated_at.start,
            stated_at_precision=precision,
            channel=args.channel,
            language=args.language,
            topics=args.topic,
            citations=citations,
            request_id=args.request_id,
        )
    _show_claim(claim, args, out)
    return 0


def _cmd_get(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        claim = client.get_claim(args.id, revision=args.revision)
    _show_claim(claim, args, out)
    return 0


_EDIT_OPTIONS = {
    "text": "--text",
    "attribution": "--attribution",
    "speaker": "--speaker",
    "speaker_id": "--speaker-id",
    "stated_at": "--stated-at",
    "stated_at_precision": "--precision",
    "channel": "--channel",
    "language": "--language",
    "topics": "--topic",
}
"""The update_claim keyword argument of each option of ``edit``."""


def _cmd_edit(args: argparse.Namespace, out: TextIO) -> int:
    if args.topics is not None and args.no_topics:
        raise argparse.ArgumentTypeError("give --topic or --no-topics, not both")
    if args.speaker is not None and args.speaker_id is not None:
        raise argparse.ArgumentTypeError("give --speaker or --speaker-id, not both")
    if args.no_topics:
        args.topics = []
    if args.stated_at is not None:
        args.stated_at_precision = _precision(args.stated_at, args.stated_at_precision)
        args.stated_at = args.stated_at.start
    changes = {name: getattr(args, name) for name in _EDIT_OPTIONS}
    changes = {name: value for name, value in changes.items() if value is not None}
    if not changes:
        raise argparse.ArgumentTypeError(
            "nothing to change: give at least one of "
            + ", ".join(_EDIT_OPTIONS.values())
            + " or --no-topics"
        )
    with _client(args) as client:
        # The etag of the claim as read: a change made by someone else in between is
        # refused (ABORTED) rather than overwritten.
        current = client.get_claim(args.id, view="basic")
        updated = client.update_claim(args.id, **changes, etag=current.etag, reason=args.reason)
        claim = client.get_claim(args.id)
    if updated.revision == current.revision:
        print(
            f"claimstore edit: nothing changed: the claim already says so (revision"
            f" {current.revision})",
            file=sys.stderr,
        )
    _show_claim(claim, args, out)
    return 0


def _cmd_retract(args: argparse.Namespace, out: TextIO) -> int:
    if args.reason == "other" and not args.note.strip():
        raise argparse.ArgumentTypeError("--reason other needs a --note saying why")
    with _client(args) as client:
        client.delete_claim(args.id, reason=args.reason, note=args.note)
        claim = client.get_claim(args.id)
    _show_claim(claim, args, out)
    return 0


def _cmd_restore(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        client.undelete_claim(args.id, reason=args.reason)
        claim = client.get_claim(args.id)
    _show_claim(claim, args, out)
    return 0


def _cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        revisions = client.list_claim_revisions(args.id, page_size=1000)
        _render.write_listing(revisions, _render.REVISIONS, out, as_json=args.json)
    return 0


def _cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    """Prints each event as it comes, flushed at once, until Ctrl-C (which is no error).

    Once the watch runs, Ctrl-C closes it rather than raising KeyboardInterrupt inside
    gRPC's wait, so that the iteration simply ends.
    """
    try:
        with _client(args) as client:
            watch = client.watch_claims(
                **_filter_arguments(args), after_cursor=args.after or "", view="full"
            )
            in_main_thread = threading.current_thread() is threading.main_thread()
            if in_main_thread:  # signal handlers can be set from there only
                previous = signal.signal(signal.SIGINT, lambda signum, frame: watch.close())
            try:
                with watch:
                    for event in watch:
                        line = _render.to_json(event) if args.json else _render.event_line(event)
                        out.write(line + "\n")
                        out.flush()
            finally:
                if in_main_thread:
                    signal.signal(signal.SIGINT, previous)
    except KeyboardInterrupt:
        return 0
    return 0


def _filter_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The ClaimFilter keyword arguments of the options ``_add_filter_options`` added."""
    return {
        "speaker": args.speaker,
        "speaker_ids": args.speaker_id,
        "topics": args.topic,
        "publisher": args.publisher,
        "source_id": args.source_id,
        "attributions": args.attribution,
        "since": args.since.start if args.since else None,
        "before": args.until.end() if args.until else None,
        "language": args.language,
    }


def _cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        claims = client.list_claims(
            **_filter_arguments(args),
            order_by="stated_at asc" if args.oldest_first else "",
            view="full",
            page_size=min(args.limit, 1000) if args.limit else 0,
            show_deleted=args.show_deleted,
        )
        selected = islice(claims, args.limit)
        _render.write_listing(selected, _render.CLAIMS, out, as_json=args.json)
    return 0


def _cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    problems = {path: why for path in args.files if (why := unreadable(path))}
    if problems:
        for path, why in problems.items():
            print(f"claimstore: cannot read {path}: {why}", file=sys.stderr)
        print("claimstore import: nothing imported", file=sys.stderr)
        return 2
    report = _ImportReport()
    # Where each claim sent came from, oldest first: results arrive in the same order.
    sent: deque[tuple[str, int]] = deque()
    config = _config(args)
    most_bytes = batch_bytes(config.max_message_bytes)
    most_line_bytes = most_bytes * JSON_BYTES_PER_CLAIM_BYTE
    # gRPC reads the lines on a thread of its own; once the call has ended, it stops there.
    ended = threading.Event()

    def requests(bar: Progress) -> Iterator[claim_service_pb2.CreateClaimRequest]:
        for path in args.files:
            if ended.is_set():
                return
            try:
                yield from file_requests(path, bar)
            except UnreadableFile as error:
                report.fail(path, str(error), always_shown=True)

    def file_requests(path: str, bar: Progress) -> Iterator[claim_service_pb2.CreateClaimRequest]:
        failed_before = False
        with closing(read_lines(path, most_line_bytes)) as lines:
            for number, (raw, size) in enumerate(lines, start=1):
                if ended.is_set():
                    return
                if number == 1 and raw.startswith(_UTF16_MARKS):
                    report.fail(path, _UTF16_FILE, always_shown=True)
                    return
                if not raw.strip():
                    continue
                request = _line_request(raw, size, number, most_bytes)
                if isinstance(request, str):
                    if not failed_before and raw.strip() in (b"{", b"["):
                        report.hint(_one_claim_a_line(path, raw.strip()))
                    failed_before = True
                    report.fail(f"{path}:{number}", request)
                    bar.advance()
                    continue
                sent.append((path, number))
                yield request

    # The bar's total: read only for a bar, as it means reading (and unzipping) every file twice.
    total = count_lines(args.files, most_line_bytes) if drawn() else None
    interrupted = False
    counting = progress("importing", total=total or None, unit="claims")
    with Client(config=config) as client, counting as bar:
        results = client.import_claims(
            requests(bar), batch_size=args.batch_size, timeout=args.import_timeout
        )
        try:
            for result in results:
                path, number = sent.popleft()
                report.record(f"{path}:{number}", result)
                bar.advance()
        except KeyboardInterrupt:
            # Closing the client cancels the call: the server keeps the batches it answered.
            interrupted = True
        except ClaimstoreError:
            # The call ended (the server stopped, the deadline passed): say what was stored
            # before main reports why.
            if report.counted:
                report.write(out, as_json=args.json)
                print(f"claimstore import: stopped; {_PARTLY_IMPORTED}", file=sys.stderr)
            raise
        finally:
            ended.set()
    report.write(out, as_json=args.json)
    for hint in report.hints():
        print(f"claimstore import: {hint}", file=sys.stderr)
    if interrupted:
        print(f"claimstore import: interrupted; {_PARTLY_IMPORTED}", file=sys.stderr)
        return _INTERRUPTED
    return 1 if report.failed else 0


_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
"""The byte order marks a UTF-16 file opens with."""

_UTF16_FILE = "UTF-16 text, not UTF-8: save it as UTF-8, such as with iconv -f UTF-16 -t UTF-8"

_NOT_AN_OBJECT = (
    'not a JSON object: each line holds one claim as an object, such as {"claim": {...}}'
)


def _line_request(
    raw: bytes, size: int, number: int, most_bytes: int
) -> claim_service_pb2.CreateClaimRequest | str:
    """The request line ``number`` holds, or what is wrong with it, as the summary says it.
    Its size is looked at first: a line too large for any claim is not parsed."""
    if size > most_bytes * JSON_BYTES_PER_CLAIM_BYTE:
        return _too_large(size, most_bytes)
    # A file may open with a byte order mark, as some editors on Windows write.
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        bad = error.object[error.start]
        return f"not UTF-8 text (0x{bad:02x} at byte {error.start + 1:,}): save the file as UTF-8"
    if is_json_but_not_an_object(text):
        return _NOT_AN_OBJECT
    try:
        request = parse_import_line(text)
    except ValueError as error:
        return f"not a claim: {_readable(error)}"
    size = request.ByteSize()
    if size > most_bytes:
        return _too_large(size, most_bytes)
    return request


def _too_large(size: int, most_bytes: int) -> str:
    return f"too large: {size:,} bytes, more than a claim may take ({most_bytes:,})"


def _one_claim_a_line(path: str, opening: bytes) -> str:
    """The hint for a file that opens with a line of "{" or "[" alone: JSON over several lines,
    as pretty-printers write it."""
    each = "'.[]'" if opening == b"[" else "."
    return (
        f"{path} looks like JSON written over several lines, but import reads JSON Lines, one"
        f" whole claim a line, as 'claimstore export' writes them: jq -c {each}"
        f" {shlex.quote(path)} > claims.jsonl rewrites it so"
    )


@dataclass
class _ImportReport:
    """Counts what became of each imported line and keeps the first failures. Lines that
    are not claims are counted on gRPC's thread as it reads them, results on the main one:
    the lock keeps the counts, and a summary written while lines are still read, whole."""

    created: int = 0
    existing: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    shown: int = 10
    _hints: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def counted(self) -> int:
        """The lines counted so far, whatever became of them."""
        with self._lock:
            return self.created + self.existing + self.failed

    def fail(self, where: str, message: str, *, always_shown: bool = False) -> None:
        """Counts a failure; a file that could not be read is ``always_shown``, as one would
        otherwise go unseen after the first failures of its lines."""
        with self._lock:
            self.failed += 1
            if always_shown or len(self.failures) < self.shown:
                self.failures.append((where, " ".join(message.split())))

    def hint(self, message: str) -> None:
        """Keeps advice to give once the summary is written."""
        with self._lock:
            self._hints.append(message)

    def hints(self) -> list[str]:
        with self._lock:
            return list(self._hints)

    def record(self, where: str, result: claim_service_pb2.ImportResult) -> None:
        if result.outcome == claim_service_pb2.IMPORT_OUTCOME_CREATED:
            with self._lock:
                self.created += 1
        elif result.outcome == claim_service_pb2.IMPORT_OUTCOME_ALREADY_EXISTS:
            with self._lock:
                self.existing += 1
        else:
            self.fail(where, f"{result.error.code}: {result.error.message}")

    def write(self, out: TextIO, *, as_json: bool) -> None:
        with self._lock:
            created, existing, failed = self.created, self.existing, self.failed
            failures = list(self.failures)
        if as_json:
            summary = {
                "created": created,
                "already_existed": existing,
                "failed": failed,
                "first_failures": [{"line": w, "error": m} for w, m in failures],
            }
            out.write(json.dumps(summary) + "\n")
            return
        out.write(f"{created:,} created, {existing:,} already there, {failed:,} failed\n")
        for where, message in failures:
            out.write(f"  {where}: {message}\n")
        if failed > len(failures):
            out.write(f"  … and {failed - len(failures):,} more\n")


_INVALID_ENUM = re.compile(r"Invalid enum value (\S+) for enum type ([\w.]+)")


def _readable(error: ValueError) -> str:
    """A line's parse error as the summary shows it: json_format's message with its doubled
    final period made single and, for an unknown enum value, the names the enum takes."""
    message = str(error)
    if message.endswith(".."):
        message = message[:-1]
    invalid = _INVALID_ENUM.search(message)
    if invalid is not None:
        try:
            enum = claim_service_pb2.DESCRIPTOR.pool.FindEnumTypeByName(invalid[2])
        except KeyError:
            return message
        names = [value.name for value in enum.values if value.number != 0]
        message = f"{message.rstrip('.')}; it takes {', '.join(names)}"
    return message


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    # On a terminal the claims themselves show how far the export is; a bar would cut in.
    counting = progress("exporting", total=None, unit="claims", shown=not out.isatty())
    with _client(args) as client, counting as bar:
        claims = client.export_claims(**_filter_arguments(args), show_deleted=args.show_deleted)
        for claim in claims:
            out.write(format_import_line(import_request(claim)) + "\n")
            bar.advance()
    return 0


def _cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    # A table on a terminal shows the matches in bold; elsewhere they stand in brackets.
    bold = out.isatty() and not args.json
    with _client(args) as client:
        results = client.search_claims(
            args.query,
            **_filter_arguments(args),
            view="full",
            snippet_start=_render.MATCH_START if bold else "[",
            snippet_end=_render.MATCH_END if bold else "]",
            page_size=min(args.limit, 100),
            show_deleted=args.show_deleted,
        )
        selected = islice(results, args.limit)
        _render.write_listing(selected, _render.SEARCH_RESULTS, out, as_json=args.json)
    return 0


def _cmd_speakers(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        speakers = client.list_speakers(name_prefix=args.prefix or "")
        _render.write_listing(speakers, _render.SPEAKERS, out, as_json=args.json)
    return 0


def _cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        sources = islice(client.list_sources(page_size=min(args.limit or 100, 100)), args.limit)
        _render.write_listing(sources, _render.SOURCES, out, as_json=args.json)
    return 0


# The parser


_WHEN_HELP = "when it was said: 2025-11-20, a month (2025-11), a year (2025) or an ISO 8601 time"
_PRECISION_DEFAULT = "as precise as the date or time given"


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        type=_target,
        default=os.environ.get(TARGET_VARIABLE) or DEFAULT_TARGET,
        help=f"server address (default: ${TARGET_VARIABLE} or {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=10.0, help="seconds per call (default: %(default)s)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON (one object a line) for scripts"
    )
    # No default here: the one of the main parser (given before the command, or from the
    # environment) stays unless the option is given after the command.
    parser.add_argument(
        "--actor",
        default=argparse.SUPPRESS,
        help=f"who makes the changes, recorded in each revision (default: ${ACTOR_VARIABLE})",
    )


def _add_show_deleted_option(
    parser: argparse.ArgumentParser, description: str = "include deleted (retracted) claims"
) -> None:
    parser.add_argument("--show-deleted", action="store_true", help=description)


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speaker", help="speaker name or alias words, e.g. Peskov")
    parser.add_argument(
        "--speaker-id", action="append", default=[], help="speaker id (repeat for any of several)"
    )
    parser.add_argument(
        "--topic", action="append", default=[], help="topic (repeat for any of several)"
    )
    parser.add_argument("--publisher", help="cited by this publisher, e.g. Reuters")
    parser.add_argument("--source-id", help="citing this source id")
    parser.add_argument(
        "--attribution",
        action="append",
        default=[],
        choices=ATTRIBUTIONS,
        help="attribution (repeat for any of several)",
    )
    parser.add_argument(
        "--since",
        type=_parse_when,
        help="stated on or after this date or time (2025-11-20; 2025-11 or 2025 from its start)",
    )
    parser.add_argument(
        "--until",
        type=_parse_when,
        help="stated on or before this date (2025-11-20; 2025-11 or 2025 to its end)",
    )
    parser.add_argument("--language", help="BCP-47 language tag; en also finds en-US")
    parser.set_defaults(field_options=_FILTER_OPTIONS)


def _add_serve_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the API over a SQLite file",
        description="Serve the claimstore gRPC API over a SQLite file, until SIGTERM or Ctrl-C.",
    )
    try:
        from claimstore_server.__main__ import add_serve_arguments
    except ImportError:
        serve.set_defaults(handler=_cmd_serve)
        return
    add_serve_arguments(serve)
    serve.set_defaults(handler=_cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of the ``claimstore`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="claimstore",
        description="Record and query claims of fact: who said what, when, and who reported it.",
    )
    parser.add_argument(
        "--actor",
        default=os.environ.get(ACTOR_VARIABLE) or "",
        help="who makes the changes, recorded in each revision, such as alice or"
        f" factcheck-bot (default: ${ACTOR_VARIABLE}); also accepted after the command",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve_parser(commands)

    add = commands.add_parser(
        "add",
        help="record a claim",
        description="Record a claim. The speaker is matched by name or alias, or created.",
    )
    _add_client_options(add)
    add.add_argument("text", help="what was said")
    add.add_argument("--speaker", help="who said it, by name or alias")
    add.add_argument("--speaker-id", help="who said it, by speaker id")
    add.add_argument(
        "--attribution", required=True, choices=ATTRIBUTIONS, help="how the words reach us"
    )
    add.add_argument(
        "--stated-at",
        "--date",
        dest="stated_at",
        required=True,
        type=_parse_when,
        help=_WHEN_HELP,
    )
    add.add_argument(
        "--precision",
        choices=PRECISIONS,
        help=f"how precisely the time is known (default: {_PRECISION_DEFAULT})",
    )
    add.add_argument("--channel", default="", help='how it was said, e.g. "post on X"')
    add.add_argument("--language", default="", help="BCP-47 language tag, e.g. en")
    add.add_argument("--topic", action="append", default=[], help="a topic (repeat for several)")
    add.add_argument(
        "--origin", action="append", default=[], metavar="URL", help="where it was said"
    )
    add.add_argument(
        "--report", action="append", default=[], metavar="URL", help="an outlet reporting it"
    )
    add.add_argument("--publisher", help="publisher of the --report sources, e.g. Reuters")
    add.add_argument("--request-id", help="makes a retried add create nothing new")
    add.set_defaults(handler=_cmd_add)

    get = commands.add_parser("get", help="show one claim", description="Show one claim by id.")
    _add_client_options(get)
    get.add_argument("id", help="claim id (clm_…)")
    get.add_argument(
        "--revision",
        type=int,
        default=0,
        help="show the claim as it was at this revision (see 'history'; default: current)",
    )
    get.set_defaults(handler=_cmd_get)

    _add_history_parsers(commands)

    listing = commands.add_parser(
        "list",
        help="list claims, newest first",
        description="List the claims that match every option given, newest statement first.",
    )
    _add_client_options(listing)
    _add_filter_options(listing)
    _add_show_deleted_option(listing)
    listing.add_argument("--oldest-first", action="store_true", help="oldest statement first")
    listing.add_argument(
        "--limit", type=_count, default=None, help="show at most this many (default: all)"
    )
    listing.set_defaults(handler=_cmd_list)

    importing = commands.add_parser(
        "import",
        help="import claims from JSON Lines files",
        description="Import claims from JSON Lines files, one CreateClaimRequest a line (the"
        " format 'claimstore export' writes). Importing a file twice stores nothing new."
        " Exits 1 when any line failed.",
    )
    _add_client_options(importing)
    importing.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="files to import (.gz ones are unzipped); - for stdin",
    )
    importing.add_argument(
        "--batch-size",
        type=_batch_size,
        default=500,
        help="claims per message, 1 to 1,000 (default: %(default)s)",
    )
    importing.add_argument(
        "--import-timeout",
        type=_seconds,
        default=None,
        help="seconds the whole import may take (default: no limit)",
    )
    importing.set_defaults(handler=_cmd_import)

    exporting = commands.add_parser(
        "export",
        help="export claims as JSON Lines",
        description="Write the claims that match every option given to stdout as JSON Lines,"
        " oldest first, in the format 'claimstore import' reads.",
    )
    _add_client_options(exporting)
    _add_filter_options(exporting)
    _add_show_deleted_option(
        exporting,
        description="include deleted (retracted) claims; a file holds no deletions, so they"
        " import as claims in force",
    )
    exporting.set_defaults(handler=_cmd_export)

    searching = commands.add_parser(
        "search",
        help="search the words of claims, best matches first",
        description="Search claims' text, speakers, topics and channels. Plain words must all"
        ' match; use "exact phrases", prefix*, OR and -excluded words. The options narrow the'
        " results as for 'list'.",
    )
    _add_client_options(searching)
    searching.add_argument(
        "query",
        help='what to look for, e.g. "peace plan" or capitul*; put -- before a query that'
        " starts with -",
    )
    _add_filter_options(searching)
    _add_show_deleted_option(searching)
    searching.add_argument(
        "--limit", type=_count, default=20, help="show at most this many (default: %(default)s)"
    )
    searching.set_defaults(handler=_cmd_search)

    speakers = commands.add_parser(
        "speakers",
        help="list speakers with their claim counts",
        description="List speakers, oldest first, with how many claims each made.",
    )
    _add_client_options(speakers)
    speakers.add_argument("--prefix", help="only names with a word starting with this, e.g. zelen")
    speakers.set_defaults(handler=_cmd_speakers)

    sources = commands.add_parser(
        "sources",
        help="list the sources claims cite",
        description="List the sources claims cite (reports, posts, statements, videos), oldest"
        " first. 'list --publisher NAME' lists the claims an outlet reports.",
    )
    _add_client_options(sources)
    sources.add_argument(
        "--limit", type=_count, help="show at most this many (default: every source)"
    )
    sources.set_defaults(handler=_cmd_sources)

    watching = commands.add_parser(
        "watch",
        help="print changes to claims as they happen",
        description="Print each change to the claims that match every option given (creation,"
        " edit, retraction, restoration) as it is committed, one line each, until Ctrl-C."
        " With --json, each line is a JSON object whose cursor --after takes, to pick up"
        " where an earlier watch stopped. A server restart is waited out, and nothing is"
        " missed or printed twice.",
    )
    _add_client_options(watching)
    _add_filter_options(watching)
    watching.add_argument(
        "--after",
        metavar="CURSOR",
        help="start after this cursor (from an earlier --json line), not from now",
    )
    watching.set_defaults(handler=_cmd_watch)
    return parser


def _add_history_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The commands that change a claim, and the one that shows its revisions."""
    edit = commands.add_parser(
        "edit",
        help="correct fields of a claim",
        description="Correct the fields of a claim that the options name, and only those, as"
        " one new revision. The claim is read first: if someone else changes it in between,"
        " nothing is changed and the command exits 1.",
    )
    _add_client_options(edit)
    edit.add_argument("id", help="claim id (clm_…)")
    edit.add_argument("--text", help="what was said")
    edit.add_argument("--attribution", choices=ATTRIBUTIONS, help="how the words reach us")
    edit.add_argument("--speaker", help="who said it, by name or alias (matched or created)")
    edit.add_argument("--speaker-id", help="who said it, by speaker id")
    edit.add_argument(
        "--stated-at",
        "--date",
        dest="stated_at",
        type=_parse_when,
        help=_WHEN_HELP,
    )
    edit.add_argument(
        "--precision",
        dest="stated_at_precision",
        choices=PRECISIONS,
        help=f"how precisely the time is known (default with --stated-at: {_PRECISION_DEFAULT})",
    )
    edit.add_argument("--channel", help='how it was said, e.g. "post on X"; "" clears it')
    edit.add_argument("--language", help='BCP-47 language tag, e.g. en; "" clears it')
    edit.add_argument(
        "--topic",
        dest="topics",
        metavar="TOPIC",
        action="append",
        help="a topic (repeat for several); the topics given replace all of them",
    )
    edit.add_argument("--no-topics", action="store_true", help="remove every topic")
    edit.add_argument(
        "--reason", default="", help='why, e.g. "quote corrected from the transcript"'
    )
    edit.set_defaults(handler=_cmd_edit)

    retract = commands.add_parser(
        "retract",
        help="delete a claim, saying why",
        description="Delete a claim softly: it keeps its data and history, leaves listings,"
        " searches and exports (unless --show-deleted), and 'restore' brings it back.",
    )
    _add_client_options(retract)
    retract.add_argument("id", help="claim id (clm_…)")
    retract.add_argument(
        "--reason",
        required=True,
        choices=DELETION_REASONS,
        help="why: withdrawn by the speaker or outlet, a duplicate, made up, or other",
    )
    retract.add_argument("--note", default="", help="the explanation; required with --reason other")
    retract.set_defaults(handler=_cmd_retract)

    restore = commands.add_parser(
        "restore",
        help="bring a retracted claim back",
        description="Bring a deleted claim back as it was, as one new revision.",
    )
    _add_client_options(restore)
    restore.add_argument("id", help="claim id (clm_…)")
    restore.add_argument("--reason", default="", help="why it comes back")
    restore.set_defaults(handler=_cmd_restore)

    history = commands.add_parser(
        "history",
        help="list the revisions of a claim",
        description="List every revision of a claim, oldest first: when, what changed, who"
        " changed it and why. 'get --revision N' shows the claim as it was.",
    )
    _add_client_options(history)
    history.add_argument("id", help="claim id (clm_…)")
    history.set_defaults(handler=_cmd_history)


_FILTER_OPTIONS = {
    "filter.speaker": "--speaker",
    "filter.speaker_ids": "--speaker-id",
    "filter.topics": "--topic",
    "filter.publisher": "--publisher",
    "filter.source_id": "--source-id",
    "filter.attributions": "--attribution",
    "filter.stated_since": "--since",
    "filter.stated_before": "--until",
    "filter.language": "--language",
}
"""The option that sets each field of the ClaimFilter the options of ``_add_filter_options``
make, for the server's messages about it."""

_FIELD_PATH = re.compile(r"\b([a-z_]\w*(?:\.[a-z_]\w*)+)(?:\[(\d+)\])?")


def _in_options(text: str, options: dict[str, str]) -> str:
    """``text`` with each field path in ``options`` named by its option instead, and an
    element of a repeated field by its place: filter.topics[1] as --topic #2."""

    def option(path: re.Match[str]) -> str:
        name = options.get(path[1])
        if name is None:
            return path[0]
        return name if path[2] is None else f"{name} #{int(path[2]) + 1}"

    return _FIELD_PATH.sub(option, text)


def _report(error: ClaimstoreError, args: argparse.Namespace) -> None:
    service = error if isinstance(error, ServiceError) else None
    options: dict[str, str] = getattr(args, "field_options", {})
    fields = service.field_violations if service is not None else {}
    violations = [
        _in_options(f"{field}: {description}", options) for field, description in fields.items()
    ]
    message = _in_options(str(error), options)
    if (
        service is not None
        and len(violations) > 1
        and _in_options(service.message, options) == "; ".join(violations)
    ):
        # The server's message joins them all: one a line reads better.
        header = f"claimstore: {service.code.name}: {len(violations)} fields at fault"
        print(header, file=sys.stderr)
        for violation in violations:
            print(f"  {violation}", file=sys.stderr)
    else:
        print(f"claimstore: {message}", file=sys.stderr)
        for violation in violations:
            if violation not in message:
                print(f"  {violation}", file=sys.stderr)
    for subject in _deleted_subjects(error):
        print(
            f"  to undelete it: claimstore restore {subject}",
            file=sys.stderr,
        )
    if isinstance(error, DeadlineExceeded):
        option = "--import-timeout" if args.command == "import" else "--timeout"
        seconds = getattr(args, option.removeprefix("--").replace("-", "_"))
        print(
            f"  not done within {seconds:g} seconds ({option}): raise {option} to wait longer",
            file=sys.stderr,
        )
    if isinstance(error, Aborted):
        print(
            "  the claim changed since it was read; look at it again and retry",
            file=sys.stderr,
        )
    if isinstance(error, Unavailable) and not error.details:
        # No details: gRPC's own (no connection), not a server's answer, which says why.
        target = getattr(args, "target", DEFAULT_TARGET)
        print(
            f"  is a server running at {target}? Start one with 'make serve' or"
            " 'claimstore serve', or point --target / $CLAIMSTORE_TARGET at it.",
            file=sys.stderr,
        )


def _deleted_subjects(error: ClaimstoreError) -> list[str]:
    """The claims a FAILED_PRECONDITION names as deleted, which 'restore' brings back."""
    if not isinstance(error, FailedPrecondition):
        return []
    return [
        violation.subject
        for detail in error.details
        if isinstance(detail, error_details_pb2.PreconditionFailure)
        for violation in detail.violations
        if violation.type == "DELETED"
    ]


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs the ``claimstore`` command; returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, out or sys.stdout)
    except argparse.ArgumentTypeError as error:
        parser.exit(2, f"claimstore {args.command}: error: {error}\n")
    except KeyboardInterrupt:
        print(f"claimstore {args.command}: interrupted", file=sys.stderr)
        return _INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `claimstore export | head`): not an error. Point
        # stdout at devnull so that flushing it at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"claimstore: {error}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as error:
        print(f"claimstore: {error}", file=sys.stderr)
        return 2
    except ClaimstoreError as error:
        _report(error, args)
        return 1
