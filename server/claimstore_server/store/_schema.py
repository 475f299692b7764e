"""The SQLite schema and its forward migrations.

The schema version lives in ``PRAGMA user_version``. Each migration moves the
database up one version inside one transaction; opening a database runs the
ones it lacks, and refuses a database whose version is newer than this code.
"""

import logging
import secrets
import time
from collections.abc import Callable

import sqlite_utils
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.claim_revision_pb2 import CHANGE_TYPE_CREATED
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker

from .._text import canonical_url
from . import _rows
from ._driver import sqlite3
from ._errors import SchemaError

_log = logging.getLogger(__name__)


def _create_v1(db: sqlite_utils.Database) -> None:
    """Speakers, sources, claims, citations, topics and request ids, with an index per filter."""
    db.table("speakers").create(
        {
            "id": str,
            "display_name": str,
            "kind": int,
            "title": str,
            "affiliation": str,
            "aliases": str,  # JSON array, in the order given
            "wikidata_id": str,  # NULL when not given, so that the unique index ignores it
            "create_time": int,  # microseconds since the Unix epoch, UTC
            "update_time": int,
            "body": bytes,  # the Speaker message, see _rows
        },
        pk="id",
        not_null={"display_name", "kind", "title", "affiliation", "aliases", "body"},
    )
    db.table("speakers").create_index(["wikidata_id"], unique=True)
    # Every folded name and alias of a speaker, for exact resolution and word search.
    db.table("speaker_names").create(
        {"speaker_id": str, "name": str},
        pk=("name", "speaker_id"),
        foreign_keys=[("speaker_id", "speakers", "id")],
        not_null={"speaker_id", "name"},
    )
    db.table("speaker_names").create_index(["speaker_id"])
    db.table("sources").create(
        {
            "id": str,
            "url": str,  # NULL when not given
            "publisher": str,
            "publisher_folded": str,
            "title": str,
            "kind": int,
            "published_at": int,
            "create_time": int,
            "update_time": int,
            "body": bytes,  # the Source message, see _rows
        },
        pk="id",
        not_null={"publisher", "publisher_folded", "title", "kind", "body"},
    )
    db.table("sources").create_index(["url"], unique=True)
    db.table("sources").create_index(["publisher_folded"])
    db.table("claims").create(
        {
            # An explicit INTEGER PRIMARY KEY: the search index refers to claims by it, and
            # unlike an implicit rowid it survives VACUUM.
            "seq": int,
            "id": str,
            "text": str,
            "attribution": int,
            "speaker_id": str,
            "stated_at": int,
            "stated_at_precision": int,
            "channel": str,
            "language": str,
            "topics": str,  # JSON array, in the order given
            # Identifies the claim's content (speaker, stated_at, folded text): one claim
            # per content, so that importing the same file twice stores nothing new.
            "content_key": str,
            "create_time": int,
            "update_time": int,
            "body": bytes,  # the Claim message without its speaker and sources, see _rows
        },
        pk="seq",
        foreign_keys=[("speaker_id", "speakers", "id")],
        not_null={
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
            "body",
        },
    )
    # Listing order is (stated_at, id); each filter gets an index that keeps it.
    db.table("claims").create_index(["id"], unique=True)
    db.table("claims").create_index(["content_key"], unique=True)
    db.table("claims").create_index(["stated_at", "id"])
    db.table("claims").create_index(["speaker_id", "stated_at", "id"])
    db.table("claims").create_index(["attribution", "stated_at", "id"])
    db.table("claims").create_index(["language", "stated_at", "id"])
    db.table("claim_topics").create(
        {"topic": str, "claim_id": str},
        pk=("topic", "claim_id"),
        foreign_keys=[("claim_id", "claims", "id")],
        not_null={"topic", "claim_id"},
    )
    db.table("claim_topics").create_index(["claim_id"])
    db.table("citations").create(
        {"claim_id": str, "position": int, "source_id": str, "role": int, "excerpt": str},
        pk=("claim_id", "position"),
        foreign_keys=[("claim_id", "claims", "id"), ("source_id", "sources", "id")],
        not_null={"claim_id", "position", "source_id", "role", "excerpt"},
    )
    db.table("citations").create_index(["source_id", "claim_id"])
    db.table("claim_requests").create(
        {"request_id": str, "claim_id": str, "fingerprint": str},
        pk="request_id",
        foreign_keys=[("claim_id", "claims", "id")],
        not_null={"claim_id", "fingerprint"},
    )
    db.table("claim_requests").create_index(["claim_id"])


