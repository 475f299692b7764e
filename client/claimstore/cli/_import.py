"""``claimstore import``: JSON Lines files, streamed through ImportClaims, each line
answered by its FILE:LINE in a summary of what was created, found already there, or failed."""

import argparse
import json
import re
import shlex
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import TextIO

from .._batches import batch_bytes
from .._client import Client
from .._exceptions import ClaimstoreError
from .._jsonl import is_json_but_not_an_object, parse_import_line
from ..v1 import claim_service_pb2
from ._arguments import INTERRUPTED, client_config
from ._input import JSON_BYTES_PER_CLAIM_BYTE, UnreadableFile, count_lines, read_lines, unreadable
from ._progress import Progress, drawn, progress

PARTLY_IMPORTED = (
    "the claims counted above are stored, and the ones after them may or may not be:"
    " importing the files again stores what is missing"
)
"""What an import that ended early says of the claims it sent."""


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    problems = {path: why for path in args.files if (why := unreadable(path))}
    if problems:
        for path, why in problems.items():
            print(f"claimstore: cannot read {path}: {why}", file=sys.stderr)
        print("claimstore import: nothing imported", file=sys.stderr)
        return 2
    report = _ImportReport()
    # Where each claim sent came from, oldest first: results arrive in the same order.
    sent: deque[tuple[str, int]] = deque()
    config = client_config(args)
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
                print(f"claimstore import: stopped; {PARTLY_IMPORTED}", file=sys.stderr)
            raise
        finally:
            ended.set()
    report.write(out, as_json=args.json)
    for hint in report.hints():
        print(f"claimstore import: {hint}", file=sys.stderr)
    if interrupted:
        print(f"claimstore import: interrupted; {PARTLY_IMPORTED}", file=sys.stderr)
        return INTERRUPTED
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
