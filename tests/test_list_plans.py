"""Listing, searching and watching by topic or publisher: a filter that matches many claims
tests each claim, one that matches few collects its claims; every way gives the same pages.

The store holds 400 claims: one topic and one publisher on three claims in four
(past the walk's bound for a page of 50), another publisher on every claim
(past the publisher probe's), another topic and publisher on a handful, several
claims sharing each stated_at (the id breaks ties) and a few deleted.
"""

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore_server import _validation
from claimstore_server.store import (
    ChangeNote,
    ClaimCursor,
    ClaimOrder,
    ClaimQuery,
    DeletionDraft,
    SearchCursor,
    SearchQuery,
    SearchTerm,
    SqliteStore,
    _sqlite,
    sqlite3,
)
from claimstore_server.store._sqlite import LinkPlan, LinkPlans
from helpers import stamp

CLAIMS = 400
PAGE_ROWS = 51  # a page of 50 and the row that tells whether more follow
COMMON_TOPIC, RARE_TOPIC = "everywhere", "rare"
EVERY_PUBLISHER, BIG_PUBLISHER, SMALL_PUBLISHER = "filler times", "big wire", "small paper"
_WALK, _PROBE = LinkPlan.WALK, LinkPlan.PROBE


@dataclass(frozen=True)
class Stored:
    id: str
    stated_at_us: int
    topics: frozenset[str]
    publishers: frozenset[str]
    deleted: bool


def _request(index: int) -> claim_service_pb2.CreateClaimRequest:
    topics = ["filler"]
    if index % 4:
        topics.append(COMMON_TOPIC.title())
    if index % 97 == 5:
        topics.append(RARE_TOPIC.upper())
    # Two reports of the first publisher on every claim: 800 links, past its probe's bound.
    publishers = [EVERY_PUBLISHER.title(), EVERY_PUBLISHER.title()]
    if index % 4 != 1:
        publishers.append(BIG_PUBLISHER.title())
    if index % 89 == 7:
        publishers.append(SMALL_PUBLISHER.title())
    return claim_service_pb2.CreateClaimRequest(
        claim=claim_pb2.Claim(
            text=f"Claim number {index}.",
            attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
            speaker=speaker_pb2.Speaker(display_name="Some Speaker"),
            # Three claims a day: the later pages start inside a day.
            stated_at=stamp(f"2025-03-{1 + index // 3 % 28:02d}T{index % 3 + 8:02d}:00:00Z"),
            topics=topics,
            citations=[
                claim_pb2.Citation(
                    source=source_pb2.Source(
                        publisher=publisher,
                        title=f"{publisher} on claim {index}",
                        url=f"https://{publisher.replace(' ', '-').lower()}.example/{index}/{n}",
                    )
                )
                for n, publisher in enumerate(publishers)
            ],
        )
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteStore, list[Stored]]]:
    store = SqliteStore(tmp_path_factory.mktemp("plans") / "claims.db")
    requests = [_request(index) for index in range(CLAIMS)]
    outcomes = store.import_claims([_validation.claim_draft(r) for r in requests])
    deleted = {outcome.claim_id for outcome in outcomes[::37]}
    for claim_id in deleted:
        store.delete_claim(
            claim_id, DeletionDraft(claim_pb2.DELETION_REASON_DUPLICATE), ChangeNote()
        )
    records = []
    for request, outcome in zip(requests, outcomes, strict=True):
        claim = store.get_claim(outcome.claim_id)
        records.append(
            Stored(
                id=claim.id,
                stated_at_us=claim.stated_at.seconds * 1_000_000,
                topics=frozenset(t.lower() for t in request.claim.topics),
                publishers=frozenset(c.source.publisher.lower() for c in request.claim.citations),
                deleted=claim.id in deleted,
            )
        )
    yield store, records
    store.close()


def _listed(
    store: SqliteStore, query: ClaimQuery, *, descending: bool, plans: LinkPlans | None
) -> list[str]:
    """Every claim id the listing gives, page after page; ``plans`` forces a way to filter
    (None: the store's own choice, through list_claims)."""
    ids: list[str] = []
    after: ClaimCursor | None = None
    while True:
        if plans is None:
            page = store.list_claims(
                query, order=ClaimOrder(descending=descending), after=after, limit=50
            )
            rows = [(claim.stated_at.seconds * 1_000_000, claim.id) for claim in page.items]
            more = page.has_more
        else:
            rows, more = _page(store._connection(), query, descending, after, plans)
        ids += [claim_id for _, claim_id in rows]
        if not more:
            return ids
        after = ClaimCursor(*rows[-1])


