"""BaseClient: configuration and request building, shared by every client.

``Client`` (blocking) and ``AsyncClient`` (asyncio) differ only in how they
send the requests built here and hand back what comes of them.
"""

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from ._config import ClientConfig, check_timeout
from ._values import (
    EnumLike,
    TimeLike,
    Unset,
    citation,
    citation_list,
    enum_value,
    enum_values,
    flag,
    integer,
    precision_of,
    strings,
    timestamp,
)
from ._values import text as _text  # text is an argument of the methods below
from .v1 import claim_filter_pb2, claim_pb2, claim_service_pb2, source_pb2, speaker_pb2

PageRequest = TypeVar("PageRequest")
PageRequests: TypeAlias = Callable[[str], PageRequest]
"""Makes the request for one page of a listing from its page token ("" for the first). The
listing's arguments are checked when it is made, so a bad value raises before any call."""


class BaseClient:
    """Holds the configuration and builds each request from plain Python values."""

    def __init__(self, target: str | None = None, *, config: ClientConfig | None = None) -> None:
        if config is not None and not isinstance(config, ClientConfig):
            raise TypeError(f"config: expected a ClientConfig, not {type(config).__name__}")
        if config is None:
            config = ClientConfig() if target is None else ClientConfig(target=target)
        elif target is not None and target != config.target:
            raise ValueError("give the target either as an argument or in config, not both")
        self.config = config

    def _timeout(self, timeout: float | None) -> float:
        if timeout is None:
            return self.config.timeout
        check_timeout(timeout)
        return timeout

    def _metadata(self) -> tuple[tuple[str, str], ...] | None:
        return self.config.call_metadata() or None

    @staticmethod
    def _stream_timeout(timeout: float | None) -> float | None:
        """The deadline of a bulk stream: none unless ``timeout`` is given."""
        if timeout is not None:
            check_timeout(timeout)
        return timeout

    # Claims

    @staticmethod
    def _create_claim_request(
        text: str,
        *,
        attribution: EnumLike,
        stated_at: TimeLike,
        speaker: str | speaker_pb2.Speaker | None,
        speaker_id: str | None,
        stated_at_precision: EnumLike | None,
        channel: str,
        language: str,
        topics: Iterable[str],
        citations: Iterable[claim_pb2.Citation | Mapping[str, Any]],
        request_id: str | None,
    ) -> claim_service_pb2.CreateClaimRequest:
        claim = claim_pb2.Claim(
            text=_text(text, "text"),
            attribution=enum_value(claim_pb2.Attribution, attribution, "attribution"),
            speaker_id=speaker_id or "",
            stated_at=timestamp(stated_at, "stated_at"),
            stated_at_precision=_precision(stated_at, stated_at_precision),
            channel=channel,
            language=language,
            topics=strings(topics, "topics"),
            citations=citation_list(citations, "citations"),
        )
        if isinstance(speaker, str):
            claim.speaker.display_name = speaker
        elif speaker is not None:
            claim.speaker.CopyFrom(_speaker(speaker))
        # A request_id makes gRPC's retries of CreateClaim safe, so one is always sent.
        return claim_service_pb2.CreateClaimRequest(
            claim=claim, request_id=request_id or str(uuid.uuid4())
        )

    @staticmethod
    def _update_claim_request(
        claim_id: str,
        *,
        text: str | Unset,
        attribution: EnumLike | Unset,
        speaker: str | speaker_pb2.Speaker | Unset,
        speaker_id: str | Unset,
        stated_at: TimeLike | Unset,
        stated_at_precision: EnumLike | Unset,
        channel: str | Unset,
        language: str | Unset,
        topics: Iterable[str] | Unset,
        citations: Iterable[claim_pb2.Citation | Mapping[str, Any]] | Unset,
        etag: str | None,
        reason: str,
    ) -> claim_service_pb2.UpdateClaimRequest:
        """Builds an UpdateClaimRequest whose update_mask names exactly the fields given.

        The mask is always sent: an empty one would mean "the fields set in claim", which
        cannot say "clear the channel".
        """
        claim = claim_pb2.Claim(id=claim_id, etag=etag or "")
        paths: list[str] = []
        if not isinstance(text, Unset):
            claim.text = _text(text, "text")
            paths.append("text")
        if not isinstance(attribution, Unset):
            claim.attribution = enum_value(claim_pb2.Attribution, attribution, "attribution")
            paths.append("attribution")
        if not isinstance(speaker, Unset) and not isinstance(speaker_id, Unset):
            raise ValueError("give speaker or speaker_id, not both")
        if isinstance(speaker, str):
            claim.speaker.display_name = speaker
            paths.append("speaker")
        elif not isinstance(speaker, Unset):
            claim.speaker.CopyFrom(_speaker(speaker))
            paths.append("speaker")
        if not isinstance(speaker_id, Unset):
            claim.speaker_id = _text(speaker_id, "speaker_id")
            paths.append("speaker_id")
        if not isinstance(stated_at, Unset):
            claim.stated_at.CopyFrom(timestamp(stated_at, "stated_at"))
            paths.append("stated_at")
            claim.stated_at_precision = _precision(
                stated_at, None if isinstance(stated_at_precision, Unset) else stated_at_precision
            )
            paths.append("stated_at_precision")
        elif not isinstance(stated_at_precision, Unset):
            claim.stated_at_precision = enum_value(
                claim_pb2.DatePrecision, stated_at_precision, "stated_at_precision"
            )
            paths.append("stated_at_precision")
        if not isinstance(channel, Unset):
            claim.channel = _text(channel, "channel")
            paths.append("channel")
        if not isinstance(language, Unset):
            claim.language = _text(language, "language")
            paths.append("language")
        if not isinstance(topics, Unset):
            claim.topics.extend(strings(topics, "topics"))
            paths.append("topics")
        if not isinstance(citations, Unset):
            claim.citations.extend(citation_list(citations, "citations"))
            paths.append("citations")
        return claim_service_pb2.UpdateClaimRequest(
            claim=claim, update_mask=_update_mask(paths), reason=reason
        )

    @staticmethod
    def _delete_claim_request(
        claim_id: str, *, reason: EnumLike, note: str, etag: str | None
    ) -> claim_service_pb2.DeleteClaimRequest:
        return claim_service_pb2.DeleteClaimRequest(
            id=claim_id,
            deletion=claim_pb2.Deletion(
                reason=enum_value(claim_pb2.DeletionReason, reason, "reason"), note=note
            ),
            etag=etag or "",
        )

    @staticmethod
    def _add_citation_request(
        claim_id: str,
        *,
        source_id: str | None,
        url: str,
        publisher: str,
        title: str,
        kind: EnumLike,
        published_at: TimeLike | None,
        role: EnumLike,
        excerpt: str,
        etag: str | None,
        reason: str,
    ) -> claim_service_pb2.AddCitationRequest:
        inline = bool(url or publisher or title) or published_at is not None
        if bool(source_id) == inline:
            raise ValueError(
                "give the source by source_id or inline (url, publisher, title): one of them"
            )
        value: dict[str, Any] = {"role": role, "excerpt": excerpt}
        if source_id:
            value["source_id"] = source_id
        else:
            value.update(
                url=url, publisher=publisher, title=title, kind=kind, published_at=published_at
            )
        return claim_service_pb2.AddCitationRequest(
            claim_id=claim_id,
            citation=citation(value, "citation"),
            etag=etag or "",
            reason=reason,
        )

    @staticmethod
    def _get_claim_request(
        claim_id: str, *, view: EnumLike, revision: int
    ) -> claim_service_pb2.GetClaimRequest:
        return claim_service_pb2.GetClaimRequest(
            id=claim_id,
            view=enum_value(claim_service_pb2.ClaimView, view, "view"),
            revision=integer(revision, "revision"),
        )

    @staticmethod
    def _undelete_claim_request(
        claim_id: str, *, etag: str | None, reason: str
    ) -> claim_service_pb2.UndeleteClaimRequest:
        return claim_service_pb2.UndeleteClaimRequest(id=claim_id, etag=etag or "", reason=reason)

    @staticmethod
    def _remove_citation_request(
        claim_id: str, source_id: str, *, role: EnumLike | None, etag: str | None, reason: str
    ) -> claim_service_pb2.RemoveCitationRequest:
        return claim_service_pb2.RemoveCitationRequest(
            claim_id=claim_id,
            source_id=source_id,
            role=enum_value(claim_pb2.CitationRole, 0 if role is None else role, "role"),
            etag=etag or "",
            reason=reason,
        )

    @staticmethod
    def _list_claim_revisions_pages(
        claim_id: str, *, view: EnumLike, page_size: int
    ) -> PageRequests[claim_service_pb2.ListClaimRevisionsRequest]:
        view_number = enum_value(claim_service_pb2.ClaimView, view, "view")
        integer(page_size, "page_size")

        def page(page_token: str) -> claim_service_pb2.ListClaimRevisionsRequest:
            return claim_service_pb2.ListClaimRevisionsRequest(
                claim_id=claim_id, page_size=page_size, page_token=page_token, view=view_number
            )

        return page

    @staticmethod
    def _watch_claims_request(
        claim_filter: claim_filter_pb2.ClaimFilter, *, after_cursor: str, view: EnumLike
    ) -> claim_service_pb2.WatchClaimsRequest:
        return claim_service_pb2.WatchClaimsRequest(
            filter=claim_filter,
            after_cursor=after_cursor,
            view=enum_value(claim_service_pb2.ClaimView, view, "view"),
        )

    @staticmethod
    def _list_claims_pages(
        claim_filter: claim_filter_pb2.ClaimFilter,
        *,
        order_by: str,
        view: EnumLike,
        page_size: int,
        show_deleted: bool,
    ) -> PageRequests[claim_service_pb2.ListClaimsRequest]:
        view_number = enum_value(claim_service_pb2.ClaimView, view, "view")
        integer(page_size, "page_size")
        flag(show_deleted, "show_deleted")

        def page(page_token: str) -> claim_service_pb2.ListClaimsRequest:
            return claim_service_pb2.ListClaimsRequest(
                filter=claim_filter,
                page_size=page_size,
                page_token=page_token,
                order_by=order_by,
                view=view_number,
                show_deleted=show_deleted,
            )

        return page

    @staticmethod
    def _search_claims_pages(
        query: str,
        claim_filter: claim_filter_pb2.ClaimFilter,
        *,
        view: EnumLike,
        snippet_start: str,
        snippet_end: str,
        page_size: int,
        show_deleted: bool,
    ) -> PageRequests[claim_service_pb2.SearchClaimsRequest]:
        view_number = enum_value(claim_service_pb2.ClaimView, view, "view")
        integer(page_size, "page_size")
        flag(show_deleted, "show_deleted")

        def page(page_token: str) -> claim_service_pb2.SearchClaimsRequest:
            return claim_service_pb2.SearchClaimsRequest(
                query=query,
                filter=claim_filter,
                page_size=page_size,
                page_token=page_token,
                view=view_number,
                snippet_start=snippet_start,
                snippet_end=snippet_end,
                show_deleted=show_deleted,
            )

        return page

    @staticmethod
    def _export_claims_request(
        claim_filter: claim_filter_pb2.ClaimFilter, *, show_deleted: bool
    ) -> claim_service_pb2.ExportClaimsRequest:
        return claim_service_pb2.ExportClaimsRequest(
            filter=claim_filter, show_deleted=flag(show_deleted, "show_deleted")
        )

    @staticmethod
    def _claim_filter(
        filter: claim_filter_pb2.ClaimFilter | None = None,  # the API's own name
        *,
        speaker: str | None,
        speaker_ids: Sequence[str],
        topics: Sequence[str],
        publisher: str | None,
        source_id: str | None,
        attributions: Sequence[EnumLike],
        since: TimeLike | None,
        before: TimeLike | None,
        language: str | None,
    ) -> claim_filter_pb2.ClaimFilter:
        """Returns ``filter`` if given (the keyword filters are then ignored, as documented),
        else the ClaimFilter the keyword filters build."""
        if filter is not None:
            return filter
        claim_filter = claim_filter_pb2.ClaimFilter(
            speaker_ids=strings(speaker_ids, "speaker_ids"),
            speaker=speaker or "",
            topics=strings(topics, "topics"),
            publisher=publisher or "",
            source_id=source_id or "",
            attributions=[
                enum_value(claim_pb2.Attribution, value, f"attributions[{index}]")
                for index, value in enumerate(enum_values(attributions, "attributions"))
            ],
            language=language or "",
        )
        if since is not None:
            claim_filter.stated_since.CopyFrom(timestamp(since, "since"))
        if before is not None:
            claim_filter.stated_before.CopyFrom(timestamp(before, "before"))
        return claim_filter

    # Speakers and sources

    @staticmethod
    def _create_speaker_request(
        display_name: str,
        *,
        kind: EnumLike,
        title: str,
        affiliation: str,
        aliases: Iterable[str],
        wikidata_id: str,
    ) -> claim_service_pb2.CreateSpeakerRequest:
        return claim_service_pb2.CreateSpeakerRequest(
            speaker=speaker_pb2.Speaker(
                display_name=display_name,
                kind=enum_value(speaker_pb2.SpeakerKind, kind, "kind"),
                title=title,
                affiliation=affiliation,
                aliases=strings(aliases, "aliases"),
                wikidata_id=wikidata_id,
            )
        )

    @staticmethod
    def _create_source_request(
        *,
        url: str,
        publisher: str,
        title: str,
        kind: EnumLike,
        published_at: TimeLike | None,
    ) -> claim_service_pb2.CreateSourceRequest:
        source = source_pb2.Source(
            url=url,
            publisher=publisher,
            title=title,
            kind=enum_value(source_pb2.SourceKind, kind, "kind"),
        )
        if published_at is not None:
            source.published_at.CopyFrom(timestamp(published_at, "published_at"))
        return claim_service_pb2.CreateSourceRequest(source=source)

    @staticmethod
    def _update_speaker_request(
        speaker_id: str,
        *,
        display_name: str | Unset,
        kind: EnumLike | Unset,
        title: str | Unset,
        affiliation: str | Unset,
        aliases: Iterable[str] | Unset,
        wikidata_id: str | Unset,
        etag: str | None,
    ) -> claim_service_pb2.UpdateSpeakerRequest:
        """Builds an UpdateSpeakerRequest whose update_mask names exactly the fields given."""
        speaker = speaker_pb2.Speaker(id=speaker_id, etag=etag or "")
        paths = _set_texts(
            speaker,
            display_name=display_name,
            title=title,
            affiliation=affiliation,
            wikidata_id=wikidata_id,
        )
        if not isinstance(kind, Unset):
            speaker.kind = enum_value(speaker_pb2.SpeakerKind, kind, "kind")
            paths.append("kind")
        if not isinstance(aliases, Unset):
            speaker.aliases.extend(strings(aliases, "aliases"))
            paths.append("aliases")
        return claim_service_pb2.UpdateSpeakerRequest(
            speaker=speaker, update_mask=_update_mask(paths)
        )

    @staticmethod
    def _get_speaker_request(speaker_id: str) -> claim_service_pb2.GetSpeakerRequest:
        return claim_service_pb2.GetSpeakerRequest(id=speaker_id)

    @staticmethod
    def _list_speakers_pages(
        *, name_prefix: str, page_size: int
    ) -> PageRequests[claim_service_pb2.ListSpeakersRequest]:
        integer(page_size, "page_size")

        def page(page_token: str) -> claim_service_pb2.ListSpeakersRequest:
            return claim_service_pb2.ListSpeakersRequest(
                page_size=page_size, page_token=page_token, name_prefix=name_prefix
            )

        return page

    @staticmethod
    def _update_source_request(
        source_id: str,
        *,
        url: str | Unset,
        publisher: str | Unset,
        title: str | Unset,
        kind: EnumLike | Unset,
        published_at: TimeLike | Unset | None,
        etag: str | None,
    ) -> claim_service_pb2.UpdateSourceRequest:
        """Builds an UpdateSourceRequest whose update_mask names exactly the fields given;
        ``published_at=None`` clears the date."""
        source = source_pb2.Source(id=source_id, etag=etag or "")
        paths = _set_texts(source, url=url, publisher=publisher, title=title)
        if not isinstance(kind, Unset):
            source.kind = enum_value(source_pb2.SourceKind, kind, "kind")
            paths.append("kind")
        if not isinstance(published_at, Unset):
            if published_at is not None:
                source.published_at.CopyFrom(timestamp(published_at, "published_at"))
            paths.append("published_at")
        return claim_service_pb2.UpdateSourceRequest(source=source, update_mask=_update_mask(paths))

    @staticmethod
    def _get_source_request(source_id: str) -> claim_service_pb2.GetSourceRequest:
        return claim_service_pb2.GetSourceRequest(id=source_id)

    @staticmethod
    def _list_sources_pages(
        *, page_size: int
    ) -> PageRequests[claim_service_pb2.ListSourcesRequest]:
        integer(page_size, "page_size")

        def page(page_token: str) -> claim_service_pb2.ListSourcesRequest:
            return claim_service_pb2.ListSourcesRequest(page_size=page_size, page_token=page_token)

        return page


