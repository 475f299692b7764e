"""Turns plain Python values into the fields of claimstore.v1 messages.

Client methods take ``datetime``, ``date`` and ISO 8601 strings for times, and
enum values by name in any case, with or without their prefix ("person",
"PERSON" and "SPEAKER_KIND_PERSON" all name the same value).
"""

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, Final, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from .v1 import claim_pb2, source_pb2

TimeLike = datetime | date | str | Timestamp
"""A point in time: an aware ``datetime`` (naive is taken as UTC), a ``date``
(its first instant, UTC), an ISO 8601 string (a year "2025" or a month "2025-11"
stands for its first day), or a Timestamp."""

EnumLike = int | str


class Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
"""The default of a keyword argument whose absence means "leave it as it is", where
None or an empty value would mean something else (empty clears a field)."""

Value = TypeVar("Value", bound=int)
Item = TypeVar("Item")

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper as EnumType


_YEAR_OR_MONTH: Final = re.compile(r"([0-9]{4})(?:-([0-9]{2}))?")


def partial_date(text: str) -> tuple[date, str] | None:
    """The first day of the year ("2025") or month ("2025-11") ``text`` gives, with "year"
    or "month"; None for any other text. A month that does not exist is a ValueError."""
    partial = _YEAR_OR_MONTH.fullmatch(text)
    if partial is None:
        return None
    year, month = partial[1], partial[2]
    return date(int(year), int(month or 1), 1), "month" if month else "year"


def precision_of(value: TimeLike) -> str:
    """How precisely ``value`` tells a time: "year" for "2025", "month" for "2025-11", "day"
    for a ``date`` or "2025-11-20", "exact" for anything else."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return "day"
    if not isinstance(value, str):
        return "exact"  # or not a time at all, which timestamp() reports
    text = value.strip()
    partial = _YEAR_OR_MONTH.fullmatch(text)
    if partial is not None:
        return "month" if partial[2] else "year"
    return "day" if len(text) == len("2025-11-20") else "exact"


def timestamp(value: TimeLike, field: str) -> Timestamp:
    """Returns ``value`` as a Timestamp; ``field`` names it in errors."""
    if isinstance(value, Timestamp):
        return value
    if isinstance(value, str):
        try:
            partial = partial_date(value.strip())
            value = partial[0] if partial else datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(
                f"{field}: {value!r} is not an ISO 8601 date or time (such as 2025-11-20,"
                " 2025-11, 2025 or 2025-11-20T10:30:00Z)"
            ) from error
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), tzinfo=UTC)
    else:
        raise TypeError(f"{field}: expected a datetime, date, ISO 8601 string or Timestamp")
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def strings(values: Iterable[str], field: str) -> list[str]:
    """Returns ``values`` as a list of strings; ``field`` names it in errors. One string is a
    TypeError, not its characters: ``topics="peace plan"`` would otherwise be 10 topics."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{field}: expected a sequence of strings, not one string: [{values!r}]")
    result = _list(values, field, "strings")
    for index, value in enumerate(result):
        if not isinstance(value, str):
            raise TypeError(f"{field}[{index}]: expected a string, not {type(value).__name__}")
    return result


def enum_values(values: Iterable[EnumLike], field: str) -> list[EnumLike]:
    """Returns ``values`` as a list; one string or number is a TypeError, not a sequence."""
    if isinstance(values, str | bytes | int):
        raise TypeError(f"{field}: expected a sequence of enum names, not one: [{values!r}]")
    return _list(values, field, "enum names")


def citation_list(
    values: Iterable[claim_pb2.Citation | Mapping[str, Any]], field: str
) -> list[claim_pb2.Citation]:
    """Returns the Citations of ``values``; one citation, not in a sequence, is a TypeError."""
    if isinstance(values, str | bytes | Mapping | claim_pb2.Citation):
        raise TypeError(
            f"{field}: expected a sequence of citations, not one {type(values).__name__}"
        )
    return [
        citation(value, f"{field}[{index}]")
        for index, value in enumerate(_list(values, field, "citations"))
    ]


def _list(values: Iterable[Item], field: str, what: str) -> list[Item]:
    """``list(values)``, or a TypeError naming ``field`` when ``values`` is not iterable."""
    if not isinstance(values, Iterable):
        raise TypeError(f"{field}: expected a sequence of {what}, not {type(values).__name__}")
    return list(values)


def integer(value: int, field: str) -> int:
    """Returns ``value``, an int; anything else (a bool, a str) is a TypeError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field}: expected an int, not {value!r}")
    return value


def flag(value: bool, field: str) -> bool:
    """Returns ``value``, a bool; anything else ("no", which is true) is a TypeError."""
    if not isinstance(value, bool):
        raise TypeError(f"{field}: expected True or False, not {value!r}")
    return value


def text(value: str, field: str) -> str:
    """Returns ``value``, a string; anything else (None too) is a TypeError naming ``field``."""
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a string, not {type(value).__name__}")
    return value


def enum_value(enum: "EnumType[Value]", value: EnumLike, field: str) -> Value:
    """Returns the number of the ``enum`` value named ``value`` (or ``value`` if a number)."""
    if isinstance(value, bool):
        raise TypeError(f"{field}: expected an enum name or number, not a bool")
    if isinstance(value, int):
        return value  # type: ignore[return-value]  # the server checks the range
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected an enum name or number, not {type(value).__name__}")
    prefix = _enum_prefix(enum)
    name = value.strip().upper().replace("-", "_").replace(" ", "_")
    names = enum.keys()
    for candidate in (name, prefix + name):
        if candidate in names:
            return enum.Value(candidate)
    known = ", ".join(key.removeprefix(prefix).lower() for key in enum.keys()[1:])
    raise ValueError(f"{field}: {value!r} is not one of {known}")


def enum_name(enum: "EnumType[Value]", number: int) -> str:
    """Returns the short lower-case name of ``number`` in ``enum``, such as "direct_quote"."""
    try:
        return enum.Name(number).removeprefix(_enum_prefix(enum)).lower()  # type: ignore[arg-type]
    except ValueError:
        return str(number)


def _enum_prefix(enum: "EnumType[Value]") -> str:
    first = str(enum.keys()[0])
    return first.removesuffix("UNSPECIFIED")


def citation(value: claim_pb2.Citation | Mapping[str, Any], field: str) -> claim_pb2.Citation:
    """Returns a Citation from a message or a mapping of plain values.

    A mapping takes ``source_id``, or the source inline as ``url``, ``publisher``,
    ``title``, ``kind`` and ``published_at``; and ``role`` and ``excerpt``.
    """
    if isinstance(value, claim_pb2.Citation):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"{field}: expected a Citation or a mapping, not {type(value).__name__}")
    known = {"source_id", "url", "publisher", "title", "kind", "published_at", "role", "excerpt"}
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"{field}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    result = claim_pb2.Citation(
        source_id=value.get("source_id", ""),
        excerpt=value.get("excerpt", ""),
        role=enum_value(claim_pb2.CitationRole, value.get("role", 0), f"{field}.role"),
    )
    if any(key in value for key in ("url", "publisher", "title", "kind", "published_at")):
        result.source.CopyFrom(
            source_pb2.Source(
                url=value.get("url", ""),
                publisher=value.get("publisher", ""),
                title=value.get("title", ""),
                kind=enum_value(source_pb2.SourceKind, value.get("kind", 0), f"{field}.kind"),
            )
        )
        if value.get("published_at") is not None:
            result.source.published_at.CopyFrom(
                timestamp(value["published_at"], f"{field}.published_at")
            )
    return result
