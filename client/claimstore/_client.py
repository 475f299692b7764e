"""Client: the blocking claimstore client."""

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from google.protobuf.message import Message

from ._base import BaseClient
from ._batches import IMPORT_CLAIMS_METHOD, batch_bytes, check_batch_size, import_batches
from ._config import ClientConfig, RetryPolicy
from ._exceptions import from_rpc_error
from ._pagers import Pager
from ._values import UNSET, EnumLike, TimeLike, Unset
from ._watch import ClaimWatch
from .v1 import (
    claim_filter_pb2,
    claim_pb2,
    claim_revision_pb2,
    claim_service_pb2,
    claim_service_pb2_grpc,
    source_pb2,
    speaker_pb2,
)

Response = TypeVar("Response", bound=Message)


class Client(BaseClient):
    """A blocking client of a claimstore server.

    >>> with Client("localhost:50051") as client:          # doctest: +SKIP
    ...     for claim in client.list_claims(speaker="Peskov"):
    ...         print(claim.text)

    Every method takes plain Python values and, but for :meth:`watch_claims` (which
    runs until closed), a ``timeout=`` in seconds (the config's default otherwise;
    none for :meth:`import_claims` and :meth:`export_claims` unless given), returns
    the generated claimstore.v1 messages, and raises :class:`~claimstore.ServiceError`
    subclasses, never ``grpc.RpcError``; a Python value of the wrong type or out of
    range is a TypeError or ValueError naming its argument, before any call. Calls
    failing with UNAVAILABLE are retried by gRPC's own retry policy (see
    :class:`~claimstore.RetryPolicy`).
    """

    def __init__(self, target: str | None = None, *, config: ClientConfig | None = None) -> None:
        super().__init__(target, config=config)
        options = self.config.channel_options()
        if self.config.credentials is None:
            self._channel = grpc.insecure_channel(self.config.target, options=options)
        else:
            self._channel = grpc.secure_channel(
                self.config.target, self.config.credentials, options=options
            )
        self._stub = claim_service_pb2_grpc.ClaimServiceStub(self._channel)
        # ImportClaims as the stub has it, but for batches already serialized (see _batches).
        self._import_claims: grpc.StreamStreamMultiCallable[
            bytes, claim_service_pb2.ImportClaimsResponse
        ] = self._channel.stream_stream(
            IMPORT_CLAIMS_METHOD,
            request_serializer=None,
            response_deserializer=claim_service_pb2.ImportClaimsResponse.FromString,
        )

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled. A call made after it raises
        ValueError."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(
        self, method: Callable[..., Response], request: Message, timeout: float | None
    ) -> Response:
        try:
            return method(request, timeout=self._timeout(timeout), metadata=self._metadata())
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    # Claims

    def create_claim(
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
        """Creates a claim and returns it.

        Args:
            text: What was said.
            attribution: "direct_quote", "paraphrase" or "reported".
            stated_at: When; a ``date`` (or "2025-11-20") sets day precision, "2025-11"
                month precision and "2025" year precision.
            speaker: The speaker by name (matched by name or alias, created if
                new) or as a Speaker message; or give ``speaker_id``.
            speaker_id: The id of an existing speaker.
            stated_at_precision: "year", "month", "day" or "exact"; inferred from
                ``stated_at`` when not given. It may be coarser than ``stated_at`` but
                not finer: "2025-11" with "day" is a ValueError.
            channel: How it was said, such as "statement on Telegram".
            language: A BCP-47 tag such as "en".
            topics: What it is about.
            citations: Citation messages, or mappings with ``source_id`` or an
                inline ``url``/``publisher``/``title``/``kind``/``published_at``,
                plus ``role`` ("origin" or "report") and ``excerpt``.
            request_id: Makes the call idempotent; a UUID is made when omitted,
                so gRPC's retries never create a claim twice.
            timeout: Seconds before the call gives up.
        """
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
        return self._call(self._stub.CreateClaim, request, timeout)

    def get_claim(
        self,
        claim_id: str,
        *,
        view: EnumLike = "full",
        revision: int = 0,
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Returns the claim with id ``claim_id``; in the "full" view (the default) with its
        speaker and sources, in the "basic" view with their ids only.

        ``revision`` asks for the claim as it was at that revision (1 is as created);
        0, the default, for the current version. A deleted claim is returned too, with
        its ``delete_time`` and ``deletion``.
        """
        request = self._get_claim_request(claim_id, view=view, revision=revision)
        return self._call(self._stub.GetClaim, request, timeout)

    def update_claim(
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
        """Changes the fields given, and only those, as one new revision; returns the claim.

        Each field takes the values :meth:`create_claim` takes. A field left out is
        left as it is; an empty value clears it (``channel=""``, ``topics=()``), or is
        refused where the field is required. ``speaker`` re-attributes the claim to a
        speaker by name (matched or created as in :meth:`create_claim`), ``speaker_id``
        to an existing one. A new ``stated_at`` brings its precision along, inferred
        as in :meth:`create_claim` unless ``stated_at_precision`` is given.
        ``citations`` replaces them all; :meth:`add_citation` and
        :meth:`remove_citation` change one.

        Args:
            claim_id: The claim to change.
            etag: The ``etag`` of the claim as last read: the change is made only if
                nobody changed the claim since, else :class:`~claimstore.Aborted`.
                None changes it whatever its version.
            reason: Why, such as "quote corrected from the transcript"; recorded in
                the revision with the config's ``actor``.
            timeout: Seconds before the call gives up.

        Raises:
            ValueError: No field given, or both ``speaker`` and ``speaker_id``.
            FailedPrecondition: The claim is deleted; undelete it first.
        """
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
        return self._call(self._stub.UpdateClaim, request, timeout)

    def delete_claim(
        self,
        claim_id: str,
        *,
        reason: EnumLike,
        note: str = "",
        etag: str | None = None,
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Deletes a claim softly and returns it, with its ``delete_time`` and ``deletion``.

        The claim keeps its data and revisions but leaves listings, searches and
        exports that do not ask for ``show_deleted``; :meth:`undelete_claim` brings it
        back. ``reason`` is "retracted", "duplicate", "fabricated" or "other" (which
        needs a ``note``); the note, such as "the outlet corrected its report", is
        recorded in the revision. With ``etag``, the claim is deleted only if it is
        still at that version, else :class:`~claimstore.Aborted`. Deleting a deleted
        claim raises :class:`~claimstore.NotFound` (AIP-164).
        """
        request = self._delete_claim_request(claim_id, reason=reason, note=note, etag=etag)
        return self._call(self._stub.DeleteClaim, request, timeout)

    def undelete_claim(
        self,
        claim_id: str,
        *,
        etag: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Brings a deleted claim back as it was, and returns it. A claim that is not
        deleted raises :class:`~claimstore.AlreadyExists` (AIP-164); ``etag`` and
        ``reason`` as for :meth:`update_claim`."""
        request = self._undelete_claim_request(claim_id, etag=etag, reason=reason)
        return self._call(self._stub.UndeleteClaim, request, timeout)

    def add_citation(
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
        """Adds a citation to a claim, as one new revision, and returns the claim.

        The source is given by ``source_id``, or inline by ``url``, ``publisher``,
        ``title``, ``kind`` and ``published_at`` (matched to a stored source or
        created, as in :meth:`create_claim`). ``role`` is "report" (the default) or
        "origin". Citing a source the claim already cites in that role raises
        :class:`~claimstore.AlreadyExists`. ``etag`` and ``reason`` as for
        :meth:`update_claim`.
        """
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
        return self._call(self._stub.AddCitation, request, timeout)

    def remove_citation(
        self,
        claim_id: str,
        source_id: str,
        *,
        role: EnumLike | None = None,
        etag: str | None = None,
        reason: str = "",
        timeout: float | None = None,
    ) -> claim_pb2.Claim:
        """Takes the citations of source ``source_id`` off a claim, as one new revision,
        and returns the claim: in every role, or only in ``role`` ("origin" or "report").
        A source the claim does not cite raises :class:`~claimstore.NotFound`. ``etag``
        and ``reason`` as for :meth:`update_claim`."""
        request = self._remove_citation_request(
            claim_id, source_id, role=role, etag=etag, reason=reason
        )
        return self._call(self._stub.RemoveCitation, request, timeout)

    def list_claim_revisions(
        self,
        claim_id: str,
        *,
        view: EnumLike = "basic",
        page_size: int = 0,
        timeout: float | None = None,
    ) -> Pager[claim_revision_pb2.ClaimRevision]:
        """Returns a lazy iterator over every revision of a claim, oldest first: each with
        its number, change type, time, actor, reason, the fields it changed, and the claim
        as the change left it (in ``view``). Deleted claims have revisions too."""
        pages = self._list_claim_revisions_pages(claim_id, view=view, page_size=page_size)

        def fetch(page_token: str) -> tuple[list[claim_revision_pb2.ClaimRevision], str]:
            response = self._call(self._stub.ListClaimRevisions, pages(page_token), timeout)
            return list(response.revisions), response.next_page_token

        return Pager(fetch)

    def watch_claims(
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
    ) -> ClaimWatch:
        """Starts watching the changes to the claims that match; returns a
        :class:`~claimstore.ClaimWatch`, an iterator of ClaimEvents.

        It returns once the server has answered, so every change committed after
        that is yielded; with ``after_cursor`` (a :attr:`ClaimWatch.cursor` kept from
        an earlier watch), every change after that cursor. Filters as for
        :meth:`list_claims`, judged on each claim as it is when the server
        reads the change; no filter watches every claim, deleted or not. Each
        event's ``revision`` has the change and the claim in ``view``. The watch
        has no deadline: it survives server restarts and runs until it is closed.

        >>> with client.watch_claims(speaker="Peskov") as watch:   # doctest: +SKIP
        ...     for event in watch:
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
        return ClaimWatch(
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
    ) -> Pager[claim_pb2.Claim]:
        """Returns a lazy iterator over the claims that match, newest statement first.

        The keyword filters build a ClaimFilter (all must hold; a sequence means
        any of its values); or pass a ready ``filter``. ``since`` is inclusive,
        ``before`` exclusive. In the "basic" view (the default) claims carry their
        speaker's and sources' ids; ask for view="full" to get the speaker and
        sources themselves. Deleted claims are left out unless ``show_deleted``.
        Each page is fetched when iteration reaches it; ``timeout`` applies to each
        page.
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
        pages = self._list_claims_pages(
            claim_filter,
            order_by=order_by,
            view=view,
            page_size=page_size,
            show_deleted=show_deleted,
        )

        def fetch(page_token: str) -> tuple[list[claim_pb2.Claim], str]:
            response = self._call(self._stub.ListClaims, pages(page_token), timeout)
            return list(response.claims), response.next_page_token

        return Pager(fetch)

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
    ) -> Pager[claim_service_pb2.SearchResult]:
        """Returns a lazy iterator over the claims that match ``query``, best first.

        ``query`` takes plain words (all must match), "exact phrases", prefix*,
        OR and -excluded words; the keyword filters narrow the results as in
        :meth:`list_claims`. Each SearchResult has the claim, its score and a
        snippet with the matching words between ``snippet_start`` and
        ``snippet_end`` ("[" and "]" unless given). Deleted claims are left out
        unless ``show_deleted``.
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
        pages = self._search_claims_pages(
            query,
            claim_filter,
            view=view,
            snippet_start=snippet_start,
            snippet_end=snippet_end,
            page_size=page_size,
            show_deleted=show_deleted,
        )

        def fetch(page_token: str) -> tuple[list[claim_service_pb2.SearchResult], str]:
            response = self._call(self._stub.SearchClaims, pages(page_token), timeout)
            return list(response.results), response.next_page_token

        return Pager(fetch)

    def import_claims(
        self,
        requests: Iterable[claim_service_pb2.CreateClaimRequest],
        *,
        batch_size: int = 500,
        timeout: float | None = None,
    ) -> Generator[claim_service_pb2.ImportResult, None, None]:
        """Imports claims in bulk; yields one ImportResult per claim, in order.

        ``requests`` is read lazily and sent in batches of at most ``batch_size``
        claims (1 to 1,000, and well under the message size limit); each batch's
        results arrive once the server has stored it. Stopping the iteration early
        cancels the import: the batches whose results were yielded are kept.
        There is no deadline unless ``timeout`` is given. A ``batch_size`` out of
        range raises ValueError here; the call starts when the iteration does.
        """
        check_batch_size(batch_size)
        return self._import_results(requests, batch_size, self._stream_timeout(timeout))

    def _import_results(
        self,
        requests: Iterable[claim_service_pb2.CreateClaimRequest],
        batch_size: int,
        timeout: float | None,
    ) -> Generator[claim_service_pb2.ImportResult, None, None]:
        # gRPC reads ``requests`` on a thread of its own and would swallow what it raises;
        # keep it, end the stream there, and raise it here once the batches sent are answered.
        raised: list[Exception] = []

        def guarded() -> Iterator[bytes]:
            try:
                limit = batch_bytes(self.config.max_message_bytes)
                yield from import_batches(requests, batch_size, limit)
            except Exception as error:
                raised.append(error)

        call = self._import_claims(guarded(), timeout=timeout, metadata=self._metadata())
        try:
            for response in call:
                yield from response.results
        except grpc.RpcError as error:
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
    ) -> Generator[claim_pb2.Claim, None, None]:
        """Yields every claim that matches, in the full view, oldest statement first.

        Filters as for :meth:`list_claims`; deleted claims only with ``show_deleted``.
        There is no deadline unless ``timeout`` is given; stopping the iteration early
        cancels the export. A bad filter value raises ValueError here; the call starts
        when the iteration does.
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
        request = self._export_claims_request(claim_filter, show_deleted=show_deleted)
        return self._exported_claims(request, self._stream_timeout(timeout))

    def _exported_claims(
        self, request: claim_service_pb2.ExportClaimsRequest, timeout: float | None
    ) -> Generator[claim_pb2.Claim, None, None]:
        call = self._stub.ExportClaims(request, timeout=timeout, metadata=self._metadata())
        try:
            for response in call:
                yield from response.claims
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        finally:
            call.cancel()

    # Speakers

    def create_speaker(
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
        """Creates a speaker; ``kind`` is "person" (the default), "organization", "group"
        or "anonymous"."""
        request = self._create_speaker_request(
            display_name,
            kind=kind,
            title=title,
            affiliation=affiliation,
            aliases=aliases,
            wikidata_id=wikidata_id,
        )
        return self._call(self._stub.CreateSpeaker, request, timeout)

    def get_speaker(self, speaker_id: str, *, timeout: float | None = None) -> speaker_pb2.Speaker:
        """Returns the speaker with id ``speaker_id``."""
        request = self._get_speaker_request(speaker_id)
        return self._call(self._stub.GetSpeaker, request, timeout)

    def update_speaker(
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
        """Changes the fields given, and only those; returns the speaker.

        Each field takes the values :meth:`create_speaker` takes; an empty value clears
        it, or is refused where the field is required. ``aliases`` replaces them all.
        Every claim of the speaker shows the change and is found by its new names; the
        claims themselves keep their revisions.

        Args:
            speaker_id: The speaker to change.
            etag: The ``etag`` of the speaker as last read: the change is made only if
                nobody changed the speaker since, else :class:`~claimstore.Aborted`.
                None changes it whatever its version.
            timeout: Seconds before the call gives up.

        Raises:
            ValueError: No field given.
            AlreadyExists: ``wikidata_id`` is another speaker's.
        """
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
        return self._call(self._stub.UpdateSpeaker, request, timeout)

    def list_speakers(
        self, *, name_prefix: str = "", page_size: int = 0, timeout: float | None = None
    ) -> Pager[speaker_pb2.Speaker]:
        """Returns a lazy iterator over the speakers, oldest first, each with its claim count;
        with ``name_prefix``, only those with a name word starting with it ("zelen")."""
        pages = self._list_speakers_pages(name_prefix=name_prefix, page_size=page_size)

        def fetch(page_token: str) -> tuple[list[speaker_pb2.Speaker], str]:
            response = self._call(self._stub.ListSpeakers, pages(page_token), timeout)
            return list(response.speakers), response.next_page_token

        return Pager(fetch)

    # Sources

    def create_source(
        self,
        *,
        url: str = "",
        publisher: str = "",
        title: str = "",
        kind: EnumLike = 0,
        published_at: TimeLike | None = None,
        timeout: float | None = None,
    ) -> source_pb2.Source:
        """Creates a source; a url already held by another source raises AlreadyExists."""
        request = self._create_source_request(
            url=url, publisher=publisher, title=title, kind=kind, published_at=published_at
        )
        return self._call(self._stub.CreateSource, request, timeout)

    def get_source(self, source_id: str, *, timeout: float | None = None) -> source_pb2.Source:
        """Returns the source with id ``source_id``."""
        request = self._get_source_request(source_id)
        return self._call(self._stub.GetSource, request, timeout)

    def update_source(
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
        """Changes the fields given, and only those; returns the source.

        Each field takes the values :meth:`create_source` takes; an empty value (None for
        ``published_at``) clears it, but the source must keep a url, a title or a
        publisher. The claims citing the source show the change.

        Args:
            source_id: The source to change.
            etag: The ``etag`` of the source as last read: the change is made only if
                nobody changed the source since, else :class:`~claimstore.Aborted`.
                None changes it whatever its version.
            timeout: Seconds before the call gives up.

        Raises:
            ValueError: No field given.
            AlreadyExists: ``url`` is another source's.
        """
        request = self._update_source_request(
            source_id,
            url=url,
            publisher=publisher,
            title=title,
            kind=kind,
            published_at=published_at,
            etag=etag,
        )
        return self._call(self._stub.UpdateSource, request, timeout)

    def list_sources(
        self, *, page_size: int = 0, timeout: float | None = None
    ) -> Pager[source_pb2.Source]:
        """Returns a lazy iterator over every source, oldest first."""
        pages = self._list_sources_pages(page_size=page_size)

        def fetch(page_token: str) -> tuple[list[source_pb2.Source], str]:
            response = self._call(self._stub.ListSources, pages(page_token), timeout)
            return list(response.sources), response.next_page_token

        return Pager(fetch)