def _precision(stated_at: TimeLike, given: EnumLike | None) -> claim_pb2.DatePrecision.ValueType:
    """The precision of a claim stated at ``stated_at``: ``given``, else (None or unspecified)
    as precise as ``stated_at`` is. A finer one than that is a ValueError: "2025-11" says
    nothing of the day, nor a ``date`` of the time of day."""
    written = precision_of(stated_at)
    inferred = enum_value(claim_pb2.DatePrecision, written, "stated_at_precision")
    number = (
        claim_pb2.DATE_PRECISION_UNSPECIFIED
        if given is None
        else enum_value(claim_pb2.DatePrecision, given, "stated_at_precision")
    )
    if number == claim_pb2.DATE_PRECISION_UNSPECIFIED:  # not given, as the .proto has it
        return inferred
    if inferred < number <= claim_pb2.DATE_PRECISION_EXACT:  # a number past it: the server's
        raise ValueError(
            f"stated_at_precision: {given!r} is finer than stated_at={stated_at!r} tells"
            f" ({written}): give a more precise stated_at, or a precision of {written} or coarser"
        )
    return number


def _speaker(value: object) -> speaker_pb2.Speaker:
    """``value``, a Speaker message; anything else is a TypeError naming ``speaker``."""
    if not isinstance(value, speaker_pb2.Speaker):
        raise TypeError(f"speaker: expected a name or a Speaker, not {type(value).__name__}")
    return value


def _set_texts(message: Message, **values: object) -> list[str]:
    """Sets each string field of ``message`` given a value (not UNSET); returns their names,
    for the update mask. "" clears a field; None is a mistake, refused with a TypeError."""
    given = []
    for name, value in values.items():
        if isinstance(value, Unset):
            continue
        if not isinstance(value, str):
            raise TypeError(f"{name}: expected a string ('' clears it), not {type(value).__name__}")
        setattr(message, name, value)
        given.append(name)
    return given


def _update_mask(paths: list[str]) -> FieldMask:
    """The update mask of the fields an update call was given; a ValueError for none."""
    if not paths:
        raise ValueError("nothing to update: give at least one field to change")
    return FieldMask(paths=paths)
