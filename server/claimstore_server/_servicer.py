"""The ClaimService servicer: checks each request, asks the store, shapes the reply.

It holds no SQL and no error mapping of its own: requests are checked by
``_validation``, data comes from a :class:`~claimstore_server.store.ClaimStore`,
and errors become statuses in ``_status``.

The methods run on the server's event loop and call the store directly: its
calls are index lookups of tens to hundreds of microseconds, and keeping all
Python work on one thread spares the server the contention for the GIL that
a pool of worker threads suffers (see the README's performance section).
"""

from claimstore.v1 import claim_service_pb2, claim_service_pb2_grpc
from claimstore.v1.claim_pb2 import Claim
from claimstore.v1.source_pb2 import Source
from claimstore.v1.speaker_pb2 import Speaker

from . import _ids, _pagination, _validation
from ._status import Context, reports_errors
from .store import ClaimCursor, ClaimStore


class ClaimServicer(claim_service_pb2_grpc.ClaimServiceServicer):
    """Serves claimstore.v1.ClaimService over a store."""

    def __init__(self, store: ClaimStore, *, max_response_bytes: int) -> None:
        self._store = store
        # Room for the page token and the message framing around the claims.
        self._page_budget = max_response_bytes - 4096

    @reports_errors
    async def CreateClaim(
        self, request: claim_service_pb2.CreateClaimRequest, context: Context
    ) -> Claim:
        return self._store.create_claim(_validation.claim_draft(request))

    @reports_errors
    async def GetClaim(self, request: claim_service_pb2.GetClaimRequest, context: Context) -> Claim:
        claim_id = _validation.resource_id(request.id, _ids.CLAIM_PREFIX)
        full = _validation.full_view(request.view, default_full=True)
        return self._store.get_claim(claim_id, full=full)

    @reports_errors
    async def ListClaims(
        self, request: claim_service_pb2.ListClaimsRequest, context: Context
    ) -> claim_service_pb2.ListClaimsResponse:
        query = _validation.claim_query(request.filter)
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
        page = self._store.list_claims(query, order=order, after=after, limit=limit, full=full)
        response = claim_service_pb2.ListClaimsResponse(claims=page.items)
        has_more = page.has_more
        if response.ByteSize() > self._page_budget:
            kept = _pagination.fit_in(page.items, self._page_budget)
            response = claim_service_pb2.ListClaimsResponse(claims=kept)
            has_more = True
        if has_more:
            last = response.claims[-1]
            response.next_page_token = _pagination.encode_token(
                [last.stated_at.ToMicroseconds(), last.id], digest
            )
        return response

    @reports_errors
    async def CreateSpeaker(
        self, request: claim_service_pb2.CreateSpeakerRequest, context: Context
    ) -> Speaker:
        return self._store.create_speaker(_validation.speaker_draft(request))

    @reports_errors
    async def GetSpeaker(
        self, request: claim_service_pb2.GetSpeakerRequest, context: Context
    ) -> Speaker:
        return self._store.get_speaker(_validation.resource_id(request.id, _ids.SPEAKER_PREFIX))

    @reports_errors
    async def ListSpeakers(
        self, request: claim_service_pb2.ListSpeakersRequest, context: Context
    ) -> claim_service_pb2.ListSpeakersResponse:
        limit = _pagination.page_size(request.page_size)
        after_id = _after_id(request.page_token, "speakers", _ids.SPEAKER_PREFIX)
        page = self._store.list_speakers(after_id=after_id, limit=limit)
        return claim_service_pb2.ListSpeakersResponse(
            speakers=page.items,
            next_page_token=_next_id_token(page.has_more, page.items, "speakers"),
        )

    @reports_errors
    async def CreateSource(
        self, request: claim_service_pb2.CreateSourceRequest, context: Context
    ) -> Source:
        return self._store.create_source(_validation.source_draft(request))

    @reports_errors
    async def GetSource(
        self, request: claim_service_pb2.GetSourceRequest, context: Context
    ) -> Source:
        return self._store.get_source(_validation.resource_id(request.id, _ids.SOURCE_PREFIX))

    @reports_errors
    async def ListSources(
        self, request: claim_service_pb2.ListSourcesRequest, context: Context
    ) -> claim_service_pb2.ListSourcesResponse:
        limit = _pagination.page_size(request.page_size)
        after_id = _after_id(request.page_token, "sources", _ids.SOURCE_PREFIX)
        page = self._store.list_sources(after_id=after_id, limit=limit)
        return claim_service_pb2.ListSourcesResponse(
            sources=page.items,
            next_page_token=_next_id_token(page.has_more, page.items, "sources"),
        )


def _after_id(page_token: str, collection: str, prefix: str) -> str:
    """Returns the id a listing by id continues after ("" for the first page)."""
    position = _pagination.decode_token(page_token, _pagination.query_digest(collection))
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
