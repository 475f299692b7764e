"""The ClaimService servicer: checks each request, asks the store, shapes the reply.

It holds no SQL and no error mapping of its own: requests are checked by
``_validation``, data comes from a :class:`~claimstore_server.store.ClaimStore`,
and errors become statuses in ``_status``.

Point calls run on the server's event loop and call the store directly: they
are index lookups of tens to hundreds of microseconds, and keeping that Python
work on one thread spares the server the contention for the GIL that a pool of
worker threads suffers (see the README's performance section). Bulk work
(import batches, export pages) takes milliseconds a piece, so it runs on a
thread of its own while the loop goes on serving; so do searches, which may take
much longer for common words, and the reads of watches (see ``_changes``).

Every write tells the change feed, so that watches wake as soon as it is
committed.
"""

import asyncio
import contextlib
import dataclasses
import functools
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from claimstore.v1 import claim_service_pb2, claim_service_pb2_grpc
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker

from . import _ids, _pagination, _updates, _validation
from ._changes import EVERY_CLAIM, ChangeFeed, decode_cursor, encode_cursor, watch_events
from ._search import parse_search_query, search_key
from ._status import Context, import_error, reports_errors, reports_stream_errors
from .store import (
    ChangeNote,
    ClaimCursor,
    ClaimDraft,
    ClaimOrder,
    ClaimQuery,
    ClaimStore,
    ImportOutcome,
    NotFoundError,
    Page,
    SearchCursor,
    Snapshot,
    UnavailableError,
    Workload,
)

_EXPORT_BATCH = 256
_WATCH_BATCH = 256
_WATCH_PROGRESS_SECONDS = 1.0
_IMPORT_QUEUE_BATCHES = 32
"""Checked ImportClaims batches waiting to be written: enough to fill the next group, few
enough that a client sending faster than the store writes is held back by flow control."""
_IMPORT_GROUP_CLAIMS = 16_000
"""The most claims (of whole batches) an ImportClaims transaction takes. A transaction writes
every index page its claims land on, and on a store of 100,000 claims 8,000 random inserts
already land on nearly every page of the claims' indexes: twice the claims a transaction
wrote about the same pages, for 7 to 10% less CPU a claim (and 45 MB more memory at most)."""
_SEARCH_PAGE_SIZE = 20
_MAX_SEARCH_PAGE_SIZE = 100

T = TypeVar("T")


