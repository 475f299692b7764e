"""ListClaims: paging through a big data set, every filter field, tokens and page sizes.

The module builds 2,500 claims once, through the API, and remembers what it sent;
each filter's expected result is computed from that record in Python.
"""

import base64
import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_filter_pb2, claim_pb2, claim_service_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server import ClaimServer
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import call_error, invalid_fields, start_server, violations

CLAIMS = 2_500
BASE = datetime(2025, 1, 1, tzinfo=UTC)

SPEAKERS = [
    ("Dmitry Peskov", ["Dmitri Peskov"]),
    ("Jean-Noël Barrot", []),
    ("Volodymyr Zelenskyy", ["Zelensky", "Zelenskiy"]),
    ("Kaja Kallas", []),
    ("Sergei Lavrov", ["Lavrov"]),
    ("Elizaveta Peskova", []),  # "Peskov" is not one of her words
]
PUBLISHERS = ["Reuters", "Associated Press", "Süddeutsche Zeitung", "REUTERS", "Le Monde"]
TOPICS = ["peace plan", "Sanctions", "Énergie", "Grain deal"]
LANGUAGES = ["en", "en-US", "eng", "uk-UA", ""]
ATTRIBUTIONS = [
    claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
    claim_pb2.ATTRIBUTION_PARAPHRASE,
    claim_pb2.ATTRIBUTION_REPORTED,
]


