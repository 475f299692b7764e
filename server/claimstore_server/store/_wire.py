"""Protobuf wire format, written directly, for the one message made by the hundred thousand:
the body of each claim an import creates (see ``_rows.NewClaimBodies``).

Building a ``Claim`` and serializing it took 12 µs a claim, most of it in making
the message and its timestamps and citations as Python objects; writing the same
bytes here takes about 7. What the claims of one write share (their create and
update time, revision 1, and the fields whose values recur: speakers, sources,
topics, channels, languages) is encoded once. The fields are written in the order
of their numbers, as protobuf serializes them, so the bytes are the very bytes
``SerializeToString`` gives (a test compares them over many claims).

Only what these bodies hold is here: strings, varints (enums and int64),
timestamps and embedded messages. See
https://protobuf.dev/programming-guides/encoding/.
"""

from typing import Final

_LENGTH_DELIMITED: Final = 2
_VARINT: Final = 0

_SHORT_VARINTS: Final = tuple(
    bytes([n]) if n < 0x80 else bytes([n & 0x7F | 0x80, n >> 7]) for n in range(1 << 14)
)
"""The encodings of 0 to 16,383 (one or two bytes): every length and enum value of a body."""


_CONTINUED_PAIRS: Final = tuple(bytes([n & 0x7F | 0x80, n >> 7 | 0x80]) for n in range(1 << 14))
"""The low 14 bits of a longer varint, as its first two bytes (both marked to go on)."""


def varint(value: int) -> bytes:
    """The base-128 varint of ``value``, an int64 or an enum: a negative one is written as
    its 64-bit two's complement, ten bytes, as protobuf writes it."""
    if 0 <= value < 1 << 14:
        return _SHORT_VARINTS[value]
    if value < 0:
        value += 1 << 64
    # Fourteen bits at a time from tables: a timestamp's seconds take three lookups.
    encoded = b""
    while value >= 1 << 14:
        encoded += _CONTINUED_PAIRS[value & 0x3FFF]
        value >>= 14
    return encoded + _SHORT_VARINTS[value]


def tag(field_number: int, wire_type: int) -> bytes:
    """The key of a field: its number and wire type."""
    return varint(field_number << 3 | wire_type)


def length_delimited_tag(field_number: int) -> bytes:
    """The key of a string, bytes or embedded message field."""
    return tag(field_number, _LENGTH_DELIMITED)


def varint_tag(field_number: int) -> bytes:
    """The key of an integer or enum field."""
    return tag(field_number, _VARINT)


def length_delimited(key: bytes, payload: bytes) -> bytes:
    """A string, bytes or embedded message field: its key, the payload's length, the payload."""
    return key + varint(len(payload)) + payload


def string(key: bytes, value: str) -> bytes:
    """A string field holding ``value`` (for a non-empty value: proto3 leaves empty ones out)."""
    encoded = value.encode()
    return key + varint(len(encoded)) + encoded


_SECONDS: Final = varint_tag(1)
_NANOS: Final = varint_tag(2)


def timestamp(key: bytes, micros: int) -> bytes:
    """A ``google.protobuf.Timestamp`` field at ``micros`` microseconds since the epoch
    (negative before it: the seconds count down, the nanoseconds up, as in ``_rows``)."""
    seconds, remainder = divmod(micros, 1_000_000)
    payload = (_SECONDS + varint(seconds) if seconds else b"") + (
        _NANOS + varint(remainder * 1000) if remainder else b""
    )
    return key + varint(len(payload)) + payload
