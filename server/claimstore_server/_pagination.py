"""Page sizes and opaque page tokens (AIP-158).

A token carries where the previous page ended and a digest of the query that
made it, so a token used with a different query is refused rather than
silently giving a wrong page. Tokens are URL-safe base64 of a small JSON
object; their content is not part of the API and may change.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from google.protobuf.message import Message

from ._validation import FieldViolation, ValidationError

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1_000
_MAX_TOKEN_LENGTH: Final = 1_024
_INT64: Final = range(-(2**63), 2**63)
"""The integers a position may hold: SQLite's (a larger one would fail in the query)."""

M = TypeVar("M", bound=Message)


def page_size(
    value: int,
    field: str = "page_size",
    *,
    default: int = DEFAULT_PAGE_SIZE,
    maximum: int = MAX_PAGE_SIZE,
) -> int:
    """Returns the page size to use: 0 means the default; above the maximum is capped."""
    if value < 0:
        raise ValidationError([FieldViolation(field, f"must not be negative, not {value}")])
    if value == 0:
        return default
    return min(value, maximum)


def query_digest(*parts: object) -> str:
    """Returns a short digest naming a query, from the ``repr`` of its normalized parts."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode_token(position: list[Any], digest: str) -> str:
    """Returns the token for the page that starts after ``position`` of the query ``digest``."""
    payload = json.dumps({"q": digest, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def other_query(fields: str) -> str:
    """What a token issued for another query says: which ``fields`` of the request that
    returned it to repeat ("the filter and order_by")."""
    return f"was issued for a different query; repeat {fields} of the request that returned it"


_OTHER_QUERY: Final = other_query("the filter, order_by and show_deleted")


def decode_token(
    token: str,
    digest: str,
    field: str = "page_token",
    *,
    mismatch: str = _OTHER_QUERY,
    what: str = "page token",
) -> list[Any] | None:
    """Returns the position a token carries, or None for no token.

    Raises ValidationError when the token is malformed or was made for another
    digest (saying ``mismatch``).
    """
    if not token:
        return None
    try:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise ValueError("too long")
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position = payload["p"]
        token_digest = payload["q"]
        if not isinstance(position, list) or not isinstance(token_digest, str):
            raise ValueError("bad shape")
        if not all(_plain(value) for value in position):
            raise ValueError("bad value")
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as error:
        raise position_error(field, what) from error
    if token_digest != digest:
        raise ValidationError([FieldViolation(field, mismatch)])
    return position


def _plain(value: object) -> bool:
    """Whether ``value`` is what positions are made of: a string, a float, or an integer in
    SQLite's range (JSON's true and false, which Python takes for integers, are not)."""
    return type(value) in (str, float) or (type(value) is int and value in _INT64)


def fit_in(items: Sequence[M], budget_bytes: int) -> list[M]:
    """Returns the longest head of ``items`` whose encoding fits in ``budget_bytes``.

    The first item is always kept. A page cut short this way still carries a
    next_page_token, as AIP-158 allows: a page may hold fewer than page_size.
    """
    total = 0
    for index, item in enumerate(items):
        # Each item is a length-delimited field: its bytes plus at most 6 of tag and length.
        total += item.ByteSize() + 6
        if total > budget_bytes and index > 0:
            return list(items[:index])
    return list(items)


def position_error(field: str = "page_token", what: str = "page token") -> ValidationError:
    """The error for a token whose position does not fit the query it names."""
    return ValidationError([FieldViolation(field, f"is not a {what} this service issued")])
