"""The SQLite store: schema, pragmas, migrations, and the indexes its queries use."""

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import claimstore
import pytest
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore_server import ServerConfig, build_server
from claimstore_server._search import parse_search_query
from claimstore_server._validation import claim_draft
from claimstore_server.store import (
    ChangeNote,
    ClaimDraft,
    ClaimQuery,
    DatabaseFileError,
    SchemaError,
    SearchCursor,
    SpeakerDraft,
    SqliteStore,
    UnavailableError,
    Workload,
    _schema,
    _sqlite,
    sqlite3,
)
from helpers import stamp

TABLES = {
    "speakers",
    "speaker_names",
    "sources",
    "claims",
    "claim_topics",
    "claim_sources",
    "claim_requests",
}
LINK_TABLES = ("claim_topics", "claim_sources", "claim_requests")


def pragma(db_path: Path, name: str) -> object:
    """Reads a pragma through a connection of its own, not the store's."""
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    yield opened
    opened.close()


def test_opening_creates_the_schema(store: SqliteStore, db_path: Path) -> None:
    assert pragma(db_path, "user_version") == _schema.LATEST_VERSION
    assert store.schema_version == _schema.LATEST_VERSION
    with sqlite3.connect(db_path) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert tables >= TABLES


def test_link_tables_are_keyed_by_what_queries_read_and_have_no_rowid(
    store: SqliteStore, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as connection:
        for table in LINK_TABLES:
            (sql,) = connection.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            assert sql.endswith("WITHOUT ROWID"), sql
            # Beside the primary key, only claim_sources has an index: by claim, which an
            # import appends to (claims' seqs only grow).
            indexes = {
                index[1] if index[3] == "c" else index[3]  # made by CREATE INDEX: its name
                for index in connection.execute(f"PRAGMA index_list({table})")
            }
            by_claim = {"claim_sources_by_claim"} if table == "claim_sources" else set()
            assert indexes == {"pk", *by_claim}, table
    connection.close()


def test_journal_mode_is_wal(store: SqliteStore, db_path: Path) -> None:
    assert pragma(db_path, "journal_mode") == "wal"


def test_foreign_keys_are_on_for_every_connection_of_the_store(store: SqliteStore) -> None:
    seen: dict[str, object] = {}

    def check(name: str) -> None:
        connection = store._connection()
        seen[name] = connection.execute("PRAGMA foreign_keys").fetchone()[0]

    check("main")
    worker = threading.Thread(target=check, args=("worker",))  # as a server worker thread
    worker.start()
    worker.join()
    assert seen == {"main": 1, "worker": 1}


def _tuning(connection: sqlite3.Connection) -> tuple[int, int]:
    """A connection's page cache (KiB, negative as SQLite reports it) and mapped bytes."""
    cache = connection.execute("PRAGMA cache_size").fetchone()[0]
    return cache, connection.execute("PRAGMA mmap_size").fetchone()[0]


def test_each_thread_connection_is_tuned_for_its_workload(store: SqliteStore) -> None:
    seen: dict[str, tuple[int, int]] = {}

    def declare_then_open(workload: Workload) -> None:
        store.use_thread_for(workload)
        seen[workload.value] = _tuning(store._connection())

    def open_then_declare() -> None:
        store._connection()
        store.use_thread_for(Workload.BULK)
        seen["bulk after opening"] = _tuning(store._connection())

    seen["undeclared"] = _tuning(store._connection())
    workers: list[tuple[Callable[..., None], tuple[object, ...]]] = [
        (declare_then_open, (Workload.BULK,)),
        (declare_then_open, (Workload.SEARCH,)),
        (open_then_declare, ()),
    ]
    for target, args in workers:
        worker = threading.Thread(target=target, args=args)
        worker.start()
        worker.join()
    search_cache, search_map = seen.pop("search")
    assert seen == {
        # Point reads map the file; bulk work never does (an export's pages would all count
        # as the server's memory), and imports get a larger cache.
        "undeclared": (-16 * 1024, 1 << 30),
        "bulk": (-64 * 1024, 0),
        "bulk after opening": (-64 * 1024, 0),
    }
    # Searches map as much of the file as this SQLite allows (its build caps mmap_size).
    assert search_cache == -16 * 1024
    assert search_map >= 1 << 30


def test_a_server_maps_the_file_for_point_reads_and_searches_only(db_path: Path) -> None:
    store = SqliteStore(db_path)
    server = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"), store)
    server.start()
    try:
        with claimstore.Client(server.target) as client:
            request = claim_service_pb2.CreateClaimRequest(
                claim=claim_pb2.Claim(
                    text="Talks go on.",
                    attribution=claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
                    stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
                    speaker=speaker_pb2.Speaker(display_name="Dmitry Peskov"),
                    stated_at=stamp("2025-11-20T10:00:00+00:00"),
                )
            )
            imported = list(client.import_claims([request]))
            assert imported[0].claim_id
            assert [claim.id for claim in client.export_claims()] == [imported[0].claim_id]
            assert [claim.id for claim in client.list_claims()] == [imported[0].claim_id]
            assert list(client.search_claims("talks"))
        mapped = [_tuning(connection)[1] > 0 for connection in store._connections]
    finally:
        server.stop()
    # Connections in the order they were opened: the opening thread's (migrations), the
    # event loop's (ListClaims) and the search thread's map the file; the bulk thread's (the
    # import, then the export) does not.
    assert mapped == [True, False, True, True]


def test_foreign_keys_are_enforced(store: SqliteStore) -> None:
    connection = store._connection()
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO speaker_names (name, speaker_id) VALUES ('x', 'spk_missing')"
        )
    connection.rollback()


