"""The SQLite backend of the store: the embedded default.

One connection per thread (the gRPC server's worker threads each get their
own), WAL journal so readers never wait for the writer, foreign keys on, and a
busy timeout so that concurrent writers queue instead of failing. Every write
runs in one ``BEGIN IMMEDIATE`` transaction: it takes the write lock before it
reads, so a read-then-write can never fail half-way on a stale snapshot.
"""

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker

from .. import _ids
from .._text import fold
from . import _rows
from ._errors import (
    AlreadyExistsError,
    AmbiguousError,
    NotFoundError,
    StoreError,
    UnavailableError,
)
from ._model import (
    CitationDraft,
    ClaimCursor,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    ImportOutcome,
    Page,
    SourceDraft,
    SpeakerDraft,
)
from ._schema import migrate

_BASIC_CLAIM_SELECT = "SELECT c.body FROM claims c"
_FULL_CLAIM_SELECT = "SELECT c.body, sp.body FROM claims c JOIN speakers sp ON sp.id = c.speaker_id"


_MMAP_BYTES = 1 << 30


_Stored = Literal["created", "retried", "duplicate"]


def _content_key(speaker_id: str, stated_at_us: int, text: str) -> str:
    """Identifies a claim's content: its speaker, when, and its words without case,
    accents or punctuation."""
    content = f"{speaker_id}\n{stated_at_us}\n{fold(text)}"
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _as_store_error(error: Exception) -> StoreError:
    if isinstance(error, StoreError):
        return error
    # Only a race on a unique key gets here: every key is checked before it is written.
    return AlreadyExistsError("claim", "claim", "", reason=f"a unique key is taken ({error})")


