"""The protobuf JSON mapping of claims files, for the shapes their lines nearly always take.

``json_format.Parse`` is pure Python and generic: about 390 µs for a line of a
claims file, which made ``claimstore import`` three times slower than the
server it feeds. :func:`parse` reads the same lines in about a fifth of that:
``json.loads``, then each message built from its dict by a table of its fields
made once from the descriptor. It takes only what it is sure of (known field
names, strings, enum names, integers, booleans, lists, objects for this
package's messages, and RFC 3339 timestamps) and returns None on anything
else, which the caller then leaves to ``json_format``: its errors and its
reading of odd values stay the only ones. A test holds the two to the same
messages over thousands of odd lines.
"""

import datetime
import json
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp

M = TypeVar("M", bound=Message)

_PACKAGE: Final = "claimstore.v1"
_TIMESTAMP: Final = "google.protobuf.Timestamp"
_INTEGERS: Final = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
    }
)
_RFC3339: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_SECOND: Final = datetime.timedelta(seconds=1)
_SECONDS: Final = range(-62_135_596_800, 253_402_300_800)
"""The seconds of a valid Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z."""

Convert = Callable[[Any], Any]
"""Turns one JSON value into a field's value, or returns None when it is not sure."""


def parse(line: str, message_type: type[M]) -> M | None:
    """``line`` as a ``message_type``, as ``json_format.Parse`` reads it; None when the line
    is not in a shape this module is sure of (including any line that is not JSON)."""
    try:
        data = json.loads(line, object_pairs_hook=_unique_keys)
    except ValueError:
        return None
    # Typed as either of protobuf's two implementations of descriptors; both serve.
    descriptor = cast(Descriptor, message_type.DESCRIPTOR)
    message: M | None = _message(descriptor)(data)
    return message


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json_format refuses an object that names a key twice; leave such lines to it.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("a key given twice")
    return value


_MESSAGES: dict[str, Convert] = {}


def _message(descriptor: Descriptor) -> Convert:
    """The converter of a JSON object to a ``descriptor`` message, made once."""
    known = _MESSAGES.get(descriptor.full_name)
    if known is not None:
        return known
    message_class = GetMessageClass(descriptor)
    # Filled in after the converter is registered, so that messages may nest.
    fields: dict[str, tuple[str, Convert]] = {}

    def convert(data: Any) -> Message | None:
        if type(data) is not dict:
            return None
        values: dict[str, Any] = {}
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                return None
            name, convert_value = field
            if name in values:  # both the JSON name and the field's own name
                return None
            converted = convert_value(value)
            if converted is None:
                return None
            values[name] = converted
        try:
            return message_class(**values)
        except (TypeError, ValueError):  # out of range, a lone surrogate…
            return None

    _MESSAGES[descriptor.full_name] = convert
    for field in descriptor.fields:
        convert_value = _value(field)
        if convert_value is None:
            continue  # left to json_format: a line that gives it is not taken here
        if field.is_repeated:
            convert_value = _list_of(convert_value)
        fields[field.json_name] = fields[field.name] = (field.name, convert_value)
    return convert


def _value(field: FieldDescriptor) -> Convert | None:
    """The converter of one value of ``field``; None for the kinds left to json_format."""
    if field.type == FieldDescriptor.TYPE_STRING:
        return _string
    if field.type == FieldDescriptor.TYPE_BOOL:
        return _boolean
    if field.type in _INTEGERS:
        return _integer
    enum_type, message_type = field.enum_type, field.message_type
    if enum_type is not None:
        numbers = {value.name: value.number for value in enum_type.values}
        return lambda value: numbers.get(value) if type(value) is str else None
    if message_type is not None:
        if message_type.full_name == _TIMESTAMP:
            return _timestamp
        if message_type.full_name.startswith(_PACKAGE + "."):
            return _message(message_type)
    return None


def _string(value: Any) -> str | None:
    return value if type(value) is str else None


def _boolean(value: Any) -> bool | None:
    return value if type(value) is bool else None


def _integer(value: Any) -> int | None:
    return value if type(value) is int else None


def _list_of(convert: Convert) -> Convert:
    def converted(values: Any) -> list[Any] | None:
        if type(values) is not list:
            return None
        items = []
        for value in values:
            item = convert(value)
            if item is None:
                return None
            items.append(item)
        return items

    return converted


def _timestamp(value: Any) -> Timestamp | None:
    """An RFC 3339 time with its offset or Z and up to nine fractional digits."""
    if type(value) is not str:
        return None
    match = _RFC3339.match(value)
    if match is None:
        return None
    whole, fraction, offset = match.groups()
    try:
        moment = datetime.datetime.fromisoformat(whole + ("+00:00" if offset == "Z" else offset))
        seconds = (moment - _EPOCH) // _SECOND
    except (ValueError, OverflowError):
        return None
    if seconds not in _SECONDS:
        return None
    return Timestamp(seconds=seconds, nanos=int(fraction.ljust(9, "0")) if fraction else 0)
