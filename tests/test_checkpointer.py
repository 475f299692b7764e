"""The checkpointer copies the write-ahead log into the file on a thread of its own; given the
store's write turns (under an SQLite with the WAL-reset bug) it checkpoints only in a turn."""

import threading
from pathlib import Path

from claimstore_server.store import sqlite3
from claimstore_server.store._checkpointer import Checkpointer
from claimstore_server.store._write_turns import WriteTurns


def logged_database(path: Path) -> None:
    """A WAL database whose log holds frames no checkpoint copied yet."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA wal_autocheckpoint = 0")
    connection.execute("CREATE TABLE t (x)")
    connection.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(1000)])
    connection.close()


def test_a_checkpoint_waits_for_its_write_turn(tmp_path: Path) -> None:
    path = tmp_path / "logged.db"
    logged_database(path)
    # The last connection closed checkpointed the log: write more with one left open.
    keeper = sqlite3.connect(path, isolation_level=None)
    keeper.execute("PRAGMA wal_autocheckpoint = 0")
    keeper.execute("INSERT INTO t VALUES (1)")
    turns = WriteTurns()
    checkpointer = Checkpointer(str(path), busy_timeout_ms=5000, turns=turns)
    try:
        assert turns.acquire(timeout=1)
        checkpointer.request()
        waiter = threading.Thread(target=checkpointer.wait)
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive()  # no checkpoint while another holds the turn
        turns.release()
        waiter.join(timeout=10)
        assert not waiter.is_alive()
        # The checkpoint ran, and gave the turn back.
        assert turns.acquire(timeout=0)
        turns.release()
    finally:
        checkpointer.close()
        keeper.close()


def test_without_turns_a_checkpoint_runs_whoever_writes(tmp_path: Path) -> None:
    path = tmp_path / "logged.db"
    logged_database(path)
    turns = WriteTurns()
    assert turns.acquire(timeout=1)
    checkpointer = Checkpointer(str(path), busy_timeout_ms=5000)
    try:
        checkpointer.request()
        waiter = threading.Thread(target=checkpointer.wait)
        waiter.start()
        waiter.join(timeout=10)
        assert not waiter.is_alive()
    finally:
        checkpointer.close()
        turns.release()
