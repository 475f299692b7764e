"""Turns at writing, first come first served, among the threads of one store.

SQLite lets one connection write at a time, and a connection that finds the write lock
taken polls for it (the busy timeout) rather than queueing: an import that commits a
group of claims and at once begins the next keeps winning, and a point write waiting
beside it could wait past the busy timeout and fail UNAVAILABLE. So the store's threads
take turns first: a write waits for at most the writes that came before it, one import
group among them, and the polling is left to writers in other processes.
"""

import threading
from collections import deque


class WriteTurns:
    """A lock that hands itself to its waiters in the order they came. Thread-safe."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        """Waits for this thread's turn for up to ``timeout`` seconds; False if it did not
        come (the caller then does not hold the lock and must not release it)."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        """Hands the lock to the longest waiting thread, if any; frees it otherwise."""
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()  # still held: now by the one woken
            else:
                self._held = False
