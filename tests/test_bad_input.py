"""Bad input through the raw stub: the exact status, the field at fault, and nothing stored.

Every row is a request the client library would refuse to build or that a
careless client could send. The server must answer with the documented status
code, a google.rpc.BadRequest naming the field (INVALID_ARGUMENT) or a message
naming it (NOT_FOUND), and leave the data exactly as it was.
"""

from collections.abc import Callable
from dataclasses import dataclass

import claimstore
import grpc
import pytest
from claimstore.v1 import (
    claim_filter_pb2,
    claim_pb2,
    claim_service_pb2,
    source_pb2,
    speaker_pb2,
)
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from helpers import Counts, call_error, violations

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND

UNKNOWN_SPEAKER_ID = "spk_01JD3M0X8Y9Z0000000000000A"
UNKNOWN_SOURCE_ID = "src_01JD3M0X8Y9Z0000000000000A"
UNKNOWN_CLAIM_ID = "clm_01JD3M0X8Y9Z0000000000000A"

YEAR_10000 = 253_402_300_800  # 10000-01-01T00:00:00Z
BEFORE_YEAR_1 = -62_135_596_801  # 0000-12-31T23:59:59Z
NOV_20 = 1_763_596_800  # 2025-11-20T00:00:00Z

DROP = object()
"""Marks a field of the base claim to leave unset."""


def base_claim_fields() -> dict[str, object]:
    """A valid claim whose inline speaker and source are new: a failure must not create them."""
    return {
        "text": "Consultations are not currently under way",
        "attribution": claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
        "speaker": speaker_pb2.Speaker(display_name="A Brand New Speaker"),
        "stated_at": Timestamp(seconds=NOV_20),
        "language": "en",
        "topics": ["peace plan"],
        "citations": [claim_pb2.Citation(source=source_pb2.Source(url="https://new.example/1"))],
    }


def create(request_id: str = "", **changes: object) -> claim_service_pb2.CreateClaimRequest:
    fields = base_claim_fields()
    fields.update(changes)
    kept = {name: value for name, value in fields.items() if value is not DROP}
    return claim_service_pb2.CreateClaimRequest(
        claim=claim_pb2.Claim(**kept),  # type: ignore[arg-type]
        request_id=request_id,
    )


def citation(**fields: object) -> claim_pb2.Citation:
    return claim_pb2.Citation(**fields)  # type: ignore[arg-type]


def new_source(index: int) -> claim_pb2.Citation:
    return citation(source=source_pb2.Source(url=f"https://new.example/{index}"))


def listing(**fields: object) -> claim_service_pb2.ListClaimsRequest:
    return claim_service_pb2.ListClaimsRequest(**fields)  # type: ignore[arg-type]


def claim_filter(**fields: object) -> claim_service_pb2.ListClaimsRequest:
    return listing(filter=claim_filter_pb2.ClaimFilter(**fields))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    request: Message
    code: grpc.StatusCode
    field: str


