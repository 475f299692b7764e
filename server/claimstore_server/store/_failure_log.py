"""The failures of the database an operator must see, logged without flooding the log."""

import logging
import math
import threading
import time
from typing import Final

_log = logging.getLogger(__name__)

_WARNING_INTERVAL_SECONDS: Final = 60.0
"""How often the same database failure is logged again while it lasts."""


class FailureLog:
    """Logs the failures of the database that an operator must see (a full disk, a read-only
    or vanished file, a lock held too long), which callers only get as UNAVAILABLE or
    FAILED_PRECONDITION: each message when it first comes, then at most once a minute with
    the number of times it came meanwhile. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}  # message: (logged at, times since)

    def failed(self, error: Exception) -> None:
        message = str(error)
        now = time.monotonic()
        with self._lock:
            logged_at, since = self._last.get(message, (-math.inf, 0))
            if now - logged_at < _WARNING_INTERVAL_SECONDS:
                self._last[message] = (logged_at, since + 1)
                return
            if len(self._last) > 100:
                self._last.clear()
            self._last[message] = (now, 0)
        again = f" (and {since} more times in the last minute or so)" if since else ""
        _log.warning("%s%s", message, again)