def test_reopening_keeps_the_data_and_runs_no_migration(db_path: Path) -> None:
    first = SqliteStore(db_path)
    speaker = first.create_speaker(SpeakerDraft(display_name="Dmitry Peskov", kind=1))
    first.close()
    schema_before = pragma(db_path, "schema_version")  # bumped by every schema change

    reopened = SqliteStore(db_path)
    try:
        assert reopened.get_speaker(speaker.id) == speaker
        assert reopened.schema_version == _schema.LATEST_VERSION
    finally:
        reopened.close()
    assert pragma(db_path, "schema_version") == schema_before
    assert pragma(db_path, "user_version") == _schema.LATEST_VERSION


def test_two_stores_may_share_a_file(db_path: Path) -> None:
    first = SqliteStore(db_path)
    second = SqliteStore(db_path)
    try:
        speaker = first.create_speaker(SpeakerDraft(display_name="Shared", kind=1))
        assert second.get_speaker(speaker.id) == speaker
    finally:
        first.close()
        second.close()


def database_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings the store logged for the operator."""
    logger = "claimstore_server.store._failure_log"
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == logger and record.levelno == logging.WARNING
    ]


def test_a_lock_held_too_long_is_logged_for_the_operator_once_a_minute(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(db_path, busy_timeout_ms=50)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        for _ in range(3):
            with pytest.raises(UnavailableError, match="database is locked"):
                store.create_speaker(SpeakerDraft(display_name="Locked out", kind=1))
        assert database_warnings(caplog) == [
            "the database cannot serve this request now: database is locked"
        ]
    finally:
        holder.close()
        store.close()


def test_a_database_file_removed_while_served_is_logged_for_the_operator(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "claims.db"
    store = SqliteStore(path)
    try:
        path.unlink()
        with pytest.raises(DatabaseFileError, match="is gone"):
            store.create_speaker(SpeakerDraft(display_name="Nowhere", kind=1))
        (warning,) = database_warnings(caplog)
        assert warning.startswith(f"the database file {path} is gone")
    finally:
        store.close()


def test_newer_schema_is_refused_and_left_alone(db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(f"PRAGMA user_version = {_schema.LATEST_VERSION + 1}")
    with pytest.raises(SchemaError, match="newer"):
        SqliteStore(db_path)
    assert pragma(db_path, "user_version") == _schema.LATEST_VERSION + 1
    with sqlite3.connect(db_path) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_a_file_that_is_not_a_database_is_refused_naming_it_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"claims, one a line\n" * 100)
    with pytest.raises(DatabaseFileError, match=re.escape(str(path))) as raised:
        SqliteStore(path)
    assert "not a database" in str(raised.value)
    assert path.read_bytes() == b"claims, one a line\n" * 100


def test_a_file_in_a_missing_directory_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "claims.db"
    with pytest.raises(DatabaseFileError, match=re.escape(str(path))):
        SqliteStore(path)
    assert not path.parent.exists()


def query_plan(store: SqliteStore, query: ClaimQuery, *, with_cursor: bool) -> list[str]:
    """EXPLAIN QUERY PLAN of a claim listing as list_claims builds it, WHERE from the store."""
    conditions, params = _sqlite.claim_conditions(query)
    if with_cursor:  # the condition list_claims adds for the pages after the first
        conditions.append("(c.stated_at, c.id) < (?, ?)")
        params.extend((1_700_000_000_000_000, "clm_01JD3M0X8Y9Z0000000000000A"))
    sql = (
        "SELECT c.id FROM claims c JOIN speakers sp ON sp.id = c.speaker_id"
        f" WHERE {' AND '.join(conditions)}"
        " ORDER BY c.stated_at DESC, c.id DESC LIMIT ?"
    )
    rows = store._connection().execute(f"EXPLAIN QUERY PLAN {sql}", [*params, 51]).fetchall()
    return [str(row[3]) for row in rows]


@pytest.mark.parametrize("with_cursor", [False, True], ids=["first page", "next page"])
@pytest.mark.parametrize(
    "speaker_ids",
    [
        ("spk_01JD3M0X8Y9Z0000000000000A",),
        ("spk_01JD3M0X8Y9Z0000000000000A", "spk_01JD3M0X8Y9Z0000000000000B"),
    ],
    ids=["one speaker", "two speakers"],
)
def test_speaker_ids_filter_uses_an_index(
    store: SqliteStore, speaker_ids: tuple[str, ...], with_cursor: bool
) -> None:
    plan = query_plan(store, ClaimQuery(speaker_ids=speaker_ids), with_cursor=with_cursor)
    claims_steps = [step for step in plan if step.split()[1:2] == ["c"]]
    assert len(claims_steps) == 1, plan
    (step,) = claims_steps
    assert step.startswith("SEARCH c USING"), plan  # not a SCAN of every claim
    assert "INDEX" in step, plan
    assert "(speaker_id=?" in step, plan


def _draft(
    text: str,
    speaker: str,
    *,
    attribution: claim_pb2.Attribution.ValueType = claim_pb2.ATTRIBUTION_PARAPHRASE,
    stated_at: str = "2025-11-20T00:00:00+00:00",
    citations: Sequence[claim_pb2.Citation] = (),
) -> ClaimDraft:
    """The draft of a claim of ``speaker``, named inline, checked as CreateClaim checks it."""
    return claim_draft(
        claim_service_pb2.CreateClaimRequest(
            claim=claim_pb2.Claim(
                text=text,
                attribution=attribution,
                speaker=speaker_pb2.Speaker(display_name=speaker),
                stated_at=stamp(stated_at),
                citations=citations,
            )
        )
    )


def test_revisions_and_changes_are_read_only_as_far_as_their_bytes_allow(
    store: SqliteStore,
) -> None:
    # A claim may take 220 KB a revision: a page of 1,000 read whole would be 220 MB, of which
    # a response carries 4 MB. The store stops reading once the bytes it was allowed are used.
    excerpt = "e" * 2_000
    made = [
        store.create_claim(
            _draft(
                f"Claim {number} with a long excerpt",
                "Dmitry Peskov",
                citations=[
                    claim_pb2.Citation(
                        source=source_pb2.Source(url="https://news.example/1"), excerpt=excerpt
                    )
                ],
            )
        )
        for number in range(10)
    ]
    every = store.read_changes(0, ClaimQuery(), limit=100)
    assert [event.revision.claim.id for event in every.events] == [claim.id for claim in made]
    assert not every.has_more
    size = every.events[0].revision.ByteSize()  # as stored, give or take a few bytes
    three = 3 * size + size // 2  # three bodies, not four
    page = store.read_changes(0, ClaimQuery(), limit=100, max_bytes=three)
    assert [event.revision.claim.id for event in page.events] == [c.id for c in made[:3]]
    assert (page.has_more, page.last_seq) == (True, page.events[-1].seq)
    one = store.read_changes(0, ClaimQuery(), limit=100, max_bytes=1)
    assert (len(one.events), one.has_more) == (1, True)  # never an empty page

    claim = made[0]
    for number in range(5):
        store.update_claim(
            claim.id,
            functools.partial(_with_channel, channel=f"channel {number}"),
            ChangeNote(changed_fields=("channel",)),
        )
    revisions = store.list_claim_revisions(claim.id, after_revision=0, limit=100, max_bytes=three)
    assert ([r.revision for r in revisions.items], revisions.has_more) == ([1, 2, 3], True)
    rest = store.list_claim_revisions(claim.id, after_revision=3, limit=100, max_bytes=three)
    assert ([r.revision for r in rest.items], rest.has_more) == ([4, 5, 6], False)
    limited = store.list_claim_revisions(claim.id, after_revision=0, limit=2, max_bytes=three)
    assert ([r.revision for r in limited.items], limited.has_more) == ([1, 2], True)


def _with_channel(current: claim_pb2.Claim, *, channel: str) -> ClaimDraft:
    revised = claim_pb2.Claim()
    revised.CopyFrom(current)
    revised.channel = channel
    return claim_draft(claim_service_pb2.CreateClaimRequest(claim=revised))


def test_a_search_page_is_read_from_one_snapshot(store: SqliteStore, db_path: Path) -> None:
    # A page after the first looks up where its cursor's claim ranks now, then reads the
    # claims ranked after it: a claim stored between the two moves every bm25 score (here,
    # one without the word makes it rarer), and the page skipped or repeated the claims that
    # moved past the cursor's old score. Both statements must see the same claims.
    for number in range(30):
        store.create_claim(_draft(f"Orchard report {number}: " + "word " * number, "Orla Reed"))
    search = parse_search_query("orchard")
    first = store.search_claims(search, ClaimQuery(), after=None, limit=10)
    last = first.items[-1]
    cursor = SearchCursor(last.score, last.claim.id)
    writer = SqliteStore(db_path)
    fillers = iter(range(1_000))

    def store_claims_before_the_page(statement: str) -> None:
        # SQLite calls this as each statement begins, before it reads anything.
        if "ORDER BY bm25(" in statement:
            for _ in range(20):
                number = next(fillers)
                writer.create_claim(
                    _draft(
                        f"Unrelated filler {number}",
                        "Filler",
                        attribution=claim_pb2.ATTRIBUTION_REPORTED,
                        stated_at="2025-12-01T00:00:00+00:00",
                    )
                )

    connection = store._connection()
    connection.set_trace_callback(store_claims_before_the_page)
    try:
        rest = store.search_claims(search, ClaimQuery(), after=cursor, limit=100)
    finally:
        connection.set_trace_callback(None)
        writer.close()
    seen = [hit.claim.id for hit in [*first.items, *rest.items]]
    assert len(seen) == len(set(seen)) == 30
