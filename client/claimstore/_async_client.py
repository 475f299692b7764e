"""AsyncClient: the claimstore client for asyncio.

It takes the same arguments as :class:`~claimstore.Client`, builds the same
requests (``BaseClient``) and raises the same exceptions; only its I/O differs:
calls are awaited, listings are :class:`~claimstore.AsyncPager` objects for
``async for``, and the bulk streams are asynchronous iterators.
"""

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message

from ._base import BaseClient
from ._batches import IMPORT_CLAIMS_METHOD, batch_bytes, check_batch_size, import_batches_async
from ._config import ClientConfig, RetryPolicy
from ._exceptions import from_rpc_error
from ._pagers import AsyncPager
from ._values import UNSET, EnumLike, TimeLike, Unset
from ._watch import AsyncClaimWatch, open_async_watch
from .v1 import (
    claim_filter_pb2,
    claim_pb2,
    claim_revision_pb2,
    claim_service_pb2,
    claim_service_pb2_grpc,
    source_pb2,
    speaker_pb2,
)

Response = TypeVar("Response")

ClaimRequests = (
    Iterable[claim_service_pb2.CreateClaimRequest]
    | AsyncIterable[claim_service_pb2.CreateClaimRequest]
)
"""What :meth:`AsyncClient.import_claims` reads: a plain or an asynchronous iterable."""


