"""WatchClaims through the raw stub: events in commit order with cursors, resuming exactly
once after a disconnect, filters, several watchers, bad cursors, and server shutdown."""

import asyncio
import base64
import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from claimstore.v1 import claim_filter_pb2, claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore.v1.claim_revision_pb2 import (
    CHANGE_TYPE_CREATED,
    CHANGE_TYPE_DELETED,
    CHANGE_TYPE_UNDELETED,
    CHANGE_TYPE_UPDATED,
)
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server import ClaimServer
from claimstore_server._changes import ChangeFeed
from claimstore_server._validation import claim_draft
from claimstore_server.store import SqliteStore
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import call_error, invalid_fields, start_server

NOV_20 = 1_763_596_800
WAIT_S = 10.0


class Watch:
    """A WatchClaims stream read on a thread of its own, its responses queued."""

    def __init__(self, stub: ClaimServiceStub, **request: object) -> None:
        self.call = stub.WatchClaims(claim_service_pb2.WatchClaimsRequest(**request))  # type: ignore[arg-type]
        self.responses: queue.Queue[claim_service_pb2.WatchClaimsResponse] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.cursor = self.next_response().cursor

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.ended.set()

    def next_response(self) -> claim_service_pb2.WatchClaimsResponse:
        response = self.responses.get(timeout=WAIT_S)
        self.cursor = response.cursor
        return response

    def events(self, count: int) -> list[claim_service_pb2.ClaimEvent]:
        """The next ``count`` events, waiting for them."""
        events: list[claim_service_pb2.ClaimEvent] = []
        while len(events) < count:
            events.extend(self.next_response().events)
        assert len(events) == count, "no more events than expected"
        return events

    def quiet(self, seconds: float = 0.3) -> bool:
        """Whether no event comes for ``seconds``."""
        try:
            response = self.responses.get(timeout=seconds)
        except queue.Empty:
            return True
        return not response.events

    def close(self) -> None:
        self.call.cancel()
        self.ended.wait(WAIT_S)


def create(stub: ClaimServiceStub, text: str, speaker: str = "Dmitry Peskov") -> claim_pb2.Claim:
    return stub.CreateClaim(
        claim_service_pb2.CreateClaimRequest(
            claim=claim_pb2.Claim(
                text=text,
                attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
                speaker=speaker_pb2.Speaker(display_name=speaker),
                stated_at=Timestamp(seconds=NOV_20),
            )
        )
    )


def test_a_watch_sees_each_change_in_commit_order(stub: ClaimServiceStub) -> None:
    watch = Watch(stub)
    try:
        assert watch.cursor
        claim = create(stub, "Consultations are not under way")
        updated = stub.UpdateClaim(
            claim_service_pb2.UpdateClaimRequest(
                claim=claim_pb2.Claim(id=claim.id, channel="briefing"),
                update_mask=FieldMask(paths=["channel"]),
            )
        )
        stub.DeleteClaim(
            claim_service_pb2.DeleteClaimRequest(
                id=claim.id,
                deletion=claim_pb2.Deletion(reason=claim_pb2.DELETION_REASON_DUPLICATE),
            )
        )
        stub.UndeleteClaim(claim_service_pb2.UndeleteClaimRequest(id=claim.id))
        events = watch.events(4)
        assert [e.revision.change_type for e in events] == [
            CHANGE_TYPE_CREATED,
            CHANGE_TYPE_UPDATED,
            CHANGE_TYPE_DELETED,
            CHANGE_TYPE_UNDELETED,
        ]
        assert [e.revision.revision for e in events] == [1, 2, 3, 4]
        assert {e.revision.claim.id for e in events} == {claim.id}
        assert events[1].revision.claim.channel == "briefing"
        assert events[1].revision.claim.etag == updated.etag
        assert events[2].revision.claim.HasField("delete_time")
        assert len({e.cursor for e in events}) == 4
        assert watch.quiet()
    finally:
        watch.close()


def test_a_watch_resumes_from_its_cursor_exactly_once(stub: ClaimServiceStub) -> None:
    watch = Watch(stub)
    first = create(stub, "Before the disconnect")
    (event,) = watch.events(1)
    assert event.revision.claim.id == first.id
    watch.close()

    written = [create(stub, f"Claim number {number}").id for number in range(500)]

    resumed = Watch(stub, after_cursor=event.cursor)
    try:
        events = resumed.events(500)
        assert [e.revision.claim.id for e in events] == written
        assert resumed.quiet()
        later = create(stub, "After the reconnect")
        (live,) = resumed.events(1)
        assert live.revision.claim.id == later.id
    finally:
        resumed.close()


