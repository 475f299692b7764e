"""Small helpers for SQL text and the values bound to it, shared by the SQLite store and its
batched writer."""

import json
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring

from ._driver import sqlite3

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


def insert_links_from_json(insert: str, link_column: str, owner_column: str) -> str:
    """An ``INSERT … SELECT`` of links (``link_column``, ``owner_column``) taken from one bound
    JSON array that holds, for each owner, ``[owner, [link, …]]`` (see :func:`json_links`):
    a claim's seq is written once for all its topics or sources. Run it with
    :func:`insert_json`.

    The rows go in the order of the link tables' keys, (link, owner): one after the other
    along the key, each insert finds its page where the one before left off, rather than
    all over the table (a fifth cheaper for sources, measured).
    """
    return (
        f"{insert} ({link_column}, {owner_column})"
        " SELECT link.value, owner.value ->> 0"
        " FROM json_each(?) owner, json_each(owner.value, '$[1]') link ORDER BY 1, 2"
    )


def json_links(owner: int, links: Iterable[str]) -> str:
    """The JSON of one owner's links for :func:`insert_links_from_json`: ``[owner, [...]]``."""
    return f"[{owner}, {json_strings(links)}]"


def insert_json(connection: sqlite3.Connection, statement: str, items: Sequence[str]) -> None:
    """Runs a :func:`insert_from_json` or :func:`insert_links_from_json` ``statement`` over
    ``items``, each the JSON text of one row or one owner's links (made by
    :func:`json_strings` or :func:`json_links`); does nothing when there are none. The
    texts are joined into the statement's one array without being encoded again."""
    if items:
        connection.execute(statement, ("[" + ", ".join(items) + "]",))


def insert_rows(
    connection: sqlite3.Connection, statement: str, rows: Sequence[Sequence[str | int | None]]
) -> None:
    """Runs a :func:`insert_from_json` ``statement`` over ``rows`` (text, integers and NULLs:
    JSON carries no bytes); does nothing when there are none."""
    if rows:
        connection.execute(statement, (to_json(rows),))