SEARCH_ROWS = (
    "SELECT c.seq, c.text,"
    " sp.display_name || ' ' || (SELECT coalesce(group_concat(value, ' '), '')"
    " FROM json_each(sp.aliases)),"
    " (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(c.topics)),"
    " c.channel"
    " FROM claims c JOIN speakers sp ON sp.id = c.speaker_id"
)
"""What the search index holds of each claim, by seq (its rowid there): its text, its
speaker's names, its topics and its channel. The store appends a WHERE clause to index some."""

SEARCH_WEIGHTS = (10.0, 2.0, 3.0, 1.0)
"""bm25 weights of text, speaker, topics and channel: a match in the text counts most."""


def _check_v1_layout(db: sqlite_utils.Database) -> None:
    """Raises SchemaError when the tables of a version-1 database lack columns of the layout
    that the migrations start from: the first development builds of claimstore, before
    version 2, wrote version 1 without the claims' seq, the messages' bodies or the claims'
    content keys, and nothing here can make those up."""
    layout = sqlite_utils.Database(memory=True)
    _create_v1(layout)
    missing = [
        f"{table}.{column}"
        for table in layout.table_names()
        for column in layout.table(table).columns_dict
        if column not in db.table(table).columns_dict
    ]
    layout.close()
    if missing:
        raise SchemaError(
            "the database is at schema version 1 as an early development build of claimstore"
            f" wrote it, without the columns {', '.join(missing)}, and cannot be migrated;"
            " its data is as it was. Serve it with the build that wrote it and copy its claims"
            " to a new database (claimstore export and import, where that build has them)"
        )