class ClaimServicer(claim_service_pb2_grpc.ClaimServiceServicer):
    """Serves claimstore.v1.ClaimService over a store."""

    def __init__(self, store: ClaimStore, *, max_response_bytes: int) -> None:
        self._store = store
        # Bulk work (import batches, export pages) runs here, one piece at a time: off the
        # event loop, so that other calls go on, and on one thread (one database connection),
        # as SQLite takes one writer at a time anyway.
        self._bulk = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="claimstore-bulk",
            initializer=store.use_thread_for,
            initargs=(Workload.BULK,),
        )
        # Point writes run here, one at a time: a write waits for SQLite's write lock while an
        # import's transaction holds it (a group of claims may take a second or more), and
        # waiting on the event loop would hold up every other call and the health checks.
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claimstore-write")
        # Searches for common words rank every match and may take a good part of a second on
        # a large store: they run here, so that they never hold up the event loop.
        self._searches = ThreadPoolExecutor(
            max_workers=2,
            thread_name_prefix="claimstore-search",
            initializer=store.use_thread_for,
            initargs=(Workload.SEARCH,),
        )
        # Room for the page token and the message framing around the claims.
        self._page_budget = max_response_bytes - 4096
        # The change feed reads the log on a thread of its own; watches that read it
        # themselves (catching up, filtered, full view) on another.
        self._feed_reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claimstore-feed")
        self._watch_reads = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="claimstore-watch",
            # A watch catching up may read the whole log: bulk reading, through its own cache.
            initializer=store.use_thread_for,
            initargs=(Workload.BULK,),
        )
        self._changes = ChangeFeed(store, self._feed_reads, max_response_bytes=self._page_budget)
        # Set once the server stops: imports then end after the group they are writing.
        self._stopping = asyncio.Event()

    async def _in_bulk_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._bulk, work, *args)

    async def _in_write_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writes, work, *args)

    async def stop_streams(self) -> None:
        """Ends every watch with UNAVAILABLE, and every import once the group it is writing
        is answered: a watch never ends by itself, nor an import whose client keeps it open,
        and a server that stops must not wait for them."""
        self._stopping.set()
        await self._changes.close()

    def close(self) -> None:
        """Waits for the bulk work, writes, searches and watch reads under way, ends the threads."""
        self._bulk.shutdown(wait=True)
        self._writes.shutdown(wait=True)
        self._searches.shutdown(wait=True)
        self._feed_reads.shutdown(wait=True)
        self._watch_reads.shutdown(wait=True)

    @reports_errors
    async def CreateClaim(
        self, request: claim_service_pb2.CreateClaimRequest, context: Context
    ) -> Claim:
        draft = _validation.claim_draft(request)
        actor = _validation.actor(context.invocation_metadata())
        claim = await self._in_write_thread(
            functools.partial(self._store.create_claim, draft, actor=actor)
        )
        self._changes.changed()
        return claim

    @reports_errors
    async def GetClaim(self, request: claim_service_pb2.GetClaimRequest, context: Context) -> Claim:
        claim_id = _validation.resource_id(request.id, _ids.CLAIM_PREFIX)
        full = _validation.full_view(request.view, default_full=True)
        revision = _validation.revision_number(request.revision)
        return self._store.get_claim(claim_id, full=full, revision=revision)

    @reports_errors
    async def UpdateClaim(
        self, request: claim_service_pb2.UpdateClaimRequest, context: Context
    ) -> Claim:
        claim_id = _validation.resource_id(request.claim.id, _ids.CLAIM_PREFIX, "claim.id")
        paths = _updates.claim_paths(request)
        reason = _validation.change_reason(request.reason)
        actor = _validation.actor(context.invocation_metadata())
        note = ChangeNote(actor, reason, paths, request.claim.etag)
        return await self._revise(
            claim_id,
            lambda current: _updates.revised_claim(current, request.claim, paths),
            note,
            claim_field="claim.id",
        )

    @reports_errors
    async def AddCitation(
        self, request: claim_service_pb2.AddCitationRequest, context: Context
    ) -> Claim:
        claim_id = _validation.resource_id(request.claim_id, _ids.CLAIM_PREFIX, "claim_id")
        _validation.citation_draft(request.citation if request.HasField("citation") else None)
        reason = _validation.change_reason(request.reason)
        actor = _validation.actor(context.invocation_metadata())
        note = ChangeNote(actor, reason, ("citations",), request.etag)
        return await self._revise(
            claim_id,
            lambda current: _validation.cited_claim(current, request.citation),
            note,
            claim_field="claim_id",
            source_field="citation.source_id",
            unique_citations=True,
        )

    @reports_errors
    async def RemoveCitation(
        self, request: claim_service_pb2.RemoveCitationRequest, context: Context
    ) -> Claim:
        claim_id = _validation.resource_id(request.claim_id, _ids.CLAIM_PREFIX, "claim_id")
        source_id = _validation.resource_id(request.source_id, _ids.SOURCE_PREFIX, "source_id")
        role = _validation.citation_role(request.role)
        reason = _validation.change_reason(request.reason)
        actor = _validation.actor(context.invocation_metadata())
        note = ChangeNote(actor, reason, ("citations",), request.etag)

        def uncited(current: Claim) -> Claim:
            revised = _validation.uncited_claim(current, source_id, role)
            if len(revised.citations) == len(current.citations):
                raise NotFoundError("citation", source_id, "source_id")
            return revised

        return await self._revise(claim_id, uncited, note, claim_field="claim_id")

    async def _revise(
        self,
        claim_id: str,
        revise: Callable[[Claim], Claim],
        note: ChangeNote,
        *,
        claim_field: str,
        source_field: str = "",
        unique_citations: bool = False,
    ) -> Claim:
        """Stores the claim as ``revise`` changes it, checked as a whole claim, as its next
        revision. The store calls ``revise`` on the claim as it is inside the write's
        transaction, so that no other write comes in between.

        ``claim_field`` is the request's field of the claim's id, and ``source_field`` the one
        of the source a request adds (when not among the revised claim's citations): a claim
        or source not found is reported as the request names it."""

        def draft(current: Claim) -> ClaimDraft:
            revised = revise(current)
            return _validation.claim_draft(claim_service_pb2.CreateClaimRequest(claim=revised))

        with _named_as_requested(claim=claim_field, source=source_field):
            claim = await self._in_write_thread(
                functools.partial(
                    self._store.update_claim,
                    claim_id,
                    draft,
                    note,
                    unique_citations=unique_citations,
                )
            )
        self._changes.changed()
        return claim

    @reports_errors
    async def DeleteClaim(
        self, request: claim_service_pb2.DeleteClaimRequest, context: Context
    ) -> Claim:
        claim_id = _validation.resource_id(request.id, _ids.CLAIM_PREFIX)
        deletion = _validation.deletion_draft(request.deletion)
        actor = _validation.actor(context.invocation_metadata())
        note = ChangeNote(actor, deletion.note, etag=request.etag)
        claim = await self._in_write_thread(self._store.delete_claim, claim_id, deletion, note)
        self._changes.changed()
        return claim

    @reports_errors
    async def UndeleteClaim(
        self, request: claim_service_pb2.UndeleteClaimRequest, context: Context
    ) -> Claim:
        claim_id = _validation.resource_id(request.id, _ids.CLAIM_PREFIX)
        reason = _validation.change_reason(request.reason)
        actor = _validation.actor(context.invocation_metadata())
        claim = await self._in_write_thread(
            self._store.undelete_claim, claim_id, ChangeNote(actor, reason, etag=request.etag)
        )
        self._changes.changed()
        return claim

    @reports_errors
    async def ListClaimRevisions(
        self, request: claim_service_pb2.ListClaimRevisionsRequest, context: Context
    ) -> claim_service_pb2.ListClaimRevisionsResponse:
        claim_id = _validation.resource_id(request.claim_id, _ids.CLAIM_PREFIX, "claim_id")
        limit = _pagination.page_size(request.page_size)
        full = _validation.full_view(request.view, default_full=False)
        digest = _pagination.query_digest("revisions", claim_id, full)
        position = _pagination.decode_token(
            request.page_token, digest, mismatch=_pagination.other_query("the claim_id and view")
        )
        after_revision = 0
        if position is not None:
            match position:
                case [int(revision)] if revision > 0:
                    after_revision = revision
                case _:
                    raise _pagination.position_error()
        with _named_as_requested(claim="claim_id"):
            page = self._store.list_claim_revisions(
                claim_id,
                after_revision=after_revision,
                limit=limit,
                full=full,
                max_bytes=self._page_budget,
            )
        revisions = _pagination.fit_in(page.items, self._page_budget)
        response = claim_service_pb2.ListClaimRevisionsResponse(revisions=revisions)
        if page.has_more or len(revisions) < len(page.items):
            response.next_page_token = _pagination.encode_token([revisions[-1].revision], digest)
        return response

    @reports_stream_errors
    async def WatchClaims(
        self, request: claim_service_pb2.WatchClaimsRequest, context: Context
    ) -> AsyncIterator[claim_service_pb2.WatchClaimsResponse]:
        query = _validation.claim_query(request.filter, show_deleted=True)
        full = _validation.full_view(request.view, default_full=False)
        log_id = self._store.change_log_id
        head = self._changes.head()
        after = decode_cursor(request.after_cursor, log_id, head) if request.after_cursor else head
        yield claim_service_pb2.WatchClaimsResponse(cursor=encode_cursor(log_id, after))
        # A watch of every claim in the basic view takes its events from the feed's tail.
        shared = query == EVERY_CLAIM and not full
        reported, reported_at = after, time.monotonic()
        while True:
            from_tail = self._changes.tail_response(after, _WATCH_BATCH) if shared else None
            if from_tail is not None:
                response, after, more = from_tail.response, from_tail.ends_at, from_tail.more
            else:
                response, after, more = await self._read_changes(after, query, full)
            # A filter may skip changes for long: the client still hears how far the watch
            # has read, now and then, so that it resumes from there.
            if response.events or (
                after > reported and time.monotonic() - reported_at >= _WATCH_PROGRESS_SECONDS
            ):
                yield response
                reported, reported_at = after, time.monotonic()
            if not more:
                await self._changes.wait_beyond(after)

    async def _read_changes(
        self, after: int, query: ClaimQuery, full: bool
    ) -> tuple[claim_service_pb2.WatchClaimsResponse, int, bool]:
        """Reads the log for one watch: its response, the position it ends at, and whether
        more may follow at once."""
        read = functools.partial(
            self._store.read_changes,
            after,
            query,
            limit=_WATCH_BATCH,
            full=full,
            max_bytes=self._page_budget,
        )
        page = await asyncio.get_running_loop().run_in_executor(self._watch_reads, read)
        log_id = self._store.change_log_id
        events = _pagination.fit_in(watch_events(log_id, page), self._page_budget)
        cut_short = len(events) < len(page.events)
        ends_at = page.events[len(events) - 1].seq if cut_short else page.last_seq
        response = claim_service_pb2.WatchClaimsResponse(
            events=events, cursor=encode_cursor(log_id, ends_at)
        )
        return response, ends_at, page.has_more or cut_short

    @reports_errors
    async def ListClaims(
        self, request: claim_service_pb2.ListClaimsRequest, context: Context
    ) -> claim_service_pb2.ListClaimsResponse:
        query = _validation.claim_query(request.filter, show_deleted=request.show_deleted)
        order = _validation.claim_order(request.order_by)
        limit = _pagination.page_size(request.page_size)
        full = _validation.full_view(request.view, default_full=False)
        digest = _pagination.query_digest("claims", query, order)
        position = _pagination.decode_token(request.page_token, digest)
        after = None
        if position is not None:
            match position:
                case [int(stated_at_us), str(claim_id)] if (
                    _validation.MIN_MICROS <= stated_at_us <= _validation.MAX_MICROS
                    and _ids.is_well_formed(claim_id, _ids.CLAIM_PREFIX)
                ):
                    after = ClaimCursor(stated_at_us, claim_id)
                case _:
                    raise _pagination.position_error()
        response = claim_service_pb2.ListClaimsResponse()
        page = self._store.list_claims(
            query, order=order, after=after, limit=limit, full=full, into=response.claims
        )
        has_more = page.has_more
        # Each claim is a field of the response: its bytes and at most 6 of tag and length.
        size = page.encoded_bytes
        size = response.ByteSize() if size is None else size + 6 * len(page.items)
        if size > self._page_budget:
            kept = _pagination.fit_in(page.items, self._page_budget)
            del response.claims[len(kept) :]
            has_more = True
        if has_more:
            last = response.claims[-1]
            response.next_page_token = _pagination.encode_token(
                [last.stated_at.ToMicroseconds(), last.id], digest
            )
        return response

    @reports_errors
    async def SearchClaims(
        self, request: claim_service_pb2.SearchClaimsRequest, context: Context
    ) -> claim_service_pb2.SearchClaimsResponse:
        search = parse_search_query(request.query)
        query = _validation.claim_query(request.filter, show_deleted=request.show_deleted)
        limit = _pagination.page_size(
            request.page_size, default=_SEARCH_PAGE_SIZE, maximum=_MAX_SEARCH_PAGE_SIZE
        )
        full = _validation.full_view(request.view, default_full=False)
        markers = _validation.snippet_markers(request.snippet_start, request.snippet_end)
        digest = _pagination.query_digest("search", search_key(search), query)
        position = _pagination.decode_token(
            request.page_token,
            digest,
            mismatch=_pagination.other_query("the query, filter and show_deleted"),
        )
        after = None
        if position is not None:
            match position:
                case [float(score) | int(score), str(claim_id)] if math.isfinite(
                    score
                ) and _ids.is_well_formed(claim_id, _ids.CLAIM_PREFIX):
                    after = SearchCursor(float(score), claim_id)
                case _:
                    raise _pagination.position_error()
        page = await asyncio.get_running_loop().run_in_executor(
            self._searches,
            functools.partial(
                self._store.search_claims,
                search,
                query,
                after=after,
                limit=limit,
                full=full,
                snippet_markers=markers,
            ),
        )
        results = [
            claim_service_pb2.SearchResult(claim=hit.claim, score=hit.score, snippet=hit.snippet)
            for hit in page.items
        ]
        kept = _pagination.fit_in(results, self._page_budget)
        response = claim_service_pb2.SearchClaimsResponse(results=kept)
        if page.has_more or len(kept) < len(results):
            last = kept[-1]
            response.next_page_token = _pagination.encode_token([last.score, last.claim.id], digest)
        return response

    @reports_stream_errors
    async def ImportClaims(
        self, requests: AsyncIterator[claim_service_pb2.ImportClaimsRequest], context: Context
    ) -> AsyncIterator[claim_service_pb2.ImportClaimsResponse]:
        actor = _validation.actor(context.invocation_metadata())
        # A reader task checks the batches as they arrive while the bulk thread writes the
        # ones before. Both checking and the first part of writing a group (settling each
        # claim, building its rows) are Python, and only take turns on the interpreter's
        # lock; so the reader waits until a group is left to SQLite (see _write_group).
        checked: asyncio.Queue[_CheckedBatch | BaseException | None] = asyncio.Queue(
            maxsize=_IMPORT_QUEUE_BATCHES
        )
        may_check = asyncio.Event()
        may_check.set()
        reader = asyncio.create_task(_check_batches(requests, checked, may_check))
        try:
            done = False
            while not done:
                group: list[_CheckedBatch] = []
                end: BaseException | None = None
                item = await self._next_checked(checked)
                while True:
                    if item is None or isinstance(item, BaseException):
                        done, end = True, item
                        break
                    group.append(item)
                    claims = sum(len(batch.drafts) for batch in group)
                    if claims >= _IMPORT_GROUP_CLAIMS or checked.empty():
                        break
                    item = checked.get_nowait()
                if group:
                    may_check.clear()
                    try:
                        written = await self._write_group(group, actor, may_check)
                    finally:
                        may_check.set()
                    for response in written:
                        yield response
                if end is not None:
                    raise end
        finally:
            reader.cancel()

    async def _next_checked(
        self, checked: "asyncio.Queue[_CheckedBatch | BaseException | None]"
    ) -> "_CheckedBatch | BaseException | None":
        """The next item of ``checked``, waiting for it; an UnavailableError instead once
        the server is stopping (the batches queued are then not stored, nor answered)."""
        if checked.empty() and not self._stopping.is_set():
            getter = asyncio.ensure_future(checked.get())
            stopper = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait((getter, stopper), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                return getter.result()
        if self._stopping.is_set():
            return UnavailableError(
                "the server is shutting down; the batches answered are stored: import the"
                " rest again (the claims stored already are found, not stored twice)"
            )
        return checked.get_nowait()

    async def _write_group(
        self, group: list["_CheckedBatch"], actor: str, left_to_sqlite: asyncio.Event
    ) -> list[claim_service_pb2.ImportClaimsResponse]:
        """Stores the checked claims of ``group`` in one transaction; returns each batch's
        response. Sets ``left_to_sqlite`` once the rest of the write is SQLite's.

        The batches that arrived while the previous group was being written go
        together: a transaction's cost is mostly the index pages it touches, and
        consecutive batches touch many of the same. Each batch is still stored
        whole in one transaction, and answered only once that has committed.
        """
        drafts = [draft for batch in group for draft in batch.drafts]
        # Bulk work: it runs on a worker thread, so other calls go on meanwhile. A call
        # cancelled while the thread writes leaves it running: it rolls back instead of
        # committing, so that the import keeps exactly the batches it answered.
        cancelled = threading.Event()
        loop = asyncio.get_running_loop()

        def hand_over() -> None:
            # A loop closed meanwhile (the server stopped) has no reader left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(left_to_sqlite.set)

        stored: list[ImportOutcome] = []
        try:
            if drafts:
                write = functools.partial(
                    self._store.import_claims,
                    drafts,
                    actor=actor,
                    abandoned=cancelled.is_set,
                    left_to_sqlite=hand_over,
                )
                stored = await self._in_bulk_thread(write)
                self._changes.changed()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        outcomes = iter(stored)
        return [batch.response(outcomes) for batch in group]

    @reports_stream_errors
    async def ExportClaims(
        self, request: claim_service_pb2.ExportClaimsRequest, context: Context
    ) -> AsyncIterator[claim_service_pb2.ExportClaimsResponse]:
        query = _validation.claim_query(request.filter, show_deleted=request.show_deleted)
        order = ClaimOrder(descending=False)
        after = None
        # Every page is read from one snapshot: a claim changed while the export runs is
        # exported once, as it was when the export began, and one created meanwhile not at all.
        pages = _SnapshotPages(self._store)
        try:
            while True:
                # Bulk work, on a worker thread; one batch in memory at a time.
                response = claim_service_pb2.ExportClaimsResponse()
                page = await self._in_bulk_thread(
                    functools.partial(
                        pages.list_claims,
                        query,
                        order=order,
                        after=after,
                        limit=_EXPORT_BATCH,
                        full=True,
                        into=response.claims,
                    )
                )
                claims = _pagination.fit_in(page.items, self._page_budget)
                del response.claims[len(claims) :]
                if claims:
                    yield response
                if not page.has_more and len(claims) == len(page.items):
                    return
                last = claims[-1]
                after = ClaimCursor(last.stated_at.ToMicroseconds(), last.id)
        finally:
            # Queued on the bulk thread after the page it may still be reading (a cancelled
            # call stops waiting for its page, not the thread); shielded, as the call may be
            # cancelled again meanwhile.
            await asyncio.shield(self._in_bulk_thread(pages.close))

    @reports_errors
    async def CreateSpeaker(
        self, request: claim_service_pb2.CreateSpeakerRequest, context: Context
    ) -> Speaker:
        return await self._in_write_thread(
            self._store.create_speaker, _validation.speaker_draft(request)
        )

    @reports_errors
    async def GetSpeaker(
        self, request: claim_service_pb2.GetSpeakerRequest, context: Context
    ) -> Speaker:
        return self._store.get_speaker(_validation.resource_id(request.id, _ids.SPEAKER_PREFIX))

    @reports_errors
    async def UpdateSpeaker(
        self, request: claim_service_pb2.UpdateSpeakerRequest, context: Context
    ) -> Speaker:
        speaker = request.speaker
        speaker_id = _validation.resource_id(speaker.id, _ids.SPEAKER_PREFIX, "speaker.id")
        paths = _updates.speaker_paths(request)
        # On the bulk thread: new names are indexed anew for every claim of the speaker,
        # which may be many, and the calls on the event loop go on meanwhile.
        return await self._in_bulk_thread(
            self._store.update_speaker,
            speaker_id,
            lambda current: _updates.revised_speaker(current, speaker, paths),
            speaker.etag,
        )

    @reports_errors
    async def ListSpeakers(
        self, request: claim_service_pb2.ListSpeakersRequest, context: Context
    ) -> claim_service_pb2.ListSpeakersResponse:
        limit = _pagination.page_size(request.page_size)
        name_prefix = _validation.name_prefix(request.name_prefix)
        collection = f"speakers {name_prefix}"
        after_id = _after_id(
            request.page_token,
            collection,
            _ids.SPEAKER_PREFIX,
            _pagination.other_query("the name_prefix"),
        )
        page = self._store.list_speakers(after_id=after_id, limit=limit, name_prefix=name_prefix)
        return claim_service_pb2.ListSpeakersResponse(
            speakers=page.items,
            next_page_token=_next_id_token(page.has_more, page.items, collection),
        )

    @reports_errors
    async def CreateSource(
        self, request: claim_service_pb2.CreateSourceRequest, context: Context
    ) -> Source:
        return await self._in_write_thread(
            self._store.create_source, _validation.source_draft(request)
        )

    @reports_errors
    async def GetSource(
        self, request: claim_service_pb2.GetSourceRequest, context: Context
    ) -> Source:
        return self._store.get_source(_validation.resource_id(request.id, _ids.SOURCE_PREFIX))

    @reports_errors
    async def UpdateSource(
        self, request: claim_service_pb2.UpdateSourceRequest, context: Context
    ) -> Source:
        source = request.source
        source_id = _validation.resource_id(source.id, _ids.SOURCE_PREFIX, "source.id")
        paths = _updates.source_paths(request)
        return await self._in_write_thread(
            self._store.update_source,
            source_id,
            lambda current: _updates.revised_source(current, source, paths),
            source.etag,
        )

    @reports_errors
    async def ListSources(
        self, request: claim_service_pb2.ListSourcesRequest, context: Context
    ) -> claim_service_pb2.ListSourcesResponse:
        limit = _pagination.page_size(request.page_size)
        after_id = _after_id(
            request.page_token,
            "sources",
            _ids.SOURCE_PREFIX,
            "was not issued by ListSources: pass the next_page_token of its last page",
        )
        page = self._store.list_sources(after_id=after_id, limit=limit)
        return claim_service_pb2.ListSourcesResponse(
            sources=page.items,
            next_page_token=_next_id_token(page.has_more, page.items, "sources"),
        )


class _SnapshotPages:
    """Pages of claims read from one snapshot of ``store``, opened by the first page and
    closed by :meth:`close`. Both run on the bulk thread, one job after the other: a call
    cancelled while its snapshot opens still closes it."""

    def __init__(self, store: ClaimStore) -> None:
        self._store = store
        self._snapshot: Snapshot | None = None

    def list_claims(self, query: ClaimQuery, **page: Any) -> Page[Claim]:
        if self._snapshot is None:
            self._snapshot = self._store.open_snapshot()
        return self._store.list_claims(query, snapshot=self._snapshot, **page)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()


@contextlib.contextmanager
def _named_as_requested(*, claim: str, source: str = "") -> Iterator[None]:
    """Reports a claim (or source) not found by the request's field ``claim`` (``source``).

    The store names what it did not find by its place in a claim: a claim by "id", a
    source by the citation in the revised claim ("claim.citations[2].source_id"), which
    is not always what the request calls it ("claim_id", "citation.source_id")."""
    try:
        yield
    except NotFoundError as error:
        renamed = {"claim": claim, "source": source}.get(error.resource_type)
        if not renamed:
            raise
        raise dataclasses.replace(error, field=renamed) from error


def _after_id(page_token: str, collection: str, prefix: str, mismatch: str) -> str:
    """Returns the id a listing by id continues after ("" for the first page); a token of
    another listing is refused, saying ``mismatch``."""
    position = _pagination.decode_token(
        page_token, _pagination.query_digest(collection), mismatch=mismatch
    )
    if position is None:
        return ""
    match position:
        case [str(after_id)] if _ids.is_well_formed(after_id, prefix):
            return after_id
        case _:
            raise _pagination.position_error()


def _next_id_token(has_more: bool, items: list[Speaker] | list[Source], collection: str) -> str:
    if not has_more:
        return ""
    return _pagination.encode_token([items[-1].id], _pagination.query_digest(collection))


@dataclass(slots=True)
class _CheckedBatch:
    """One ImportClaims batch, checked: the drafts of its good claims, in order, and the
    errors of the others by their position in the batch."""

    first_index: int
    size: int
    drafts: list[ClaimDraft] = field(default_factory=list)
    failures: dict[int, claim_service_pb2.ImportError] = field(default_factory=dict)

    def response(self, outcomes: Iterator[ImportOutcome]) -> claim_service_pb2.ImportClaimsResponse:
        """The batch's response: a result for each claim, in order, taking what the store did
        with each draft from ``outcomes``. Each result is made in place in the response."""
        response = claim_service_pb2.ImportClaimsResponse()
        add = response.results.add
        for position in range(self.size):
            index = self.first_index + position
            failure = self.failures.get(position)
            if failure is not None:
                add(index=index, outcome=claim_service_pb2.IMPORT_OUTCOME_FAILED, error=failure)
                continue
            outcome = next(outcomes)
            if outcome.error is not None:
                add(
                    index=index,
                    outcome=claim_service_pb2.IMPORT_OUTCOME_FAILED,
                    error=import_error(outcome.error),
                )
            else:
                add(
                    index=index,
                    claim_id=outcome.claim_id,
                    outcome=_CREATED if outcome.created else _ALREADY_EXISTS,
                )
        return response


_CREATED = claim_service_pb2.IMPORT_OUTCOME_CREATED
_ALREADY_EXISTS = claim_service_pb2.IMPORT_OUTCOME_ALREADY_EXISTS


def _check_batch(batch: claim_service_pb2.ImportClaimsRequest, first_index: int) -> _CheckedBatch:
    _validation.import_batch(batch)
    checked = _CheckedBatch(first_index, len(batch.claims))
    draft = _validation.claim_draft
    for position, item in enumerate(batch.claims):
        try:
            checked.drafts.append(draft(item))
        except _validation.ValidationError as error:
            checked.failures[position] = import_error(error)
    return checked


async def _check_batches(
    requests: AsyncIterator[claim_service_pb2.ImportClaimsRequest],
    checked: "asyncio.Queue[_CheckedBatch | BaseException | None]",
    may_check: asyncio.Event,
) -> None:
    """Checks each batch of ``requests`` into ``checked``, each once ``may_check`` is set;
    then None, or the error that ended the stream (a bad batch, a broken stream), after the
    batches before it."""
    index = 0
    try:
        async for batch in requests:
            await may_check.wait()
            await checked.put(_check_batch(batch, index))
            index += len(batch.claims)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        await checked.put(error)
        return
    await checked.put(None)
