"""Forward migrations of a version-1 database: the claims it holds become searchable
(version 2), get their first revision and etags (version 3), links keyed by what queries read
(version 4) and their sources indexed by claim (version 5) when the current store opens it,
once; and source urls with their scheme and host in lower case (version 6)."""

import logging
from collections.abc import Callable
from pathlib import Path

import claimstore
import grpc
import pytest
import sqlite_utils
from claimstore.v1 import claim_service_pb2, claim_service_pb2_grpc
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.claim_revision_pb2 import CHANGE_TYPE_CREATED
from claimstore.v1.source_pb2 import Source
from claimstore_server.store import SchemaError, SqliteStore, _schema, sqlite3
from google.protobuf.field_mask_pb2 import FieldMask
from helpers import start_server

# Tables of version 1, parents before children.
V1_TABLES = (
    "speakers",
    "speaker_names",
    "sources",
    "claims",
    "claim_topics",
    "citations",
    "claim_requests",
)

CLAIMS = [
    ("No territorial concessions will be made.", "Volodymyr Zelenskyy", ["Zelensky"], ["war"]),
    ("The peace plan is a basis for talks.", "Dmitry Peskov", ["Peskov"], ["peace plan"]),
    ("Noël will come before any deal.", "Jean-Noël Barrot", ["Barrot"], []),
]


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as database:
        (version,) = database.execute("PRAGMA user_version").fetchone()
    database.close()
    return int(version)


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as database:
        names = {row[0] for row in database.execute("SELECT name FROM sqlite_master")}
    database.close()
    return names


@pytest.fixture
def v1_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database at schema version 1 holding CLAIMS, written by the current writer into a
    version-2 database and copied over table by table (the writer also feeds the index, which
    version 1 lacks)."""
    written = tmp_path / "written.db"
    server = start_server(written)
    try:
        with claimstore.Client(server.target) as client:
            for text, name, aliases, topics in CLAIMS:
                client.create_claim(
                    text,
                    attribution="direct_quote",
                    stated_at="2025-11-20",
                    speaker=claimstore.v1.speaker_pb2.Speaker(display_name=name, aliases=aliases),
                    topics=topics,
                    citations=[{"url": f"https://news.example/{len(text)}", "publisher": "AP"}],
                    request_id=f"req-{len(text)}",
                )
    finally:
        server.stop(0)

    path = tmp_path / "v1.db"
    with monkeypatch.context() as patched:
        patched.setattr(_schema, "MIGRATIONS", _schema.MIGRATIONS[:1])
        patched.setattr(_schema, "LATEST_VERSION", 1)
        store = SqliteStore(path)
        assert store.schema_version == 1
        store.close()
    assert user_version(path) == 1
    assert "claims_search" not in tables(path)
    database = sqlite_utils.Database(path)
    database.execute("ATTACH DATABASE ? AS written", [str(written)])
    for table in V1_TABLES:
        if table in ("citations", "claim_topics"):
            continue
        columns = ", ".join(database.table(table).columns_dict)
        database.execute(
            f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM written.{table}"
        )
    # Version 1 named a topic's claim by its id, and kept each citation as a row (the claims'
    # bodies hold them all).
    database.execute(
        "INSERT INTO main.claim_topics (topic, claim_id) SELECT t.topic, c.id"
        " FROM written.claim_topics t JOIN written.claims c ON c.seq = t.claim_seq"
    )
    for claim_id, body in database.execute("SELECT id, body FROM written.claims").fetchall():
        for position, citation in enumerate(Claim.FromString(body).citations):
            database.execute(
                "INSERT INTO citations (claim_id, position, source_id, role, excerpt)"
                " VALUES (?, ?, ?, ?, ?)",
                [claim_id, position, citation.source_id, citation.role, citation.excerpt],
            )
    database.conn.commit()
    database.execute("DETACH DATABASE written")
    database.close()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM claims").fetchone() == (len(CLAIMS),)
    check.close()
    return path


Migration = Callable[[sqlite_utils.Database], None]


def spying(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replaces each migration by one that records its number, then runs the original."""
    ran: list[int] = []

    def spy(number: int, migration: Migration) -> Migration:
        def run(database: sqlite_utils.Database) -> None:
            ran.append(number)
            migration(database)

        return run

    monkeypatch.setattr(
        _schema,
        "MIGRATIONS",
        tuple(spy(number, migration) for number, migration in enumerate(_schema.MIGRATIONS)),
    )
    return ran


