"""The store memory-maps the connections of threads that search, and only those: an export
reads the whole file, and mapped pages would all count as the server's resident memory."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from claimstore_server._search import parse_search_query
from claimstore_server.store import ClaimOrder, ClaimQuery, SqliteStore


def _mmap_size(store: SqliteStore) -> int:
    connection: sqlite3.Connection = store._connection()
    return int(connection.execute("PRAGMA mmap_size").fetchone()[0])


def test_only_the_threads_that_search_map_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "claims.db")
    try:
        with ThreadPoolExecutor(max_workers=1) as searching:

            def search() -> int:
                store.search_claims(
                    parse_search_query("harvest"), ClaimQuery(), after=None, limit=20
                )
                return _mmap_size(store)

            assert searching.submit(search).result() > 0
        with ThreadPoolExecutor(max_workers=1) as listing:

            def list_claims() -> int:
                store.list_claims(ClaimQuery(), order=ClaimOrder(), after=None, limit=20)
                return _mmap_size(store)

            assert listing.submit(list_claims).result() == 0
    finally:
        store.close()
