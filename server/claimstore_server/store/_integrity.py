"""Checks a database file for damage, as an operator asks after a DATA_LOSS (``claimstore
check``): SQLite's ``integrity_check`` (which also checks the search index) and its foreign
key check, through the store's SQLite (``_driver``).

The file is opened read-only, so that checking creates nothing, migrates nothing and
changes nothing, and may run beside a server that is serving it.
"""

from pathlib import Path
from urllib.parse import quote

from ._driver import sqlite3
from ._errors import DatabaseFileError


def integrity_problems(path: str | Path, *, most: int = 100) -> list[str]:
    """What SQLite finds wrong in the database at ``path``, at most ``most`` lines; an empty
    list when nothing is. Raises DatabaseFileError when there is no such file or SQLite
    cannot read it as a database at all."""
    file = Path(path)
    if not file.is_file():
        raise DatabaseFileError(f"there is no database file {file}")
    uri = f"file:{quote(str(file.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise DatabaseFileError(f"cannot open {file}: {error}") from error
    try:
        found = [
            str(row[0])
            for row in connection.execute(f"PRAGMA integrity_check({int(most)})")
            if row[0] != "ok"
        ]
        for table, rowid, parent, _ in connection.execute("PRAGMA foreign_key_check"):
            if len(found) >= most:
                break
            found.append(f"{table} row {rowid} refers to a row of {parent} that is not there")
        return found
    except sqlite3.DatabaseError as error:
        # A file too damaged (or not a database) to be checked at all.
        return [f"cannot be checked: {error}"]
    finally:
        connection.close()