def test_opening_a_version_1_database_indexes_its_claims_once(
    v1_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = spying(monkeypatch)
    store = SqliteStore(v1_db)
    assert store.schema_version == _schema.LATEST_VERSION == 6
    store.close()
    assert ran == [1, 2, 3, 4, 5]
    assert user_version(v1_db) == _schema.LATEST_VERSION
    with sqlite3.connect(v1_db) as database:
        assert database.execute("SELECT count(*) FROM claims_search").fetchone() == (len(CLAIMS),)
        by_claim = database.execute(
            "SELECT count(*) FROM claim_sources INDEXED BY claim_sources_by_claim"
            " WHERE claim_seq > 0"
        ).fetchone()
        assert by_claim == (len(CLAIMS),)  # version 5: every link, in the index by claim
    database.close()

    again = SqliteStore(v1_db)
    assert again.schema_version == _schema.LATEST_VERSION
    again.close()
    assert ran == [1, 2, 3, 4, 5], "opening a migrated database runs no migration"
    assert user_version(v1_db) == _schema.LATEST_VERSION
    with sqlite3.connect(v1_db) as database:
        assert database.execute("SELECT count(*) FROM claims_search").fetchone() == (len(CLAIMS),)
    database.close()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("concession", {"No territorial concessions will be made."}),
        ('"peace plan"', {"The peace plan is a basis for talks."}),
        ("noel", {"Noël will come before any deal."}),
        ("zelensky", {"No territorial concessions will be made."}),  # an alias
        ("war", {"No territorial concessions will be made."}),  # a topic
        (
            "peskov OR barrot",
            {"The peace plan is a basis for talks.", "Noël will come before any deal."},
        ),
    ],
)
def test_the_migrated_claims_are_searchable_through_the_server(
    v1_db: Path, query: str, expected: set[str]
) -> None:
    server = start_server(v1_db)
    try:
        with claimstore.Client(server.target) as client:
            results = list(client.search_claims(query, view="full"))
            assert {result.claim.text for result in results} == expected
            assert all(result.claim.speaker.display_name for result in results)
            assert all(result.snippet for result in results)
            # Everything else of version 1 is intact.
            assert len(list(client.list_claims())) == len(CLAIMS)
            assert len(list(client.list_sources())) == len(CLAIMS)
    finally:
        server.stop(0)
    assert user_version(v1_db) == _schema.LATEST_VERSION


def test_claims_written_after_the_migration_are_searchable_alongside(v1_db: Path) -> None:
    server = start_server(v1_db)
    try:
        with claimstore.Client(server.target) as client:
            new = client.create_claim(
                "Concessions are not surrender.",
                attribution="paraphrase",
                stated_at="2025-11-21",
                speaker="Zelensky",  # the version-1 speaker, by alias
            )
            results = list(client.search_claims("concessions"))
            assert len(results) == 2
            assert new.id in {result.claim.id for result in results}
            assert len({result.claim.speaker_id for result in results}) == 1
    finally:
        server.stop(0)


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as database:
        database.execute(f"PRAGMA user_version = {_schema.LATEST_VERSION + 1}")
    database.close()
    with pytest.raises(SchemaError, match="newer than this claimstore"):
        SqliteStore(path)


