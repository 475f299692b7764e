"""Small helpers for SQL text and the values bound to it, shared by the SQLite store and its
batched writer."""

import json
import sqlite3
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring

to_json = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)`` without making an encoder per call: for the
JSON the store writes per row (arrays of names and topics, staged rows)."""


def json_strings(values: Iterable[str]) -> str:
    """``to_json`` of an array of strings, the same text made four times faster (no encoder
    to set up): for the topics of each claim."""
    return "[" + ", ".join(map(encode_basestring, values)) + "]"


def placeholders(count: int) -> str:
    """Returns ``count`` bound-parameter markers for an ``IN (…)`` list: "?, ?, ?"."""
    return ", ".join("?" * count)


def escape_like(text: str) -> str:
    """Escapes ``text`` for a LIKE pattern with ``ESCAPE '\\'``: % and _ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def insert_from_json(insert: str, columns: Sequence[str]) -> str:
    """An ``INSERT … SELECT`` that takes its rows from one bound JSON array of arrays, each
    holding the values of ``columns`` in order; ``insert`` is the statement's start, such as
    "INSERT INTO t" or "INSERT OR IGNORE INTO t". Run it with :func:`insert_rows`.

    ``executemany`` steps SQLite once per row and takes Python's global lock back
    after each step, waiting for it whenever another thread runs Python. This
    statement inserts every row in one call into SQLite, which holds no Python lock
    meanwhile: other threads run their Python while it writes.
    """
    values = ", ".join(f"value ->> {index}" for index in range(len(columns)))
    return f"{insert} ({', '.join(columns)}) SELECT {values} FROM json_each(?)"


def insert_rows(
    connection: sqlite3.Connection, statement: str, rows: Sequence[Sequence[str | int | None]]
) -> None:
    """Runs a :func:`insert_from_json` ``statement`` over ``rows`` (text, integers and NULLs:
    JSON carries no bytes); does nothing when there are none."""
    if rows:
        connection.execute(statement, (to_json(rows),))