ROWS = [
    # CreateClaim: text
    Row("empty text", "CreateClaim", create(text=""), INVALID, "claim.text"),
    Row("white space text", "CreateClaim", create(text=" \n\t\r "), INVALID, "claim.text"),
    Row("text of 10,001", "CreateClaim", create(text="x" * 10_001), INVALID, "claim.text"),
    Row("NUL in text", "CreateClaim", create(text="a\x00b"), INVALID, "claim.text"),
    Row("escape in text", "CreateClaim", create(text="a\x1b[31mb"), INVALID, "claim.text"),
    Row("C1 escape in text", "CreateClaim", create(text="a\x9b31mb"), INVALID, "claim.text"),
    Row("next line in text", "CreateClaim", create(text="a\x85b"), INVALID, "claim.text"),
    Row("punctuation text", "CreateClaim", create(text="!!! ?"), INVALID, "claim.text"),
    Row("invisible text", "CreateClaim", create(text="\u200b\u200e"), INVALID, "claim.text"),
    Row("C1 in channel", "CreateClaim", create(channel="a\x9bb"), INVALID, "claim.channel"),
    Row(
        "line separator in channel",
        "CreateClaim",
        create(channel="a\u2028b"),
        INVALID,
        "claim.channel",
    ),
    Row(
        "C1 in inline speaker name",
        "CreateClaim",
        create(speaker=speaker_pb2.Speaker(display_name="x\x9by")),
        INVALID,
        "claim.speaker.display_name",
    ),
    # CreateClaim: speaker
    Row(
        "unknown speaker_id",
        "CreateClaim",
        create(speaker=DROP, speaker_id=UNKNOWN_SPEAKER_ID),
        NOT_FOUND,
        "claim.speaker_id",
    ),
    Row(
        "malformed speaker_id",
        "CreateClaim",
        create(speaker=DROP, speaker_id="spk_nope"),
        INVALID,
        "claim.speaker_id",
    ),
    Row(
        "speaker_id of a source",
        "CreateClaim",
        create(speaker=DROP, speaker_id=UNKNOWN_SOURCE_ID),
        INVALID,
        "claim.speaker_id",
    ),
    Row("no speaker", "CreateClaim", create(speaker=DROP), INVALID, "claim.speaker_id"),
    Row(
        "speaker_id and speaker",
        "CreateClaim",
        create(speaker_id=UNKNOWN_SPEAKER_ID),
        INVALID,
        "claim.speaker",
    ),
    Row(
        "inline speaker without name",
        "CreateClaim",
        create(speaker=speaker_pb2.Speaker(title="spokesman")),
        INVALID,
        "claim.speaker.display_name",
    ),
    Row(
        "inline speaker name with control character",
        "CreateClaim",
        create(speaker=speaker_pb2.Speaker(display_name="Dmitry\x07Peskov")),
        INVALID,
        "claim.speaker.display_name",
    ),
    Row(
        "inline speaker kind 99",
        "CreateClaim",
        create(speaker=speaker_pb2.Speaker(display_name="A", kind=99)),  # type: ignore[arg-type]
        INVALID,
        "claim.speaker.kind",
    ),
    Row(
        "inline speaker bad wikidata_id",
        "CreateClaim",
        create(speaker=speaker_pb2.Speaker(display_name="A", wikidata_id="Q-1")),
        INVALID,
        "claim.speaker.wikidata_id",
    ),
    # CreateClaim: attribution
    Row(
        "attribution unspecified",
        "CreateClaim",
        create(attribution=0),
        INVALID,
        "claim.attribution",
    ),
    Row("attribution 99", "CreateClaim", create(attribution=99), INVALID, "claim.attribution"),
    Row("attribution -1", "CreateClaim", create(attribution=-1), INVALID, "claim.attribution"),
    # CreateClaim: stated_at
    Row("stated_at missing", "CreateClaim", create(stated_at=DROP), INVALID, "claim.stated_at"),
    Row(
        "stated_at in year 10000",
        "CreateClaim",
        create(stated_at=Timestamp(seconds=YEAR_10000)),
        INVALID,
        "claim.stated_at",
    ),
    Row(
        "stated_at before year 1",
        "CreateClaim",
        create(stated_at=Timestamp(seconds=BEFORE_YEAR_1)),
        INVALID,
        "claim.stated_at",
    ),
    Row(
        "stated_at nanos 1e9",
        "CreateClaim",
        create(stated_at=Timestamp(seconds=NOV_20, nanos=1_000_000_000)),
        INVALID,
        "claim.stated_at",
    ),
    Row(
        "stated_at nanos -1",
        "CreateClaim",
        create(stated_at=Timestamp(seconds=NOV_20, nanos=-1)),
        INVALID,
        "claim.stated_at",
    ),
    Row(
        "precision 99",
        "CreateClaim",
        create(stated_at_precision=99),
        INVALID,
        "claim.stated_at_precision",
    ),
    # CreateClaim: other fields
    Row(
        "51 topics",
        "CreateClaim",
        create(topics=[f"topic {i}" for i in range(51)]),
        INVALID,
        "claim.topics",
    ),
    Row("empty topic", "CreateClaim", create(topics=["ok", ""]), INVALID, "claim.topics[1]"),
    Row("topic of 101", "CreateClaim", create(topics=["t" * 101]), INVALID, "claim.topics[0]"),
    Row("topic of punctuation", "CreateClaim", create(topics=["?!"]), INVALID, "claim.topics[0]"),
    Row(
        "language not a tag",
        "CreateClaim",
        create(language="not a tag!"),
        INVALID,
        "claim.language",
    ),
    Row(
        "language of 38",
        "CreateClaim",
        create(language="en-" + "-".join(["abcdefgh"] * 4)),
        INVALID,
        "claim.language",
    ),
    Row("channel of 201", "CreateClaim", create(channel="c" * 201), INVALID, "claim.channel"),
    # CreateClaim: citations
    Row(
        "malformed citation source_id",
        "CreateClaim",
        create(citations=[citation(source_id="src_bad")]),
        INVALID,
        "claim.citations[0].source_id",
    ),
    Row(
        "unknown citation source_id",
        "CreateClaim",
        create(citations=[citation(source_id=UNKNOWN_SOURCE_ID)]),
        NOT_FOUND,
        "claim.citations[0].source_id",
    ),
    Row(
        "unknown source_id after a new inline source",
        "CreateClaim",
        create(citations=[new_source(2), citation(source_id=UNKNOWN_SOURCE_ID)]),
        NOT_FOUND,
        "claim.citations[1].source_id",
    ),
    Row(
        "citation with source_id and source",
        "CreateClaim",
        create(
            citations=[
                citation(source_id=UNKNOWN_SOURCE_ID, source=source_pb2.Source(url="https://a.b/"))
            ]
        ),
        INVALID,
        "claim.citations[0]",
    ),
    Row(
        "citation with neither source_id nor source",
        "CreateClaim",
        create(citations=[citation(excerpt="orphan")]),
        INVALID,
        "claim.citations[0].source_id",
    ),
    Row(
        "inline source url ftp",
        "CreateClaim",
        create(citations=[citation(source=source_pb2.Source(url="ftp://x"))]),
        INVALID,
        "claim.citations[0].source.url",
    ),
    Row(
        "inline source url not a url",
        "CreateClaim",
        create(citations=[new_source(3), citation(source=source_pb2.Source(url="not a url"))]),
        INVALID,
        "claim.citations[1].source.url",
    ),
    Row(
        "101 citations",
        "CreateClaim",
        create(citations=[new_source(i) for i in range(101)]),
        INVALID,
        "claim.citations",
    ),
    Row(
        "excerpt of 2,001",
        "CreateClaim",
        create(citations=[citation(source_id=UNKNOWN_SOURCE_ID, excerpt="e" * 2001)]),
        INVALID,
        "claim.citations[0].excerpt",
    ),
    Row(
        "citation role 99",
        "CreateClaim",
        create(citations=[citation(source_id=UNKNOWN_SOURCE_ID, role=99)]),
        INVALID,
        "claim.citations[0].role",
    ),
    # CreateClaim: request
    Row(
        "request_id with spaces",
        "CreateClaim",
        create(request_id="my request id"),
        INVALID,
        "request_id",
    ),
    Row("request_id of 129", "CreateClaim", create(request_id="r" * 129), INVALID, "request_id"),
    Row(
        "no claim",
        "CreateClaim",
        claim_service_pb2.CreateClaimRequest(request_id="r1"),
        INVALID,
        "claim",
    ),
    # GetClaim
    Row("GetClaim empty id", "GetClaim", claim_service_pb2.GetClaimRequest(id=""), INVALID, "id"),
    Row(
        "GetClaim id nope", "GetClaim", claim_service_pb2.GetClaimRequest(id="nope"), INVALID, "id"
    ),
    Row(
        "GetClaim speaker id",
        "GetClaim",
        claim_service_pb2.GetClaimRequest(id=UNKNOWN_SPEAKER_ID),
        INVALID,
        "id",
    ),
    Row(
        "GetClaim id of 1,000",
        "GetClaim",
        claim_service_pb2.GetClaimRequest(id="clm_" + "A" * 996),
        INVALID,
        "id",
    ),
    Row(
        "GetClaim unknown id",
        "GetClaim",
        claim_service_pb2.GetClaimRequest(id=UNKNOWN_CLAIM_ID),
        NOT_FOUND,
        "id",
    ),
    Row(
        "GetClaim view 99",
        "GetClaim",
        claim_service_pb2.GetClaimRequest(id=UNKNOWN_CLAIM_ID, view=99),  # type: ignore[arg-type]
        INVALID,
        "view",
    ),
    # ListClaims
    Row("ListClaims view 99", "ListClaims", listing(view=99), INVALID, "view"),
    Row("page_size -1", "ListClaims", listing(page_size=-1), INVALID, "page_size"),
    Row("garbage page_token", "ListClaims", listing(page_token="garbage"), INVALID, "page_token"),
    Row("order_by text", "ListClaims", listing(order_by="text"), INVALID, "order_by"),
    Row("order_by id desc", "ListClaims", listing(order_by="id desc"), INVALID, "order_by"),
    Row(
        "filter speaker_ids malformed",
        "ListClaims",
        claim_filter(speaker_ids=[UNKNOWN_SPEAKER_ID, "nope"]),
        INVALID,
        "filter.speaker_ids[1]",
    ),
    Row(
        "filter 101 speaker_ids",
        "ListClaims",
        claim_filter(speaker_ids=[UNKNOWN_SPEAKER_ID] * 101),
        INVALID,
        "filter.speaker_ids",
    ),
    Row(
        "filter stated_before equal to stated_since",
        "ListClaims",
        claim_filter(
            stated_since=Timestamp(seconds=NOV_20), stated_before=Timestamp(seconds=NOV_20)
        ),
        INVALID,
        "filter.stated_before",
    ),
    Row(
        "filter stated_before earlier than stated_since",
        "ListClaims",
        claim_filter(
            stated_since=Timestamp(seconds=NOV_20), stated_before=Timestamp(seconds=NOV_20 - 1)
        ),
        INVALID,
        "filter.stated_before",
    ),
    Row(
        "filter stated_since in year 10000",
        "ListClaims",
        claim_filter(stated_since=Timestamp(seconds=YEAR_10000)),
        INVALID,
        "filter.stated_since",
    ),
    Row(
        "filter attributions 99",
        "ListClaims",
        claim_filter(attributions=[99]),
        INVALID,
        "filter.attributions[0]",
    ),
    Row(
        "filter language",
        "ListClaims",
        claim_filter(language="not a tag!"),
        INVALID,
        "filter.language",
    ),
    Row(
        "filter source_id",
        "ListClaims",
        claim_filter(source_id="src_bad"),
        INVALID,
        "filter.source_id",
    ),
    Row("filter empty topic", "ListClaims", claim_filter(topics=[""]), INVALID, "filter.topics[0]"),
    Row(
        "filter speaker of punctuation",
        "ListClaims",
        claim_filter(speaker="!!"),
        INVALID,
        "filter.speaker",
    ),
    # CreateSpeaker
    Row(
        "speaker display_name with NUL",
        "CreateSpeaker",
        claim_service_pb2.CreateSpeakerRequest(speaker=speaker_pb2.Speaker(display_name="A\x00B")),
        INVALID,
        "speaker.display_name",
    ),
    Row(
        "speaker display_name with DEL",
        "CreateSpeaker",
        claim_service_pb2.CreateSpeakerRequest(speaker=speaker_pb2.Speaker(display_name="A\x7fB")),
        INVALID,
        "speaker.display_name",
    ),
    Row(
        "speaker display_name with tab",
        "CreateSpeaker",
        claim_service_pb2.CreateSpeakerRequest(speaker=speaker_pb2.Speaker(display_name="A\tB")),
        INVALID,
        "speaker.display_name",
    ),
]


