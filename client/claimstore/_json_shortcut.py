"""The protobuf JSON mapping of claims files, for the shapes their lines nearly always take.

``json_format`` is pure Python and generic: reading a line of a claims file took
it about 390 µs and writing one 140, which made ``claimstore import`` and
``export`` several times slower than the server they talk to. This module does
both in a fraction of that, from tables of each message's fields made once from
its descriptor. It takes only what it is sure of and returns None on anything
else, which the caller then leaves to ``json_format``, whose errors and whose
reading of odd values stay the only ones:

- :func:`parse`: ``json.loads``, then each message from its object: known field
  names, strings, enum names, integers, booleans, lists, objects for this
  package's messages and RFC 3339 timestamps;
- :func:`to_dict`: what ``json_format.MessageToDict`` makes of a message of this
  package whose fields are of those kinds.

Tests hold both to ``json_format`` over thousands of odd lines and messages.
"""

import datetime
import json
import re
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, cast

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
_INTEGERS_32: Final = frozenset(
    {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_SINT32}
)
_RFC3339: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"  # the date, to the second
    r"(?:\.([0-9]{1,9}))?"  # up to nine fractional digits
    r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"  # Z or the offset
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
    except (ValueError, RecursionError):  # not JSON, or nested too deep for Python's parser
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


Kind = Literal["string", "bool", "int32", "int64", "enum", "timestamp", "message"]
"""The kinds of fields this module reads and writes; json_format does the others."""


def _kind(field: FieldDescriptor) -> Kind | None:
    """What one value of ``field`` is, of the kinds this module reads and writes."""
    if field.type == FieldDescriptor.TYPE_STRING:
        return "string"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "bool"
    if field.type in _INTEGERS:
        return "int32" if field.type in _INTEGERS_32 else "int64"
    if field.enum_type is not None:
        return "enum"
    message_type = field.message_type
    if message_type is not None:
        if message_type.full_name == _TIMESTAMP:
            return "timestamp"
        if message_type.full_name.startswith(_PACKAGE + "."):
            return "message"
    return None


def _value(field: FieldDescriptor) -> Convert | None:
    """The converter of one value of ``field``; None for the kinds left to json_format."""
    kind, enum_type, message_type = _kind(field), field.enum_type, field.message_type
    if kind == "enum" and enum_type is not None:
        numbers = {value.name: value.number for value in enum_type.values}
        return lambda value: numbers.get(value) if type(value) is str else None
    if kind == "message" and message_type is not None:
        return _message(message_type)
    return _READ.get(kind) if kind is not None else None


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


ToJson = Callable[[Any], Any]
"""Turns one field value into its JSON value, or returns None when it is not sure."""

_WRITERS: dict[str, Callable[[Message], dict[str, Any] | None]] = {}


def to_dict(message: Message) -> dict[str, Any] | None:
    """``message`` as ``json_format.MessageToDict(message)`` gives it (lowerCamelCase names,
    fields with their default values left out), or None when it holds a kind of field this
    module leaves to json_format."""
    return _writer(cast(Descriptor, message.DESCRIPTOR))(message)


def _writer(descriptor: Descriptor) -> Callable[[Message], dict[str, Any] | None]:
    """The writer of a ``descriptor`` message's JSON object, made once."""
    known = _WRITERS.get(descriptor.full_name)
    if known is not None:
        return known
    fields: dict[str, tuple[str, ToJson | None]] = {}

    def write(message: Message) -> dict[str, Any] | None:
        js: dict[str, Any] = {}
        for field, value in message.ListFields():
            name, to_json = fields.get(field.name, ("", None))  # an extension has no entry
            if to_json is None:
                return None
            if field.is_repeated:
                items = [to_json(item) for item in value]
                if None in items:
                    return None
                js[name] = items
            else:
                converted = to_json(value)
                if converted is None:
                    return None
                js[name] = converted
        return js

    _WRITERS[descriptor.full_name] = write
    for field in descriptor.fields:
        fields[field.name] = (field.json_name, _to_json(field))
    return write


def _to_json(field: FieldDescriptor) -> ToJson | None:
    """The writer of one value of ``field``; None for the kinds left to json_format."""
    kind, enum_type, message_type = _kind(field), field.enum_type, field.message_type
    if kind == "enum" and enum_type is not None:
        names = {value.number: value.name for value in enum_type.values}
        # A number the enum does not name (proto3 enums are open) is written as it is.
        return lambda number: names.get(number, number)
    if kind == "message" and message_type is not None:
        return _writer(message_type)
    return _WRITE.get(kind) if kind is not None else None


def _same(value: Any) -> Any:
    return value


def _timestamp_json(value: Timestamp) -> str:
    return value.ToJsonString()


_READ: Final[dict[Kind, Convert]] = {
    "string": _string,
    "bool": _boolean,
    "int32": _integer,
    "int64": _integer,
    "timestamp": _timestamp,
}
_WRITE: Final[dict[Kind, ToJson]] = {
    "string": _same,
    "bool": _same,
    "int32": _same,
    # The mapping writes 64-bit integers as strings, as JavaScript's numbers lose them.
    "int64": str,
    "timestamp": _timestamp_json,
}
