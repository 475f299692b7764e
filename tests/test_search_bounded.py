"""SearchClaims past the search bound, against a real server over a store whose bound is
small: a search with more matches than the bound comes in two tiers (every required term
in the text, then the rest), newest first within each; one with fewer is ranked exactly."""

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from claimstore.v1 import (
    claim_filter_pb2,
    claim_pb2,
    claim_service_pb2,
    claim_service_pb2_grpc,
    speaker_pb2,
)
from claimstore_server import ServerConfig, build_server
from claimstore_server.store import SqliteStore
from helpers import stamp

Stub = claim_service_pb2_grpc.ClaimServiceStub
SearchResult = claim_service_pb2.SearchResult

BOUND = 10


@pytest.fixture
def stub(db_path: Path) -> Iterator[Stub]:
    server = build_server(
        ServerConfig(db_path=db_path, listen="127.0.0.1:0"),
        SqliteStore(db_path, search_bound=BOUND),
    )
    server.start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            yield claim_service_pb2_grpc.ClaimServiceStub(channel)
    finally:
        server.stop(0)


def _claim(text: str, index: int, *, topics: tuple[str, ...] = ()) -> claim_pb2.Claim:
    return claim_pb2.Claim(
        text=text,
        attribution=claim_pb2.ATTRIBUTION_REPORTED,
        speaker=speaker_pb2.Speaker(display_name=f"Farmer {index % 3}"),
        stated_at=stamp(f"2025-{1 + index % 12:02}-01T00:00:00+00:00"),
        topics=topics,
    )


def _store(stub: Stub, claims: list[claim_pb2.Claim]) -> list[str]:
    """Stores ``claims`` in this order, one at a time (so later ones are newer); their ids."""
    return [stub.CreateClaim(claim_service_pb2.CreateClaimRequest(claim=c)).id for c in claims]


@pytest.fixture
def harvest(stub: Stub) -> dict[str, list[str]]:
    """40 claims with "harvest" in the text (with "apples" in every other one), then 15 with
    "harvest" only as a topic, then 5 where "harvest" appears once among many words: the
    topic-only ones are the newest, the rare word "pear" is in 4."""
    text = [
        _claim(f"harvest report {index}" + (" apples" if index % 2 else ""), index)
        for index in range(40)
    ]
    topic = [
        _claim(f"orchard report {index} apples", index, topics=("harvest",)) for index in range(15)
    ]
    pears = [
        _claim(
            "pear pear harvest" if index == 2 else f"the pear {index} " + "word " * (5 + index),
            index,
        )
        for index in range(4)
    ]
    return {"text": _store(stub, text), "topic": _store(stub, topic), "pears": _store(stub, pears)}


def _pages(
    stub: Stub, query: str, page_size: int, claim_filter: claim_filter_pb2.ClaimFilter | None = None
) -> list[list[SearchResult]]:
    collected: list[list[SearchResult]] = []
    token = ""
    while True:
        response = stub.SearchClaims(
            claim_service_pb2.SearchClaimsRequest(
                query=query, page_size=page_size, page_token=token, filter=claim_filter
            )
        )
        collected.append(list(response.results))
        token = response.next_page_token
        if not token:
            return collected
        assert len(collected) < 100, "paging never ends"


def _ids(results: list[SearchResult]) -> list[str]:
    return [result.claim.id for result in results]


def test_a_common_word_returns_its_text_matches_before_topic_only_ones_newest_first(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    (whole,) = _pages(stub, "harvest", 100)
    text_matches = [*harvest["text"], harvest["pears"][2]]
    assert _ids(whole) == [*reversed(text_matches), *reversed(harvest["topic"])]
    text_scores = {result.score for result in whole[: len(text_matches)]}
    topic_scores = {result.score for result in whole[len(text_matches) :]}
    assert len(text_scores) == len(topic_scores) == 1
    assert min(text_scores) > max(topic_scores) > 0
    assert "[harvest]" in whole[0].snippet
    assert "[harvest]" in whole[-1].snippet


def test_paging_a_broad_search_neither_repeats_nor_skips_across_the_tiers(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    (whole,) = _pages(stub, "harvest", 100)
    for size in (1, 7, 41, 56):
        paged = _pages(stub, "harvest", size)
        assert all(len(page) == size for page in paged[:-1])
        assert [r.claim.id for page in paged for r in page] == _ids(whole)


def test_a_broad_search_with_two_words_tiers_by_where_both_are(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    # "report apples": 20 text claims hold both in the text; the 15 topic claims hold both
    # in the text as well ("orchard report N apples"): all 35 in the text tier, newest first.
    (whole,) = _pages(stub, "report apples", 100)
    expected = [*harvest["text"][1::2], *harvest["topic"]]
    assert _ids(whole) == list(reversed(expected))
    # "harvest apples": both in the text for 20, "apples" in the text and "harvest" as a topic
    # for the 15 newest: those come after.
    (mixed,) = _pages(stub, "harvest apples", 100)
    assert _ids(mixed) == [*reversed(harvest["text"][1::2]), *reversed(harvest["topic"])]


def test_a_broad_search_with_a_filter_pages_through_the_filtered_matches(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    (whole,) = _pages(stub, "harvest", 100)
    farmer = whole[0].claim.speaker_id
    only = claim_filter_pb2.ClaimFilter(speaker_ids=[farmer])
    paged = _pages(stub, "harvest", 4, only)
    ids = [r.claim.id for page in paged for r in page]
    assert ids == [r.claim.id for r in whole if r.claim.speaker_id == farmer]
    assert len(ids) > BOUND


def test_a_search_within_the_bound_is_ranked_exactly_by_bm25(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    (ranked,) = _pages(stub, "pear", 100)
    # Twice in a short text beats once among more and more words.
    assert _ids(ranked) == [harvest["pears"][2], *harvest["pears"][:2], harvest["pears"][3]]
    scores = [result.score for result in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 4


def test_the_same_broad_search_gives_the_same_page_every_time(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    first = [_ids(_pages(stub, "harvest OR pear", 100)[0]) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    assert len(first[0]) == len(set(first[0])) == 59


def test_a_broad_search_keeps_out_excluded_words(stub: Stub, harvest: dict[str, list[str]]) -> None:
    (whole,) = _pages(stub, "harvest -apples", 100)
    expected = [*harvest["text"][0::2], harvest["pears"][2]]
    assert _ids(whole) == list(reversed(expected))


def test_a_prefix_search_past_the_bound_finds_every_match(
    stub: Stub, harvest: dict[str, list[str]]
) -> None:
    (whole,) = _pages(stub, "harv*", 100)
    assert len(_ids(whole)) == len(set(_ids(whole))) == 56


@pytest.mark.parametrize("query", ["harvest*", "HARVEST*", "harves*"])
def test_a_broad_prefix_search_tiers_like_its_word(
    stub: Stub, harvest: dict[str, list[str]], query: str
) -> None:
    (whole,) = _pages(stub, query, 100)
    (word,) = _pages(stub, "harvest", 100)
    assert _ids(whole) == _ids(word)
    assert [r.score for r in whole] == [r.score for r in word]


@pytest.mark.parametrize("query", ["pear*", "pea*", "pear* -apples"])
def test_a_narrow_prefix_search_is_ranked_exactly(
    stub: Stub, harvest: dict[str, list[str]], query: str
) -> None:
    (ranked,) = _pages(stub, query, 100)
    (word,) = _pages(stub, "pear", 100)
    assert _ids(ranked) == _ids(word)
    assert len({r.score for r in ranked}) == 4