def send(stub: ClaimServiceStub, row: Row) -> grpc.Call:
    method: Callable[[Message], object] = getattr(stub, row.method)
    return call_error(lambda: method(row.request))


@pytest.fixture
def seeded(client: claimstore.Client) -> Counts:
    """Stores one claim with its speaker and source, so that 'nothing stored' is not trivial."""
    client.create_claim(
        "Seed",
        speaker="Dmitry Peskov",
        attribution="paraphrase",
        stated_at="2025-11-19",
        citations=[{"url": "https://seed.example/1"}],
    )
    return {"claims": 1, "speakers": 1, "sources": 1}


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_request(
    stub: ClaimServiceStub,
    counts: Callable[[], Counts],
    seeded: Counts,
    row: Row,
) -> None:
    assert counts() == seeded
    error = send(stub, row)
    message = error.details() or ""

    assert error.code() == row.code, message
    assert row.field in message
    if row.code == INVALID:
        assert set(violations(error)) == {row.field}
        assert violations(error)[row.field]  # a description of what is wrong
    else:
        status = rpc_status.from_call(error)
        assert status is not None
        info = error_details_pb2.ResourceInfo()
        assert any(detail.Unpack(info) for detail in status.details)
        assert info.description == f"named by {row.field}"
    assert counts() == seeded