def test_a_cursor_of_a_response_resumes_there(stub: ClaimServiceStub) -> None:
    watch = Watch(stub)
    start = watch.cursor
    watch.close()
    made = create(stub, "Made while nobody watched")
    resumed = Watch(stub, after_cursor=start)
    try:
        (event,) = resumed.events(1)
        assert event.revision.claim.id == made.id
    finally:
        resumed.close()


def test_a_watch_from_now_skips_earlier_changes(stub: ClaimServiceStub) -> None:
    create(stub, "Before the watch")
    watch = Watch(stub)
    try:
        assert watch.quiet()
        after = create(stub, "After the watch began")
        (event,) = watch.events(1)
        assert event.revision.claim.id == after.id
    finally:
        watch.close()


def test_a_filter_narrows_the_events(stub: ClaimServiceStub) -> None:
    watch = Watch(stub, filter=claim_filter_pb2.ClaimFilter(speaker="Rubio"))
    try:
        create(stub, "Peskov words", speaker="Dmitry Peskov")
        rubio = create(stub, "Rubio words", speaker="Marco Rubio")
        create(stub, "More Peskov words", speaker="Dmitry Peskov")
        (event,) = watch.events(1)
        assert event.revision.claim.id == rubio.id
        assert watch.quiet()
    finally:
        watch.close()


def test_several_watchers_each_get_every_event(stub: ClaimServiceStub) -> None:
    watches = [Watch(stub) for _ in range(3)]
    try:
        made = [create(stub, f"Shared claim {number}").id for number in range(20)]
        for watch in watches:
            assert [e.revision.claim.id for e in watch.events(20)] == made
    finally:
        for watch in watches:
            watch.close()


def test_imports_are_watched(stub: ClaimServiceStub) -> None:
    watch = Watch(stub, view=claim_service_pb2.CLAIM_VIEW_FULL)
    try:
        requests = [
            claim_service_pb2.CreateClaimRequest(
                claim=claim_pb2.Claim(
                    text=f"Imported {number}",
                    attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
                    speaker=speaker_pb2.Speaker(display_name="Kaja Kallas"),
                    stated_at=Timestamp(seconds=NOV_20),
                )
            )
            for number in range(30)
        ]
        list(stub.ImportClaims(iter([claim_service_pb2.ImportClaimsRequest(claims=requests)])))
        events = watch.events(30)
        assert [e.revision.claim.text for e in events] == [f"Imported {n}" for n in range(30)]
        assert {e.revision.claim.speaker.display_name for e in events} == {"Kaja Kallas"}
    finally:
        watch.close()


@pytest.mark.parametrize("cursor", ["junk", "eyJxIjoiYSIsInAiOlsiYSJdfQ", "x" * 5000])
def test_a_malformed_cursor_is_invalid(stub: ClaimServiceStub, cursor: str) -> None:
    request = claim_service_pb2.WatchClaimsRequest(after_cursor=cursor)
    assert invalid_fields(lambda: next(iter(stub.WatchClaims(request)))) == {"after_cursor"}