def _page(
    connection: sqlite3.Connection,
    query: ClaimQuery,
    descending: bool,
    after: ClaimCursor | None,
    plans: LinkPlans,
) -> tuple[list[tuple[int, str]], bool]:
    conditions, params = _sqlite.claim_conditions(query, plans=plans)
    direction = "DESC" if descending else "ASC"
    if after is not None:
        conditions.append(f"(c.stated_at, c.id) {'<' if descending else '>'} (?, ?)")
        params.extend((after.stated_at_us, after.claim_id))
    rows = connection.execute(
        f"SELECT c.stated_at, c.id FROM claims c WHERE {' AND '.join(conditions)}"
        f" ORDER BY c.stated_at {direction}, c.id {direction} LIMIT ?",
        [*params, PAGE_ROWS],
    ).fetchall()
    return [(row[0], row[1]) for row in rows[:50]], len(rows) == PAGE_ROWS


QUERIES = {
    "common topic": ClaimQuery(topics=(COMMON_TOPIC,)),
    "rare topic": ClaimQuery(topics=(RARE_TOPIC,)),
    "common or rare topic": ClaimQuery(topics=(RARE_TOPIC, COMMON_TOPIC)),
    "every publisher": ClaimQuery(publisher=EVERY_PUBLISHER),
    "big publisher": ClaimQuery(publisher=BIG_PUBLISHER),
    "small publisher": ClaimQuery(publisher=SMALL_PUBLISHER),
    "big publisher, common topic": ClaimQuery(topics=(COMMON_TOPIC,), publisher=BIG_PUBLISHER),
    "big publisher, rare topic": ClaimQuery(topics=(RARE_TOPIC,), publisher=BIG_PUBLISHER),
    "unknown topic": ClaimQuery(topics=("nowhere",)),
    "common topic, deleted too": ClaimQuery(topics=(COMMON_TOPIC,), show_deleted=True),
}


ONE_FILTER_EACH_WAY = [
    "common topic",
    "rare topic",
    "every publisher",
    "big publisher",
    "small publisher",
    "unknown topic",
]
"""A topic probed and one collected, a publisher probed, walked and collected, and no match."""


def _expected(records: list[Stored], query: ClaimQuery, *, descending: bool) -> list[str]:
    kept = [
        r
        for r in records
        if (query.show_deleted or not r.deleted)
        and (not query.topics or set(query.topics) & r.topics)
        and (not query.publisher or query.publisher in r.publishers)
    ]
    kept.sort(key=lambda r: (r.stated_at_us, r.id), reverse=descending)
    return [r.id for r in kept]


@pytest.mark.parametrize("descending", [True, False], ids=["newest first", "oldest first"])
@pytest.mark.parametrize("name", list(QUERIES))
def test_both_ways_of_filtering_list_the_same_claims_page_after_page(
    stored: tuple[SqliteStore, list[Stored]], name: str, descending: bool
) -> None:
    store, records = stored
    query = QUERIES[name]
    expected = _expected(records, query, descending=descending)
    assert name == "unknown topic" or len(expected) > 0
    for plans in (LinkPlans(), LinkPlans(_PROBE, _WALK), LinkPlans(_PROBE, _PROBE), None):
        assert _listed(store, query, descending=descending, plans=plans) == expected, plans


@pytest.mark.parametrize(
    ("name", "plans"),
    [
        ("common topic", LinkPlans(topics=_PROBE)),
        ("rare topic", LinkPlans()),
        ("common or rare topic", LinkPlans(topics=_PROBE)),
        ("unknown topic", LinkPlans()),
        ("every publisher", LinkPlans(publisher=_PROBE)),
        ("big publisher", LinkPlans(publisher=_WALK)),
        ("small publisher", LinkPlans()),
        ("big publisher, rare topic", LinkPlans(publisher=_WALK)),
        ("big publisher, common topic", LinkPlans(topics=_PROBE, publisher=_WALK)),
    ],
)
def test_a_filter_is_walked_past_a_bound_of_its_matches_and_a_publisher_probed_past_another(
    stored: tuple[SqliteStore, list[Stored]], name: str, plans: LinkPlans
) -> None:
    # 400 claims and pages of 51 rows: walked from sqrt(51 * 400) + 1 = 143 links on, a
    # publisher probed from three times that, 429 (the first publisher has 800).
    store, _ = stored
    assert _sqlite.link_plans(store._connection(), QUERIES[name], page_rows=PAGE_ROWS) == plans


