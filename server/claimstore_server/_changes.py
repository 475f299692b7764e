"""The change feed behind WatchClaims: cursors, the shared tail of the log, and wake-ups.

The change log is the store's claim revisions in commit order
(``ClaimStore.read_changes``). One :class:`ChangeFeed` per server follows it:
the servicer calls :meth:`ChangeFeed.changed` after each write it commits, and
the feed reads the new entries once, keeps the most recent ones in memory (the
tail) and wakes every watch. It also looks at the log every ``poll_seconds``,
for writes that another server process made to the same database.

What a write costs the watches is therefore one read of the log, however many
watch it: a watch of every claim in the basic view takes its events from the
tail, and watches at the same position share one response message. Under a
stream of writes the feed reads at most once every ``min_interval`` seconds,
so each read (and each response) gathers several changes instead of one per
write; a change waits at most that long before it is sent.

A watch that fell behind the tail, or that filters or asks for the full view,
reads the log itself (see the servicer): a slow watcher only falls behind, and
never holds up the writers or the other watchers.
"""

import asyncio
import bisect
import contextlib
import functools
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Final

from claimstore.v1 import claim_service_pb2

from . import _pagination
from ._validation import FieldViolation, ValidationError
from .store import ChangePage, ClaimQuery, ClaimStore, StoreError, UnavailableError

EVERY_CLAIM: Final = ClaimQuery(show_deleted=True)
"""The query of a watch without a filter: every claim, deleted or not."""

CURSOR_FIELD: Final = "after_cursor"
_TAIL_READ: Final = 512
"""The most log entries one read of the feed takes; a longer burst takes several reads."""
TAIL_BYTES: Final = 32 * 1024 * 1024
"""How much the feed's tail keeps of its events, encoded: once they take twice as much, the
oldest are dropped until they take no more than this. 4,096 events of claims as claims
usually are (under 1 KB each) fit in an eighth of it, while 4,096 of the largest claims (a
10,000-character text and 100 long excerpts, some 220 KB) would take 900 MB."""

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
        mismatch=(
            "is not a cursor of this database's change log (it comes from another database,"
            " or is another kind of token); start a new watch without it"
        ),
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


def watch_events(change_log_id: str, page: ChangePage) -> list[claim_service_pb2.ClaimEvent]:
    """The ClaimEvent messages of a page read from the log."""
    return [
        claim_service_pb2.ClaimEvent(
            cursor=encode_cursor(change_log_id, event.seq), revision=event.revision
        )
        for event in page.events
    ]


@dataclass(frozen=True, slots=True)
class TailResponse:
    """A response built from the feed's tail: it ends at position ``ends_at``, and ``more``
    says that the feed has read further."""

    response: claim_service_pb2.WatchClaimsResponse
    ends_at: int
    more: bool


