"""Copies the write-ahead log into the database file on a thread of its own.

In WAL mode SQLite appends each commit to the ``-wal`` file; once the log
holds 1,000 pages, the commit that crossed that line also copies the log back
into the database file (a checkpoint) before it returns. A bulk import's
transactions each write tens of megabytes, so every one of them paid for a
checkpoint: about a tenth of an import's time, spent while the importing thread
held the write lock.

Connections tuned for bulk work therefore turn that automatic checkpoint off
(``PRAGMA wal_autocheckpoint = 0``) and ask a :class:`Checkpointer` instead
after each commit. Its thread runs a PASSIVE checkpoint on its own connection:
one call into SQLite that holds no Python lock while it copies, and that never
waits for readers or writers, so the next transaction goes on meanwhile. Other
connections keep the automatic checkpoint, so the log never grows unchecked.

Under an SQLite with the WAL-reset bug (before 3.51.3; see ``_driver``), a checkpoint that
starts while another connection's commit starts the log over can lose pages. There each
checkpoint takes a turn at writing (:class:`WriteTurns`), as every commit of the store does,
so that none of the store's commits runs beside it: imports then wait for the checkpoints
they overlapped before.
"""

import logging
import threading

from ._driver import sqlite3
from ._write_turns import WriteTurns

_logger = logging.getLogger(__name__)


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a database whenever :meth:`request` asks."""

    def __init__(self, path: str, *, busy_timeout_ms: int, turns: WriteTurns | None = None) -> None:
        """``turns``: the store's, when each checkpoint must hold a turn at writing."""
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._turns = turns
        self._wanted = threading.Condition()
        self._requested = False
        self._running = False
        self._closing = False
        self._thread = threading.Thread(
            target=self._run, name="claimstore-checkpointer", daemon=True
        )
        self._thread.start()

    def request(self) -> None:
        """Asks for a checkpoint soon; requests made while one runs are met by the next one."""
        with self._wanted:
            self._requested = True
            self._wanted.notify()

    def wait(self) -> None:
        """Waits until the checkpoints asked for so far have run."""
        with self._wanted:
            while (self._requested or self._running) and not self._closing:
                self._wanted.wait()

    def close(self) -> None:
        """Stops the thread after the checkpoint under way, if any."""
        with self._wanted:
            self._closing = True
            self._wanted.notify()
        self._thread.join()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=self._busy_timeout_ms / 1000)
        try:
            while self._next():
                self._checkpoint(connection)
                with self._wanted:
                    self._running = False
                    self._wanted.notify_all()
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        # When it cannot run (no turn in time, an error), the next commit asks again, and an
        # automatic checkpoint by any other connection does the same work.
        if self._turns is not None and not self._turns.acquire(self._busy_timeout_ms / 1000):
            return
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            _logger.warning("checkpointing %s failed", self._path, exc_info=True)
        finally:
            if self._turns is not None:
                self._turns.release()

    def _next(self) -> bool:
        """Waits for a request; False once closing."""
        with self._wanted:
            while not (self._requested or self._closing):
                self._wanted.wait()
            self._requested = False
            self._running = not self._closing
            return self._running