def test_a_cursor_of_another_database_or_from_the_future_is_invalid(
    stub: ClaimServiceStub, tmp_path: Path
) -> None:
    other = start_server(tmp_path / "other.db")
    try:
        with grpc.insecure_channel(other.target) as channel:
            other_stub = ClaimServiceStub(channel)
            create(other_stub, "A claim elsewhere")
            foreign = Watch(other_stub)
            foreign.close()
    finally:
        other.stop(0)
    request = claim_service_pb2.WatchClaimsRequest(after_cursor=foreign.cursor)
    error = call_error(lambda: next(iter(stub.WatchClaims(request))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not a cursor of this database's change log" in (error.details() or "")

    # A cursor of this database, ahead of its log.
    watch = Watch(stub)
    watch.close()
    ahead = _cursor_with_seq(watch.cursor, 10**9)
    request = claim_service_pb2.WatchClaimsRequest(after_cursor=ahead)
    error = call_error(lambda: next(iter(stub.WatchClaims(request))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ahead" in (error.details() or "")


def _cursor_with_seq(cursor: str, seq: int) -> str:
    """The same cursor with another position: cursors are opaque to clients, but a test may
    forge one to check that the server refuses it."""
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["p"] = [seq]
    encoded = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(encoded).decode().rstrip("=")


def test_server_shutdown_ends_watches_with_unavailable(tmp_path: Path) -> None:
    server: ClaimServer = start_server(tmp_path / "shutdown.db")
    with grpc.insecure_channel(server.target) as channel:
        stub = ClaimServiceStub(channel)
        watches = [Watch(stub) for _ in range(2)]
        started = time.monotonic()
        server.stop(grace=30)
        elapsed = time.monotonic() - started
        for watch in watches:
            assert watch.ended.wait(WAIT_S)
            assert watch.error is not None
            assert watch.error.code() == grpc.StatusCode.UNAVAILABLE
        assert elapsed < 10, "the server does not wait out its grace period for watches"


def test_a_slow_watcher_holds_up_neither_writers_nor_other_watchers(
    stub: ClaimServiceStub,
) -> None:
    # This one is never read until the end: the server can only buffer up to the stream's
    # flow-control window for it, then its watch waits.
    slow = stub.WatchClaims(claim_service_pb2.WatchClaimsRequest())
    first = next(slow)
    fast = Watch(stub)
    try:
        made = [
            create(stub, f"Claim {number} with some words to fill the window").id
            for number in range(1500)
        ]
        assert [e.revision.claim.id for e in fast.events(1500)] == made
        received: list[str] = []
        for response in slow:
            received.extend(event.revision.claim.id for event in response.events)
            if len(received) >= len(made):
                break
        assert first.cursor
        assert received == made
    finally:
        slow.cancel()
        fast.close()


def test_a_filtered_watch_still_hears_how_far_it_has_read(stub: ClaimServiceStub) -> None:
    watch = Watch(stub, filter=claim_filter_pb2.ClaimFilter(speaker="Rubio"))
    try:
        start = watch.cursor
        create(stub, "Peskov words", speaker="Dmitry Peskov")
        time.sleep(1.1)
        create(stub, "More Peskov words", speaker="Dmitry Peskov")
        progress = watch.next_response()
        assert list(progress.events) == []
        assert progress.cursor != start
    finally:
        watch.close()
    resumed = Watch(
        stub, filter=claim_filter_pb2.ClaimFilter(speaker="Rubio"), after_cursor=progress.cursor
    )
    try:
        rubio = create(stub, "Rubio words", speaker="Marco Rubio")
        (event,) = resumed.events(1)
        assert event.revision.claim.id == rubio.id
    finally:
        resumed.close()


def _large_claim(number: int) -> claim_service_pb2.CreateClaimRequest:
    """A claim near the largest a claim may be: some 220 KB in the change log."""
    return claim_service_pb2.CreateClaimRequest(
        claim=claim_pb2.Claim(
            text=f"Claim {number}: " + "words " * 1_600,
            attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
            speaker=speaker_pb2.Speaker(display_name="Dmitry Peskov"),
            stated_at=Timestamp(seconds=NOV_20),
            citations=[
                claim_pb2.Citation(
                    source=source_pb2.Source(url=f"https://news.example/{index}"),
                    excerpt="e" * 2_000,
                )
                for index in range(100)
            ],
        )
    )


def test_the_feeds_tail_is_bounded_in_bytes_as_well_as_in_events(tmp_path: Path) -> None:
    # The tail keeps the last 4,096 events: of claims this large, 900 MB of the server's
    # memory, for a few thousand edits of one claim. It keeps no more than its bytes allow,
    # and the watches behind it read the log.
    store = SqliteStore(tmp_path / "feed.db")
    reads = ThreadPoolExecutor(max_workers=1)

    async def follow() -> None:
        feed = ChangeFeed(
            store, reads, max_response_bytes=4 << 20, tail_bytes=1 << 20, min_interval=0
        )
        start = feed.head()
        for number in range(30):
            store.create_claim(claim_draft(_large_claim(number)))
        feed.changed()
        head = store.change_log_head()
        await asyncio.wait_for(feed.wait_beyond(head - 1), WAIT_S)
        assert 0 < feed.tail_bytes() <= 1 << 20  # trimmed: down to tail_bytes
        assert feed.tail_response(start, 256) is None  # behind the tail: read the log
        recent = feed.tail_response(head - 2, 256)
        assert recent is not None
        assert [event.revision.claim.text[:9] for event in recent.response.events] == [
            "Claim 28:",
            "Claim 29:",
        ]
        await feed.close()

    try:
        asyncio.run(follow())
    finally:
        reads.shutdown()
        store.close()


def test_watches_behind_a_full_tail_get_every_event(stub: ClaimServiceStub) -> None:
    slow = Watch(stub)
    try:
        made = [stub.CreateClaim(_large_claim(number)).id for number in range(200)]
        received = [event.revision.claim.id for event in slow.events(200)]
        assert received == made
    finally:
        slow.close()
