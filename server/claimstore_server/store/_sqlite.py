"""The SQLite backend of the store: the embedded default.

One connection per thread (the gRPC server's worker threads each get their
own), WAL journal so readers never wait for the writer, foreign keys on, and a
busy timeout so that concurrent writers queue instead of failing. Every write
runs in one ``BEGIN IMMEDIATE`` transaction: it takes the write lock before it
reads, so a read-then-write can never fail half-way on a stale snapshot.
"""

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlite_utils
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from .. import _ids
from .._text import fold
from . import _rows
from ._errors import (
    AbandonedError,
    AlreadyExistsError,
    NotFoundError,
    UnavailableError,
)
from ._model import (
    ClaimCursor,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    ImportOutcome,
    Page,
    SearchCursor,
    SearchHit,
    SearchQuery,
    SearchTerm,
    SourceDraft,
    SpeakerDraft,
    Workload,
)
from ._schema import migrate
from ._sql import escape_like, placeholders
from ._sqlite_writer import ClaimWriter, insert_source, insert_speaker


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


def _speaker_join(full: bool) -> str:
    return " JOIN speakers sp ON sp.id = c.speaker_id" if full else ""


@dataclass(frozen=True, slots=True)
class _Tuning:
    """How a connection reads the file: its page cache and how much of the file it maps."""

    cache_kib: int
    mmap_bytes: int


_TUNINGS: Final = {
    # Lookups and pages of 50 read a few pages each: mapped, a page costs no copy into the
    # cache. The pages point reads touch count as the server's resident memory (up to the
    # 1 GiB mapped, over a long run on a large file), but they are the operating system's
    # cache of the file, shared and given back under memory pressure, unlike a heap.
    Workload.POINT: _Tuning(cache_kib=16 * 1024, mmap_bytes=1 << 30),
    # An export reads the whole file: mapped, every page of it would count as resident, so
    # a bulk thread reads through its own cache. An import's inserts land all over the
    # claims' indexes, and pages kept between batches are pages not read again.
    Workload.BULK: _Tuning(cache_kib=64 * 1024, mmap_bytes=0),
    # A search for a common word reads much of the index; mapped, it would all count too.
    Workload.SEARCH: _Tuning(cache_kib=16 * 1024, mmap_bytes=0),
}

_UNAVAILABLE_ERRORS = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
)


def _now_us() -> int:
    return time.time_ns() // 1000


class SqliteStore:
    """A :class:`~claimstore_server.store.ClaimStore` over one SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self._path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._ids = _ids.IdGenerator()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        with self._translate_errors():
            db = sqlite_utils.Database(self._connection(), execute_plugins=False)
            db.enable_wal()
            self.schema_version = migrate(db)

    # Connections and transactions

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            self._local.connection = connection
        return connection

    def _open(self) -> sqlite3.Connection:
        # check_same_thread=False only so that close() may close every thread's
        # connection; each connection is otherwise used by its own thread alone.
        connection = sqlite3.connect(
            self._path, timeout=self._busy_timeout_ms / 1000, check_same_thread=False
        )
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        connection.execute("PRAGMA synchronous = NORMAL")
        self._tune(connection, self._workload())
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    def _workload(self) -> Workload:
        workload: Workload = getattr(self._local, "workload", Workload.POINT)
        return workload

    @staticmethod
    def _tune(connection: sqlite3.Connection, workload: Workload) -> None:
        tuning = _TUNINGS[workload]
        connection.execute(f"PRAGMA cache_size = -{tuning.cache_kib}")
        connection.execute(f"PRAGMA mmap_size = {tuning.mmap_bytes}")

    def use_thread_for(self, workload: Workload) -> None:
        """Tunes the calling thread's connection for ``workload`` (see ``_TUNINGS``)."""
        if workload is self._workload():
            return
        self._local.workload = workload
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            with self._translate_errors():
                self._tune(connection, workload)

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            # Busy, locked, out of space, unreadable: the database, not the request, is at
            # fault, and a retry may work. Anything else is a bug and stays what it is.
            name = getattr(error, "sqlite_errorname", "")
            if name.startswith(_UNAVAILABLE_ERRORS):
                raise UnavailableError(
                    f"the database cannot serve this request now: {error}"
                ) from error
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        with self._translate_errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._translate_errors():
            yield self._connection()

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
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
                f" WHERE speaker_id IN ({placeholders(len(speaker_ids))}) GROUP BY speaker_id",
                list(speaker_ids),
            ).fetchall()
        )

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

    def create_claim(self, draft: ClaimDraft) -> Claim:
        with self._write() as connection:
            (result,) = ClaimWriter(connection, self._ids, _now_us()).write([draft])
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
        self, drafts: Sequence[ClaimDraft], *, abandoned: Callable[[], bool] = lambda: False
    ) -> list[ImportOutcome]:
        with self._write() as connection:
            results = ClaimWriter(connection, self._ids, _now_us()).write(drafts)
            if abandoned():
                raise AbandonedError("the import was cancelled before this batch committed")
        return [
            ImportOutcome(
                claim_id=result.claim_id,
                created=result.error is None and result.stored == "created",
                error=result.error,
            )
            for result in results
        ]

    def get_claim(self, claim_id: str, *, full: bool = True) -> Claim:
        with self._read() as connection:
            return self._fetch_claim(connection, claim_id, full=full)

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
        if not full:
            return [_rows.basic_claim(row[0], new) for row in rows]
        source_ids = sorted(
            {citation.source_id for row in rows for citation in _rows.basic_claim(row[0]).citations}
        )
        sources: dict[str, bytes] = {}
        if source_ids:
            sources = dict(
                connection.execute(
                    f"SELECT id, body FROM sources WHERE id IN ({placeholders(len(source_ids))})",
                    source_ids,
                ).fetchall()
            )
        return [_rows.full_claim(row[0], row[1], sources, new) for row in rows]

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
        conditions, params = claim_conditions(query)
        conditions.insert(0, "claims_search MATCH ?")
        if after is not None:
            # Scores are -rank: a later result has a greater rank, or the same and a greater id.
            conditions.append("(claims_search.rank > ? OR (claims_search.rank = ? AND c.id > ?))")
            params.extend((-after.score, -after.score, after.claim_id))
        sql = (
            f"SELECT {_claim_columns(full)}, -claims_search.rank,"
            " snippet(claims_search, 0, ?, ?, '…', 16), snippet(claims_search, -1, ?, ?, '…', 16)"
            " FROM claims_search JOIN claims c ON c.seq = claims_search.rowid"
            f"{_speaker_join(full)} WHERE {' AND '.join(conditions)}"
            " ORDER BY claims_search.rank, c.id LIMIT ?"
        )
        with self._read() as connection:
            params.insert(0, fts_expression(search, _prefix_stems(connection, search)))
            markers = [*snippet_markers, *snippet_markers]
            rows = connection.execute(sql, [*markers, *params, limit + 1]).fetchall()
            page_rows = rows[:limit]
            claims = self._claims_from_rows(connection, page_rows, full=full)
        # The text's snippet when the text matches (it holds a marker), else the best column's.
        hits = [
            SearchHit(
                claim=claim,
                score=row[-3],
                snippet=row[-2] if snippet_markers[0] in row[-2] else row[-1],
            )
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
    ) -> Page[Claim]:
        conditions, params = claim_conditions(query)
        direction = "DESC" if order.descending else "ASC"
        if after is not None:
            conditions.append(f"(c.stated_at, c.id) {'<' if order.descending else '>'} (?, ?)")
            params.extend((after.stated_at_us, after.claim_id))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = (
            f"SELECT {_claim_columns(full)} FROM claims c{_speaker_join(full)}{where}"
            f" ORDER BY c.stated_at {direction}, c.id {direction} LIMIT ?"
        )
        params.append(limit + 1)
        with self._read() as connection:
            rows = _tuples(connection).execute(sql, params).fetchall()
            new = Claim if into is None else into.add
            claims = self._claims_from_rows(connection, rows[:limit], full=full, new=new)
        return Page(claims, len(rows) > limit)