def test_migrated_claims_get_their_first_revision_and_etags(v1_db: Path) -> None:
    server = start_server(v1_db)
    try:
        with (
            claimstore.Client(server.target) as client,
            grpc.insecure_channel(server.target) as channel,
        ):
            stub = claim_service_pb2_grpc.ClaimServiceStub(channel)
            claims = list(client.list_claims(view="full"))
            assert len(claims) == len(CLAIMS)
            for claim in claims:
                assert claim.revision == 1
                assert claim.etag
                assert claim.speaker.etag
                assert all(citation.source.etag for citation in claim.citations)
                revisions = stub.ListClaimRevisions(
                    claim_service_pb2.ListClaimRevisionsRequest(claim_id=claim.id)
                ).revisions
                assert [r.revision for r in revisions] == [1]
                assert revisions[0].change_type == CHANGE_TYPE_CREATED
                assert revisions[0].change_time == claim.create_time
                assert revisions[0].claim.etag == claim.etag
            # The migrated claims can be changed like any other.
            first = claims[0]
            updated = stub.UpdateClaim(
                claim_service_pb2.UpdateClaimRequest(
                    claim=claimstore.Claim(id=first.id, channel="interview", etag=first.etag),
                    update_mask=FieldMask(paths=["channel"]),
                )
            )
            assert (updated.revision, updated.channel) == (2, "interview")
    finally:
        server.stop(0)


def test_migrated_claims_keep_their_topics_and_sources(v1_db: Path) -> None:
    server = start_server(v1_db)
    try:
        with claimstore.Client(server.target) as client:
            by_topic = [claim.text for claim in client.list_claims(topics=["war"])]
            assert by_topic == ["No territorial concessions will be made."]
            assert len(list(client.list_claims(topics=["Peace Plan"]))) == 1
            assert len(list(client.list_claims(publisher="ap"))) == len(CLAIMS)
            source = next(iter(client.list_sources()))
            assert len(list(client.list_claims(source_id=source.id))) == 1
            # A change to a migrated claim moves it off its old topic.
            claim = next(iter(client.list_claims(topics=["war"])))
            client.update_claim(claim.id, topics=["ceasefire"], etag=claim.etag)
            assert list(client.list_claims(topics=["war"])) == []
            assert [c.id for c in client.list_claims(topics=["ceasefire"])] == [claim.id]
    finally:
        server.stop(0)