def fold(text: str) -> str:
    """Case- and accent-free form, written here independently of the server's."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class Record:
    """What the test sent for one claim, and the id it got back."""

    id: str
    speaker: int
    attribution: int
    stated_at: datetime
    topics: frozenset[str]
    sources: tuple[int, ...]
    language: str


@dataclass(frozen=True)
class Dataset:
    target: str
    speaker_ids: list[str]
    source_ids: list[str]
    records: list[Record]

    def ordered(self, keep: Callable[[Record], bool], *, descending: bool = True) -> list[str]:
        kept = [r for r in self.records if keep(r)]
        kept.sort(key=lambda r: (r.stated_at, r.id), reverse=descending)
        return [r.id for r in kept]


def claim_spec(index: int) -> dict[str, Any]:
    """The varied but deterministic fields of claim ``index``."""
    topics = [TOPICS[index % 4]]
    if index % 3 == 0:
        topics.append(TOPICS[(index // 4) % 4])
    sources: tuple[int, ...] = ()
    if index % 13:
        sources = (index % 5,)
        if index % 17 == 0:
            sources += ((index + 1) % 5,)
    return {
        "speaker": index % len(SPEAKERS),
        "attribution": ATTRIBUTIONS[(index // 6) % 3],
        # 1,000 instants, each shared by two or three claims made far apart in time.
        "stated_at": BASE + timedelta(hours=(index * 7919) % 1000),
        "topics": topics,
        "sources": sources,
        "language": LANGUAGES[index % 5],
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    server: ClaimServer = start_server(tmp_path_factory.mktemp("big") / "claims.db")
    try:
        with claimstore.Client(server.target) as client:
            speaker_ids = [
                client.create_speaker(name, aliases=aliases).id for name, aliases in SPEAKERS
            ]
            source_ids = [
                client.create_source(url=f"https://news.example/{i}", publisher=publisher).id
                for i, publisher in enumerate(PUBLISHERS)
            ]
            records = []
            for index in range(CLAIMS):
                spec = claim_spec(index)
                claim = client.create_claim(
                    f"claim {index}",
                    speaker_id=speaker_ids[spec["speaker"]],
                    attribution=spec["attribution"],
                    stated_at=spec["stated_at"],
                    topics=spec["topics"],
                    language=spec["language"],
                    citations=[{"source_id": source_ids[s]} for s in spec["sources"]],
                )
                records.append(
                    Record(
                        id=claim.id,
                        speaker=spec["speaker"],
                        attribution=spec["attribution"],
                        stated_at=spec["stated_at"],
                        topics=frozenset(fold(t) for t in spec["topics"]),
                        sources=spec["sources"],
                        language=spec["language"],
                    )
                )
        yield Dataset(server.target, speaker_ids, source_ids, records)
    finally:
        server.stop(0)


@pytest.fixture(scope="module")
def big_stub(dataset: Dataset) -> Iterator[ClaimServiceStub]:
    with grpc.insecure_channel(dataset.target) as channel:
        yield ClaimServiceStub(channel)


@pytest.fixture(scope="module")
def big_client(dataset: Dataset) -> Iterator[claimstore.Client]:
    with claimstore.Client(dataset.target) as client:
        yield client


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def list_pages(
    stub: ClaimServiceStub,
    claim_filter: claim_filter_pb2.ClaimFilter | None = None,
    *,
    page_size: int = 0,
    order_by: str = "",
) -> list[list[str]]:
    """Follows next_page_token to the end; returns the ids of each page."""
    pages = []
    token = ""
    while True:
        response = stub.ListClaims(
            claim_service_pb2.ListClaimsRequest(
                filter=claim_filter, page_size=page_size, page_token=token, order_by=order_by
            )
        )
        pages.append([claim.id for claim in response.claims])
        token = response.next_page_token
        if not token:
            return pages
        assert len(pages) <= CLAIMS, "the listing does not end"


def list_ids(stub: ClaimServiceStub, claim_filter: claim_filter_pb2.ClaimFilter) -> list[str]:
    return [
        claim_id for page in list_pages(stub, claim_filter, page_size=1000) for claim_id in page
    ]


# Paging


@pytest.mark.parametrize(("page_size", "pages"), [(100, 25), (0, 50), (1000, 3), (7, 358)])
def test_paging_returns_every_claim_once_newest_first(
    dataset: Dataset, big_stub: ClaimServiceStub, page_size: int, pages: int
) -> None:
    listed = list_pages(big_stub, page_size=page_size)
    expected_size = page_size or 50
    assert len(listed) == pages
    assert all(len(page) == expected_size for page in listed[:-1])
    assert 0 < len(listed[-1]) <= expected_size
    ids = [claim_id for page in listed for claim_id in page]
    assert len(ids) == len(set(ids)) == CLAIMS
    assert ids == dataset.ordered(lambda r: True)


@pytest.mark.parametrize("order_by", ["stated_at asc", "stated_at", "  STATED_AT   ASC "])
def test_paging_oldest_first(dataset: Dataset, big_stub: ClaimServiceStub, order_by: str) -> None:
    ids = [i for page in list_pages(big_stub, page_size=100, order_by=order_by) for i in page]
    assert ids == dataset.ordered(lambda r: True, descending=False)


def test_explicit_descending_order_is_the_default(
    dataset: Dataset, big_stub: ClaimServiceStub
) -> None:
    ids = [
        i for page in list_pages(big_stub, page_size=500, order_by="stated_at desc") for i in page
    ]
    assert ids == dataset.ordered(lambda r: True)


def test_listed_claims_are_ordered_by_stated_at_then_id(big_stub: ClaimServiceStub) -> None:
    response = big_stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_size=1000))
    keys = [(c.stated_at.ToMicroseconds(), c.id) for c in response.claims]
    assert keys == sorted(keys, reverse=True)
    assert len({stated for stated, _ in keys}) < len(keys)  # ties were there to break


def test_page_size_may_change_between_pages(dataset: Dataset, big_stub: ClaimServiceStub) -> None:
    ids: list[str] = []
    token = ""
    sizes = iter([3, 250, 1, 1000, 999, 1000])
    while True:
        response = big_stub.ListClaims(
            claim_service_pb2.ListClaimsRequest(page_size=next(sizes), page_token=token)
        )
        ids.extend(claim.id for claim in response.claims)
        token = response.next_page_token
        if not token:
            break
    assert ids == dataset.ordered(lambda r: True)


def test_full_view_carries_speaker_and_sources(
    dataset: Dataset, big_stub: ClaimServiceStub
) -> None:
    response = big_stub.ListClaims(
        claim_service_pb2.ListClaimsRequest(page_size=200, view=claim_service_pb2.CLAIM_VIEW_FULL)
    )
    by_id = {r.id: r for r in dataset.records}
    assert len(response.claims) == 200
    for claim in response.claims:
        record = by_id[claim.id]
        assert claim.speaker.id == claim.speaker_id == dataset.speaker_ids[record.speaker]
        assert claim.speaker.display_name == SPEAKERS[record.speaker][0]
        assert [c.source_id for c in claim.citations] == [
            dataset.source_ids[s] for s in record.sources
        ]
        assert all(c.source.id == c.source_id for c in claim.citations)
        assert all(c.source.publisher for c in claim.citations)


def test_default_view_is_basic_with_ids_only(dataset: Dataset, big_stub: ClaimServiceStub) -> None:
    response = big_stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_size=200))
    by_id = {r.id: r for r in dataset.records}
    for claim in response.claims:
        record = by_id[claim.id]
        assert claim.speaker_id == dataset.speaker_ids[record.speaker]
        assert not claim.HasField("speaker")
        assert [c.source_id for c in claim.citations] == [
            dataset.source_ids[s] for s in record.sources
        ]
        assert not any(c.HasField("source") for c in claim.citations)
        assert claim.text == f"claim {dataset.records.index(record)}"


def test_huge_page_size_is_capped_at_1000(big_stub: ClaimServiceStub) -> None:
    response = big_stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_size=1_000_000))
    assert len(response.claims) == 1000
    assert response.next_page_token


def test_client_pager_follows_tokens(dataset: Dataset, big_client: claimstore.Client) -> None:
    pager = big_client.list_claims(page_size=100)
    pages = list(pager.pages())
    assert len(pages) == 25
    assert [c.id for c in pager] == dataset.ordered(lambda r: True)


def test_client_pager_with_filter_and_order(
    dataset: Dataset, big_client: claimstore.Client
) -> None:
    found = big_client.list_claims(
        speaker="peskov", attributions=["reported"], order_by="stated_at asc", page_size=10
    )
    expected = dataset.ordered(
        lambda r: r.speaker == 0 and r.attribution == claim_pb2.ATTRIBUTION_REPORTED,
        descending=False,
    )
    assert len(expected) > 10
    assert [c.id for c in found] == expected


def test_client_pager_is_lazy(stopped_target: str) -> None:
    with claimstore.Client(stopped_target) as client:
        pager = client.list_claims(speaker="Peskov")  # no call yet: nothing listens there
        with pytest.raises(claimstore.Unavailable):
            next(iter(pager))


# Filters


def _filters() -> list[
    tuple[str, Callable[[Dataset], claim_filter_pb2.ClaimFilter], Callable[[Record], bool]]
]:
    F = claim_filter_pb2.ClaimFilter  # noqa: N806
    at = BASE + timedelta(hours=400)
    return [
        ("speaker_ids one", lambda d: F(speaker_ids=[d.speaker_ids[0]]), lambda r: r.speaker == 0),
        (
            "speaker_ids two",
            lambda d: F(speaker_ids=[d.speaker_ids[1], d.speaker_ids[3], d.speaker_ids[1]]),
            lambda r: r.speaker in (1, 3),
        ),
        ("speaker word", lambda d: F(speaker="Peskov"), lambda r: r.speaker == 0),
        ("speaker words any order", lambda d: F(speaker="peskov DMITRY"), lambda r: r.speaker == 0),
        ("speaker alias word", lambda d: F(speaker="dmitri"), lambda r: r.speaker == 0),
        ("speaker alias only", lambda d: F(speaker="zelensky"), lambda r: r.speaker == 2),
        ("speaker accents", lambda d: F(speaker="jean-noel barrot"), lambda r: r.speaker == 1),
        (
            "speaker upper accents",
            lambda d: F(speaker="BARROT JEAN-NOËL"),
            lambda r: r.speaker == 1,
        ),
        ("speaker no match", lambda d: F(speaker="Peskov Lavrov"), lambda r: False),
        ("topics one", lambda d: F(topics=["Grain Deal"]), lambda r: "grain deal" in r.topics),
        (
            "topics any of, accents",
            lambda d: F(topics=["energie", "SANCTIONS"]),
            lambda r: bool({"energie", "sanctions"} & r.topics),
        ),
        ("publisher", lambda d: F(publisher="reuters"), lambda r: bool({0, 3} & set(r.sources))),
        (
            "publisher accents",
            lambda d: F(publisher="SUDDEUTSCHE zeitung"),
            lambda r: 2 in r.sources,
        ),
        ("source_id", lambda d: F(source_id=d.source_ids[4]), lambda r: 4 in r.sources),
        (
            "attributions",
            lambda d: F(attributions=[claim_pb2.ATTRIBUTION_PARAPHRASE]),
            lambda r: r.attribution == claim_pb2.ATTRIBUTION_PARAPHRASE,
        ),
        (
            "attributions any of",
            lambda d: F(
                attributions=[claim_pb2.ATTRIBUTION_REPORTED, claim_pb2.ATTRIBUTION_DIRECT_QUOTE]
            ),
            lambda r: r.attribution != claim_pb2.ATTRIBUTION_PARAPHRASE,
        ),
        (
            "stated_since inclusive",
            lambda d: F(stated_since=stamp(at)),
            lambda r: r.stated_at >= at,
        ),
        (
            "stated_before exclusive",
            lambda d: F(stated_before=stamp(at)),
            lambda r: r.stated_at < at,
        ),
        (
            "stated between",
            lambda d: F(stated_since=stamp(at), stated_before=stamp(at + timedelta(hours=3))),
            lambda r: at <= r.stated_at < at + timedelta(hours=3),
        ),
        ("language en", lambda d: F(language="en"), lambda r: r.language in ("en", "en-US")),
        ("language EN-us", lambda d: F(language="EN-us"), lambda r: r.language == "en-US"),
        ("language eng", lambda d: F(language="eng"), lambda r: r.language == "eng"),
        ("language uk", lambda d: F(language="uk"), lambda r: r.language == "uk-UA"),
        (
            "combined",
            lambda d: F(
                speaker="peskov",
                topics=["peace plan", "sanctions"],
                publisher="Reuters",
                attributions=[claim_pb2.ATTRIBUTION_DIRECT_QUOTE],
                stated_since=stamp(BASE + timedelta(hours=100)),
                stated_before=stamp(BASE + timedelta(hours=900)),
                language="en",
            ),
            lambda r: (
                r.speaker == 0
                and bool({"peace plan", "sanctions"} & r.topics)
                and bool({0, 3} & set(r.sources))
                and r.attribution == claim_pb2.ATTRIBUTION_DIRECT_QUOTE
                and BASE + timedelta(hours=100) <= r.stated_at < BASE + timedelta(hours=900)
                and r.language in ("en", "en-US")
            ),
        ),
        (
            "combined is AND",
            lambda d: F(speaker_ids=[d.speaker_ids[0]], source_id=d.source_ids[1]),
            lambda r: r.speaker == 0 and 1 in r.sources,
        ),
    ]


FILTERS = _filters()


@pytest.mark.parametrize(
    ("make_filter", "keep"), [(f, k) for _, f, k in FILTERS], ids=[name for name, _, _ in FILTERS]
)
def test_filter(
    dataset: Dataset,
    big_stub: ClaimServiceStub,
    make_filter: Callable[[Dataset], claim_filter_pb2.ClaimFilter],
    keep: Callable[[Record], bool],
) -> None:
    expected = dataset.ordered(keep)
    assert list_ids(big_stub, make_filter(dataset)) == expected


def test_filters_select_something_and_not_everything(dataset: Dataset) -> None:
    """Guards the filter table: each non-empty case must be a real test, not all or nothing."""
    for name, _, keep in FILTERS:
        selected = len(dataset.ordered(keep))
        if name != "speaker no match":
            assert 0 < selected < CLAIMS, name
    # The bounds of the time filters fall on instants some claims were stated at.
    assert any(r.stated_at == BASE + timedelta(hours=400) for r in dataset.records)


def test_combined_filter_follows_tokens(dataset: Dataset, big_stub: ClaimServiceStub) -> None:
    claim_filter = claim_filter_pb2.ClaimFilter(speaker="Lavrov", topics=["peace plan"])
    pages = list_pages(big_stub, claim_filter, page_size=10, order_by="stated_at asc")
    expected = dataset.ordered(
        lambda r: r.speaker == 4 and "peace plan" in r.topics, descending=False
    )
    assert len(pages) > 3
    assert [i for page in pages for i in page] == expected


# Tokens and page sizes


def _first_token(stub: ClaimServiceStub, **request: Any) -> str:
    response = stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_size=5, **request))
    assert response.next_page_token
    return response.next_page_token


@pytest.mark.parametrize(
    "changed",
    [
        {"filter": claim_filter_pb2.ClaimFilter(speaker="Lavrov")},
        {"filter": claim_filter_pb2.ClaimFilter(speaker="Peskov", language="en")},
        {"filter": claim_filter_pb2.ClaimFilter()},
        {"filter": claim_filter_pb2.ClaimFilter(speaker="Peskov"), "order_by": "stated_at asc"},
    ],
    ids=["other speaker", "added field", "no filter", "other order"],
)
def test_token_reused_with_another_query_is_invalid_argument(
    big_stub: ClaimServiceStub, changed: dict[str, Any]
) -> None:
    token = _first_token(big_stub, filter=claim_filter_pb2.ClaimFilter(speaker="Peskov"))
    fields = invalid_fields(
        lambda: big_stub.ListClaims(
            claim_service_pb2.ListClaimsRequest(page_token=token, **changed)
        )
    )
    assert fields == {"page_token"}


def test_token_reused_with_show_deleted_says_what_to_repeat(big_stub: ClaimServiceStub) -> None:
    token = _first_token(big_stub)
    request = claim_service_pb2.ListClaimsRequest(page_token=token, show_deleted=True)
    assert violations(call_error(lambda: big_stub.ListClaims(request))) == {
        "page_token": "was issued for a different query; repeat the filter, order_by and"
        " show_deleted of the request that returned it"
    }


def test_token_from_ascending_order_refused_by_descending(big_stub: ClaimServiceStub) -> None:
    token = _first_token(big_stub, order_by="stated_at asc")
    fields = invalid_fields(
        lambda: big_stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_token=token))
    )
    assert fields == {"page_token"}


def _tampered(token: str, position: list[object]) -> str:
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["p"] = position
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [[2**70, "clm_X"], [-(2**63) - 1, "clm_X"], [1.5, "clm_X"], ["x", "clm_X"], [1], []],
    ids=["int too big", "int too small", "float", "string time", "short", "empty"],
)
def test_tampered_token_is_invalid_argument(
    big_stub: ClaimServiceStub, position: list[object]
) -> None:
    """A token with the right query digest but a forged position is the client's mistake."""
    token = _tampered(_first_token(big_stub), position)
    fields = invalid_fields(
        lambda: big_stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_token=token))
    )
    assert fields == {"page_token"}