def _create_search_index_v2(db: sqlite_utils.Database) -> None:
    """The full-text index of claims (FTS5), filled from the claims already stored.

    Porter stemming over unicode61 without diacritics: case, accents and English word
    endings do not matter ("Noel" finds "Noël", "concessions" finds "concession").
    """
    _check_v1_layout(db)
    db.execute(
        "CREATE VIRTUAL TABLE claims_search USING fts5(text, speaker, topics, channel,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    # The index's vocabulary (its stems), for prefixes typed past a word's stem.
    db.execute("CREATE VIRTUAL TABLE claims_search_terms USING fts5vocab(claims_search, 'row')")
    weights = ", ".join(str(weight) for weight in SEARCH_WEIGHTS)
    db.execute(
        "INSERT INTO claims_search (claims_search, rank) VALUES ('rank', ?)",
        [f"bm25({weights})"],
    )
    db.execute(f"INSERT INTO claims_search (rowid, text, speaker, topics, channel) {SEARCH_ROWS}")


def _claim_history_v3(db: sqlite_utils.Database) -> None:
    """Claims gain a revision number and a soft-delete time; every write to a claim records a
    row in ``claim_revisions``, which is also the change log that WatchClaims reads.

    Claims already stored get their revision 1 (a creation at their create_time), and every
    stored body gets its etag.
    """
    db.execute("ALTER TABLE claims ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")
    # NULL while the claim is not deleted; the time it was deleted (microseconds) otherwise.
    db.execute("ALTER TABLE claims ADD COLUMN delete_time INTEGER")
    db.table("claim_revisions").create(
        {
            # The position in the change log: SQLite takes one writer at a time, so seq
            # order is commit order.
            "seq": int,
            "claim_id": str,
            "revision": int,
            "speaker_id": str,  # the claim's speaker at this revision, for the full view
            "body": bytes,  # a ClaimRevision, see _rows.revision_body
        },
        pk="seq",
        foreign_keys=[("claim_id", "claims", "id")],
        not_null={"claim_id", "revision", "speaker_id", "body"},
    )
    db.table("claim_revisions").create_index(["claim_id", "revision"], unique=True)
    # Facts about the database itself; change_log_id tells this database's cursors apart.
    db.table("store_info").create({"key": str, "value": str}, pk="key", not_null={"value"})
    db.table("store_info").insert({"key": "change_log_id", "value": secrets.token_hex(8)})
    _add_etags(db, "speakers", Speaker)
    _add_etags(db, "sources", Source)
    connection = db.conn
    rows = connection.execute(
        "SELECT seq, id, speaker_id, create_time, body FROM claims ORDER BY seq"
    )
    while batch := rows.fetchmany(1000):
        claims, revisions = [], []
        for seq, claim_id, speaker_id, create_time, body in batch:
            claim = Claim.FromString(body)
            claim.revision = 1
            claim.etag = _rows.etag(claim_id, 1)
            new_body = claim.SerializeToString()
            claims.append((new_body, seq))
            head = _rows.revision_head(
                revision=1, change_type=CHANGE_TYPE_CREATED, change_time_us=create_time
            )
            revision = _rows.revision_body(new_body, head)
            revisions.append((claim_id, 1, speaker_id, revision))
        connection.executemany("UPDATE claims SET body = ? WHERE seq = ?", claims)
        connection.executemany(
            "INSERT INTO claim_revisions (claim_id, revision, speaker_id, body)"
            " VALUES (?, ?, ?, ?)",
            revisions,
        )


def _add_etags(
    db: sqlite_utils.Database, table: str, message: type[Speaker] | type[Source]
) -> None:
    """Writes the etag of each row of ``table`` into its body."""
    rows = db.conn.execute(f"SELECT id, update_time, body FROM {table}").fetchall()
    updates = []
    for resource_id, update_time, body in rows:
        resource = message.FromString(body)
        resource.etag = _rows.etag(resource_id, update_time)
        updates.append((resource.SerializeToString(), resource_id))
    db.conn.executemany(f"UPDATE {table} SET body = ? WHERE id = ?", updates)


_LEAN_LINKS = (
    (
        "claim_topics",
        "topic TEXT NOT NULL, claim_seq INTEGER NOT NULL REFERENCES claims(seq),"
        " PRIMARY KEY (topic, claim_seq)",
        "SELECT t.topic, c.seq FROM claim_topics t JOIN claims c ON c.id = t.claim_id",
    ),
    (
        "claim_sources",
        "source_id TEXT NOT NULL REFERENCES sources(id),"
        " claim_seq INTEGER NOT NULL REFERENCES claims(seq), PRIMARY KEY (source_id, claim_seq)",
        "SELECT ct.source_id, c.seq FROM citations ct JOIN claims c ON c.id = ct.claim_id",
    ),
    (
        "claim_requests",
        "request_id TEXT PRIMARY KEY, claim_id TEXT NOT NULL REFERENCES claims(id),"
        " fingerprint TEXT NOT NULL",
        "SELECT request_id, claim_id, fingerprint FROM claim_requests",
    ),
)
"""Each table of :func:`_lean_links_v4`: its name, its columns and key, and the rows of version
3 it is filled from."""


def _lean_links_v4(db: sqlite_utils.Database) -> None:
    """What links a claim to its topics, sources and request ids keeps only what queries
    read, in tables keyed by it and without rowids.

    Each row of these tables was a rowid table's row plus an index entry or two,
    written all over by every import: ``claim_topics`` and ``claim_requests`` lose
    their ``claim_id`` index, and ``citations``, whose roles and excerpts nothing
    read (they live in the claim's body), becomes ``claim_sources``, one row per
    source a claim cites. Topics and sources name their claim by its seq (the
    claims' INTEGER PRIMARY KEY, which VACUUM keeps) rather than its id: half the
    bytes a row, and an import touches every page of these tables. A change to a
    claim finds its old rows by the topics and sources of its stored body, so
    nothing looks them up by claim.
    """
    connection = db.conn
    for table, columns, rows in _LEAN_LINKS:
        connection.execute(f"CREATE TABLE {table}_v4 ({columns}) WITHOUT ROWID")
        # A claim that cited a source twice (in two roles) links to it once.
        connection.execute(f"INSERT OR IGNORE INTO {table}_v4 {rows}")
    for old in ("claim_topics", "citations", "claim_requests"):
        connection.execute(f"DROP TABLE {old}")
    for table, _, _ in _LEAN_LINKS:
        connection.execute(f"ALTER TABLE {table}_v4 RENAME TO {table}")


def _sources_by_claim_v5(db: sqlite_utils.Database) -> None:
    """``claim_sources`` gains an index by claim, so that a filter by a publisher on many
    claims tests each claim it walks by a look-up of the claim's own sources rather than
    collecting every claim of the publisher first (see ``_sqlite.link_plans``).

    A claim's seq is larger than every seq before it, so an import only appends to this
    index: it writes its last pages, not pages all over it.
    """
    db.execute("CREATE INDEX claim_sources_by_claim ON claim_sources (claim_seq)")


def _canonical_urls_v6(db: sqlite_utils.Database) -> None:
    """Source urls take their scheme and host in lower case, as new ones now do, so that an
    inline source of "https://news.example.com/a" finds the one stored as
    "https://News.Example.com/a". A url whose canonical form another source holds already is
    left as it was: the two stay two sources, each still found by its id."""
    rows = db.conn.execute("SELECT id, url, body FROM sources WHERE url IS NOT NULL").fetchall()
    taken = {url for _, url, _ in rows}
    now_us = time.time_ns() // 1_000
    for source_id, url, body in rows:
        canonical = canonical_url(url)
        if canonical == url or canonical in taken:
            continue
        source = Source.FromString(body)
        source.url = canonical
        source.update_time.FromMicroseconds(now_us)
        source.etag = _rows.etag(source_id, now_us)
        db.conn.execute(
            "UPDATE sources SET url = ?, update_time = ?, body = ? WHERE id = ?",
            (canonical, now_us, source.SerializeToString(), source_id),
        )
        taken.add(canonical)


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _create_v1,
    _create_search_index_v2,
    _claim_history_v3,
    _lean_links_v4,
    _sources_by_claim_v5,
    _canonical_urls_v6,
)
"""``MIGRATIONS[n]`` moves a database from version ``n`` to ``n + 1``."""

LATEST_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Brings ``db`` up to ``LATEST_VERSION``, one transaction per step, and logs what it did;
    returns the version."""
    version = first = _user_version(db)
    if version > LATEST_VERSION:
        raise SchemaError(
            f"the database is at schema version {version}, newer than this claimstore "
            f"understands ({LATEST_VERSION}); upgrade claimstore to open it"
        )
    while version < LATEST_VERSION:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the lock.
            version = _user_version(db)
            if version < LATEST_VERSION:
                try:
                    MIGRATIONS[version](db)
                except sqlite3.Error as error:
                    raise SchemaError(
                        f"moving the database from schema version {version} to {version + 1}"
                        f" failed: {error}"
                    ) from error
                version += 1
                db.conn.execute(f"PRAGMA user_version = {version}")
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
    (path,) = (row[2] for row in db.conn.execute("PRAGMA database_list") if row[1] == "main")
    if first == 0 and version != first:
        _log.info("created %s at schema version %d", path, version)
    elif version != first:
        _log.info(
            "migrated %s from schema version %d to %d; older versions of claimstore"
            " cannot open it now",
            path,
            first,
            version,
        )
    return version


def _user_version(db: sqlite_utils.Database) -> int:
    row = db.conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])
