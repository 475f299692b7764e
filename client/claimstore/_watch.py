"""ClaimWatch and AsyncClaimWatch: the WatchClaims change feed as an iterator of events that
survives restarts, blocking and for asyncio. What they share, and which does no I/O, is
:class:`_WatchState`."""

import asyncio
import contextlib
import threading
import time
from collections import deque
from types import TracebackType
from typing import Protocol, Self, TypeVar

import grpc
import grpc.aio

from ._config import RetryPolicy
from ._exceptions import from_rpc_error
from .v1 import claim_service_pb2

_RESUMED_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
"""The failures a watch resumes after. CANCELLED counts only when :meth:`ClaimWatch.close`
did not cause it, so the server did: a server that is stopping cancels a watch that reaches
it between ending its watches (with UNAVAILABLE) and closing its port, which a watch
resuming at once can do."""


class _ResponseStream(Protocol):
    """What a WatchClaims call is to the watch: responses to read, and a way to cancel."""

    def __next__(self) -> claim_service_pb2.WatchClaimsResponse: ...

    def cancel(self) -> bool: ...


class _AsyncResponseStream(Protocol):
    """What a WatchClaims call of an asyncio channel is to the watch."""

    async def read(self) -> "claim_service_pb2.WatchClaimsResponse | object": ...

    def cancel(self) -> bool: ...


Stream = TypeVar("Stream", bound=_ResponseStream | _AsyncResponseStream, covariant=True)


class _StartWatch(Protocol[Stream]):
    """The WatchClaims method of a stub: blocking, or of an asyncio channel."""

    def __call__(
        self,
        request: claim_service_pb2.WatchClaimsRequest,
        *,
        metadata: tuple[tuple[str, str], ...] | None,
        wait_for_ready: bool | None,
    ) -> Stream: ...


class _WatchState:
    """Where a watch stands, whichever way it does its I/O: the events received and not yet
    yielded, the cursor, and how long to wait before calling again."""

    def __init__(
        self,
        request: claim_service_pb2.WatchClaimsRequest,
        *,
        metadata: tuple[tuple[str, str], ...] | None,
        backoff: RetryPolicy,
    ) -> None:
        self._request = request
        self._metadata = metadata
        self._backoff = backoff
        self._cursor = request.after_cursor
        self._batch_cursor = ""
        self._pending: deque[claim_service_pb2.ClaimEvent] = deque()
        self._resumed = 0
        self._quick_failures = 0
        self._call_started = time.monotonic()
        self._call_events = 0

    @property
    def cursor(self) -> str:
        """Where the watch stands: the cursor of the last event yielded, or of the last
        response once all its events were yielded. A new watch given it as
        ``after_cursor`` yields every later change exactly once."""
        return self._cursor

    @property
    def resumed(self) -> int:
        """How many times the watch called WatchClaims again after losing the stream."""
        return self._resumed

    def _receive(self, response: claim_service_pb2.WatchClaimsResponse) -> None:
        """Queues the events of ``response``; the cursor moves past them once all are yielded."""
        self._pending.extend(response.events)
        self._call_events += len(response.events)
        if self._pending:
            self._batch_cursor = response.cursor
        elif response.cursor:
            self._cursor = response.cursor

    def _pop(self) -> claim_service_pb2.ClaimEvent:
        """Takes the next event received, moving the cursor past it."""
        event = self._pending.popleft()
        self._cursor = event.cursor if self._pending else self._batch_cursor or event.cursor
        return event

    def _pause_seconds(self) -> float:
        """How long to wait before calling again (0: not at all). Only when the call that
        failed was short-lived and brought no event: a server that takes calls and fails
        them at once (say, while it shuts down) would otherwise be called in a tight loop.
        Waiting for a server that is down is gRPC's part (wait_for_ready), not this."""
        policy = self._backoff
        lasted = time.monotonic() - self._call_started
        if self._call_events or lasted >= policy.max_backoff:
            self._quick_failures = 0
            return 0.0
        self._quick_failures += 1
        delay = policy.initial_backoff * policy.backoff_multiplier ** (self._quick_failures - 1)
        return min(policy.max_backoff, delay)

    def _resume_request(self) -> claim_service_pb2.WatchClaimsRequest:
        """The request that calls WatchClaims again from the cursor; counts the call."""
        request = claim_service_pb2.WatchClaimsRequest()
        request.CopyFrom(self._request)
        request.after_cursor = self._cursor
        self._call_started = time.monotonic()
        self._call_events = 0
        self._resumed += 1
        return request


