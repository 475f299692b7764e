"""The files ``claimstore import`` reads: checked before anything is sent, then read as bytes
a line at a time (each line is decoded on its own, so that one line that is not UTF-8 is
reported like any other bad line), ``.gz`` ones through gzip. Whatever stops a file from
being read to its end is raised as :class:`UnreadableFile`, in words for the summary."""

import gzip
import os
import stat
import sys
import zlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Final, Protocol

JSON_BYTES_PER_CLAIM_BYTE: Final = 3
"""The most bytes of JSON a line of a claim takes for each byte of the claim: even written as
a \\uXXXX escape, a character takes at most three times its bytes in UTF-8 (the escaped
control characters that take more are ones no claim may hold). A longer line is too large
before it is parsed."""

_CHUNK: Final = 1 << 20
"""The bytes read at a time of the part of a line too large to keep."""


class UnreadableFile(Exception):
    """A file could not be read to its end; the message says why, and what to do."""


class _Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def unreadable(path: str) -> str | None:
    """Why ``path`` cannot be read, such as "no such file"; None when it can.

    A regular file is opened to tell; a pipe (as ``<(zcat claims.gz)`` gives) is only looked
    at: opening a named one waits for a writer, and closing it then ends the writer's pipe.
    """
    if path == "-":
        return None
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            return "it is a directory, not a file"
        if stat.S_ISREG(mode):
            with open(path, "rb"):
                pass
        elif not os.access(path, os.R_OK):
            return "permission denied"
    except OSError as error:
        return _reason(error)
    return None


def _reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a directory, not a file"
    if isinstance(error, PermissionError):
        return "permission denied"
    return error.strerror or str(error)


def read_lines(path: str, most: int) -> Generator[tuple[bytes, int], None, None]:
    """Yields each line of ``path`` (stdin for "-") and its size in bytes; of a line of more
    than ``most`` bytes, only the first ``most + 1`` bytes come, the rest is read and dropped,
    so that a huge line takes no more memory than that.

    Raises UnreadableFile once a file cannot be read on: the lines before have been yielded.
    """
    count = 0
    try:
        with _open_input(path) as opened:
            for line in _bounded_lines(opened, most):
                count += 1
                yield line
    except EOFError as error:
        raise UnreadableFile(
            f"the compressed file is cut short{_after(count)}: import a whole copy to add the rest"
        ) from error
    except (gzip.BadGzipFile, zlib.error) as error:
        if count == 0 and str(error).startswith("Not a gzipped file"):
            raise UnreadableFile(
                "not gzip data, though its name ends in .gz: unzip it, or rename it if it"
                " holds JSON Lines already"
            ) from error
        raise UnreadableFile(
            f"the compressed file is corrupt{_after(count)} ({error}): import a good copy"
        ) from error
    except OSError as error:
        raise UnreadableFile(f"cannot read it{_after(count)}: {_reason(error)}") from error


def _after(count: int) -> str:
    return f" after line {count:,}" if count else ""


def count_lines(paths: Sequence[str], most: int) -> int | None:
    """The lines of ``paths`` that are not blank, for a progress bar's total: None when one of
    them is stdin or a pipe, which can be read only once. A file that cannot be read to its
    end counts the lines before; the import says what is wrong with it."""
    if any(path == "-" or not os.path.isfile(path) for path in paths):
        return None
    total = 0
    for path in paths:
        try:
            for line, _ in read_lines(path, most):
                total += bool(line.strip())
        except UnreadableFile:
            continue
    return total


@contextmanager
def _open_input(path: str) -> Iterator[_Lines]:
    """Opens a file as bytes, or stdin for "-"; a file whose name ends in .gz is unzipped."""
    if path != "-":
        with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as opened:
            yield opened
        return
    try:
        descriptor = sys.stdin.fileno()
    except (OSError, ValueError):  # a stream in memory, with no descriptor
        yield sys.stdin.buffer
        return
    # A reader of its own on the same descriptor: gRPC reads the requests on a thread of its
    # own, which may still wait for a line when the command ends (the server went away,
    # Ctrl-C), and the interpreter must not find sys.stdin locked then.
    with os.fdopen(os.dup(descriptor), "rb") as stdin:
        yield stdin


def _bounded_lines(opened: _Lines, most: int) -> Iterator[tuple[bytes, int]]:
    while line := opened.readline(most + 1):
        size = len(line)
        if size > most and not line.endswith(b"\n"):
            size += _rest_of_line(opened)
        yield line, size


def _rest_of_line(opened: _Lines) -> int:
    """Reads the rest of the current line a chunk at a time; returns its bytes."""
    skipped = 0
    while chunk := opened.readline(_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped
