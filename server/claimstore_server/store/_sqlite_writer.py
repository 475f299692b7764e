"""Writes claims to SQLite in batches: a handful of statements a batch, not a dozen a claim.

:class:`ClaimWriter` works inside a transaction its caller opened. It first
looks up, in one query each, everything the batch refers to (request ids,
speakers, sources, claims with the same content); then it settles each claim in
order, reporting the ones that fail without writing anything for them; and it
writes the claims and their links to topics and sources with one statement each.
What one claim of the batch creates (a speaker, a source) or stores is seen by
the claims after it, exactly as if they had come one by one.

Every claim written gets its revision row (the change log entry) in the same
transaction, made by :func:`revision_row`.

The rows that carry bytes (claims and revisions, with their bodies) go through
``executemany``. The others go as one JSON array each, whose text is made claim
by claim and joined once (see ``_sql.insert_json``), and the search index is fed
by one ``INSERT … SELECT``: SQLite then writes them, and commits, without taking Python's lock
back row by row, so that the caller's other threads run Python meanwhile (the
server checks the next batches of an import then; see ``left_to_sqlite``).
Request ids are ``INSERT OR FAIL``: a statement of many rows that may abort
half-way keeps a journal of its own to undo them, while a failure here rolls the
whole transaction back anyway. Links to topics and sources are ``INSERT OR
IGNORE``: a topic given twice is one topic, and a claim that cites a source in two
roles links to it once.
"""

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.claim_revision_pb2 import CHANGE_TYPE_CREATED, CHANGE_TYPE_UPDATED

from .. import _ids
from .._text import fold_name
from . import _rows
from ._driver import sqlite3
from ._errors import AlreadyExistsError, AmbiguousError, NotFoundError, StoreError
from ._model import ChangeNote, CitationDraft, ClaimDraft, SourceDraft, SpeakerDraft
from ._schema import SEARCH_ROWS
from ._sql import (
    insert_from_json,
    insert_json,
    insert_links_from_json,
    json_links,
    json_strings,
    placeholders,
    to_json,
)

_CHUNK: Final = 500
"""Values bound in one ``IN (…)`` list, well under SQLite's limit on bound parameters."""

Stored = Literal["created", "retried", "duplicate"]
"""How a claim came to be stored: now, by an earlier request with its request_id, or by an
earlier claim with the same content."""


class WriteResult(NamedTuple):
    """What became of one draft: its claim's id and how it is stored, or the error."""

    claim_id: str = ""
    stored: Stored = "created"
    error: StoreError | None = None


def content_key(speaker_id: str, stated_at_us: int, folded_text: str) -> str:
    """Identifies a claim's content: its speaker, when, and its words without case,
    accents or punctuation (``folded_text``, the text through ``fold``)."""
    content = f"{speaker_id}\n{stated_at_us}\n{folded_text}"
    return hashlib.sha256(content.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class StoredClaim:
    """What a revision of a stored claim builds on: its row, its current revision, its body
    and its speaker."""

    seq: int
    claim_id: str
    create_time_us: int
    revision: int
    body: bytes
    speaker_id: str


_INSERT_TOPICS: Final = insert_links_from_json(
    "INSERT OR IGNORE INTO claim_topics", "topic", "claim_seq"
)
_INSERT_SOURCES: Final = insert_links_from_json(
    "INSERT OR IGNORE INTO claim_sources", "source_id", "claim_seq"
)
_INSERT_REQUESTS: Final = insert_from_json(
    "INSERT OR FAIL INTO claim_requests", ("request_id", "claim_id", "fingerprint")
)
_INDEX_FOR_SEARCH: Final = (
    f"INSERT INTO claims_search (rowid, text, speaker, topics, channel) {SEARCH_ROWS}"
)
"""Feeds the search index the claims that a WHERE clause appended to it picks."""

_CLAIM_COLUMNS: Final = (
    "seq",
    "id",
    "text",
    "attribution",
    "speaker_id",
    "stated_at",
    "stated_at_precision",
    "channel",
    "language",
    "topics",
    "content_key",
    "create_time",
    "update_time",
    "body",
)
"""The columns a claim's draft fills, in the order of the values of ``ClaimWriter._claim_row``."""

_INSERT_CLAIM: Final = (
    f"INSERT INTO claims ({', '.join(_CLAIM_COLUMNS)}) VALUES ({placeholders(len(_CLAIM_COLUMNS))})"
)
_REVISED_COLUMNS: Final = tuple(
    column for column in _CLAIM_COLUMNS if column not in ("seq", "id", "create_time")
)
_REVISE_CLAIM: Final = (
    "UPDATE claims SET "
    + ", ".join(f"{column} = :{column}" for column in _REVISED_COLUMNS)
    + ", revision = :revision WHERE seq = :seq"
)
"""Rewrites a claim's row from a draft: all it fills but what never changes (its seq, id and
creation time), and its revision; bound by name, from ``_claim_row``'s values."""

INSERT_REVISION: Final = (
    "INSERT INTO claim_revisions (claim_id, revision, speaker_id, body) VALUES (?, ?, ?, ?)"
)


def revision_row(
    claim_id: str,
    speaker_id: str,
    claim_body: bytes,
    *,
    revision: int,
    change_type: int,
    now_us: int,
    note: ChangeNote,
) -> tuple[str, int, str, bytes]:
    """The claim_revisions row (for :data:`INSERT_REVISION`) recording revision ``revision``
    of a claim whose body is now ``claim_body``."""
    head = _rows.revision_head(
        revision=revision,
        change_type=change_type,
        change_time_us=now_us,
        actor=note.actor,
        reason=note.reason,
        changed_fields=note.changed_fields,
    )
    return (claim_id, revision, speaker_id, _rows.revision_body(claim_body, head))


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


_CHANGEABLE: Final = (
    "text",
    "attribution",
    "speaker_id",
    "stated_at",
    "stated_at_precision",
    "channel",
    "language",
    "topics",
    "citations",
)
"""The fields of a stored claim that a revision may change, in the order of the message."""


def _changed_fields(before: bytes, after: bytes, named: Iterable[str]) -> tuple[str, ...] | None:
    """The fields that differ between two bodies of a claim, in message order: what a
    revision records as changed, rather than every field its request named (a "*" mask names
    them all). A new speaker is "speaker" when the request ``named`` it so (given inline).
    None when the bodies differ in no more than when and at which revision they were
    written: there is nothing to record."""
    old, new = Claim.FromString(before), Claim.FromString(after)
    speaker = "speaker" if "speaker" in named else "speaker_id"
    changed = tuple(
        speaker if name == "speaker_id" else name
        for name in _CHANGEABLE
        if getattr(old, name) != getattr(new, name)
    )
    for claim in (old, new):
        for written in ("update_time", "revision", "etag"):
            claim.ClearField(written)
    return None if old == new else changed


def _description(
    display_name: str, kind: int, title: str, affiliation: str
) -> tuple[str, int, str, str]:
    """What tells speakers of one name apart, folded as names are matched."""
    return fold_name(display_name), kind, fold_name(title), fold_name(affiliation)


def insert_speaker(
    connection: sqlite3.Connection, ids: _ids.IdGenerator, draft: SpeakerDraft, now_us: int
) -> str:
    """Inserts a new speaker and its folded names; returns its id."""
    speaker_id = ids.new(_ids.SPEAKER_PREFIX)
    connection.execute(
        "INSERT INTO speakers (id, display_name, kind, title, affiliation, aliases,"
        " wikidata_id, create_time, update_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            speaker_id,
            draft.display_name,
            draft.kind,
            draft.title,
            draft.affiliation,
            to_json(draft.aliases),
            draft.wikidata_id or None,
            now_us,
            now_us,
            _rows.speaker_body(speaker_id, draft, now_us),
        ),
    )
    connection.executemany(
        "INSERT OR IGNORE INTO speaker_names (name, speaker_id) VALUES (?, ?)",
        [(name, speaker_id) for name in draft.folded_names],
    )
    return speaker_id


def rewrite_speaker(
    connection: sqlite3.Connection,
    speaker_id: str,
    draft: SpeakerDraft,
    now_us: int,
    *,
    create_time_us: int,
    names_changed: bool,
) -> None:
    """Stores ``draft`` as the speaker ``speaker_id``, written at ``now_us``. When its names
    changed, they replace the old ones, and the search index takes them for each of the
    speaker's claims (it holds a claim's speaker names beside its text)."""
    connection.execute(
        "UPDATE speakers SET display_name = ?, kind = ?, title = ?, affiliation = ?,"
        " aliases = ?, wikidata_id = ?, update_time = ?, body = ? WHERE id = ?",
        (
            draft.display_name,
            draft.kind,
            draft.title,
            draft.affiliation,
            to_json(draft.aliases),
            draft.wikidata_id or None,
            now_us,
            _rows.speaker_body(speaker_id, draft, now_us, create_time_us=create_time_us),
            speaker_id,
        ),
    )
    if not names_changed:
        return
    connection.execute("DELETE FROM speaker_names WHERE speaker_id = ?", (speaker_id,))
    connection.executemany(
        "INSERT OR IGNORE INTO speaker_names (name, speaker_id) VALUES (?, ?)",
        [(name, speaker_id) for name in draft.folded_names],
    )
    connection.execute(
        "DELETE FROM claims_search WHERE rowid IN (SELECT seq FROM claims WHERE speaker_id = ?)",
        (speaker_id,),
    )
    connection.execute(f"{_INDEX_FOR_SEARCH} WHERE c.speaker_id = ?", (speaker_id,))


def rewrite_source(
    connection: sqlite3.Connection,
    source_id: str,
    draft: SourceDraft,
    now_us: int,
    *,
    create_time_us: int,
) -> None:
    """Stores ``draft`` as the source ``source_id``, written at ``now_us``."""
    connection.execute(
        "UPDATE sources SET url = ?, publisher = ?, publisher_folded = ?, title = ?, kind = ?,"
        " published_at = ?, update_time = ?, body = ? WHERE id = ?",
        (
            draft.url or None,
            draft.publisher,
            fold_name(draft.publisher),
            draft.title,
            draft.kind,
            draft.published_at_us,
            now_us,
            _rows.source_body(source_id, draft, now_us, create_time_us=create_time_us),
            source_id,
        ),
    )


def insert_source(
    connection: sqlite3.Connection, ids: _ids.IdGenerator, draft: SourceDraft, now_us: int
) -> str:
    """Inserts a new source; returns its id."""
    source_id = ids.new(_ids.SOURCE_PREFIX)
    connection.execute(
        "INSERT INTO sources (id, url, publisher, publisher_folded, title, kind,"
        " published_at, create_time, update_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            source_id,
            draft.url or None,
            draft.publisher,
            fold_name(draft.publisher),
            draft.title,
            draft.kind,
            draft.published_at_us,
            now_us,
            now_us,
            _rows.source_body(source_id, draft, now_us),
        ),
    )
    return source_id


def _identity(draft: SourceDraft) -> tuple[str, str, int | None]:
    """What a source without a url is matched by: publisher (folded), title and date."""
    return (fold_name(draft.publisher), draft.title, draft.published_at_us)


class ClaimWriter:
    """Stores batches of claim drafts in the caller's transaction."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        ids: _ids.IdGenerator,
        now_us: int,
        *,
        actor: str = "",
        left_to_sqlite: Callable[[], None] = lambda: None,
    ) -> None:
        """``left_to_sqlite`` is called once what is left of a :meth:`write` is SQLite's own
        work (see ``ClaimStore.import_claims``)."""
        self._connection = connection
        self._left_to_sqlite = left_to_sqlite
        self._ids = ids
        self._now_us = now_us
        self._actor = actor
        # What the batch knows: looked up before it starts, and added to as it goes.
        self._requests: dict[str, tuple[str, str]] = {}  # request_id -> (claim_id, fingerprint)
        self._speaker_ids: set[str] = set()
        self._speaker_by_wikidata: dict[str, str] = {}
        self._speakers_by_name: dict[str, dict[str, str | None]] = {}  # name -> {id: wikidata}
        self._described_alike: dict[tuple[SpeakerDraft, frozenset[str]], list[str]] = {}
        self._source_ids: set[str] = set()
        self._source_by_url: dict[str, str] = {}
        self._source_by_identity: dict[tuple[str, str, int | None], str] = {}
        self._claim_by_content: dict[str, str] = {}
        # (id(draft), speaker id) -> content key: looked up, settled and written, hashed once.
        self._content_keys: dict[tuple[int, str], str] = {}
        # Rows to write at the end of the batch.
        self._claims: list[tuple[Any, ...]] = []
        # The JSON text of each claim's links and request row (see _sql.insert_json).
        self._topics: list[str] = []
        self._sources: list[str] = []
        self._request_rows: list[str] = []
        self._revisions: list[tuple[str, int, str, bytes]] = []
        self._created_head: bytes | None = None
        self._claim_ids: Iterator[str] = iter(())
        self._first_seq = self._next_seq = 0
        self._new_bodies = _rows.NewClaimBodies(now_us)

    def write(self, drafts: Sequence[ClaimDraft]) -> list[WriteResult]:
        """Stores ``drafts`` unless stored already; returns one result per draft, in order."""
        self._look_up(drafts)
        # An id for every draft, taken at once; the ones of drafts that are not stored go unused.
        self._claim_ids = iter(self._ids.new_many(_ids.CLAIM_PREFIX, len(drafts)))
        # The claims created get the seqs after the last one, in order (the transaction holds
        # the write lock): their links and search rows refer to them.
        (last_seq,) = self._connection.execute(
            "SELECT coalesce(max(seq), 0) FROM claims"
        ).fetchone()
        self._first_seq = self._next_seq = last_seq + 1
        results = [self._settle(draft) for draft in drafts]
        self._flush()
        return results

    # Looking up what the batch refers to

    def _select(self, sql: str, values: Iterable[Any]) -> list[sqlite3.Row]:
        """Runs ``sql``, whose ``{}`` is an IN list, over ``values`` in chunks."""
        unique = sorted(set(values))
        rows: list[sqlite3.Row] = []
        for chunk in _chunks(unique):
            rows += self._connection.execute(sql.format(placeholders(len(chunk))), chunk)
        return rows

    def _look_up(self, drafts: Sequence[ClaimDraft]) -> None:
        select = self._select
        for row in select(
            "SELECT request_id, claim_id, fingerprint FROM claim_requests WHERE request_id IN ({})",
            (d.request_id for d in drafts if d.request_id),
        ):
            self._requests[row[0]] = (row[1], row[2])
        inline = [d.speaker for d in drafts if d.speaker is not None]
        self._speaker_ids.update(
            row[0]
            for row in select(
                "SELECT id FROM speakers WHERE id IN ({})",
                (d.speaker_id for d in drafts if d.speaker is None),
            )
        )
        for row in select(
            "SELECT wikidata_id, id FROM speakers WHERE wikidata_id IN ({})",
            (s.wikidata_id for s in inline if s.wikidata_id),
        ):
            self._speaker_by_wikidata[row[0]] = row[1]
        for row in select(
            "SELECT n.name, n.speaker_id, sp.wikidata_id FROM speaker_names n"
            " JOIN speakers sp ON sp.id = n.speaker_id WHERE n.name IN ({})",
            (name for s in inline for name in s.folded_names),
        ):
            self._speakers_by_name.setdefault(row[0], {})[row[1]] = row[2]
        citations = [c for d in drafts for c in d.citations]
        self._source_ids.update(
            row[0]
            for row in select(
                "SELECT id FROM sources WHERE id IN ({})",
                (c.source_id for c in citations if c.source is None),
            )
        )
        for row in select(
            "SELECT url, id FROM sources WHERE url IN ({})",
            (c.source.url for c in citations if c.source is not None and c.source.url),
        ):
            self._source_by_url[row[0]] = row[1]
        for identity in {
            _identity(c.source) for c in citations if c.source is not None and not c.source.url
        }:
            row = self._connection.execute(
                "SELECT id FROM sources WHERE url IS NULL AND publisher_folded = ? AND title = ?"
                " AND published_at IS ? ORDER BY id LIMIT 1",
                identity,
            ).fetchone()
            if row is not None:
                self._source_by_identity[identity] = row[0]
        keys = []
        for draft in drafts:
            speaker_id = self._known_speaker(draft)
            if speaker_id:
                keys.append(self._content_key(draft, speaker_id))
        for row in select("SELECT content_key, id FROM claims WHERE content_key IN ({})", keys):
            self._claim_by_content[row[0]] = row[1]

    def _content_key(self, draft: ClaimDraft, speaker_id: str) -> str:
        key = self._content_keys.get((id(draft), speaker_id))
        if key is None:
            key = content_key(speaker_id, draft.stated_at_us, draft.folded_text)
            self._content_keys[id(draft), speaker_id] = key
        return key

    def _known_speaker(self, draft: ClaimDraft) -> str:
        """The id of the stored speaker ``draft`` names, or "" if it is new or unclear."""
        try:
            return self._speaker_of(draft) or ""
        except StoreError:
            return ""

    # Settling each claim

    def _speaker_of(self, draft: ClaimDraft) -> str | None:
        """The id of the speaker ``draft`` names; None when it names a new one."""
        speaker = draft.speaker
        if speaker is None:
            if draft.speaker_id not in self._speaker_ids:
                raise NotFoundError("speaker", draft.speaker_id, "claim.speaker_id")
            return draft.speaker_id
        if speaker.wikidata_id in self._speaker_by_wikidata:
            return self._speaker_by_wikidata[speaker.wikidata_id]
        candidates = {
            speaker_id
            for name in speaker.folded_names
            for speaker_id, wikidata_id in self._speakers_by_name.get(name, {}).items()
            # A speaker known by another Wikidata item is another person of the same name.
            if not (speaker.wikidata_id and wikidata_id)
        }
        if len(candidates) > 1:
            alike = self._alike(speaker, frozenset(candidates))
            if len(alike) != 1:
                raise AmbiguousError(
                    "claim.speaker", speaker.display_name, tuple(sorted(candidates))
                )
            return alike[0]
        return candidates.pop() if candidates else None

    def _alike(self, speaker: SpeakerDraft, candidates: frozenset[str]) -> list[str]:
        """The ``candidates`` stored as ``speaker`` describes itself: the same display name,
        kind, title and affiliation, ignoring case and accents.

        Of several speakers that share a name, the one described exactly as an inline
        speaker is the one it names: importing a file again finds the speakers it created,
        even after someone has created another of the same name."""
        key = (speaker, candidates)
        alike = self._described_alike.get(key)
        if alike is None:
            wanted = _description(
                speaker.display_name, speaker.kind, speaker.title, speaker.affiliation
            )
            alike = sorted(
                row[0]
                for row in self._select(
                    "SELECT id, display_name, kind, title, affiliation FROM speakers"
                    " WHERE id IN ({})",
                    candidates,
                )
                if _description(row[1], row[2], row[3], row[4]) == wanted
            )
            self._described_alike[key] = alike
        return alike

    def _source_of(self, citation: CitationDraft, index: int) -> str | None:
        """The id of the source ``citation`` names; None when it names a new one."""
        source = citation.source
        if source is None:
            if citation.source_id not in self._source_ids:
                field = f"claim.citations[{index}].source_id"
                raise NotFoundError("source", citation.source_id, field)
            return citation.source_id
        if source.url:
            return self._source_by_url.get(source.url)
        return self._source_by_identity.get(_identity(source))

    def _settle(self, draft: ClaimDraft) -> WriteResult:
        if draft.request_id in self._requests:
            claim_id, fingerprint = self._requests[draft.request_id]
            if fingerprint != draft.fingerprint:
                return WriteResult(
                    error=AlreadyExistsError(
                        "claim",
                        "request_id",
                        draft.request_id,
                        existing_id=claim_id,
                        reason="this request_id was already used for a different claim",
                    )
                )
            return WriteResult(claim_id, "retried")
        try:
            speaker_id = self._speaker_of(draft)
            if speaker_id is not None:
                key = self._content_key(draft, speaker_id)
                if key in self._claim_by_content:
                    return WriteResult(self._claim_by_content[key], "duplicate")
            source_ids = [
                self._source_of(citation, index) for index, citation in enumerate(draft.citations)
            ]
        except StoreError as error:
            return WriteResult(error=error)
        # Nothing can fail from here on: the claim is written whole.
        speaker_id, resolved = self._create_missing(draft, speaker_id, source_ids)
        return WriteResult(self._add_claim(draft, speaker_id, resolved), "created")

    def _create_missing(
        self, draft: ClaimDraft, speaker_id: str | None, source_ids: list[str | None]
    ) -> tuple[str, list[str]]:
        """Creates the new speaker and sources ``draft`` names (None in ``speaker_id`` and
        ``source_ids``); returns the ids of its speaker and of its citations' sources."""
        if speaker_id is None:
            assert draft.speaker is not None
            speaker_id = self._create_speaker(draft.speaker)
        resolved = []
        for index, (source_id, citation) in enumerate(
            zip(source_ids, draft.citations, strict=True)
        ):
            # An earlier citation of this claim may have just created the same new source.
            found = source_id or self._source_of(citation, index)
            resolved.append(found if found is not None else self._create_source(citation))
        return speaker_id, resolved

    def revise(
        self,
        claim: StoredClaim,
        draft: ClaimDraft,
        note: ChangeNote,
        *,
        unique_citations: bool = False,
    ) -> bool:
        """Rewrites the stored ``claim`` as ``draft`` says, as its next revision; returns
        False, writing nothing, when ``draft`` is the claim as it is (a revision that
        changes nothing would only be noise in its history).

        Raises the StoreError that keeps it from being written, and then writes
        nothing: an unknown speaker or source, the content of another claim, or,
        with ``unique_citations``, a source cited twice in the same role.
        """
        self._look_up([draft])
        speaker_id = self._speaker_of(draft)
        if speaker_id is not None:
            other = self._claim_by_content.get(self._content_key(draft, speaker_id))
            if other is not None and other != claim.claim_id:
                raise AlreadyExistsError(
                    "claim",
                    "claim",
                    draft.text[:80],
                    existing_id=other,
                    reason="another claim has the same speaker, stated_at and text",
                )
        found = [self._source_of(citation, i) for i, citation in enumerate(draft.citations)]
        speaker_id, source_ids = self._create_missing(draft, speaker_id, found)
        if unique_citations:
            pairs = [(s, c.role) for s, c in zip(source_ids, draft.citations, strict=True)]
            if len(set(pairs)) < len(pairs):
                raise AlreadyExistsError(
                    "citation",
                    "citation",
                    pairs[-1][0],
                    existing_id=claim.claim_id,
                    reason="the claim already cites this source in this role",
                )
        revision = claim.revision + 1
        body = _rows.claim_body(
            claim.claim_id,
            speaker_id,
            source_ids,
            draft,
            self._now_us,
            create_time_us=claim.create_time_us,
            revision=revision,
        )
        changed = _changed_fields(claim.body, body, note.changed_fields)
        if changed is None:
            return False
        note = dataclasses.replace(note, changed_fields=changed)
        row = self._claim_row(
            claim.seq, claim.claim_id, draft, speaker_id, body, create_time_us=claim.create_time_us
        )
        connection = self._connection
        connection.execute(
            _REVISE_CLAIM, {**dict(zip(_CLAIM_COLUMNS, row, strict=True)), "revision": revision}
        )
        _unlink(connection, claim)
        self._add_children(claim.seq, draft, source_ids)
        self._write_children()
        connection.execute("DELETE FROM claims_search WHERE rowid = ?", (claim.seq,))
        connection.execute(f"{_INDEX_FOR_SEARCH} WHERE c.seq = ?", (claim.seq,))
        connection.execute(
            INSERT_REVISION,
            revision_row(
                claim.claim_id,
                speaker_id,
                body,
                revision=revision,
                change_type=CHANGE_TYPE_UPDATED,
                now_us=self._now_us,
                note=note,
            ),
        )
        return True

    def _create_speaker(self, draft: SpeakerDraft) -> str:
        speaker_id = insert_speaker(self._connection, self._ids, draft, self._now_us)
        self._speaker_ids.add(speaker_id)
        if draft.wikidata_id:
            self._speaker_by_wikidata[draft.wikidata_id] = speaker_id
        for name in draft.folded_names:
            self._speakers_by_name.setdefault(name, {})[speaker_id] = draft.wikidata_id or None
        return speaker_id

    def _create_source(self, citation: CitationDraft) -> str:
        assert citation.source is not None
        source_id = insert_source(self._connection, self._ids, citation.source, self._now_us)
        self._source_ids.add(source_id)
        if citation.source.url:
            self._source_by_url[citation.source.url] = source_id
        else:
            self._source_by_identity[_identity(citation.source)] = source_id
        return source_id

    def _claim_row(
        self,
        seq: int,
        claim_id: str,
        draft: ClaimDraft,
        speaker_id: str,
        body: bytes,
        *,
        create_time_us: int,
    ) -> tuple[Any, ...]:
        """The values of the claims row of ``draft``, whose body is ``body``, one for each of
        ``_CLAIM_COLUMNS``."""
        return (
            seq,
            claim_id,
            draft.text,
            draft.attribution,
            speaker_id,
            draft.stated_at_us,
            draft.stated_at_precision,
            draft.channel,
            draft.language,
            json_strings(draft.topics),
            self._content_key(draft, speaker_id),
            create_time_us,
            self._now_us,
            body,
        )

    def _add_children(self, seq: int, draft: ClaimDraft, source_ids: list[str]) -> None:
        """Queues the rows linking the claim at ``seq`` to its topics and sources."""
        if draft.folded_topics:
            self._topics.append(json_links(seq, draft.folded_topics))
        if source_ids:
            self._sources.append(json_links(seq, source_ids))

    def _add_claim(self, draft: ClaimDraft, speaker_id: str, source_ids: list[str]) -> str:
        claim_id = next(self._claim_ids)
        seq = self._next_seq
        self._next_seq += 1
        body = self._new_bodies.body(claim_id, speaker_id, source_ids, draft)
        row = self._claim_row(seq, claim_id, draft, speaker_id, body, create_time_us=self._now_us)
        self._claims.append(row)
        self._add_children(seq, draft, source_ids)
        # Every claim the batch creates is revision 1, made now by the same actor.
        if self._created_head is None:
            self._created_head = _rows.revision_head(
                revision=1,
                change_type=CHANGE_TYPE_CREATED,
                change_time_us=self._now_us,
                actor=self._actor,
            )
        self._revisions.append(
            (claim_id, 1, speaker_id, _rows.revision_body(body, self._created_head))
        )
        self._claim_by_content[self._content_key(draft, speaker_id)] = claim_id
        if draft.request_id:
            self._requests[draft.request_id] = (claim_id, draft.fingerprint)
            self._request_rows.append(json_strings((draft.request_id, claim_id, draft.fingerprint)))
        return claim_id

    def _flush(self) -> None:
        if not self._claims:
            self._left_to_sqlite()
            return
        connection = self._connection
        # The rows with bytes (bodies) go row by row; the others and the search index
        # each go in one statement, after the Python work of the batch is over.
        connection.executemany(_INSERT_CLAIM, self._claims)
        connection.executemany(INSERT_REVISION, self._revisions)
        self._left_to_sqlite()
        self._write_children()
        insert_json(connection, _INSERT_REQUESTS, self._request_rows)
        # The batch's claims have the seqs from the first one on: index them in one statement.
        connection.execute(f"{_INDEX_FOR_SEARCH} WHERE c.seq >= ?", (self._first_seq,))
        self._claims, self._request_rows, self._revisions = [], [], []

    def _write_children(self) -> None:
        """Writes the rows queued by _add_children."""
        insert_json(self._connection, _INSERT_TOPICS, self._topics)
        insert_json(self._connection, _INSERT_SOURCES, self._sources)
        self._topics, self._sources = [], []


def _unlink(connection: sqlite3.Connection, claim: StoredClaim) -> None:
    """Deletes the rows linking ``claim`` to its topics and sources. ``claim_topics`` is keyed
    by topic, not by claim, so its rows are found by the topics of the stored body;
    ``claim_sources`` has an index by claim."""
    stored = Claim.FromString(claim.body)
    connection.execute(
        "DELETE FROM claim_topics WHERE claim_seq = ?"
        " AND topic IN (SELECT value FROM json_each(?))",
        (claim.seq, to_json([fold_name(topic) for topic in stored.topics])),
    )
    connection.execute("DELETE FROM claim_sources WHERE claim_seq = ?", (claim.seq,))