@pytest.mark.parametrize(
    "token", ["garbage", "!!!", "eyJ9", "e30", "W10", "bnVsbA", "é", "x" * 5000]
)
def test_garbage_token_is_invalid_argument(stub: ClaimServiceStub, token: str) -> None:
    fields = invalid_fields(
        lambda: stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_token=token))
    )
    assert fields == {"page_token"}


@pytest.mark.parametrize("page_size", [-1, -1000, -(2**31)])
def test_negative_page_size_is_invalid_argument(stub: ClaimServiceStub, page_size: int) -> None:
    fields = invalid_fields(
        lambda: stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_size=page_size))
    )
    assert fields == {"page_size"}


def test_empty_store_lists_nothing(stub: ClaimServiceStub) -> None:
    response = stub.ListClaims(claim_service_pb2.ListClaimsRequest())
    assert list(response.claims) == []
    assert response.next_page_token == ""


def test_last_page_exactly_full_has_no_token(client: claimstore.Client, tmp_path: Path) -> None:
    for index in range(4):
        client.create_claim(
            f"c{index}", speaker="S", attribution="paraphrase", stated_at="2025-01-01"
        )
    pages = list(client.list_claims(page_size=2).pages())
    assert [len(page) for page in pages] == [2, 2]


# Big claims and concurrent writes