class ChangeFeed:
    """Follows the change log for every watch of one server.

    The feed reads the log on ``reads`` (a thread of its own), so that a burst
    of changes is read off the event loop. A response it builds holds at most
    ``max_response_bytes``.
    """

    def __init__(
        self,
        store: ClaimStore,
        reads: Executor,
        *,
        max_response_bytes: int,
        tail_size: int = 4096,
        tail_bytes: int = TAIL_BYTES,
        min_interval: float = 0.01,
        poll_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._reads = reads
        self._max_response_bytes = max_response_bytes
        self._min_interval = min_interval
        self._poll_seconds = poll_seconds
        # The most recent events and their positions, in log order: at least tail_size of
        # them once there are that many, unless they take more than tail_bytes (encoded), and
        # at most twice as many or as much (see _trim_tail); _head is the last read.
        self._tail_size = tail_size
        self._tail_bytes = tail_bytes
        self._tail_seqs: list[int] = []
        self._tail_events: list[claim_service_pb2.ClaimEvent] = []
        self._tail_sizes: list[int] = []  # the encoded size of each event of the tail
        self._tail_total = 0
        self._head = -1
        # Responses built since the tail last grew, by the position they continue from.
        self._responses: dict[int, TailResponse] = {}
        self._changed = asyncio.Event()
        # Set (and replaced by a new one) each time the feed reads further or closes.
        self._grown = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def changed(self) -> None:
        """Says that a write was committed: the feed will read it."""
        self._changed.set()

    def head(self) -> int:
        """The last position of the change log, read now; starts following the log."""
        head = self._store.change_log_head()
        if self._task is None and not self._closed:
            self._head = head
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name="claimstore-change-feed"
            )
        return head

    def tail_response(self, after_seq: int, limit: int) -> "TailResponse | None":
        """The response that carries up to ``limit`` events after ``after_seq`` from the tail;
        None when the tail does not reach back that far.

        Watches at the same position get the same message, built once. The
        response is empty when the feed has read nothing past ``after_seq``.
        """
        if after_seq >= self._head:
            return TailResponse(claim_service_pb2.WatchClaimsResponse(), after_seq, more=False)
        if not self._tail_seqs or after_seq < self._tail_seqs[0] - 1:
            return None
        cached = self._responses.get(after_seq)
        if cached is None:
            start = bisect.bisect_right(self._tail_seqs, after_seq)
            events = _pagination.fit_in(
                self._tail_events[start : start + limit], self._max_response_bytes
            )
            ends_at = self._tail_seqs[start + len(events) - 1]
            cached = TailResponse(
                claim_service_pb2.WatchClaimsResponse(events=events, cursor=events[-1].cursor),
                ends_at,
                more=ends_at < self._head,
            )
            self._responses[after_seq] = cached
        return cached

    async def wait_beyond(self, seq: int) -> None:
        """Returns once the feed has read a change after ``seq``.

        Raises UnavailableError once the feed is closed (the server stops), so
        that the client reconnects with its cursor.
        """
        while not self._closed and self._head <= seq:
            await self._grown.wait()
        if self._closed:
            raise UnavailableError(
                "the server is shutting down; watch again with the last cursor received"
            )

    async def close(self) -> None:
        """Ends every watch (with UNAVAILABLE) and stops following the log."""
        self._closed = True
        self._wake_watches()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        change_log_id = self._store.change_log_id
        last_read = 0.0
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._poll_seconds)
            self._changed.clear()
            # Gather the writes of the next few milliseconds into this read.
            await asyncio.sleep(max(0.0, last_read + self._min_interval - time.monotonic()))
            last_read = time.monotonic()
            read = functools.partial(
                self._store.read_changes,
                self._head,
                EVERY_CLAIM,
                limit=_TAIL_READ,
                max_bytes=self._max_response_bytes,
            )
            try:
                page = await loop.run_in_executor(self._reads, read)
            except StoreError:
                _log.warning("cannot read the change log; trying again", exc_info=True)
                continue
            if page.has_more:
                self._changed.set()
            if page.last_seq <= self._head:
                continue
            events = watch_events(change_log_id, page)
            sizes = [event.ByteSize() for event in events]
            self._tail_seqs.extend(event.seq for event in page.events)
            self._tail_events.extend(events)
            self._tail_sizes.extend(sizes)
            self._tail_total += sum(sizes)
            self._trim_tail()
            self._head = page.last_seq
            self._responses.clear()
            self._wake_watches()

    def tail_bytes(self) -> int:
        """What the events of the tail take, encoded."""
        return self._tail_total

    def _trim_tail(self) -> None:
        """Drops the oldest events of the tail once it holds more than twice ``tail_size``
        of them, or more than twice ``tail_bytes``: down to ``tail_size`` events and
        ``tail_bytes``. Watches behind the tail read the log themselves."""
        if len(self._tail_seqs) <= 2 * self._tail_size and self._tail_total <= 2 * self._tail_bytes:
            return
        drop = max(0, len(self._tail_seqs) - self._tail_size)
        total = self._tail_total - sum(self._tail_sizes[:drop])
        while drop < len(self._tail_sizes) and total > self._tail_bytes:
            total -= self._tail_sizes[drop]
            drop += 1
        del self._tail_seqs[:drop]
        del self._tail_events[:drop]
        del self._tail_sizes[:drop]
        self._tail_total = total

    def _wake_watches(self) -> None:
        grown, self._grown = self._grown, asyncio.Event()
        grown.set()