def test_an_empty_store_collects(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "empty.db")
    try:
        query = ClaimQuery(topics=(COMMON_TOPIC,), publisher=BIG_PUBLISHER)
        assert _sqlite.link_plans(store._connection(), query, page_rows=PAGE_ROWS) == LinkPlans()
    finally:
        store.close()


def _plan(connection: sqlite3.Connection, query: ClaimQuery, plans: LinkPlans) -> str:
    conditions, params = _sqlite.claim_conditions(query, plans=plans)
    rows = connection.execute(
        "EXPLAIN QUERY PLAN SELECT c.body FROM claims c"
        f" WHERE {' AND '.join(conditions)} ORDER BY c.stated_at DESC, c.id DESC LIMIT 51",
        params,
    ).fetchall()
    return "\n".join(str(row[3]) for row in rows)


@pytest.mark.parametrize("name", ["common topic", "every publisher", "big publisher"])
def test_a_walked_or_probed_filter_walks_the_listing_index_and_sorts_nothing(
    stored: tuple[SqliteStore, list[Stored]], name: str
) -> None:
    store, _ = stored
    connection = store._connection()
    query = QUERIES[name]
    plans = _sqlite.link_plans(connection, query, page_rows=PAGE_ROWS)
    walked = _plan(connection, query, plans)
    assert "SCAN c USING INDEX idx_claims_stated_at_id" in walked
    assert "TEMP B-TREE" not in walked
    probed = _PROBE in (plans.topics, plans.publisher)
    # A probe collects nothing; a walk collects the matches to test the claims against.
    assert ("LIST SUBQUERY" in walked) is not probed, walked
    if plans.publisher is _PROBE:  # each claim's own sources, by the index by claim
        assert "claim_sources_by_claim (claim_seq=?)" in walked
    # Collecting them first sorts them.
    assert "TEMP B-TREE FOR ORDER BY" in _plan(connection, query, LinkPlans())


@pytest.mark.parametrize("name", ONE_FILTER_EACH_WAY)
def test_a_search_filtered_either_way_finds_every_matching_claim_once(
    stored: tuple[SqliteStore, list[Stored]], name: str
) -> None:
    store, records = stored
    query = QUERIES[name]
    words = SearchQuery(required=((SearchTerm(("claim",)),),))  # in every claim's text
    found: list[str] = []
    after: SearchCursor | None = None
    while True:
        page = store.search_claims(words, query, after=after, limit=20)
        found += [hit.claim.id for hit in page.items]
        if not page.has_more:
            break
        after = SearchCursor(page.items[-1].score, page.items[-1].claim.id)
    assert len(found) == len(set(found))
    assert set(found) == set(_expected(records, query, descending=True))


@pytest.mark.parametrize("name", ONE_FILTER_EACH_WAY)
def test_the_change_log_filtered_either_way_gives_every_change_of_the_matching_claims(
    stored: tuple[SqliteStore, list[Stored]], name: str
) -> None:
    store, records = stored
    query = QUERIES[name]
    changes: list[tuple[str, int]] = []
    after = 0
    while True:
        page = store.read_changes(after, query, limit=50)
        changes += [(e.revision.claim.id, e.revision.revision) for e in page.events]
        after = page.last_seq
        if not page.has_more:
            break
    # Deleted claims too: revision 1 created each claim, revision 2 deleted some.
    matching = set(
        _expected(records, dataclasses.replace(query, show_deleted=True), descending=False)
    )
    expected = [(r.id, 1) for r in records if r.id in matching]
    expected += [(r.id, 2) for r in records if r.id in matching and r.deleted]
    assert len(changes) == len(set(changes))
    assert sorted(changes) == sorted(expected)