class ClaimWatch(_WatchState):
    """Yields each change to the claims that match a filter, as it is committed.

    Made by :meth:`Client.watch_claims`, which returns once the server has
    answered, so every change committed after that is yielded. The server sends
    the changes in batches; this yields their ClaimEvents one by one, in commit
    order, and runs until :meth:`close` (or the end of a ``with`` block) cancels
    it, from any thread. Iteration then stops quietly.

    When the stream fails with UNAVAILABLE (the server restarted, the
    connection dropped), or the server cancels it, the watch calls WatchClaims
    again with its :attr:`cursor`, so no change is lost and none is yielded
    twice. That call waits for the server (gRPC's ``wait_for_ready``) for as
    long as it takes. Any other failure is raised as the matching
    :class:`~claimstore.ServiceError`.

    Why resuming is written here rather than left to gRPC: gRPC's retry policy
    retries a server stream only until its first response arrives, as it cannot
    take back responses already handed over; WatchClaims answers at once with
    its starting cursor, so a watch that breaks later is never retried by gRPC.
    Only the caller knows where to pick up, which is what the cursor is for.
    """

    def __init__(
        self,
        start: _StartWatch[_ResponseStream],
        request: claim_service_pb2.WatchClaimsRequest,
        *,
        metadata: tuple[tuple[str, str], ...] | None,
        backoff: RetryPolicy,
    ) -> None:
        super().__init__(request, metadata=metadata, backoff=backoff)
        self._start = start
        # Reentrant: close() may run in a signal handler while this thread resumes.
        self._lock = threading.RLock()
        self._closed = threading.Event()
        # The first call fails fast, like any other call (after gRPC's retries), so that a
        # wrong target or a bad after_cursor is raised here, not on the first iteration.
        self._call = start(request, metadata=metadata, wait_for_ready=None)
        try:
            self._receive(next(self._call))
        except grpc.RpcError as error:
            self._call.cancel()
            raise from_rpc_error(error) from error
        except StopIteration:
            self._closed.set()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> claim_service_pb2.ClaimEvent:
        while not self._pending:
            self._receive(self._next_response())
        if self._closed.is_set():
            raise StopIteration
        return self._pop()

    def close(self) -> None:
        """Cancels the call; iteration stops. Safe from any thread, and more than once."""
        with self._lock:
            self._closed.set()
            self._call.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _next_response(self) -> claim_service_pb2.WatchClaimsResponse:
        """Returns the next response, calling WatchClaims again after UNAVAILABLE; raises
        StopIteration once closed, or when the server ends the stream as complete."""
        while True:
            if self._closed.is_set():
                raise StopIteration
            try:
                response = next(self._call)
            except StopIteration:
                self._closed.set()
                raise
            except grpc.RpcError as error:
                if self._closed.is_set():
                    raise StopIteration from None
                if not isinstance(error, grpc.Call) or error.code() not in _RESUMED_CODES:
                    raise from_rpc_error(error) from error
            else:
                return response
            self._pause()
            self._resume()

    def _pause(self) -> None:
        """Waits :meth:`_pause_seconds` before calling again, unless closed meanwhile."""
        delay = self._pause_seconds()
        if delay and self._closed.wait(delay):
            raise StopIteration

    def _resume(self) -> None:
        with self._lock:
            if self._closed.is_set():
                raise StopIteration
            self._call = self._start(
                self._resume_request(), metadata=self._metadata, wait_for_ready=True
            )