def test_source_urls_take_their_scheme_and_host_in_lower_case_once(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    server = start_server(path)
    try:
        with claimstore.Client(server.target) as client:
            mixed = client.create_source(url="https://news.example.com/Story", publisher="AP")
            lower = client.create_source(url="https://twice.example.com/x")
            clashing = client.create_source(url="https://other.example.com/x")
    finally:
        server.stop(0)
    # The urls as version 5 kept them: as they were given.
    with sqlite3.connect(path) as database:
        for source_id, url in (
            (mixed.id, "HTTPS://News.Example.COM/Story"),
            (clashing.id, "https://TWICE.example.com/x"),
        ):
            (body,) = database.execute("SELECT body FROM sources WHERE id = ?", (source_id,))
            source = Source.FromString(body[0])
            source.url = url
            database.execute(
                "UPDATE sources SET url = ?, body = ? WHERE id = ?",
                (url, source.SerializeToString(), source_id),
            )
        database.execute("PRAGMA user_version = 5")
    database.close()

    server = start_server(path)
    try:
        with claimstore.Client(server.target) as client:
            migrated = client.get_source(mixed.id)
            assert migrated.url == "https://news.example.com/Story"
            assert migrated.etag != mixed.etag
            # Its lower-case form is another source's: it stays as it was, found by its id.
            assert client.get_source(clashing.id).url == "https://TWICE.example.com/x"
            assert client.get_source(lower.id) == lower
            claim = client.create_claim(
                "Talks will go on",
                speaker="Dmitry Peskov",
                attribution="reported",
                stated_at="2025-11-21",
                citations=[{"url": "https://NEWS.example.com/Story"}],
            )
            assert claim.citations[0].source_id == mixed.id
    finally:
        server.stop(0)
    assert user_version(path) == _schema.LATEST_VERSION


def test_opening_logs_the_migration_once(
    v1_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claimstore_server")
    SqliteStore(v1_db).close()
    assert [record.getMessage() for record in caplog.records] == [
        f"migrated {v1_db} from schema version 1 to {_schema.LATEST_VERSION}; older versions"
        " of claimstore cannot open it now"
    ]
    caplog.clear()
    SqliteStore(v1_db).close()
    assert caplog.records == []
    fresh = tmp_path / "fresh.db"
    SqliteStore(fresh).close()
    assert [record.getMessage() for record in caplog.records] == [
        f"created {fresh} at schema version {_schema.LATEST_VERSION}"
    ]


# What the first development builds wrote as version 1: no seq, bodies or content keys.
EARLY_V1_TABLES = """
CREATE TABLE speakers (id TEXT PRIMARY KEY, display_name TEXT NOT NULL, kind INTEGER NOT NULL,
    title TEXT NOT NULL, affiliation TEXT NOT NULL, aliases TEXT NOT NULL, wikidata_id TEXT,
    create_time INTEGER, update_time INTEGER);
CREATE TABLE speaker_names (speaker_id TEXT NOT NULL REFERENCES speakers(id),
    name TEXT NOT NULL, PRIMARY KEY (name, speaker_id));
CREATE TABLE sources (id TEXT PRIMARY KEY, url TEXT, publisher TEXT NOT NULL,
    publisher_folded TEXT NOT NULL, title TEXT NOT NULL, kind INTEGER NOT NULL,
    published_at INTEGER, create_time INTEGER, update_time INTEGER);
CREATE TABLE claims (id TEXT PRIMARY KEY, text TEXT NOT NULL, attribution INTEGER NOT NULL,
    speaker_id TEXT NOT NULL REFERENCES speakers(id), stated_at INTEGER NOT NULL,
    stated_at_precision INTEGER NOT NULL, channel TEXT NOT NULL, language TEXT NOT NULL,
    topics TEXT NOT NULL, create_time INTEGER, update_time INTEGER);
CREATE TABLE claim_topics (topic TEXT NOT NULL, claim_id TEXT NOT NULL REFERENCES claims(id),
    PRIMARY KEY (topic, claim_id));
CREATE TABLE citations (claim_id TEXT NOT NULL REFERENCES claims(id), position INTEGER NOT NULL,
    source_id TEXT NOT NULL REFERENCES sources(id), role INTEGER NOT NULL,
    excerpt TEXT NOT NULL, PRIMARY KEY (claim_id, position));
CREATE TABLE claim_requests (request_id TEXT PRIMARY KEY,
    claim_id TEXT NOT NULL REFERENCES claims(id), fingerprint TEXT NOT NULL);
INSERT INTO speakers VALUES ('spk_1', 'Dmitry Peskov', 1, '', '', '[]', NULL, 1, 1);
INSERT INTO claims VALUES ('clm_1', 'Talks will go on', 1, 'spk_1', 0, 3, '', '', '[]', 1, 1);
PRAGMA user_version = 1;
"""


def test_an_early_development_version_1_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "early.db"
    with sqlite3.connect(path) as database:
        database.executescript(EARLY_V1_TABLES)
    database.close()
    with pytest.raises(SchemaError) as raised:
        SqliteStore(path)
    message = str(raised.value)
    assert "schema version 1 as an early development build of claimstore wrote it" in message
    assert "claims.seq" in message
    assert "its data is as it was" in message
    assert "no such column" not in message
    assert user_version(path) == 1
    assert {name for name in tables(path) if not name.startswith("sqlite_")} == set(V1_TABLES)
    with sqlite3.connect(path) as database:
        assert database.execute("SELECT id, text FROM claims").fetchall() == [
            ("clm_1", "Talks will go on")
        ]
    database.close()
