"""The SQLite the store reaches through (store/_driver.py): one library for the store and
sqlite-utils, and the fixed one wherever pysqlite3 is installed."""

import importlib
from pathlib import Path

import pytest
import sqlite_utils
import sqlite_utils.utils
from claimstore_server.store import SqliteStore, has_wal_reset_bug, sqlite3


def test_store_and_sqlite_utils_use_one_sqlite_module() -> None:
    assert sqlite_utils.utils.OperationalError is sqlite3.OperationalError
    # A database sqlite-utils opens itself links the store's SQLite.
    own = sqlite_utils.Database(memory=True)
    assert isinstance(own.conn, sqlite3.Connection)
    assert own.execute("SELECT sqlite_version()").fetchone()[0] == sqlite3.sqlite_version


def test_pysqlite3_is_preferred_where_installed() -> None:
    try:
        importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        installed = False
    else:
        installed = True
    assert (sqlite3.__name__ == "pysqlite3.dbapi2") == installed


def test_pysqlite3_brings_an_sqlite_without_the_wal_reset_bug() -> None:
    if sqlite3.__name__ != "pysqlite3.dbapi2":
        pytest.skip("pysqlite3 is not installed here: the server warns at start (test_serve)")
    assert not has_wal_reset_bug(sqlite3.sqlite_version_info)


def test_the_store_opens_connections_of_the_chosen_module(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "claims.db")
    try:
        assert isinstance(store._connection(), sqlite3.Connection)
    finally:
        store.close()