def test_no_bad_request_gets_internal_or_unknown(stub: ClaimServiceStub) -> None:
    codes = {row.name: send(stub, row).code() for row in ROWS}
    broken = {
        name: code
        for name, code in codes.items()
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
    }
    assert broken == {}


def test_every_mistake_of_a_claim_is_reported_at_once(
    stub: ClaimServiceStub, counts: Callable[[], Counts]
) -> None:
    request = create(
        request_id="bad id",
        text="",
        attribution=0,
        stated_at=DROP,
        language="?",
        topics=[""],
        citations=[citation(source=source_pb2.Source(url="ftp://x"))],
    )
    error = send(stub, Row("several mistakes", "CreateClaim", request, INVALID, ""))
    assert error.code() == INVALID
    assert set(violations(error)) == {
        "request_id",
        "claim.text",
        "claim.attribution",
        "claim.stated_at",
        "claim.language",
        "claim.topics[0]",
        "claim.citations[0].source.url",
    }
    assert counts() == {"claims": 0, "speakers": 0, "sources": 0}


@pytest.mark.parametrize("count", [40, 100])
def test_many_mistakes_are_reported_as_far_as_the_trailers_carry_them(
    stub: ClaimServiceStub, count: int
) -> None:
    # gRPC drops trailers past 8 KiB (at random) or 16 KiB: every violation, in the message
    # and in the details, had made forty bad ids RESOURCE_EXHAUSTED, saying nothing of them.
    bad_ids = [f"bad-speaker-id-{index}-" + "é" * 40 for index in range(count)]
    request = claim_service_pb2.ListClaimsRequest(
        filter=claim_filter_pb2.ClaimFilter(speaker_ids=bad_ids)
    )
    for _ in range(5):  # the soft limit drops some trailers only
        error = call_error(lambda: stub.ListClaims(request))
        assert error.code() == INVALID, error.details()
        listed = violations(error)
        assert 10 <= len(listed) < count
        assert list(listed) == [f"filter.speaker_ids[{index}]" for index in range(len(listed))]
        details = error.details() or ""
        assert details.startswith("filter.speaker_ids[0]: ")
        assert details.endswith(f" (and {count - len(listed)} more violations not listed)")
        assert len(details.encode()) <= 800


