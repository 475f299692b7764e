"""Server-assigned identifiers that sort by creation time.

An id is a prefix (``clm_``, ``spk_``, ``src_``) followed by a ULID-style body:
26 characters of Crockford base32 holding a 48-bit millisecond timestamp and 80
bits that are random for the first id of a millisecond and incremented for the
next ones, so ids made by one process sort in the order they were made.
"""

import functools
import os
import re
import threading
import time
from typing import Final

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY_LENGTH: Final = 26
_RANDOM_BITS: Final = 80

CLAIM_PREFIX: Final = "clm_"
SPEAKER_PREFIX: Final = "spk_"
SOURCE_PREFIX: Final = "src_"

_ID_PATTERN: Final = re.compile(r"^(clm|spk|src)_[0-9A-HJKMNP-TV-Z]{26}$")


class IdGenerator:
    """Makes ids that are unique and increasing within this process; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, prefix: str) -> str:
        """Returns a new id with ``prefix``, greater than every id made before."""
        return self.new_many(prefix, 1)[0]

    def new_many(self, prefix: str, count: int) -> list[str]:
        """Returns ``count`` new ids with ``prefix``, in increasing order, greater than every
        id made before: what ``count`` calls of :meth:`new` give, for less (a write of many
        claims takes their ids at once)."""
        parts = []
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            for _ in range(count):
                parts.append(self._next(now_ms))
        return [prefix + _encode_ms(ms) + _encode_random(random) for ms, random in parts]

    def _next(self, now_ms: int) -> tuple[int, int]:
        """The millisecond and random parts of the next id, at ``now_ms`` or later; the
        caller holds the lock."""
        if now_ms <= self._last_ms:
            now_ms = self._last_ms
            self._last_random += 1
            if self._last_random >= 1 << _RANDOM_BITS:
                now_ms += 1
                self._last_random = int.from_bytes(os.urandom(10)) >> 1
        else:
            # One bit short of full width leaves room to increment within a millisecond.
            self._last_random = int.from_bytes(os.urandom(10)) >> 1
        self._last_ms = now_ms
        return now_ms, self._last_random


_PAIRS: Final = tuple(high + low for high in _ALPHABET for low in _ALPHABET)
"""The two base32 digits of each 10-bit number: an id is 13 lookups rather than 26."""


@functools.lru_cache(maxsize=64)
def _encode_ms(ms: int) -> str:
    """The first 10 digits of an id (its 48-bit millisecond, with two zero bits before it):
    remembered, as the ids of a write share their millisecond."""
    return _digits(ms, 10)


def _encode_random(random: int) -> str:
    """The last 16 digits of an id: its 80 random bits."""
    return _digits(random, 16)


def _digits(value: int, count: int) -> str:
    """The ``count`` (even) base32 digits of ``value``, most significant first."""
    pairs = []
    for _ in range(count // 2):
        pairs.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(pairs))


def is_well_formed(resource_id: str, prefix: str) -> bool:
    """Tells whether ``resource_id`` has the shape of an id made with ``prefix``."""
    return resource_id.startswith(prefix) and _ID_PATTERN.match(resource_id) is not None
