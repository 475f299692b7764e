"""The DB-API module the store reaches SQLite through: ``pysqlite3`` where it is installed,
else Python's own ``sqlite3``.

The server writes one database from several connections while a thread checkpoints it,
the pattern that SQLite's WAL-reset bug (3.7.0 to 3.51.2) can corrupt. Python's
``sqlite3`` links whatever SQLite the system has (3.40.1 on Debian 12), while ``pysqlite3``
wheels carry an SQLite of their own (3.53.4 in 0.6.1) built in: the server's ``server``
extra installs it wherever such a wheel exists, and the server warns at start when the
SQLite it got has the bug (:func:`has_wal_reset_bug`).

sqlite-utils makes the same choice (``pysqlite3`` when importable), and so must anything
that opens a store's file in the server's process (its tests): two copies of SQLite in one
process do not see each other's locks on a file, and closing a file in one drops the
other's, which can corrupt it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import sqlite3
else:
    try:
        sqlite3 = importlib.import_module("pysqlite3.dbapi2")
    except ImportError:
        import sqlite3

__all__ = ["has_wal_reset_bug", "sqlite3"]

_WAL_RESET_FIXED_IN: Final = {(3, 44): 6, (3, 50): 7}
"""The releases of older SQLite lines that the WAL-reset fix was backported to."""


def has_wal_reset_bug(version: tuple[int, int, int]) -> bool:
    """Whether SQLite ``version`` has the WAL-reset bug (3.7.0 to 3.51.2; fixed in 3.51.3,
    and in 3.44.6 and 3.50.7): a race between two checkpoints and a commit that starts the
    write-ahead log over, which can corrupt a database or lose commits when several
    connections write and checkpoint it, as a store's connections and its checkpointer do."""
    if not (3, 7, 0) <= version < (3, 51, 3):
        return False
    fixed = _WAL_RESET_FIXED_IN.get(version[:2])
    return fixed is None or version[2] < fixed