class AsyncClient(BaseClient):
    """A claimstore client for asyncio.

    >>> async with AsyncClient("localhost:50051") as client:      # doctest: +SKIP
    ...     claim = await client.get_claim("clm_...")
    ...     async for found in client.list_claims(speaker="Peskov"):
    ...         print(found.text)

    Each method takes what the :class:`~claimstore.Client` method of the same
    name takes and means the same; calls are coroutines to await, listings
    are iterated with ``async for``. It may be made outside an event loop: its
    channel is opened by its first call and belongs to that call's loop, so
    use it from that loop only (one AsyncClient per loop).
    """

    def __init__(self, target: str | None = None, *, config: ClientConfig | None = None) -> None:
        super().__init__(target, config=config)
        self._connection: _Connection | None = None
        self._closed = False

    def _connected(self) -> "_Connection":
        """The channel for the running event loop: opened on the first call, as a gRPC
        channel belongs to the loop it is made in. After :meth:`close`, a ValueError, as
        :class:`~claimstore.Client`'s closed channel raises: a new channel would be one
        that nothing closes."""
        loop = asyncio.get_running_loop()
        if self._closed:
            raise ValueError("this AsyncClient is closed: make a new one")
        if self._connection is None:
            self._connection = _Connection.open(self.config, loop)
        elif self._connection.loop is not loop:
            raise RuntimeError(
                "this AsyncClient is bound to the event loop of its first call; make one"
                " AsyncClient in each event loop"
            )
        return self._connection

    @property
    def _stub(self) -> "claim_service_pb2_grpc.ClaimServiceAsyncStub":  # the .pyi's name
        return self._connected().stub

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled. A call made after it raises
        ValueError, as one of a closed :class:`~claimstore.Client` does."""
        self._closed = True
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _call(
        self, method: Callable[..., Awaitable[Response]], request: Message, timeout: float | None
    ) -> Response:
        try:
            return await method(request, timeout=self._timeout(timeout), metadata=self._metadata())
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from error

    # Claims

    async def create_claim(
        self,
        text: str,
        *,
        attribution: EnumLike,
        stated_at: TimeLike,
        speaker: str | speaker_pb2.Speaker | None = None,
        speaker_id: str | None = None,
        stated_at_precision: EnumLike | None = None,
        channel: str = "",
        language: str = "",
        topics: Iterable[str] = (),
        citations: Iterable[claim_pb2.Citation | Mapping[str, Any]] = (),
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Creates a claim and returns it; see :meth:`Client.create_claim`."""
        request = self._create_claim_request(
            text,
            attribution=attribution,
            stated_at=stated_at,
            speaker=speaker,
            speaker_id=speaker_id,
            stated_at_precision=stated_at_precision,
            channel=channel,
            language=language,
            topics=topics,
            citations=citations,
            request_id=request_id,
        )
        return await self._call(self._stub.CreateClaim, request, timeout)

    async def get_claim(
        self,
        claim_id: str,
        *,
        view: EnumLike = "full",
        revision: int = 0,
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Returns the claim with id ``claim_id``; see :meth:`Client.get_claim`."""
        request = self._get_claim_request(claim_id, view=view, revision=revision)
        return await self._call(self._stub.GetClaim, request, timeout)

    async def update_claim(
        self,
        claim_id: str,
        *,
        text: str | Unset = UNSET,
        attribution: EnumLike | Unset = UNSET,
        speaker: str | speaker_pb2.Speaker | Unset = UNSET,
        speaker_id: str | Unset = UNSET,
        stated_at: TimeLike | Unset = UNSET,
        stated_at_precision: EnumLike | Unset = UNSET,
        channel: str | Unset = UNSET,
        language: str | Unset = UNSET,
        topics: Iterable[str] | Unset = UNSET,
        citations: Iterable[claim_pb2.Citation | Mapping[str, Any]] | Unset = UNSET,
        etag: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Changes the fields given, and only those; see :meth:`Client.update_claim`."""
        request = self._update_claim_request(
            claim_id,
            text=text,
            attribution=attribution,
            speaker=speaker,
            speaker_id=speaker_id,
            stated_at=stated_at,
            stated_at_precision=stated_at_precision,
            channel=channel,
            language=language,
            topics=topics,
            citations=citations,
            etag=etag,
            reason=reason,
        )
        return await self._call(self._stub.UpdateClaim, request, timeout)

    async def delete_claim(
        self,
        claim_id: str,
        *,
        reason: EnumLike,
        note: str = "",
        etag: str | None = None,
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Deletes a claim softly and returns it; see :meth:`Client.delete_claim`."""
        request = self._delete_claim_request(claim_id, reason=reason, note=note, etag=etag)
        return await self._call(self._stub.DeleteClaim, request, timeout)

    async def undelete_claim(
        self,
        claim_id: str,
        *,
        etag: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Brings a deleted claim back; see :meth:`Client.undelete_claim`."""
        request = self._undelete_claim_request(claim_id, etag=etag, reason=reason)
        return await self._call(self._stub.UndeleteClaim, request, timeout)

    async def add_citation(
        self,
        claim_id: str,
        *,
        source_id: str | None = None,
        url: str = "",
        publisher: str = "",
        title: str = "",
        kind: EnumLike = 0,
        published_at: TimeLike | None = None,
        role: EnumLike = 0,
        excerpt: str = "",
        etag: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Adds a citation to a claim; see :meth:`Client.add_citation`."""
        request = self._add_citation_request(
            claim_id,
            source_id=source_id,
            url=url,
            publisher=publisher,
            title=title,
            kind=kind,
            published_at=published_at,
            role=role,
            excerpt=excerpt,
            etag=etag,
            reason=reason,
        )
        return await self._call(self._stub.AddCitation, request, timeout)

    async def remove_citation(
        self,
        claim_id: str,
        source_id: str,
        *,
        role: EnumLike | None = None,
        etag: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Takes a source's citations off a claim; see :meth:`Client.remove_citation`."""
        request = self._remove_citation_request(
            claim_id, source_id, role=role, etag=etag, reason=reason
        )
        return await self._call(self._stub.RemoveCitation, request, timeout)

    def list_claim_revisions(
        self,
        claim_id: str,
        *,
        view: EnumLike = "basic",
        page_size: int = 0,
        timeout: float | None = None,
    ) -> AsyncPager[claim_revision_pb2.ClaimRevision]:
        """Every revision of a claim, oldest first; see :meth:`Client.list_claim_revisions`."""
        pages = self._list_claim_revisions_pages(claim_id, view=view, page_size=page_size)

        async def fetch(page_token: str) -> tuple[list[claim_revision_pb2.ClaimRevision], str]:
            response = await self._call(self._stub.ListClaimRevisions, pages(page_token), timeout)
            return list(response.revisions), response.next_page_token

        return AsyncPager(fetch)

    async def watch_claims(
        self,
        *,
        speaker: str | None = None,
        speaker_ids: Sequence[str] = (),
        topics: Sequence[str] = (),
        publisher: str | None = None,
        source_id: str | None = None,
        attributions: Sequence[EnumLike] = (),
        since: TimeLike | None = None,
        before: TimeLike | None = None,
        language: str | None = None,
        filter: claim_filter_pb2.ClaimFilter | None = None,  # the API's own name
        after_cursor: str = "",
        view: EnumLike = "basic",
    ) -> AsyncClaimWatch:
        """Starts watching the changes to the claims that match; returns, once the server has
        answered, an :class:`~claimstore.AsyncClaimWatch` of ClaimEvents. See
        :meth:`Client.watch_claims`.

        >>> async with await client.watch_claims(speaker="Peskov") as watch:  # doctest: +SKIP
        ...     async for event in watch:
        ...         print(event.revision.change_type, event.revision.claim.text)
        """
        claim_filter = self._claim_filter(
            filter,
            speaker=speaker,
            speaker_ids=speaker_ids,
            topics=topics,
            publisher=publisher,
            source_id=source_id,
            attributions=attributions,
            since=since,
            before=before,
            language=language,
        )
        request = self._watch_claims_request(claim_filter, after_cursor=after_cursor, view=view)
        return await open_async_watch(
            self._stub.WatchClaims,
            request,
            metadata=self._metadata(),
            backoff=self.config.retry or RetryPolicy(),
        )

    def list_claims(
        self,
        *,
        speaker: str | None = None,
        speaker_ids: Sequence[str] = (),
        topics: Sequence[str] = (),
        publisher: str | None = None,
        source_id: str | None = None,
        attributions: Sequence[EnumLike] = (),
        since: TimeLike | None = None,
        before: TimeLike | None = None,
        language: str | None = None,
        filter: claim_filter_pb2.ClaimFilter | None = None,  # the API's own name
        order_by: str = "",
        view: EnumLike = "basic",
        page_size: int = 0,
        show_deleted: bool = False,
        timeout: float | None = None,
    ) -> AsyncPager[claim_pb2.Claim]:
        """The claims that match, newest statement first, for ``async for``; see
        :meth:`Client.list_claims`."""
        claim_filter = self._claim_filter(
            filter,
            speaker=speaker,
            speaker_ids=speaker_ids,
            topics=topics,
            publisher=publisher,
            source_id=source_id,
            attributions=attributions,
            since=since,
            before=before,
            language=language,
        )
        pages = self._list_claims_pages(
            claim_filter,
            order_by=order_by,
            view=view,
            page_size=page_size,
            show_deleted=show_deleted,
        )

        async def fetch(page_token: str) -> tuple[list[claim_pb2.Claim], str]:
            response = await self._call(self._stub.ListClaims, pages(page_token), timeout)
            return list(response.claims), response.next_page_token

        return AsyncPager(fetch)

    def search_claims(
        self,
        query: str,
        *,
        speaker: str | None = None,
        speaker_ids: Sequence[str] = (),
        topics: Sequence[str] = (),
        publisher: str | None = None,
        source_id: str | None = None,
        attributions: Sequence[EnumLike] = (),
        since: TimeLike | None = None,
        before: TimeLike | None = None,
        language: str | None = None,
        filter: claim_filter_pb2.ClaimFilter | None = None,  # the API's own name
        view: EnumLike = "basic",
        snippet_start: str = "",
        snippet_end: str = "",
        page_size: int = 0,
        show_deleted: bool = False,
        timeout: float | None = None,
    ) -> AsyncPager[claim_service_pb2.SearchResult]:
        """The claims that match ``query``, best first, for ``async for``; see
        :meth:`Client.search_claims`."""
        claim_filter = self._claim_filter(
            filter,
            speaker=speaker,
            speaker_ids=speaker_ids,
            topics=topics,
            publisher=publisher,
            source_id=source_id,
            attributions=attributions,
            since=since,
            before=before,
            language=language,
        )
        pages = self._search_claims_pages(
            query,
            claim_filter,
            view=view,
            snippet_start=snippet_start,
            snippet_end=snippet_end,
            page_size=page_size,
            show_deleted=show_deleted,
        )

        async def fetch(page_token: str) -> tuple[list[claim_service_pb2.SearchResult], str]:
            response = await self._call(self._stub.SearchClaims, pages(page_token), timeout)
            return list(response.results), response.next_page_token

        return AsyncPager(fetch)

    def import_claims(
        self,
        requests: ClaimRequests,
        *,
        batch_size: int = 500,
        timeout: float | None = None,
    ) -> AsyncGenerator[claim_service_pb2.ImportResult, None]:
        """Imports claims in bulk; yields one ImportResult per claim, in order. See
        :meth:`Client.import_claims`.

        ``requests`` may be a plain or an asynchronous iterable, read as the call
        needs it. To stop early, close the iterator (``contextlib.aclosing``): that
        cancels the import, and the batches whose results were yielded are kept.
        A ``batch_size`` out of range raises ValueError here.
        """
        check_batch_size(batch_size)
        return self._import_results(requests, batch_size, self._stream_timeout(timeout))

    async def _import_results(
        self, requests: ClaimRequests, batch_size: int, timeout: float | None
    ) -> AsyncGenerator[claim_service_pb2.ImportResult, None]:
        # gRPC reads the batches in a task of its own and would only log what it raises;
        # keep it, end the stream there, and raise it here once the batches sent are answered.
        raised: list[Exception] = []

        async def guarded() -> AsyncIterator[bytes]:
            try:
                limit = batch_bytes(self.config.max_message_bytes)
                async for batch in import_batches_async(requests, batch_size, limit):
                    yield batch
            except Exception as error:
                raised.append(error)

        call = self._connected().import_claims(
            guarded(), timeout=timeout, metadata=self._metadata()
        )
        try:
            async for response in call:
                for result in response.results:
                    yield result
        except grpc.aio.AioRpcError as error:
            if raised:
                raise raised[0] from error
            raise from_rpc_error(error) from error
        finally:
            call.cancel()
        if raised:
            raise raised[0]

    def export_claims(
        self,
        *,
        speaker: str | None = None,
        speaker_ids: Sequence[str] = (),
        topics: Sequence[str] = (),
        publisher: str | None = None,
        source_id: str | None = None,
        attributions: Sequence[EnumLike] = (),
        since: TimeLike | None = None,
        before: TimeLike | None = None,
        language: str | None = None,
        filter: claim_filter_pb2.ClaimFilter | None = None,  # the API's own name
        show_deleted: bool = False,
        timeout: float | None = None,
    ) -> AsyncGenerator[claim_pb2.Claim, None]:
        """Yields every claim that matches, in the full view, oldest statement first; see
        :meth:`Client.export_claims`. Closing the iterator early cancels the export."""
        claim_filter = self._claim_filter(
            filter,
            speaker=speaker,
            speaker_ids=speaker_ids,
            topics=topics,
            publisher=publisher,
            source_id=source_id,
            attributions=attributions,
            since=since,
            before=before,
            language=language,
        )
        request = self._export_claims_request(claim_filter, show_deleted=show_deleted)
        return self._exported_claims(request, self._stream_timeout(timeout))

    async def _exported_claims(
        self, request: claim_service_pb2.ExportClaimsRequest, timeout: float | None
    ) -> AsyncGenerator[claim_pb2.Claim, None]:
        call = self._stub.ExportClaims(request, timeout=timeout, metadata=self._metadata())
        try:
            async for response in call:
                for claim in response.claims:
                    yield claim
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from error
        finally:
            call.cancel()

    # Speakers

    async def create_speaker(
        self,
        display_name: str,
        *,
        kind: EnumLike = 0,
        title: str = "",
        affiliation: str = "",
        aliases: Iterable[str] = (),
        wikidata_id: str = "",
        timeout: float | None = None,
    ) -> speaker_pb2.Speaker:
        """Creates a speaker; see :meth:`Client.create_speaker`."""
        request = self._create_speaker_request(
            display_name,
            kind=kind,
            title=title,
            affiliation=affiliation,
            aliases=aliases,
            wikidata_id=wikidata_id,
        )
        return await self._call(self._stub.CreateSpeaker, request, timeout)

    async def get_speaker(
        self, speaker_id: str, *, timeout: float | None = None
    ) -> speaker_pb2.Speaker:
        """Returns the speaker with id ``speaker_id``."""
        request = self._get_speaker_request(speaker_id)
        return await self._call(self._stub.GetSpeaker, request, timeout)

    async def update_speaker(
        self,
        speaker_id: str,
        *,
        display_name: str | Unset = UNSET,
        kind: EnumLike | Unset = UNSET,
        title: str | Unset = UNSET,
        affiliation: str | Unset = UNSET,
        aliases: Iterable[str] | Unset = UNSET,
        wikidata_id: str | Unset = UNSET,
        etag: str | None = None,
        timeout: float | None = None,
    ) -> speaker_pb2.Speaker:
        """Changes the fields given; see :meth:`Client.update_speaker`."""
        request = self._update_speaker_request(
            speaker_id,
            display_name=display_name,
            kind=kind,
            title=title,
            affiliation=affiliation,
            aliases=aliases,
            wikidata_id=wikidata_id,
            etag=etag,
        )
        return await self._call(self._stub.UpdateSpeaker, request, timeout)

    def list_speakers(
        self, *, name_prefix: str = "", page_size: int = 0, timeout: float | None = None
    ) -> AsyncPager[speaker_pb2.Speaker]:
        """The speakers, oldest first, for ``async for``; see :meth:`Client.list_speakers`."""
        pages = self._list_speakers_pages(name_prefix=name_prefix, page_size=page_size)

        async def fetch(page_token: str) -> tuple[list[speaker_pb2.Speaker], str]:
            response = await self._call(self._stub.ListSpeakers, pages(page_token), timeout)
            return list(response.speakers), response.next_page_token

        return AsyncPager(fetch)

    # Sources

    async def create_source(
        self,
        *,
        url: str = "",
        publisher: str = "",
        title: str = "",
        kind: EnumLike = 0,
        published_at: TimeLike | None = None,
        timeout: float | None = None,
    ) -> source_pb2.Source:
        """Creates a source; see :meth:`Client.create_source`."""
        request = self._create_source_request(
            url=url, publisher=publisher, title=title, kind=kind, published_at=published_at
        )
        return await self._call(self._stub.CreateSource, request, timeout)

    async def get_source(
        self, source_id: str, *, timeout: float | None = None
    ) -> source_pb2.Source:
        """Returns the source with id ``source_id``."""
        request = self._get_source_request(source_id)
        return await self._call(self._stub.GetSource, request, timeout)

    async def update_source(
        self,
        source_id: str,
        *,
        url: str | Unset = UNSET,
        publisher: str | Unset = UNSET,
        title: str | Unset = UNSET,
        kind: EnumLike | Unset = UNSET,
        published_at: TimeLike | Unset | None = UNSET,
        etag: str | None = None,
        timeout: float | None = None,
    ) -> source_pb2.Source:
        """Changes the fields given; see :meth:`Client.update_source`."""
        request = self._update_source_request(
            source_id,
            url=url,
            publisher=publisher,
            title=title,
            kind=kind,
            published_at=published_at,
            etag=etag,
        )
        return await self._call(self._stub.UpdateSource, request, timeout)

    def list_sources(
        self, *, page_size: int = 0, timeout: float | None = None
    ) -> AsyncPager[source_pb2.Source]:
        """Every source, oldest first, for ``async for``."""
        pages = self._list_sources_pages(page_size=page_size)

        async def fetch(page_token: str) -> tuple[list[source_pb2.Source], str]:
            response = await self._call(self._stub.ListSources, pages(page_token), timeout)
            return list(response.sources), response.next_page_token

        return AsyncPager(fetch)


@dataclass(frozen=True, slots=True)
class _Connection:
    """An AsyncClient's channel, its stubs, and the event loop they belong to."""

    channel: grpc.aio.Channel
    stub: "claim_service_pb2_grpc.ClaimServiceAsyncStub"  # a name of the .pyi only
    # ImportClaims as the stub has it, but for batches already serialized (see _batches).
    import_claims: grpc.aio.StreamStreamMultiCallable[bytes, claim_service_pb2.ImportClaimsResponse]
    loop: asyncio.AbstractEventLoop

    @classmethod
    def open(cls, config: ClientConfig, loop: asyncio.AbstractEventLoop) -> "_Connection":
        options = config.channel_options()
        if config.credentials is None:
            channel = grpc.aio.insecure_channel(config.target, options=options)
        else:
            channel = grpc.aio.secure_channel(config.target, config.credentials, options=options)
        import_claims: grpc.aio.StreamStreamMultiCallable[
            bytes, claim_service_pb2.ImportClaimsResponse
        ] = channel.stream_stream(
            IMPORT_CLAIMS_METHOD,
            request_serializer=None,
            response_deserializer=claim_service_pb2.ImportClaimsResponse.FromString,
        )
        return cls(channel, claim_service_pb2_grpc.ClaimServiceStub(channel), import_claims, loop)