class AsyncClaimWatch(_WatchState):
    """:class:`ClaimWatch` for asyncio: ``async for event in watch``.

    Made by :meth:`AsyncClient.watch_claims`, which returns once the server has
    answered. It resumes after UNAVAILABLE from its :attr:`cursor` exactly as
    ClaimWatch does, and runs until :meth:`close` (or the end of an ``async
    with`` block) cancels it, from a task of the same event loop. Iteration then
    stops quietly; a task cancelled while it waits for an event is cancelled as
    usual. gRPC cancels the call under a read that is cancelled (by
    ``asyncio.wait_for``, say), so the next read calls again from the cursor:
    waiting for an event with a timeout loses none.
    """

    def __init__(
        self,
        start: _StartWatch[_AsyncResponseStream],
        request: claim_service_pb2.WatchClaimsRequest,
        *,
        metadata: tuple[tuple[str, str], ...] | None,
        backoff: RetryPolicy,
    ) -> None:
        """Starts the call; :func:`open_async_watch` also waits for its first answer."""
        super().__init__(request, metadata=metadata, backoff=backoff)
        self._start = start
        self._closed = asyncio.Event()
        self._call = start(request, metadata=metadata, wait_for_ready=None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> claim_service_pb2.ClaimEvent:
        while not self._pending:
            self._receive(await self._next_response())
        if self._closed.is_set():
            raise StopAsyncIteration
        return self._pop()

    def close(self) -> None:
        """Cancels the call; iteration stops. Safe more than once."""
        self._closed.set()
        self._call.cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def _first_response(self) -> None:
        """Waits for the server's first answer, as :class:`ClaimWatch` does when made."""
        try:
            response = await self._call.read()
        except grpc.aio.AioRpcError as error:
            self._call.cancel()
            raise from_rpc_error(error) from error
        if isinstance(response, claim_service_pb2.WatchClaimsResponse):
            self._receive(response)
        else:
            self._closed.set()

    async def _next_response(self) -> claim_service_pb2.WatchClaimsResponse:
        """As :meth:`ClaimWatch._next_response`, raising StopAsyncIteration."""
        while True:
            if self._closed.is_set():
                raise StopAsyncIteration
            try:
                response = await self._call.read()
            except asyncio.CancelledError:
                # gRPC raises this for a call cancelled here: by close(), or by a read whose
                # task was cancelled (gRPC then cancels the call), as asyncio.wait_for does.
                if self._closed.is_set():
                    raise StopAsyncIteration from None
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                # This task is not cancelled, so an earlier read's was: call again at once.
            except grpc.aio.AioRpcError as error:
                if self._closed.is_set():
                    raise StopAsyncIteration from None
                if error.code() not in _RESUMED_CODES:
                    raise from_rpc_error(error) from error
                await self._pause()
            else:
                if isinstance(response, claim_service_pb2.WatchClaimsResponse):
                    return response
                self._closed.set()  # the end of the stream (grpc.aio.EOF)
                raise StopAsyncIteration
            if self._closed.is_set():
                raise StopAsyncIteration
            self._call = self._start(
                self._resume_request(), metadata=self._metadata, wait_for_ready=True
            )

    async def _pause(self) -> None:
        """Waits :meth:`_pause_seconds` before calling again, or until closed meanwhile."""
        delay = self._pause_seconds()
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)


async def open_async_watch(
    start: _StartWatch[_AsyncResponseStream],
    request: claim_service_pb2.WatchClaimsRequest,
    *,
    metadata: tuple[tuple[str, str], ...] | None,
    backoff: RetryPolicy,
) -> AsyncClaimWatch:
    """Starts an :class:`AsyncClaimWatch` and returns it once the server has answered; a
    failure of that first call (a wrong target, a bad cursor) is raised here."""
    watch = AsyncClaimWatch(start, request, metadata=metadata, backoff=backoff)
    await watch._first_response()
    return watch
