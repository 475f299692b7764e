"""The SQLite backend of the store: the embedded default.

One connection per thread (the gRPC server's worker threads each get their
own), WAL journal so readers never wait for the writer, foreign keys on, and a
busy timeout so that concurrent writers queue instead of failing. Every write
runs in one ``BEGIN IMMEDIATE`` transaction: it takes the write lock before it
reads, so a read-then-write can never fail half-way on a stale snapshot. The
store's own threads take turns at that lock first come first served
(``WriteTurns``), which SQLite's busy timeout does not.
"""

import contextlib
import dataclasses
import enum
import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlite_utils
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.claim_revision_pb2 import (
    CHANGE_TYPE_DELETED,
    CHANGE_TYPE_UNDELETED,
    ClaimRevision,
)
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from .. import _ids
from . import _rows
from ._base import Snapshot
from ._checkpointer import Checkpointer
from ._driver import has_wal_reset_bug, sqlite3
from ._errors import (
    AbandonedError,
    AlreadyExistsError,
    DatabaseFileError,
    DataLossError,
    FailedPreconditionError,
    NotFoundError,
    StaleEtagError,
    UnavailableError,
)
from ._failure_log import FailureLog
from ._model import (
    ChangeEvent,
    ChangeNote,
    ChangePage,
    ClaimCursor,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    ClaimReviser,
    DeletionDraft,
    ImportOutcome,
    Page,
    SearchCursor,
    SearchHit,
    SearchQuery,
    SourceDraft,
    SourceReviser,
    SpeakerDraft,
    SpeakerReviser,
    Workload,
)
from ._schema import migrate
from ._sql import escape_like, placeholders
from ._sqlite_search import SEARCH_BOUND, Searcher
from ._sqlite_writer import (
    INSERT_REVISION,
    ClaimWriter,
    StoredClaim,
    insert_source,
    insert_speaker,
    revision_row,
    rewrite_source,
    rewrite_speaker,
)
from ._write_turns import WriteTurns


def _claim_columns(full: bool) -> str:
    """The columns a claim is read from, first in a row: its body, and its speaker's when full.

    Queries select them ``FROM claims c`` followed by :func:`_speaker_join`.
    """
    return "c.body, sp.body" if full else "c.body"


