"""The change feed behind WatchClaims: cursors, and waking watches when the log grows.

The change log is the store's claim revisions in commit order
(``ClaimStore.read_changes``). Each watch reads the log itself, from its own
cursor, so a slow watcher only falls behind: it never holds up the writers or
the other watchers. What watches share is knowing when to read. The servicer
calls :meth:`ChangeFeed.changed` after each write it commits; the feed then
reads the log's head once and wakes every watch waiting below it. It also
looks at the head every ``poll_seconds``, for writes that another server
process made to the same database.
"""

import asyncio
import contextlib
import logging
from typing import Final

from . import _pagination
from ._validation import FieldViolation, ValidationError
from .store import ClaimStore, StoreError, UnavailableError

CURSOR_FIELD: Final = "after_cursor"

_log = logging.getLogger(__name__)


def encode_cursor(change_log_id: str, seq: int) -> str:
    """The cursor of position ``seq`` of the change log ``change_log_id``: opaque to clients."""
    return _pagination.encode_token([seq], change_log_id)


def decode_cursor(cursor: str, change_log_id: str, head: int) -> int:
    """Returns the position ``cursor`` names in the change log ``change_log_id``, whose last
    position is ``head``; raises ValidationError for a cursor it did not issue."""
    position = _pagination.decode_token(
        cursor,
        change_log_id,
        CURSOR_FIELD,
        mismatch="comes from another claimstore database; start a new watch without it",
        what="cursor",
    )
    match position:
        case [int(seq)] if 0 <= seq <= head:
            return seq
        case [int(seq)] if seq > head:
            raise ValidationError(
                [
                    FieldViolation(
                        CURSOR_FIELD,
                        "is ahead of this database's change log: it comes from another"
                        " database or one restored from an older backup",
                    )
                ]
            )
        case _:
            raise _pagination.position_error(CURSOR_FIELD, "cursor")


class ChangeFeed:
    """Tells watches when changes past their position are committed."""

    def __init__(self, store: ClaimStore, *, poll_seconds: float = 1.0) -> None:
        self._store = store
        self._poll_seconds = poll_seconds
        self._head = 0
        self._changed = asyncio.Event()
        self._grown = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def changed(self) -> None:
        """Says that a write was committed: the watches will look for it."""
        self._changed.set()

    async def head(self) -> int:
        """The last position of the change log, read now."""
        self._ensure_running()
        self._head = max(self._head, self._store.change_log_head())
        return self._head

    async def wait_beyond(self, seq: int) -> None:
        """Returns once the change log holds a change after ``seq``.

        Raises UnavailableError once the feed is closed (the server stops), so
        that the client reconnects with its cursor.
        """
        self._ensure_running()
        async with self._grown:
            await self._grown.wait_for(lambda: self._closed or self._head > seq)
        if self._closed:
            raise UnavailableError(
                "the server is shutting down; watch again with the last cursor received"
            )

    async def close(self) -> None:
        """Ends every watch (with UNAVAILABLE) and stops looking at the log."""
        self._closed = True
        async with self._grown:
            self._grown.notify_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _ensure_running(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name="claimstore-change-feed"
            )

    async def _follow(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._poll_seconds)
            self._changed.clear()
            try:
                # One indexed lookup of the last rowid: tens of microseconds, on the loop.
                head = self._store.change_log_head()
            except StoreError:
                _log.warning("cannot read the change log's head; trying again", exc_info=True)
                continue
            if head > self._head:
                self._head = head
                async with self._grown:
                    self._grown.notify_all()