def test_base_claim_is_valid(stub: ClaimServiceStub, counts: Callable[[], Counts]) -> None:
    """Guards the table: each row differs from a request that succeeds in one way only."""
    created = stub.CreateClaim(create())
    assert created.id.startswith("clm_")
    assert counts() == {"claims": 1, "speakers": 1, "sources": 1}


def test_a_part_repeated_is_checked_where_each_appears(
    stub: ClaimServiceStub, counts: Callable[[], Counts]
) -> None:
    """Inline speakers and sources that passed their checks are remembered by their bytes;
    one that fails is reported at every place it appears, and a good one stays good."""
    good = source_pb2.Source(url="https://good.example/1", publisher="AP")
    bad = source_pb2.Source(url="ftp://bad.example/1")
    request = create(citations=[citation(source=good), citation(source=bad), citation(source=bad)])
    error = send(stub, Row("a bad source twice", "CreateClaim", request, INVALID, ""))
    assert set(violations(error)) == {
        "claim.citations[1].source.url",
        "claim.citations[2].source.url",
    }
    bad_speaker = speaker_pb2.Speaker(display_name="   ")
    for _ in range(2):
        error = send(
            stub, Row("a bad speaker", "CreateClaim", create(speaker=bad_speaker), INVALID, "")
        )
        assert set(violations(error)) == {"claim.speaker.display_name"}
    assert counts() == {"claims": 0, "speakers": 0, "sources": 0}
    stub.CreateClaim(create(citations=[citation(source=good)]))
    assert counts() == {"claims": 1, "speakers": 1, "sources": 1}