def _tuples(connection: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor of ``connection`` whose rows are plain tuples: a ``sqlite3.Row`` costs about a
    quarter of a microsecond more a row, 12 µs on a page of 50 claims."""
    cursor = connection.cursor()
    cursor.row_factory = None
    return cursor


Body = TypeVar("Body", Speaker, Source)


def _changed_from(
    kind: str, resource_id: str, row: tuple[bytes] | None, message: type[Body], etag: str
) -> Body:
    """The stored speaker or source (``row`` holds its body) that an update changes; raises
    NotFoundError, or StaleEtagError when ``etag`` is given and is no longer its."""
    if row is None:
        raise NotFoundError(kind, resource_id, f"{kind}.id")
    current = message.FromString(row[0])
    if etag and etag != current.etag:
        raise StaleEtagError(kind, resource_id, current.etag)
    return current


def _rows_within(
    cursor: sqlite3.Cursor, limit: int, max_bytes: int | None, *, body_column: int
) -> tuple[list[Any], bool]:
    """The first ``limit`` rows of ``cursor``, or fewer whose bodies (column ``body_column``)
    take no more than ``max_bytes`` together (the first row always), and whether more rows
    follow. Rows past those are not read: a claim may take 220 KB a revision, and a page of
    1,000 of them, read whole, 220 MB, most of which a response could not carry."""
    rows: list[Any] = []
    total = 0
    try:
        for row in cursor:
            total += len(row[body_column])
            if len(rows) == limit or (rows and max_bytes is not None and total > max_bytes):
                return rows, True
            rows.append(row)
        return rows, False
    finally:
        cursor.close()


def _later_than(update_time_us: int) -> int:
    """Now, or a microsecond after ``update_time_us`` if the clock says otherwise: an etag is
    made of the update time, and a change must have a new one."""
    return max(_now_us(), update_time_us + 1)


def _in_the_way(path: Path) -> str:
    """What keeps SQLite from opening ``path``, as a parenthesis ("" when nothing that can be
    seen from here does): SQLite says "unable to open database file" for all of these."""
    folder = path.parent
    if path.is_dir():
        return " (it is a folder)"
    if not folder.is_dir():
        return f" (there is no folder {folder})"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return " (no permission to read and write it)"
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite writes the write-ahead log and its index beside the file.
        return f" (no permission to create files in {folder})"
    return ""


def _speaker_join(full: bool) -> str:
    return " JOIN speakers sp ON sp.id = c.speaker_id" if full else ""


def _revision_speaker_join(full: bool) -> str:
    """Joins ``claim_revisions r`` to the speaker of the claim at that revision, when full."""
    return " JOIN speakers sp ON sp.id = r.speaker_id" if full else ""


@dataclass(frozen=True, slots=True)
class _Tuning:
    """How a connection reads the file (its page cache and how much of the file it maps), and
    whether its commits leave checkpoints to the :class:`Checkpointer`."""

    cache_kib: int
    mmap_bytes: int
    background_checkpoints: bool = False


_TUNINGS: Final = {
    # Lookups and pages of 50 read a few pages each: mapped, a page costs no copy into the
    # cache. The pages point reads touch count as the server's resident memory (up to the
    # 1 GiB mapped, over a long run on a large file), but they are the operating system's
    # cache of the file, shared and given back under memory pressure, unlike a heap.
    Workload.POINT: _Tuning(cache_kib=16 * 1024, mmap_bytes=1 << 30),
    # An export reads the whole file: mapped, every page of it would count as resident, so
    # a bulk thread reads through its own cache. An import's inserts land all over the
    # claims' indexes, and pages kept between batches are pages not read again. Its
    # commits are large: the checkpoint each would run goes to another thread.
    Workload.BULK: _Tuning(cache_kib=64 * 1024, mmap_bytes=0, background_checkpoints=True),
    # A search reads the index's pages all over, and mapped pages skip a copy into the
    # cache: all of a database of millions of claims, or as much as SQLite's compile-time
    # maximum allows (2 GB in common builds). They are the same file cache as above.
    Workload.SEARCH: _Tuning(cache_kib=16 * 1024, mmap_bytes=8 * 1024**3),
}

_SNAPSHOT_TUNING: Final = _Tuning(cache_kib=16 * 1024, mmap_bytes=0)
"""A snapshot (an export's) reads the claims once each, in an order that is not the file's:
its own cache would hold pages not read again, and mapped pages would count as resident."""

_AUTOCHECKPOINT_PAGES: Final = 1000
"""SQLite's default: a commit that leaves the log this long copies it into the file."""

_UNAVAILABLE_ERRORS = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
)

_DAMAGED_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
"""What SQLite says of a file it finds malformed: not the request's fault, and no retry mends it."""

BULK_LOG_BYTES: Final = 128 * 1024**2
"""How long the write-ahead log may grow under bulk writes before the next one waits for the
checkpoints to catch up; every connection cuts the log file back to this length when the log
starts over.

Bulk commits leave their checkpoint to the :class:`Checkpointer`, which copies the
log into the file while the next transaction is written. The log starts over only
at a commit whose transaction began once all of it was copied, and an import
begins its next transaction right after each commit: without this bound the log
of a long import would grow by every transaction's pages."""


def _log_bytes(path: str) -> int:
    try:
        return os.path.getsize(f"{path}-wal")
    except OSError:
        return 0


def _file_identity(path: str) -> tuple[int, int]:
    """The device and inode of the file at ``path``; raises OSError when there is none."""
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _now_us() -> int:
    return time.time_ns() // 1000


class SqliteStore:
    """A :class:`~claimstore_server.store.ClaimStore` over one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_ms: int = 5000,
        search_bound: int = SEARCH_BOUND,
        bulk_log_bytes: int = BULK_LOG_BYTES,
    ) -> None:
        """``search_bound``: the most matches a search ranks by bm25 (see _sqlite_search).
        ``bulk_log_bytes``: how long bulk writes let the write-ahead log grow (see
        :data:`BULK_LOG_BYTES`)."""
        self._path = str(path)
        self._bulk_log_bytes = bulk_log_bytes
        self._search_bound = search_bound
        self._busy_timeout_ms = busy_timeout_ms
        self._ids = _ids.IdGenerator()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None
        self._failures = FailureLog()
        self._write_turns = WriteTurns()
        if self._path in ("", ":memory:"):
            # Each connection (one a thread) would open a database of its own, empty.
            raise DatabaseFileError(
                f"cannot serve {self._path!r}: give the path of a file, such as claimstore.db"
            )
        # The file the store opened: writes are refused once the path names no file, or
        # another one (see _check_file).
        self._file_identity: tuple[int, int] | None = None
        try:
            db = sqlite_utils.Database(self._connection(), execute_plugins=False)
            db.enable_wal()
            self.schema_version = migrate(db)
            self._file_identity = _file_identity(self._path)
        except sqlite3.DatabaseError as error:
            self.close()
            # SQLite says this of a missing folder, a folder, and a lack of permission alike.
            unopened = str(error) == "unable to open database file"
            raise DatabaseFileError(
                f"cannot open {self._path} as a claimstore database: {error}"
                f"{_in_the_way(Path(self._path)) if unopened else ''}"
            ) from error

    @functools.cached_property
    def change_log_id(self) -> str:
        with self._read() as connection:
            (value,) = connection.execute(
                "SELECT value FROM store_info WHERE key = 'change_log_id'"
            ).fetchone()
        return str(value)

    # Connections and transactions

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
        return connection

    def _open(self, tuning: _Tuning | None = None) -> sqlite3.Connection:
        # check_same_thread=False only so that close() may close every thread's
        # connection; each connection is otherwise used by one thread at a time.
        try:
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout_ms / 1000, check_same_thread=False
            )
        except sqlite3.OperationalError as error:
            if self._file_identity is None:  # still opening: __init__ reports it
                raise
            self._check_file()
            failure = DatabaseFileError(
                f"cannot open {self._path} again: {error}{_in_the_way(Path(self._path))}"
            )
            self._failures.failed(failure)
            raise failure from error
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        connection.execute("PRAGMA synchronous = NORMAL")
        self._tune(connection, tuning or _TUNINGS[self._workload()])
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    def _forget(self, connection: sqlite3.Connection) -> None:
        """Closes a connection of no thread's (a snapshot's)."""
        with self._connections_lock:
            if connection not in self._connections:
                return  # closed with the store
            self._connections.remove(connection)
        connection.close()

    def _workload(self) -> Workload:
        workload: Workload = getattr(self._local, "workload", Workload.POINT)
        return workload

    def _tune(self, connection: sqlite3.Connection, tuning: _Tuning) -> None:
        connection.execute(f"PRAGMA cache_size = -{tuning.cache_kib}")
        connection.execute(f"PRAGMA mmap_size = {tuning.mmap_bytes}")
        pages = 0 if tuning.background_checkpoints else _AUTOCHECKPOINT_PAGES
        connection.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        # Whichever connection starts the log over cuts the file back, so that its size
        # tells how much a bulk write has left to copy.
        connection.execute(f"PRAGMA journal_size_limit = {self._bulk_log_bytes}")

    def use_thread_for(self, workload: Workload) -> None:
        """Tunes the calling thread's connection for ``workload`` (see ``_TUNINGS``)."""
        if workload is self._workload():
            return
        self._local.workload = workload
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            with self._translate_errors():
                self._tune(connection, _TUNINGS[workload])

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            # Busy, locked, out of space, unreadable: the database, not the request, is at
            # fault, and a retry may work. Anything else is a bug and stays what it is.
            name = getattr(error, "sqlite_errorname", "")
            if name.startswith(_UNAVAILABLE_ERRORS):
                failure = UnavailableError(f"the database cannot serve this request now: {error}")
                self._failures.failed(failure)
                raise failure from error
            raise
        except sqlite3.DatabaseError as error:
            if getattr(error, "sqlite_errorname", "").startswith(_DAMAGED_ERRORS):
                damaged = DataLossError(
                    f"the database file {self._path} is damaged ({error}): check it with"
                    f" `claimstore check --db {self._path}`, stop the server and restore the"
                    " file from a backup"
                )
                self._failures.failed(damaged)
                raise damaged from error
            raise

    @contextmanager
    def _write(self, *, references_checked: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction on the calling thread's connection, committed when the block
        ends and rolled back when it raises.

        ``references_checked``: the writer itself makes sure that every row it writes
        refers to rows that exist (``ClaimWriter`` resolves each speaker and source in
        the transaction, and children follow their claim), so SQLite need not look each
        reference up again: foreign keys are not enforced for this transaction, which
        spares an import about a tenth of SQLite's work. Tests check the references of
        what imports write with ``PRAGMA foreign_key_check``.
        """
        connection = self._connection()
        background_checkpoints = _TUNINGS[self._workload()].background_checkpoints
        if background_checkpoints and _log_bytes(self._path) > self._bulk_log_bytes:
            checkpointer = self._background_checkpointer()
            checkpointer.request()
            checkpointer.wait()
        self._take_write_turn()
        try:
            with self._translate_errors():
                if references_checked:
                    # Outside a transaction: SQLite ignores the pragma inside one.
                    connection.execute("PRAGMA foreign_keys = OFF")
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    try:
                        yield connection
                        self._check_file()
                        connection.execute("COMMIT")
                    except BaseException:
                        if connection.in_transaction:
                            connection.execute("ROLLBACK")
                        raise
                finally:
                    if references_checked:
                        connection.execute("PRAGMA foreign_keys = ON")
        finally:
            self._write_turns.release()
        if background_checkpoints:
            self._background_checkpointer().request()

    def _take_write_turn(self) -> None:
        """Waits for this thread's turn to write (see :class:`WriteTurns`), for as long as
        SQLite would wait for its write lock."""
        timeout = self._busy_timeout_ms / 1000
        if not self._write_turns.acquire(timeout):
            failure = UnavailableError(
                "the database cannot serve this request now: the writes before it took"
                f" longer than {timeout:g} s"
            )
            self._failures.failed(failure)
            raise failure

    def _check_file(self) -> None:
        """Raises DatabaseFileError when the path no longer names the file the store opened
        (removed, or replaced by another): SQLite would go on writing to the file it has open,
        and whatever it wrote would be gone once the server restarts. One stat a transaction."""
        if self._file_identity is None:  # still opening
            return
        try:
            identity = _file_identity(self._path)
        except OSError as error:
            failure = DatabaseFileError(
                f"the database file {self._path} is gone{_in_the_way(Path(self._path))}: it"
                " was moved or removed while the server ran, and nothing more can be written"
                " to it; put it back, or restart the server"
            )
            self._failures.failed(failure)
            raise failure from error
        if identity != self._file_identity:
            failure = DatabaseFileError(
                f"{self._path} is no longer the database file this server opened (it was"
                " replaced while the server ran): nothing more can be written to it; restart"
                " the server to serve the file there now"
            )
            self._failures.failed(failure)
            raise failure

    def _background_checkpointer(self) -> Checkpointer:
        with self._connections_lock:
            if self._checkpointer is None:
                # With the WAL-reset bug, no commit of this store may run beside a checkpoint.
                buggy = has_wal_reset_bug(sqlite3.sqlite_version_info)
                self._checkpointer = Checkpointer(
                    self._path,
                    busy_timeout_ms=self._busy_timeout_ms,
                    turns=self._write_turns if buggy else None,
                )
            return self._checkpointer

    @contextmanager
    def _read(self, snapshot: Snapshot | None = None) -> Iterator[sqlite3.Connection]:
        """The connection a read uses: the calling thread's, or ``snapshot``'s."""
        with self._translate_errors():
            if snapshot is None:
                yield self._connection()
            else:
                assert isinstance(snapshot, _SqliteSnapshot), snapshot
                yield snapshot.connection

    def open_snapshot(self) -> Snapshot:
        with self._translate_errors():
            connection = self._open(_SNAPSHOT_TUNING)
            try:
                # A deferred transaction takes its snapshot at its first read: now.
                connection.execute("BEGIN")
                connection.execute("SELECT count(*) FROM store_info").fetchone()
            except BaseException:
                self._forget(connection)
                raise
        return _SqliteSnapshot(connection, self._forget)

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.close()
        for connection in connections:
            # optimize is advice only; closing must happen whatever it says.
            with contextlib.suppress(sqlite3.Error):
                connection.execute("PRAGMA optimize")
            connection.close()

    # Speakers

    def create_speaker(self, draft: SpeakerDraft) -> Speaker:
        with self._write() as connection:
            if draft.wikidata_id:
                row = connection.execute(
                    "SELECT id FROM speakers WHERE wikidata_id = ?", (draft.wikidata_id,)
                ).fetchone()
                if row is not None:
                    raise AlreadyExistsError(
                        "speaker", "speaker.wikidata_id", draft.wikidata_id, existing_id=row["id"]
                    )
            speaker_id = insert_speaker(connection, self._ids, draft, _now_us())
            return self._fetch_speaker(connection, speaker_id)

    def get_speaker(self, speaker_id: str) -> Speaker:
        with self._read() as connection:
            return self._fetch_speaker(connection, speaker_id)

    def list_speakers(self, *, after_id: str, limit: int, name_prefix: str = "") -> Page[Speaker]:
        where, params = "id > ?", [after_id]
        if name_prefix:
            # A word of a folded name starts with the prefix: the name does, or " prefix" is in it.
            where += (
                " AND id IN (SELECT speaker_id FROM speaker_names"
                " WHERE name LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')"
            )
            escaped = escape_like(name_prefix)
            params += [f"{escaped}%", f"% {escaped}%"]
        with self._read() as connection:
            rows = connection.execute(
                f"SELECT id, body FROM speakers WHERE {where} ORDER BY id LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
            counts = self._claim_counts(connection, [row[0] for row in rows[:limit]])
        speakers = [_rows.speaker_from_body(body, counts.get(id_, 0)) for id_, body in rows[:limit]]
        return Page(speakers, len(rows) > limit)

    def _claim_counts(
        self, connection: sqlite3.Connection, speaker_ids: Sequence[str]
    ) -> dict[str, int]:
        if not speaker_ids:
            return {}
        return dict(
            connection.execute(
                "SELECT speaker_id, COUNT(*) FROM claims"
                f" WHERE speaker_id IN ({placeholders(len(speaker_ids))})"
                " AND delete_time IS NULL GROUP BY speaker_id",
                list(speaker_ids),
            ).fetchall()
        )

    def update_speaker(self, speaker_id: str, revise: SpeakerReviser, etag: str) -> Speaker:
        with self._write() as connection:
            row = connection.execute("SELECT body FROM speakers WHERE id = ?", (speaker_id,))
            current = _changed_from("speaker", speaker_id, row.fetchone(), Speaker, etag)
            draft = revise(current)
            written = _rows.speaker_body(
                speaker_id,
                draft,
                current.update_time.ToMicroseconds(),
                create_time_us=current.create_time.ToMicroseconds(),
            )
            if Speaker.FromString(written) == current:
                return self._fetch_speaker(connection, speaker_id)
            if draft.wikidata_id:
                other = connection.execute(
                    "SELECT id FROM speakers WHERE wikidata_id = ? AND id != ?",
                    (draft.wikidata_id, speaker_id),
                ).fetchone()
                if other is not None:
                    raise AlreadyExistsError(
                        "speaker", "speaker.wikidata_id", draft.wikidata_id, existing_id=other[0]
                    )
            rewrite_speaker(
                connection,
                speaker_id,
                draft,
                _later_than(current.update_time.ToMicroseconds()),
                create_time_us=current.create_time.ToMicroseconds(),
                names_changed=(draft.display_name, draft.aliases)
                != (current.display_name, tuple(current.aliases)),
            )
            return self._fetch_speaker(connection, speaker_id)

    def _fetch_speaker(self, connection: sqlite3.Connection, speaker_id: str) -> Speaker:
        row = connection.execute("SELECT body FROM speakers WHERE id = ?", (speaker_id,)).fetchone()
        if row is None:
            raise NotFoundError("speaker", speaker_id, "id")
        counts = self._claim_counts(connection, [speaker_id])
        return _rows.speaker_from_body(row[0], counts.get(speaker_id, 0))

    # Sources

    def create_source(self, draft: SourceDraft) -> Source:
        with self._write() as connection:
            if draft.url:
                existing = self._source_id_by_url(connection, draft.url)
                if existing is not None:
                    raise AlreadyExistsError(
                        "source", "source.url", draft.url, existing_id=existing
                    )
            source_id = insert_source(connection, self._ids, draft, _now_us())
            return self._fetch_source(connection, source_id)

    def get_source(self, source_id: str) -> Source:
        with self._read() as connection:
            return self._fetch_source(connection, source_id)

    def update_source(self, source_id: str, revise: SourceReviser, etag: str) -> Source:
        with self._write() as connection:
            row = connection.execute("SELECT body FROM sources WHERE id = ?", (source_id,))
            current = _changed_from("source", source_id, row.fetchone(), Source, etag)
            draft = revise(current)
            written = _rows.source_body(
                source_id,
                draft,
                current.update_time.ToMicroseconds(),
                create_time_us=current.create_time.ToMicroseconds(),
            )
            if Source.FromString(written) == current:
                return current
            if draft.url and draft.url != current.url:
                existing = self._source_id_by_url(connection, draft.url)
                if existing is not None:
                    raise AlreadyExistsError(
                        "source", "source.url", draft.url, existing_id=existing
                    )
            rewrite_source(
                connection,
                source_id,
                draft,
                _later_than(current.update_time.ToMicroseconds()),
                create_time_us=current.create_time.ToMicroseconds(),
            )
            return self._fetch_source(connection, source_id)

    def list_sources(self, *, after_id: str, limit: int) -> Page[Source]:
        with self._read() as connection:
            rows = connection.execute(
                "SELECT body FROM sources WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit + 1)
            ).fetchall()
        return Page([_rows.source_from_body(row[0]) for row in rows[:limit]], len(rows) > limit)

    def _fetch_source(self, connection: sqlite3.Connection, source_id: str) -> Source:
        row = connection.execute("SELECT body FROM sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise NotFoundError("source", source_id, "id")
        return _rows.source_from_body(row[0])

    def _source_id_by_url(self, connection: sqlite3.Connection, url: str) -> str | None:
        row = connection.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
        return None if row is None else str(row["id"])

    # Claims

    def create_claim(self, draft: ClaimDraft, *, actor: str = "") -> Claim:
        with self._write() as connection:
            writer = ClaimWriter(connection, self._ids, _now_us(), actor=actor)
            (result,) = writer.write([draft])
            if result.error is not None:
                raise result.error
            if result.stored == "duplicate":
                raise AlreadyExistsError(
                    "claim",
                    "claim",
                    draft.text[:80],
                    existing_id=result.claim_id,
                    reason="a claim with the same speaker, stated_at and text exists",
                )
            return self._fetch_claim(connection, result.claim_id)

    def import_claims(
        self,
        drafts: Sequence[ClaimDraft],
        *,
        actor: str = "",
        abandoned: Callable[[], bool] = lambda: False,
        left_to_sqlite: Callable[[], None] = lambda: None,
    ) -> list[ImportOutcome]:
        with self._write(references_checked=True) as connection:
            writer = ClaimWriter(
                connection, self._ids, _now_us(), actor=actor, left_to_sqlite=left_to_sqlite
            )
            results = writer.write(drafts)
            if abandoned():
                raise AbandonedError("the import was cancelled before this batch committed")
        return [
            ImportOutcome(claim_id, stored == "created" and error is None, error)
            for claim_id, stored, error in results
        ]

    def get_claim(self, claim_id: str, *, full: bool = True, revision: int = 0) -> Claim:
        with self._read() as connection:
            if not revision:
                return self._fetch_claim(connection, claim_id, full=full)
            rows = connection.execute(
                f"SELECT r.body{', sp.body' if full else ''} FROM claim_revisions r"
                f"{_revision_speaker_join(full)} WHERE r.claim_id = ? AND r.revision = ?",
                (claim_id, revision),
            ).fetchall()
            if not rows:
                self._stored_claim(connection, claim_id, ChangeNote())
                raise NotFoundError("revision", f"{claim_id}@{revision}", "revision")
            return self._revisions_from_rows(connection, rows, full=full)[0].claim

    # Revising claims

    def _stored_claim(
        self, connection: sqlite3.Connection, claim_id: str, note: ChangeNote
    ) -> tuple[StoredClaim, bool]:
        """The claim a change builds on and whether it is deleted; raises NotFoundError, or
        StaleEtagError when it is no longer at the version ``note`` names."""
        row = connection.execute(
            "SELECT seq, create_time, revision, body, speaker_id, delete_time FROM claims"
            " WHERE id = ?",
            (claim_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError("claim", claim_id, "id")
        stored = StoredClaim(row[0], claim_id, row[1], row[2], row[3], row[4])
        current = _rows.etag(claim_id, stored.revision)
        if note.etag and note.etag != current:
            raise StaleEtagError("claim", claim_id, current)
        return stored, row[5] is not None

    def _live_claim(
        self, connection: sqlite3.Connection, claim_id: str, note: ChangeNote
    ) -> StoredClaim:
        stored, deleted = self._stored_claim(connection, claim_id, note)
        if deleted:
            raise FailedPreconditionError(
                "claim", claim_id, "DELETED", "the claim is deleted: undelete it first"
            )
        return stored

    def update_claim(
        self,
        claim_id: str,
        revise: ClaimReviser,
        note: ChangeNote,
        *,
        unique_citations: bool = False,
    ) -> Claim:
        with self._write() as connection:
            stored = self._live_claim(connection, claim_id, note)
            draft = revise(_rows.basic_claim(stored.body))
            writer = ClaimWriter(connection, self._ids, _now_us(), actor=note.actor)
            writer.revise(stored, draft, note, unique_citations=unique_citations)
            return self._fetch_claim(connection, claim_id)

    def delete_claim(self, claim_id: str, deletion: DeletionDraft, note: ChangeNote) -> Claim:
        with self._write() as connection:
            stored, deleted = self._stored_claim(connection, claim_id, note)
            if deleted:
                # AIP-164: deleting a deleted resource is NOT_FOUND (without allow_missing,
                # which this API does not offer).
                raise NotFoundError("claim", claim_id, "id", reason="is already deleted")
            self._restate(connection, stored, deletion, note)
            return self._fetch_claim(connection, claim_id)

    def undelete_claim(self, claim_id: str, note: ChangeNote) -> Claim:
        with self._write() as connection:
            stored, deleted = self._stored_claim(connection, claim_id, note)
            if not deleted:
                # AIP-164: undeleting a resource that is not deleted is ALREADY_EXISTS.
                raise AlreadyExistsError(
                    "claim",
                    "id",
                    claim_id,
                    existing_id=claim_id,
                    reason="the claim is not deleted: there is nothing to undelete",
                )
            self._restate(connection, stored, None, note)
            return self._fetch_claim(connection, claim_id)

    def _restate(
        self,
        connection: sqlite3.Connection,
        stored: StoredClaim,
        deletion: DeletionDraft | None,
        note: ChangeNote,
    ) -> None:
        """Deletes the claim for ``deletion`` or, when None, undeletes it, as a new revision."""
        now_us = _now_us()
        revision = stored.revision + 1
        body = _rows.restated_claim_body(stored.body, now_us, revision, deletion)
        connection.execute(
            "UPDATE claims SET body = ?, revision = ?, update_time = ?, delete_time = ?"
            " WHERE seq = ?",
            (body, revision, now_us, None if deletion is None else now_us, stored.seq),
        )
        change_type = CHANGE_TYPE_UNDELETED if deletion is None else CHANGE_TYPE_DELETED
        connection.execute(
            INSERT_REVISION,
            revision_row(
                stored.claim_id,
                stored.speaker_id,
                body,
                revision=revision,
                change_type=change_type,
                now_us=now_us,
                note=note,
            ),
        )

    # Revisions and the change log

    def list_claim_revisions(
        self,
        claim_id: str,
        *,
        after_revision: int,
        limit: int,
        full: bool = False,
        max_bytes: int | None = None,
    ) -> Page[ClaimRevision]:
        with self._read() as connection:
            rows, has_more = _rows_within(
                connection.execute(
                    f"SELECT r.body{', sp.body' if full else ''} FROM claim_revisions r"
                    f"{_revision_speaker_join(full)} WHERE r.claim_id = ? AND r.revision > ?"
                    " ORDER BY r.revision LIMIT ?",
                    (claim_id, after_revision, limit + 1),
                ),
                limit,
                max_bytes,
                body_column=0,
            )
            if not rows:
                self._stored_claim(connection, claim_id, ChangeNote())
            revisions = self._revisions_from_rows(connection, rows, full=full)
        return Page(revisions, has_more)

    def change_log_head(self) -> int:
        with self._read() as connection:
            (head,) = connection.execute(
                "SELECT coalesce(max(seq), 0) FROM claim_revisions"
            ).fetchone()
        return int(head)

    def read_changes(
        self,
        after_seq: int,
        query: ClaimQuery,
        *,
        limit: int,
        full: bool = False,
        max_bytes: int | None = None,
    ) -> ChangePage:
        query = dataclasses.replace(query, show_deleted=True)
        with self._read() as connection:
            # The log is walked in order, as a listing is.
            conditions, params = planned_conditions(connection, query, page_rows=limit + 1)
            claims_join = " JOIN claims c ON c.id = r.claim_id" if conditions else ""
            sql = (
                f"SELECT r.seq, r.body{', sp.body' if full else ''} FROM claim_revisions r"
                f"{claims_join}{_revision_speaker_join(full)}"
                f" WHERE {' AND '.join(['r.seq > ?', 'r.seq <= ?', *conditions])}"
                " ORDER BY r.seq LIMIT ?"
            )
            # One snapshot for both reads, so that "read up to head" holds for the page.
            connection.execute("BEGIN")
            try:
                (head,) = connection.execute(
                    "SELECT coalesce(max(seq), 0) FROM claim_revisions"
                ).fetchone()
                page, has_more = _rows_within(
                    connection.execute(sql, [after_seq, head, *params, limit + 1]),
                    limit,
                    max_bytes,
                    body_column=1,
                )
                revisions = self._revisions_from_rows(
                    connection, [row[1:] for row in page], full=full
                )
            finally:
                connection.execute("COMMIT")
        events = [
            ChangeEvent(row[0], revision) for row, revision in zip(page, revisions, strict=True)
        ]
        return ChangePage(events, events[-1].seq if has_more else max(head, after_seq), has_more)

    def _revisions_from_rows(
        self, connection: sqlite3.Connection, rows: Sequence[Sequence[Any]], *, full: bool
    ) -> list[ClaimRevision]:
        """Returns the revisions of rows holding a revision body and, when full, the body of
        the claim's speaker."""
        revisions = [_rows.revision_from_body(row[0]) for row in rows]
        if full:
            sources = self._source_bodies(connection, [r.claim for r in revisions])
            for row, revision in zip(rows, revisions, strict=True):
                _rows.fill_claim(revision.claim, row[1], sources)
        return revisions

    def _fetch_claim(
        self, connection: sqlite3.Connection, claim_id: str, *, full: bool = True
    ) -> Claim:
        row = connection.execute(
            f"SELECT {_claim_columns(full)} FROM claims c{_speaker_join(full)} WHERE c.id = ?",
            (claim_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError("claim", claim_id, "id")
        return self._claims_from_rows(connection, [row], full=full)[0]

    def _claims_from_rows(
        self,
        connection: sqlite3.Connection,
        rows: Sequence[Sequence[Any]],
        *,
        full: bool,
        new: _rows.NewClaim = Claim,
    ) -> list[Claim]:
        """Returns the claims of rows that start with the columns of :func:`_claim_columns`,
        each parsed into a message from ``new``."""
        claims = [_rows.basic_claim(row[0], new) for row in rows]
        if full:
            sources = self._source_bodies(connection, claims)
            for row, claim in zip(rows, claims, strict=True):
                _rows.fill_claim(claim, row[1], sources)
        return claims

    def _source_bodies(
        self, connection: sqlite3.Connection, claims: Sequence[Claim]
    ) -> dict[str, bytes]:
        """The bodies of the sources that ``claims`` cite, by id."""
        source_ids = sorted(
            {citation.source_id for claim in claims for citation in claim.citations}
        )
        if not source_ids:
            return {}
        return dict(
            connection.execute(
                f"SELECT id, body FROM sources WHERE id IN ({placeholders(len(source_ids))})",
                source_ids,
            ).fetchall()
        )

    def search_claims(
        self,
        search: SearchQuery,
        query: ClaimQuery,
        *,
        after: SearchCursor | None,
        limit: int,
        full: bool = False,
        snippet_markers: tuple[str, str] = ("[", "]"),
    ) -> Page[SearchHit]:
        """Searches as :mod:`._sqlite_search` describes: bm25 up to the search bound, then tiers."""
        with self._read() as connection:
            conditions, params = planned_conditions(connection, query, page_rows=limit + 1)
            searcher = Searcher(
                connection,
                columns=_claim_columns(full),
                join=_speaker_join(full),
                conditions=conditions,
                params=params,
                markers=snippet_markers,
            )
            # One snapshot for every statement of the search: a claim stored between the
            # look-up of the cursor's current bm25 and the page would move every score, and
            # the page would skip or repeat the claims moved past the cursor.
            connection.execute("BEGIN")
            try:
                rows = searcher.search(search, after=after, limit=limit, bound=self._search_bound)
                page_rows = rows[:limit]
                claims = self._claims_from_rows(connection, [r.row for r in page_rows], full=full)
            finally:
                connection.execute("COMMIT")
        hits = [
            SearchHit(claim=claim, score=row.score, snippet=row.snippet)
            for claim, row in zip(claims, page_rows, strict=True)
        ]
        return Page(hits, len(rows) > limit)

    def list_claims(
        self,
        query: ClaimQuery,
        *,
        order: ClaimOrder,
        after: ClaimCursor | None,
        limit: int,
        full: bool = False,
        into: RepeatedCompositeFieldContainer[Claim] | None = None,
        snapshot: Snapshot | None = None,
    ) -> Page[Claim]:
        direction = "DESC" if order.descending else "ASC"
        with self._read(snapshot) as connection:
            conditions, params = planned_conditions(connection, query, page_rows=limit + 1)
            if after is not None:
                conditions.append(f"(c.stated_at, c.id) {'<' if order.descending else '>'} (?, ?)")
                params.extend((after.stated_at_us, after.claim_id))
            where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
            sql = (
                f"SELECT {_claim_columns(full)} FROM claims c{_speaker_join(full)}{where}"
                f" ORDER BY c.stated_at {direction}, c.id {direction} LIMIT ?"
            )
            params.append(limit + 1)
            rows = _tuples(connection).execute(sql, params).fetchall()
            new = Claim if into is None else into.add
            claims = self._claims_from_rows(connection, rows[:limit], full=full, new=new)
        # In the basic view a claim is its stored body, byte for byte.
        encoded = None if full else sum(len(row[0]) for row in rows[:limit])
        return Page(claims, len(rows) > limit, encoded)


class _SqliteSnapshot:
    """A read transaction on a connection of its own: in WAL mode it sees the database as
    of its first read, while writers go on."""

    def __init__(
        self, connection: sqlite3.Connection, forget: Callable[[sqlite3.Connection], None]
    ) -> None:
        self.connection = connection
        self._forget = forget

    def close(self) -> None:
        self._forget(self.connection)


class LinkPlan(enum.Enum):
    """How a filter on what claims link to (a topic, a publisher) finds its claims."""

    COLLECT = "collect"
    """Collect every claim it matches, then sort them: for a filter that matches few."""
    WALK = "walk"
    """Collect the claims it matches, but walk the claims in order and test each against them
    (SQLite skips an index for a term under a unary ``+``): the collecting is cheap beside
    sorting, and the walk soon finds a page."""
    PROBE = "probe"
    """Walk the claims in order and look each one's own links up: nothing is collected."""


@dataclass(frozen=True, slots=True)
class LinkPlans:
    """How a query's filters on what claims link to run (see :func:`link_plans`)."""

    topics: LinkPlan = LinkPlan.COLLECT
    publisher: LinkPlan = LinkPlan.COLLECT


_COLLECT_ALL: Final = LinkPlans()


def _topic_links(count: int) -> str:
    """The seqs of the claims linked to any of ``count`` topics (bound as parameters)."""
    return f"SELECT claim_seq FROM claim_topics WHERE topic IN ({placeholders(count)})"


_PUBLISHER_LINKS: Final = (
    "SELECT cs.claim_seq FROM claim_sources cs JOIN sources s ON s.id = cs.source_id"
    " WHERE s.publisher_folded = ?"
)

_PUBLISHER_PROBE_FACTOR: Final = 3
"""How many times the walk's bound a publisher's links must reach for a probe of each claim's
sources to beat collecting them: a probe looks up the claim's links and each link's source.
Measured on 100,000 claims (pages of 50, bound 2,259), a walk and a probe took the same
6.2 ms at 6,556 links; at 3,354 the walk took 3.8 ms, the probe 9.1; at 33,114, 25.8 and 2.2."""


def link_plans(connection: sqlite3.Connection, query: ClaimQuery, *, page_rows: int) -> LinkPlans:
    """Tells how ``query``'s topic and publisher filters should run, for a page of
    ``page_rows`` in listing order.

    A filter matching ``k`` of ``n`` claims can collect its ``k`` claims and
    sort them (cheap for a rare topic, but 30 to 80 ms a page for a topic or
    publisher on a third of 100,000 claims), or walk the claims in listing order
    and test each, which finds a page after about ``page_rows * n / k`` claims.
    The walk wins once ``k`` passes ``sqrt(page_rows * n)``. A topic is then
    probed by the key of ``claim_topics``, one look-up a claim. A publisher's
    probe costs more, so its claims are still collected (not sorted) until it
    has ``_PUBLISHER_PROBE_FACTOR`` times as many. Links are counted only up to
    those bounds, so the counting costs at most what the cheaper way costs.
    """
    if not (query.topics or query.publisher):
        return _COLLECT_ALL
    (claims,) = connection.execute("SELECT coalesce(max(seq), 0) FROM claims").fetchone()
    bound = math.isqrt(page_rows * claims) + 1

    def links(select: str, params: Sequence[Any], most: int) -> int:
        (count,) = connection.execute(
            f"SELECT count(*) FROM ({select} LIMIT ?)", (*params, most)
        ).fetchone()
        return int(count)

    topics = LinkPlan.COLLECT
    if query.topics and links(_topic_links(len(query.topics)), query.topics, bound) >= bound:
        topics = LinkPlan.PROBE
    publisher = LinkPlan.COLLECT
    if query.publisher:
        probe_bound = bound * _PUBLISHER_PROBE_FACTOR
        count = links(_PUBLISHER_LINKS, (query.publisher,), probe_bound)
        if count >= probe_bound:
            publisher = LinkPlan.PROBE
        elif count >= bound:
            publisher = LinkPlan.WALK
    return LinkPlans(topics, publisher)


def planned_conditions(
    connection: sqlite3.Connection, query: ClaimQuery, *, page_rows: int
) -> tuple[list[str], list[Any]]:
    """:func:`claim_conditions` of ``query``, its link filters run as :func:`link_plans`
    chooses for a page of ``page_rows``."""
    return claim_conditions(query, plans=link_plans(connection, query, page_rows=page_rows))


def claim_conditions(
    query: ClaimQuery, *, plans: LinkPlans = _COLLECT_ALL
) -> tuple[list[str], list[Any]]:
    """Returns the SQL conditions over ``claims c`` that ``query`` asks for, and their params.

    This is the one translation of a claim filter into SQL: every claim query
    (list, export, search, watch) builds its WHERE clause here. ``plans`` says
    how the filters on topics and a publisher find their claims (see
    :func:`link_plans`): a probed topic is looked up by the claim's seq in the
    topics' key, a probed publisher among the claim's own sources (by the index
    of ``claim_sources`` by claim). SQLite then walks the claims in listing
    order, or a search's matches, and tests each.
    """
    conditions: list[str] = [] if query.show_deleted else ["c.delete_time IS NULL"]
    params: list[Any] = []
    if query.speaker_ids:
        conditions.append(f"c.speaker_id IN ({placeholders(len(query.speaker_ids))})")
        params.extend(query.speaker_ids)
    if query.speaker_words:
        word_tests = " AND ".join("(' ' || name || ' ') LIKE ?" for _ in query.speaker_words)
        conditions.append(
            f"c.speaker_id IN (SELECT speaker_id FROM speaker_names WHERE {word_tests})"
        )
        params.extend(f"% {word} %" for word in query.speaker_words)
    if query.topics:
        topics = placeholders(len(query.topics))
        if plans.topics is LinkPlan.PROBE:
            conditions.append(
                "EXISTS (SELECT 1 FROM claim_topics t"
                f" WHERE t.topic IN ({topics}) AND t.claim_seq = c.seq)"
            )
        else:
            conditions.append(f"c.seq IN ({_topic_links(len(query.topics))})")
        params.extend(query.topics)
    if query.publisher:
        if plans.publisher is LinkPlan.PROBE:
            conditions.append(
                "EXISTS (SELECT 1 FROM claim_sources cs JOIN sources s ON s.id = cs.source_id"
                " WHERE cs.claim_seq = c.seq AND s.publisher_folded = ?)"
            )
        else:
            walk = "+" if plans.publisher is LinkPlan.WALK else ""
            conditions.append(f"{walk}c.seq IN ({_PUBLISHER_LINKS})")
        params.append(query.publisher)
    if query.source_id:
        conditions.append("c.seq IN (SELECT claim_seq FROM claim_sources WHERE source_id = ?)")
        params.append(query.source_id)
    if query.attributions:
        conditions.append(f"c.attribution IN ({placeholders(len(query.attributions))})")
        params.extend(query.attributions)
    if query.stated_since_us is not None:
        conditions.append("c.stated_at >= ?")
        params.append(query.stated_since_us)
    if query.stated_before_us is not None:
        conditions.append("c.stated_at < ?")
        params.append(query.stated_before_us)
    if query.language:
        conditions.append("(c.language = ? OR c.language LIKE ?)")
        params.extend((query.language, f"{query.language}-%"))
    return conditions, params
