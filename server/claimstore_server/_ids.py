"""Server-assigned identifiers that sort by creation time.

An id is a prefix (``clm_``, ``spk_``, ``src_``) followed by a ULID-style body:
26 characters of Crockford base32 holding a 48-bit millisecond timestamp and 80
bits that are random for the first id of a millisecond and incremented for the
next ones, so ids made by one process sort in the order they were made.
"""

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
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
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
            value = (now_ms << _RANDOM_BITS) | self._last_random
        return prefix + _encode(value)


_PAIRS: Final = tuple(high + low for high in _ALPHABET for low in _ALPHABET)
"""The two base32 digits of each 10-bit number: an id is 13 lookups rather than 26."""


def _encode(value: int) -> str:
    """The 26 base32 digits of a 130-bit ``value``, most significant first."""
    pairs = []
    for _ in range(_BODY_LENGTH // 2):
        pairs.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(pairs))


def is_well_formed(resource_id: str, prefix: str) -> bool:
    """Tells whether ``resource_id`` has the shape of an id made with ``prefix``."""
    return resource_id.startswith(prefix) and _ID_PATTERN.match(resource_id) is not None
