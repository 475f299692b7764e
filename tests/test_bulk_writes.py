"""How the SQLite store writes imports: rows staged as JSON, claim bodies written as wire
format, checkpoints on their own thread, a bounded write-ahead log, and the moment an import
is left to SQLite.

On real database files, through ``SqliteStore`` on a thread tuned for bulk work
(as the server's bulk thread is), with drafts made by the servicer's own
validation.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore_server._text import fold_name
from claimstore_server._validation import claim_draft
from claimstore_server.store import (
    AbandonedError,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    SqliteStore,
    Workload,
    _rows,
    _wire,
    sqlite3,
)
from claimstore_server.store._sql import insert_from_json, insert_rows, json_strings, to_json
from helpers import stamp

ODD_TEXTS = (
    'Quotes " and \\ backslashes',
    "Accents: Jean-Noël, Zelenskyy's «office»",
    "Control characters:\ttab\nnewline",
    "Non-BMP: 🕊️ dove",
    "",
)


def draft(index: int, *, excerpt: str = "", topics: tuple[str, ...] = ()) -> ClaimDraft:
    claim = claim_pb2.Claim(
        text=f"Bulk claim number {index} about the peace plan.",
        attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
        speaker=speaker_pb2.Speaker(display_name=f"Speaker {index % 7}"),
        stated_at=stamp("2025-11-20T00:00:00+00:00"),
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
        topics=list(topics),
        citations=[
            claim_pb2.Citation(
                source=source_pb2.Source(
                    url=f"https://news.example/{index % 11}",
                    publisher="Example News",
                    title=f"Report {index % 11}",
                ),
                role=claim_pb2.CITATION_ROLE_REPORT,
                excerpt=excerpt,
            )
        ],
    )
    request = claim_service_pb2.CreateClaimRequest(claim=claim, request_id=f"bulk-{index}")
    return claim_draft(request)


@pytest.fixture
def bulk_store(db_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(db_path, bulk_log_bytes=256 * 1024)
    store.use_thread_for(Workload.BULK)
    yield store
    store.close()


def log_bytes(db_path: Path) -> int:
    wal = db_path.with_name(f"{db_path.name}-wal")
    return wal.stat().st_size if wal.exists() else 0


def checkpoint_state(db_path: Path) -> tuple[int, int, int]:
    """(busy, frames in the log, frames copied into the file), through a connection of its own."""
    connection = sqlite3.connect(db_path)
    try:
        busy, log, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, log, copied
    finally:
        connection.close()


def checkpointer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "claimstore-checkpointer"]


# Rows staged as JSON


def test_json_staged_rows_keep_every_value_exactly() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
    rows = [(text, 2**62 + index, None) for index, text in enumerate(ODD_TEXTS)]
    insert_rows(connection, insert_from_json("INSERT INTO t", ("a", "b", "c")), rows)
    stored = connection.execute("SELECT a, b, c, typeof(b), typeof(c) FROM t").fetchall()
    assert stored == [(a, b, None, "integer", "null") for a, b, _ in rows]


def test_json_strings_are_to_json_s() -> None:
    for values in [(), ("war",), ODD_TEXTS, ("\x00\u2028", "日本語")]:
        assert json_strings(values) == to_json(list(values))


def test_no_rows_runs_no_statement() -> None:
    connection = sqlite3.connect(":memory:")
    # The table does not exist: a statement run would fail.
    insert_rows(connection, insert_from_json("INSERT INTO missing", ("a",)), [])


def test_odd_excerpts_and_topics_come_back_unchanged(bulk_store: SqliteStore) -> None:
    drafts = [
        draft(index, excerpt=text, topics=(f"topic {index}", f'«{index}» Noël 🕊️ "q" \\'))
        for index, text in enumerate(ODD_TEXTS)
    ]
    outcomes = bulk_store.import_claims(drafts)
    assert all(outcome.created for outcome in outcomes)
    for outcome, text in zip(outcomes, ODD_TEXTS, strict=True):
        claim = bulk_store.get_claim(outcome.claim_id)
        assert claim.citations[0].excerpt == text
        assert claim.citations[0].source.publisher == "Example News"
    for topic in ("topic 3", '«3» noel 🕊️ "q" \\'):
        page = bulk_store.list_claims(
            ClaimQuery(topics=(fold_name(topic),)), order=ClaimOrder(), after=None, limit=10
        )
        assert [claim.id for claim in page.items] == [outcomes[3].claim_id]


# The moment an import is left to SQLite


def test_left_to_sqlite_is_called_once_before_the_commit(
    bulk_store: SqliteStore, db_path: Path
) -> None:
    seen: list[int] = []

    def count_committed() -> None:
        connection = sqlite3.connect(db_path)
        try:
            seen.append(connection.execute("SELECT count(*) FROM claims").fetchone()[0])
        finally:
            connection.close()

    outcomes = bulk_store.import_claims(
        [draft(index) for index in range(20)], left_to_sqlite=count_committed
    )
    assert all(outcome.created for outcome in outcomes)
    assert seen == [0]


def test_left_to_sqlite_is_called_when_nothing_is_new(bulk_store: SqliteStore) -> None:
    drafts = [draft(index) for index in range(5)]
    bulk_store.import_claims(drafts)
    calls: list[None] = []
    outcomes = bulk_store.import_claims(drafts, left_to_sqlite=lambda: calls.append(None))
    assert not any(outcome.created for outcome in outcomes)
    assert len(calls) == 1


# Checkpoints on their own thread, and a bounded log


def test_bulk_commits_are_copied_into_the_file_by_the_checkpointer(
    bulk_store: SqliteStore, db_path: Path
) -> None:
    assert bulk_store.import_claims([draft(index) for index in range(200)])
    # The bulk connection leaves checkpoints to the checkpointer's thread.
    assert len(checkpointer_threads()) == 1
    checkpointer = bulk_store._background_checkpointer()
    checkpointer.wait()
    busy, log, copied = checkpoint_state(db_path)
    assert busy == 0
    assert log > 0
    assert copied == log


def test_a_long_import_keeps_the_log_near_its_bound(bulk_store: SqliteStore, db_path: Path) -> None:
    bound = 256 * 1024
    largest = 0
    for start in range(0, 3000, 100):
        outcomes = bulk_store.import_claims([draft(index) for index in range(start, start + 100)])
        assert all(outcome.created for outcome in outcomes)
        largest = max(largest, log_bytes(db_path))
    # The log may pass its bound by the transactions written while the checkpoint ran,
    # never by the whole import: unbounded, it reaches about 8 MB here.
    slack = 3000 * 4096 // 10
    assert largest < bound + slack
    assert log_bytes(db_path) < 4 * bound


def test_closing_stops_the_checkpointer(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store.use_thread_for(Workload.BULK)
    store.import_claims([draft(0)])
    assert checkpointer_threads()
    store.close()
    assert not checkpointer_threads()


def test_point_writes_keep_sqlite_s_own_checkpoints(db_path: Path) -> None:
    store = SqliteStore(db_path)
    try:
        store.create_claim(draft(0))
        assert not checkpointer_threads()
    finally:
        store.close()


# References checked by the writer, not by SQLite


def foreign_keys_on(store: SqliteStore) -> int:
    return int(store._connection().execute("PRAGMA foreign_keys").fetchone()[0])


def dangling_references(db_path: Path) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        connection.close()


def test_imports_leave_no_reference_dangling(bulk_store: SqliteStore, db_path: Path) -> None:
    known = bulk_store.import_claims([draft(1000)])[0]
    stored = bulk_store.get_claim(known.claim_id)
    by_id = claim_pb2.Claim(
        text="Cited and spoken by ids.",
        attribution=claim_pb2.ATTRIBUTION_REPORTED,
        speaker_id=stored.speaker_id,
        stated_at=stamp("2025-11-21T00:00:00+00:00"),
        topics=["peace plan"],
        citations=[claim_pb2.Citation(source_id=stored.citations[0].source_id)],
    )
    unknown_speaker = claim_pb2.Claim()
    unknown_speaker.CopyFrom(by_id)
    unknown_speaker.text = "Spoken by nobody known."
    unknown_speaker.speaker_id = "spk_01JD3M0X8Y9Z0000000000000A"
    unknown_source = claim_pb2.Claim()
    unknown_source.CopyFrom(by_id)
    unknown_source.text = "Cited from nowhere known."
    unknown_source.citations[0].source_id = "src_01JD3M0X8Y9Z0000000000000A"
    drafts = [
        *(draft(index, topics=("war", f"topic {index % 3}")) for index in range(40)),
        draft(7),  # a duplicate, by its request id
        claim_draft(claim_service_pb2.CreateClaimRequest(claim=by_id)),
        claim_draft(claim_service_pb2.CreateClaimRequest(claim=unknown_speaker)),
        claim_draft(claim_service_pb2.CreateClaimRequest(claim=unknown_source)),
    ]
    outcomes = bulk_store.import_claims(drafts)
    assert [outcome.created for outcome in outcomes] == [True] * 40 + [False, True, False, False]
    assert [type(outcome.error).__name__ for outcome in outcomes[-2:]] == ["NotFoundError"] * 2
    assert dangling_references(db_path) == []
    assert foreign_keys_on(bulk_store) == 1


def test_foreign_keys_are_on_again_after_an_import_that_rolls_back(
    bulk_store: SqliteStore,
) -> None:
    with pytest.raises(AbandonedError):
        bulk_store.import_claims([draft(1)], abandoned=lambda: True)
    assert foreign_keys_on(bulk_store) == 1
    connection = bulk_store._connection()
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("INSERT INTO claim_topics (topic, claim_seq) VALUES ('x', 999999)")
    connection.rollback()


# Claim bodies written as wire format

NOW_US = 1_763_596_800_123_456


def body_drafts() -> list[ClaimDraft]:
    """Drafts over the edges of what a body holds: odd and long texts (lengths past two
    bytes of varint), times before 1970 and at the epoch, every precision, no channel nor
    language, no topics or many, citations with and without excerpts."""
    drafts = []
    for index in range(60):
        text = ODD_TEXTS[index % 4] + " " + "é" * (index * 160)
        claim = claim_pb2.Claim(
            text=text,
            attribution=claim_pb2.Attribution.ValueType(1 + index % 3),
            speaker_id="spk_01JD3M0X8Y9Z0000000000000A",
            stated_at=stamp(("0001-01-01T00:00:00+00:00", "1970-01-01T00:00:00+00:00")[index % 2])
            if index % 5 == 0
            else stamp("2025-11-20T10:11:12.345678+00:00"),
            stated_at_precision=claim_pb2.DatePrecision.ValueType(index % 5),
            channel="" if index % 3 else f"channel {index}",
            language="" if index % 4 else "en-GB",
            topics=[f"topic {n}" for n in range(index % 6)],
            citations=[
                claim_pb2.Citation(
                    source_id="src_01JD3M0X8Y9Z0000000000000A",
                    role=claim_pb2.CitationRole.ValueType(1 + n % 2),
                    excerpt="" if n % 2 else ODD_TEXTS[n % 4],
                )
                for n in range(index % 4)
            ],
        )
        drafts.append(claim_draft(claim_service_pb2.CreateClaimRequest(claim=claim)))
    return drafts


def test_new_claim_bodies_are_the_bytes_protobuf_makes() -> None:
    bodies = _rows.NewClaimBodies(NOW_US)
    for index, one in enumerate(body_drafts()):
        claim_id = f"clm_01JD3M0X8Y9Z00000000000{index:03d}"[:30]
        source_ids = [f"src_01JD3M0X8Y9Z000000000{n:05d}" for n in range(len(one.citations))]
        expected = _rows.claim_body(claim_id, "spk_x", source_ids, one, NOW_US)
        assert bodies.body(claim_id, "spk_x", source_ids, one) == expected
        claim = claim_pb2.Claim.FromString(expected)
        assert (claim.text, claim.revision) == (one.text, 1)


@pytest.mark.parametrize(
    "value",
    [
        1,
        127,
        128,
        16_383,
        16_384,
        2**21,
        2**28 - 1,
        2**28,
        2**35,
        2**42 + 1,
        2**63 - 1,
        -1,
        -(2**63),
    ],
)
def test_varints_are_protobuf_s(value: int) -> None:
    message = claim_pb2.Claim(revision=value)
    assert _wire.varint_tag(15) + _wire.varint(value) == message.SerializeToString()