def test_pages_of_the_largest_claims_fit_in_a_response(client: claimstore.Client) -> None:
    """Every claim here is valid; together they outgrow one 4 MiB message at 50 a page."""
    source = client.create_source(url="https://example.com/long")
    created = [
        client.create_claim(
            f"{index} " + "x" * 9_990,
            speaker="Long Talker",
            attribution="direct_quote",
            stated_at=BASE + timedelta(minutes=index),
            citations=[{"source_id": source.id, "excerpt": "e" * 2_000}] * 100,
        ).id
        for index in range(21)
    ]
    assert [claim.id for claim in client.list_claims()] == created[::-1]


def test_paging_while_claims_are_added_skips_and_repeats_nothing(
    client: claimstore.Client,
) -> None:
    def add(hours: int) -> str:
        return client.create_claim(
            f"at {hours}",
            speaker="S",
            attribution="paraphrase",
            stated_at=BASE + timedelta(hours=hours),
        ).id

    existing = [add(hours) for hours in range(0, 60, 2)]
    seen: list[str] = []
    for number, page in enumerate(client.list_claims(page_size=5).pages()):
        seen.extend(claim.id for claim in page)
        add(1000 + number)  # newer than everything: before the cursor
        add(-1 - number)  # older than everything: after the cursor
    assert len(seen) == len(set(seen))
    assert set(existing) <= set(seen)
    assert [i for i in seen if i in existing] == existing[::-1]