def _now_us() -> int:
    return time.time_ns() // 1000


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


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
        # Reads come straight from the OS page cache, shared by every connection,
        # rather than through each connection's own small page cache.
        connection.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            raise UnavailableError(
                f"the database cannot serve this request now: {error}"
            ) from error

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
            speaker_id = self._insert_speaker(connection, draft)
            return self._fetch_speaker(connection, speaker_id)

    def get_speaker(self, speaker_id: str) -> Speaker:
        with self._read() as connection:
            return self._fetch_speaker(connection, speaker_id)

    def list_speakers(self, *, after_id: str, limit: int) -> Page[Speaker]:
        with self._read() as connection:
            rows = connection.execute(
                "SELECT id, body FROM speakers WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit + 1),
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
                f" WHERE speaker_id IN ({_placeholders(len(speaker_ids))}) GROUP BY speaker_id",
                list(speaker_ids),
            ).fetchall()
        )

    def _fetch_speaker(self, connection: sqlite3.Connection, speaker_id: str) -> Speaker:
        row = connection.execute("SELECT body FROM speakers WHERE id = ?", (speaker_id,)).fetchone()
        if row is None:
            raise NotFoundError("speaker", speaker_id, "id")
        counts = self._claim_counts(connection, [speaker_id])
        return _rows.speaker_from_body(row[0], counts.get(speaker_id, 0))

    def _insert_speaker(self, connection: sqlite3.Connection, draft: SpeakerDraft) -> str:
        speaker_id = self._ids.new(_ids.SPEAKER_PREFIX)
        now = _now_us()
        connection.execute(
            "INSERT INTO speakers (id, display_name, kind, title, affiliation, aliases,"
            " wikidata_id, create_time, update_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                speaker_id,
                draft.display_name,
                draft.kind,
                draft.title,
                draft.affiliation,
                json.dumps(list(draft.aliases), ensure_ascii=False),
                draft.wikidata_id or None,
                now,
                now,
                _rows.speaker_body(speaker_id, draft, now),
            ),
        )
        connection.executemany(
            "INSERT OR IGNORE INTO speaker_names (name, speaker_id) VALUES (?, ?)",
            [(name, speaker_id) for name in {fold(name) for name in draft.names}],
        )
        return speaker_id

    def _resolve_speaker(
        self, connection: sqlite3.Connection, draft: SpeakerDraft, field: str
    ) -> str:
        """Returns the id of the speaker ``draft`` names, creating it if none matches."""
        if draft.wikidata_id:
            row = connection.execute(
                "SELECT id FROM speakers WHERE wikidata_id = ?", (draft.wikidata_id,)
            ).fetchone()
            if row is not None:
                return str(row["id"])
        names = sorted({fold(name) for name in draft.names})
        rows = connection.execute(
            "SELECT DISTINCT n.speaker_id, sp.wikidata_id FROM speaker_names n"
            " JOIN speakers sp ON sp.id = n.speaker_id"
            f" WHERE n.name IN ({_placeholders(len(names))}) ORDER BY n.speaker_id",
            names,
        ).fetchall()
        # A speaker known by another Wikidata item is another person of the same name.
        candidates = [
            str(row["speaker_id"]) for row in rows if not (draft.wikidata_id and row["wikidata_id"])
        ]
        if len(candidates) > 1:
            raise AmbiguousError(field, draft.display_name, tuple(candidates))
        if candidates:
            return candidates[0]
        return self._insert_speaker(connection, draft)

    # Sources

    def create_source(self, draft: SourceDraft) -> Source:
        with self._write() as connection:
            if draft.url:
                existing = self._source_id_by_url(connection, draft.url)
                if existing is not None:
                    raise AlreadyExistsError(
                        "source", "source.url", draft.url, existing_id=existing
                    )
            source_id = self._insert_source(connection, draft)
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

    def _matching_source_id(self, connection: sqlite3.Connection, draft: SourceDraft) -> str | None:
        """Returns the id of the stored source ``draft`` names: by url, or else by publisher,
        title and published_at."""
        if draft.url:
            return self._source_id_by_url(connection, draft.url)
        row = connection.execute(
            "SELECT id FROM sources WHERE url IS NULL AND publisher_folded = ? AND title = ?"
            " AND published_at IS ? ORDER BY id LIMIT 1",
            (fold(draft.publisher), draft.title, draft.published_at_us),
        ).fetchone()
        return None if row is None else str(row["id"])

    def _insert_source(self, connection: sqlite3.Connection, draft: SourceDraft) -> str:
        source_id = self._ids.new(_ids.SOURCE_PREFIX)
        now = _now_us()
        connection.execute(
            "INSERT INTO sources (id, url, publisher, publisher_folded, title, kind,"
            " published_at, create_time, update_time, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source_id,
                draft.url or None,
                draft.publisher,
                fold(draft.publisher),
                draft.title,
                draft.kind,
                draft.published_at_us,
                now,
                now,
                _rows.source_body(source_id, draft, now),
            ),
        )
        return source_id

    # Claims

    def create_claim(self, draft: ClaimDraft) -> Claim:
        with self._write() as connection:
            claim_id, stored = self._store_claim(connection, draft)
            if stored == "duplicate":
                raise AlreadyExistsError(
                    "claim",
                    "claim",
                    draft.text[:80],
                    existing_id=claim_id,
                    reason="a claim with the same speaker, stated_at and text exists",
                )
            return self._fetch_claim(connection, claim_id)

    def import_claims(self, drafts: Sequence[ClaimDraft]) -> list[ImportOutcome]:
        outcomes = []
        with self._write() as connection:
            for draft in drafts:
                connection.execute("SAVEPOINT import_claim")
                try:
                    claim_id, stored = self._store_claim(connection, draft)
                except (StoreError, sqlite3.IntegrityError) as error:
                    connection.execute("ROLLBACK TO import_claim")
                    outcomes.append(ImportOutcome(error=_as_store_error(error)))
                else:
                    created = stored == "created"
                    outcomes.append(ImportOutcome(claim_id=claim_id, created=created))
                connection.execute("RELEASE import_claim")
        return outcomes

    def _store_claim(
        self, connection: sqlite3.Connection, draft: ClaimDraft
    ) -> tuple[str, _Stored]:
        """Stores ``draft`` unless it is stored already; returns the claim's id and how.

        "retried": the request_id is known (with another fingerprint, it raises);
        "duplicate": a claim with the same content exists; "created": stored now.
        """
        if draft.request_id:
            row = connection.execute(
                "SELECT claim_id, fingerprint FROM claim_requests WHERE request_id = ?",
                (draft.request_id,),
            ).fetchone()
            if row is not None:
                if row["fingerprint"] != draft.fingerprint:
                    raise AlreadyExistsError(
                        "claim",
                        "request_id",
                        draft.request_id,
                        existing_id=row["claim_id"],
                        reason="this request_id was already used for a different claim",
                    )
                return str(row["claim_id"]), "retried"
        speaker_id = self._claim_speaker_id(connection, draft)
        content_key = _content_key(speaker_id, draft.stated_at_us, draft.text)
        row = connection.execute(
            "SELECT id FROM claims WHERE content_key = ?", (content_key,)
        ).fetchone()
        if row is not None:
            return str(row["id"]), "duplicate"
        source_ids = [
            self._citation_source_id(connection, citation, index)
            for index, citation in enumerate(draft.citations)
        ]
        claim_id = self._ids.new(_ids.CLAIM_PREFIX)
        now = _now_us()
        connection.execute(
            "INSERT INTO claims (id, text, attribution, speaker_id, stated_at,"
            " stated_at_precision, channel, language, topics, content_key, create_time,"
            " update_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                claim_id,
                draft.text,
                draft.attribution,
                speaker_id,
                draft.stated_at_us,
                draft.stated_at_precision,
                draft.channel,
                draft.language,
                json.dumps(list(draft.topics), ensure_ascii=False),
                content_key,
                now,
                now,
                _rows.claim_body(claim_id, speaker_id, source_ids, draft, now),
            ),
        )
        connection.executemany(
            "INSERT OR IGNORE INTO claim_topics (topic, claim_id) VALUES (?, ?)",
            [(fold(topic), claim_id) for topic in draft.topics],
        )
        connection.executemany(
            "INSERT INTO citations (claim_id, position, source_id, role, excerpt)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (claim_id, position, source_id, citation.role, citation.excerpt)
                for position, (source_id, citation) in enumerate(
                    zip(source_ids, draft.citations, strict=True)
                )
            ],
        )
        if draft.request_id:
            connection.execute(
                "INSERT INTO claim_requests (request_id, claim_id, fingerprint) VALUES (?, ?, ?)",
                (draft.request_id, claim_id, draft.fingerprint),
            )
        return claim_id, "created"

    def _claim_speaker_id(self, connection: sqlite3.Connection, draft: ClaimDraft) -> str:
        if draft.speaker is not None:
            return self._resolve_speaker(connection, draft.speaker, "claim.speaker")
        row = connection.execute(
            "SELECT id FROM speakers WHERE id = ?", (draft.speaker_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("speaker", draft.speaker_id, "claim.speaker_id")
        return draft.speaker_id

    def _citation_source_id(
        self, connection: sqlite3.Connection, citation: CitationDraft, index: int
    ) -> str:
        if citation.source is not None:
            existing = self._matching_source_id(connection, citation.source)
            if existing is not None:
                return existing
            return self._insert_source(connection, citation.source)
        row = connection.execute(
            "SELECT id FROM sources WHERE id = ?", (citation.source_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("source", citation.source_id, f"claim.citations[{index}].source_id")
        return str(citation.source_id)

    def get_claim(self, claim_id: str, *, full: bool = True) -> Claim:
        with self._read() as connection:
            return self._fetch_claim(connection, claim_id, full=full)

    def _fetch_claim(
        self, connection: sqlite3.Connection, claim_id: str, *, full: bool = True
    ) -> Claim:
        select = _FULL_CLAIM_SELECT if full else _BASIC_CLAIM_SELECT
        row = connection.execute(f"{select} WHERE c.id = ?", (claim_id,)).fetchone()
        if row is None:
            raise NotFoundError("claim", claim_id, "id")
        return self._claims_from_rows(connection, [row], full=full)[0]

    def _claims_from_rows(
        self, connection: sqlite3.Connection, rows: Sequence[sqlite3.Row], *, full: bool
    ) -> list[Claim]:
        """Returns the claims of rows selected by _BASIC_CLAIM_SELECT or _FULL_CLAIM_SELECT."""
        if not full:
            return [_rows.basic_claim(row[0]) for row in rows]
        claims = [_rows.basic_claim(row[0]) for row in rows]
        source_ids = sorted(
            {citation.source_id for claim in claims for citation in claim.citations}
        )
        sources: dict[str, bytes] = {}
        if source_ids:
            sources = dict(
                connection.execute(
                    f"SELECT id, body FROM sources WHERE id IN ({_placeholders(len(source_ids))})",
                    source_ids,
                ).fetchall()
            )
        return [_rows.full_claim(row[0], row[1], sources) for row in rows]

    def list_claims(
        self,
        query: ClaimQuery,
        *,
        order: ClaimOrder,
        after: ClaimCursor | None,
        limit: int,
        full: bool = False,
    ) -> Page[Claim]:
        conditions, params = claim_conditions(query)
        direction = "DESC" if order.descending else "ASC"
        if after is not None:
            conditions.append(f"(c.stated_at, c.id) {'<' if order.descending else '>'} (?, ?)")
            params.extend((after.stated_at_us, after.claim_id))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        select = _FULL_CLAIM_SELECT if full else _BASIC_CLAIM_SELECT
        sql = f"{select}{where} ORDER BY c.stated_at {direction}, c.id {direction} LIMIT ?"
        params.append(limit + 1)
        with self._read() as connection:
            rows = connection.execute(sql, params).fetchall()
            claims = self._claims_from_rows(connection, rows[:limit], full=full)
        return Page(claims, len(rows) > limit)


def claim_conditions(query: ClaimQuery) -> tuple[list[str], list[Any]]:
    """Returns the SQL conditions over ``claims c`` that ``query`` asks for, and their params.

    This is the one translation of a claim filter into SQL: every claim query
    (list, and the exports and searches to come) builds its WHERE clause here.
    """
    conditions: list[str] = []
    params: list[Any] = []
    if query.speaker_ids:
        conditions.append(f"c.speaker_id IN ({_placeholders(len(query.speaker_ids))})")
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
            f" WHERE topic IN ({_placeholders(len(query.topics))}))"
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
        conditions.append(f"c.attribution IN ({_placeholders(len(query.attributions))})")
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