_MAX_STEM_CUT = 3
"""How many letters a prefix may run past the stem of the words it starts: "negotiat" is two
past "negoti", the stem of "negotiations" and "negotiating"."""


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_term(term: SearchTerm, stems: Mapping[str, str]) -> str:
    """One term in FTS5 syntax: its words as a quoted phrase (which FTS5 tokenizes as it did
    the claims), then * for a prefix, or'd with the stem the prefix runs past, if any."""
    phrase = _quoted(" ".join(term.words))
    if not term.prefix:
        return phrase
    stem = stems.get(fold(term.words[-1])) if len(term.words) == 1 else None
    return f"({phrase} * OR {_quoted(stem)})" if stem else f"{phrase} *"


def _prefix_stems(connection: sqlite3.Connection, search: SearchQuery) -> dict[str, str]:
    """Maps each one-word prefix (folded) to the longest stem of the index it runs past.

    The index holds porter stems ("negoti"), which a prefix typed past the stem
    ("negotiat*") would not match on its own.
    """
    terms = [*(t for group in search.required for t in group), *search.excluded]
    words = {fold(t.words[0]) for t in terms if t.prefix and len(t.words) == 1}
    cuts = {
        word: [word[:-cut] for cut in range(1, _MAX_STEM_CUT + 1) if len(word) - cut >= 3]
        for word in words
        if word.isalnum()
    }
    candidates = sorted({stem for stems in cuts.values() for stem in stems})
    if not candidates:
        return {}
    known = {
        row[0]
        for row in connection.execute(
            f"SELECT term FROM claims_search_terms WHERE term IN ({placeholders(len(candidates))})",
            candidates,
        )
    }
    return {
        word: next(stem for stem in stems if stem in known)
        for word, stems in cuts.items()
        if any(stem in known for stem in stems)
    }


def fts_expression(search: SearchQuery, stems: Mapping[str, str] | None = None) -> str:
    """Renders a parsed query in FTS5's query syntax. Every word is quoted, so nothing a
    user typed can act as an FTS5 operator or column filter."""
    stems = stems or {}
    groups = []
    for group in search.required:
        alternatives = " OR ".join(_fts_term(term, stems) for term in group)
        groups.append(f"({alternatives})" if len(group) > 1 else alternatives)
    expression = " AND ".join(groups)
    if search.excluded:
        excluded = " OR ".join(_fts_term(term, stems) for term in search.excluded)
        expression = f"({expression}) NOT ({excluded})"
    return expression


def claim_conditions(query: ClaimQuery) -> tuple[list[str], list[Any]]:
    """Returns the SQL conditions over ``claims c`` that ``query`` asks for, and their params.

    This is the one translation of a claim filter into SQL: every claim query
    (list, and the exports and searches to come) builds its WHERE clause here.
    """
    conditions: list[str] = []
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
        conditions.append(
            "c.id IN (SELECT claim_id FROM claim_topics"
            f" WHERE topic IN ({placeholders(len(query.topics))}))"
        )
        params.extend(query.topics)
    if query.publisher:
        conditions.append(
            "c.id IN (SELECT ct.claim_id FROM citations ct JOIN sources s ON s.id = ct.source_id"
            " WHERE s.publisher_folded = ?)"
        )
        params.append(query.publisher)
    if query.source_id:
        conditions.append("c.id IN (SELECT claim_id FROM citations WHERE source_id = ?)")
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
