"""CreateClaim and GetClaim: round trip, inline speakers and sources, idempotency, normalization."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import claimstore
import pytest
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server.store import sqlite3
from google.protobuf.timestamp_pb2 import Timestamp
from helpers import Counts, stamp, start_server

WHEN = "2025-11-20T14:30:00+00:00"


def add(
    client: claimstore.Client, text: str = "Consultations are not under way", **kwargs: object
) -> claim_pb2.Claim:
    """Creates a claim with sensible defaults for the fields a test does not care about."""
    kwargs.setdefault("attribution", "direct_quote")
    kwargs.setdefault("stated_at", WHEN)
    if "speaker_id" not in kwargs:
        kwargs.setdefault("speaker", "Dmitry Peskov")
    return client.create_claim(text, **kwargs)  # type: ignore[arg-type]


# Round trip


def test_create_then_get_returns_every_field(client: claimstore.Client) -> None:
    known_source = client.create_source(
        url="https://www.reuters.com/world/peskov", publisher="Reuters", kind="news_article"
    )
    created = client.create_claim(
        "Consultations are not currently under way",
        attribution="direct_quote",
        speaker=speaker_pb2.Speaker(
            display_name="Dmitry Peskov",
            kind=speaker_pb2.SPEAKER_KIND_PERSON,
            title="Kremlin spokesman",
            affiliation="Russia",
            aliases=["Dmitri Peskov"],
            wikidata_id="Q2289876",
        ),
        stated_at=Timestamp(seconds=1_763_649_000, nanos=123_456_000),
        stated_at_precision="exact",
        channel="call with reporters",
        language="en",
        topics=["peace plan", "Ukraine"],
        citations=[
            {
                "url": "https://t.me/kremlin/123",
                "publisher": "Kremlin",
                "title": "Briefing",
                "kind": "official_statement",
                "published_at": "2025-11-20T15:00:00+00:00",
                "role": "origin",
                "excerpt": "“not currently under way”",
            },
            {"source_id": known_source.id, "role": "report"},
        ],
    )
    fetched = client.get_claim(created.id)

    assert fetched == created
    assert fetched.id.startswith("clm_")
    assert fetched.text == "Consultations are not currently under way"
    assert fetched.attribution == claim_pb2.ATTRIBUTION_DIRECT_QUOTE
    assert fetched.stated_at == Timestamp(seconds=1_763_649_000, nanos=123_456_000)
    assert fetched.stated_at_precision == claim_pb2.DATE_PRECISION_EXACT
    assert fetched.channel == "call with reporters"
    assert fetched.language == "en"
    assert list(fetched.topics) == ["peace plan", "Ukraine"]
    assert fetched.create_time.seconds > 0
    assert fetched.update_time == fetched.create_time

    speaker = fetched.speaker
    assert speaker.id == fetched.speaker_id
    assert speaker.id.startswith("spk_")
    assert speaker.display_name == "Dmitry Peskov"
    assert speaker.kind == speaker_pb2.SPEAKER_KIND_PERSON
    assert speaker.title == "Kremlin spokesman"
    assert speaker.affiliation == "Russia"
    assert list(speaker.aliases) == ["Dmitri Peskov"]
    assert speaker.wikidata_id == "Q2289876"
    stored = client.get_speaker(speaker.id)
    assert stored.claim_count == 1
    stored.ClearField("claim_count")
    assert stored == speaker

    origin, report = fetched.citations
    assert origin.role == claim_pb2.CITATION_ROLE_ORIGIN
    assert origin.excerpt == "“not currently under way”"
    assert origin.source.id == origin.source_id
    assert origin.source_id.startswith("src_")
    assert origin.source.url == "https://t.me/kremlin/123"
    assert origin.source.publisher == "Kremlin"
    assert origin.source.title == "Briefing"
    assert origin.source.kind == source_pb2.SOURCE_KIND_OFFICIAL_STATEMENT
    assert origin.source.published_at == stamp("2025-11-20T15:00:00+00:00")
    assert client.get_source(origin.source_id) == origin.source
    assert report.role == claim_pb2.CITATION_ROLE_REPORT
    assert report.source_id == known_source.id
    assert report.source == known_source


def test_stated_at_is_kept_to_the_microsecond(client: claimstore.Client) -> None:
    claim = add(client, stated_at=Timestamp(seconds=1_700_000_000, nanos=987_654_321))
    assert client.get_claim(claim.id).stated_at == Timestamp(
        seconds=1_700_000_000, nanos=987_654_000
    )


def test_text_keeps_newlines_and_unicode_and_loses_outer_spaces(
    client: claimstore.Client,
) -> None:
    claim = add(client, "  Первая строка\nsecond line 🕊️  ")
    assert client.get_claim(claim.id).text == "Первая строка\nsecond line 🕊️"


def test_text_of_ten_thousand_characters_is_accepted(client: claimstore.Client) -> None:
    claim = add(client, "x" * 10_000)
    assert len(client.get_claim(claim.id).text) == 10_000


def test_defaults_of_precision_and_citation_role(stub: ClaimServiceStub) -> None:
    created = stub.CreateClaim(
        claim_service_pb2.CreateClaimRequest(
            claim=claim_pb2.Claim(
                text="Defaults",
                attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
                speaker=speaker_pb2.Speaker(display_name="Someone"),
                stated_at=stamp(WHEN),
                citations=[claim_pb2.Citation(source=source_pb2.Source(publisher="AP"))],
            )
        )
    )
    assert created.stated_at_precision == claim_pb2.DATE_PRECISION_EXACT
    assert created.citations[0].role == claim_pb2.CITATION_ROLE_REPORT
    assert created.citations[0].source.kind == source_pb2.SOURCE_KIND_OTHER
    assert created.speaker.kind == speaker_pb2.SPEAKER_KIND_PERSON


def test_ids_have_the_claim_prefix_and_increase_in_creation_order(
    client: claimstore.Client,
) -> None:
    ids = [add(client, f"claim {index}").id for index in range(20)]
    assert all(claim_id.startswith("clm_") for claim_id in ids)
    assert len(set(ids)) == 20
    assert ids == sorted(ids)


# Inline speakers


@pytest.mark.parametrize(
    "given",
    [
        "Jean-Noël Barrot",
        "Jean-Noel Barrot",
        "JEAN-NOËL BARROT",
        "  jean-noël   barrot ",
        "Jean Noel Barrot",
        "Barrot",  # an alias
        "BARROT",
    ],
)
def test_inline_speaker_resolves_to_existing_speaker(
    client: claimstore.Client, counts: Callable[[], Counts], given: str
) -> None:
    existing = client.create_speaker("Jean-Noël Barrot", aliases=["Barrot"])
    claim = add(client, speaker=given)
    assert claim.speaker_id == existing.id
    assert claim.speaker.display_name == "Jean-Noël Barrot"
    assert counts()["speakers"] == 1


def test_inline_speaker_resolves_by_an_alias_of_the_inline_speaker(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    existing = client.create_speaker("Volodymyr Zelenskyy", aliases=["Zelensky", "Zelenskiy"])
    claim = add(
        client, speaker=speaker_pb2.Speaker(display_name="V. Zelenskyi", aliases=["zelénsky"])
    )
    assert claim.speaker_id == existing.id
    assert counts()["speakers"] == 1


def test_inline_speaker_resolves_by_wikidata_id_before_name(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    existing = client.create_speaker("Emmanuel Macron", wikidata_id="Q3052772")
    claim = add(client, speaker=speaker_pb2.Speaker(display_name="Macron", wikidata_id="Q3052772"))
    assert claim.speaker_id == existing.id
    assert counts()["speakers"] == 1


def test_inline_speaker_is_created_when_absent(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    client.create_speaker("Dmitry Peskov")
    claim = add(
        client,
        speaker=speaker_pb2.Speaker(
            display_name="Kaja Kallas",
            kind=speaker_pb2.SPEAKER_KIND_PERSON,
            title="EU foreign policy chief",
        ),
    )
    assert counts()["speakers"] == 2
    speaker = client.get_speaker(claim.speaker_id)
    assert speaker.display_name == "Kaja Kallas"
    assert speaker.title == "EU foreign policy chief"
    # The new speaker is found by the next claim that names it.
    assert add(client, "Another claim", speaker="kaja kallas").speaker_id == speaker.id
    assert counts()["speakers"] == 2


def test_inline_speaker_matching_two_speakers_is_invalid_argument(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    first = client.create_speaker("John Smith", affiliation="UK")
    second = client.create_speaker("Jon Smyth", aliases=["John Smith"], affiliation="US")
    with pytest.raises(claimstore.InvalidArgument) as raised:
        add(client, speaker="john smith")
    assert "claim.speaker" in raised.value.field_violations
    assert "claim.speaker" in raised.value.message
    assert first.id in raised.value.message
    assert second.id in raised.value.message
    assert counts() == {"claims": 0, "speakers": 2, "sources": 0}


def test_of_speakers_sharing_a_name_the_one_described_alike_is_matched(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    minister = speaker_pb2.Speaker(
        display_name="Jean-Noël Barrot", title="Foreign Minister", affiliation="France"
    )
    first = add(client, "First claim", speaker=minister)
    # Someone then creates another speaker of that name, described otherwise.
    namesake = client.create_speaker("jean-noel barrot")
    again = speaker_pb2.Speaker(
        display_name="JEAN-NOEL BARROT", title="foreign minister", affiliation="France"
    )
    assert add(client, "Second claim", speaker=again).speaker_id == first.speaker_id
    # The same claim again is found as the claim stored, not refused as ambiguous.
    with pytest.raises(claimstore.AlreadyExists):
        add(client, "First claim", speaker=minister)
    assert add(client, "Third claim", speaker="Jean-Noel Barrot").speaker_id == namesake.id
    with pytest.raises(claimstore.InvalidArgument) as raised:
        add(client, speaker=speaker_pb2.Speaker(display_name="Jean-Noël Barrot", title="MP"))
    assert "claim.speaker" in raised.value.field_violations
    assert counts() == {"claims": 3, "speakers": 2, "sources": 0}


def test_speaker_id_and_inline_speaker_together_are_invalid_argument(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    speaker = client.create_speaker("Dmitry Peskov")
    with pytest.raises(claimstore.InvalidArgument) as raised:
        add(client, speaker_id=speaker.id, speaker="Dmitry Peskov")
    assert "claim.speaker" in raised.value.field_violations
    assert counts() == {"claims": 0, "speakers": 1, "sources": 0}


# Inline sources


def test_inline_source_is_created_then_reused_by_url(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    url = "https://www.reuters.com/world/europe/peskov-2025-11-20/"
    first = add(client, "one", citations=[{"url": url, "publisher": "Reuters", "title": "T"}])
    second = add(client, "two", citations=[{"url": url, "publisher": "Another name"}])

    source = first.citations[0].source
    assert source.id.startswith("src_")
    assert source.url == url
    assert source.publisher == "Reuters"
    assert client.get_source(source.id) == source
    assert second.citations[0].source_id == source.id
    assert second.citations[0].source == source  # the stored source, not the inline copy
    assert counts()["sources"] == 1


def test_inline_sources_without_url_are_matched_by_publisher_title_and_date(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    report = {"publisher": "AP", "title": "Peace plan report", "published_at": "2025-11-20"}
    first = add(client, "one", citations=[report])
    second = add(client, "two", citations=[{**report, "publisher": "ap"}])
    assert first.citations[0].source_id == second.citations[0].source_id
    other_day = add(client, "three", citations=[{**report, "published_at": "2025-11-21"}])
    other_title = add(client, "four", citations=[{**report, "title": "Another report"}])
    assert other_day.citations[0].source_id != first.citations[0].source_id
    assert other_title.citations[0].source_id != first.citations[0].source_id
    assert counts()["sources"] == 3


def test_inline_source_with_nothing_to_match_is_invalid_argument(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    with pytest.raises(claimstore.InvalidArgument) as raised:
        add(client, citations=[{"kind": "video"}])
    assert "claim.citations[0].source" in raised.value.field_violations
    assert counts()["claims"] == 0


def test_citations_keep_their_order(client: claimstore.Client) -> None:
    urls = [f"https://example.com/{index}" for index in range(5)]
    claim = add(client, citations=[{"url": url} for url in reversed(urls)])
    assert [c.source.url for c in client.get_claim(claim.id).citations] == list(reversed(urls))


# Idempotency


def test_same_request_id_and_claim_returns_the_first_claim(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    first = add(client, speaker="Brand New Speaker", request_id="req-1", topics=["a"])
    again = add(client, speaker="Brand New Speaker", request_id="req-1", topics=["a"])
    assert again.id == first.id
    assert again == first
    assert counts() == {"claims": 1, "speakers": 1, "sources": 0}


def test_same_request_id_with_another_claim_is_already_exists(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    first = add(client, "the original", request_id="0b6c5a44-4d43-4a53-9d0e-1a2b3c4d5e6f")
    with pytest.raises(claimstore.AlreadyExists) as raised:
        add(client, "a different text", request_id="0b6c5a44-4d43-4a53-9d0e-1a2b3c4d5e6f")
    assert "request_id" in raised.value.message
    assert counts() == {"claims": 1, "speakers": 1, "sources": 0}
    assert client.get_claim(first.id).text == "the original"


def test_client_sends_a_request_id_when_none_is_given(
    client: claimstore.Client, db_path: Path
) -> None:
    first = add(client)
    second = add(client, "Another claim")  # no request_id given: the client makes a new one
    assert first.id != second.id
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute("SELECT request_id, claim_id FROM claim_requests").fetchall()
    assert {claim_id for _, claim_id in rows} == {first.id, second.id}
    assert all(request_id for request_id, _ in rows)


# Normalization


def test_topics_are_deduplicated_ignoring_case_and_accents(client: claimstore.Client) -> None:
    claim = add(
        client,
        topics=["Peace plan", "peace  plan", "PEACE PLAN", "Énergie", "energie", "Sanctions"],
    )
    assert list(claim.topics) == ["Peace plan", "Énergie", "Sanctions"]
    assert list(client.get_claim(claim.id).topics) == ["Peace plan", "Énergie", "Sanctions"]


@pytest.mark.parametrize(
    ("precision", "given", "expected"),
    [
        ("exact", "2025-11-20T14:30:15.250000+00:00", "2025-11-20T14:30:15.250000+00:00"),
        ("day", "2025-11-20T14:30:15.250000+00:00", "2025-11-20T00:00:00+00:00"),
        ("month", "2025-11-20T14:30:15.250000+00:00", "2025-11-01T00:00:00+00:00"),
        ("year", "2025-11-20T14:30:15.250000+00:00", "2025-01-01T00:00:00+00:00"),
        ("day", "2025-11-20T23:59:59+03:00", "2025-11-20T00:00:00+00:00"),  # 20:59 UTC
        ("day", "1969-12-31T23:59:59+00:00", "1969-12-31T00:00:00+00:00"),
        ("month", "1900-02-28T12:00:00+00:00", "1900-02-01T00:00:00+00:00"),
        ("year", "0001-06-15T12:00:00+00:00", "0001-01-01T00:00:00+00:00"),
        ("year", "9999-12-31T23:59:59+00:00", "9999-01-01T00:00:00+00:00"),
    ],
)
def test_precision_truncates_stated_at_to_the_start_of_the_period(
    client: claimstore.Client, precision: str, given: str, expected: str
) -> None:
    claim = add(client, stated_at=given, stated_at_precision=precision)
    fetched = client.get_claim(claim.id)
    assert fetched.stated_at.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(expected)
    assert claim_pb2.DatePrecision.Name(fetched.stated_at_precision) == (
        f"DATE_PRECISION_{precision.upper()}"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("EN-us", "en-US"),
        ("en", "en"),
        ("  uk-UA ", "uk-UA"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("ES-419", "es-419"),
    ],
)
def test_language_is_canonicalized(client: claimstore.Client, given: str, expected: str) -> None:
    claim = add(client, language=given)
    assert claim.language == expected
    assert client.get_claim(claim.id).language == expected


def test_output_only_fields_are_ignored(stub: ClaimServiceStub) -> None:
    claim = claim_pb2.Claim(
        id="clm_01JD3M0X8Y9Z0000000000000A",
        text="Output-only fields are ignored",
        attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
        speaker=speaker_pb2.Speaker(display_name="Someone"),
        stated_at=stamp(WHEN),
        create_time=Timestamp(seconds=1),
        update_time=Timestamp(seconds=2),
    )
    created = stub.CreateClaim(claim_service_pb2.CreateClaimRequest(claim=claim, request_id="r"))
    assert created.id != "clm_01JD3M0X8Y9Z0000000000000A"
    assert created.create_time.seconds > 1_700_000_000
    # A retry that differs only in output-only fields is the same request.
    claim.id = created.id
    claim.create_time.CopyFrom(created.create_time)
    again = stub.CreateClaim(claim_service_pb2.CreateClaimRequest(claim=claim, request_id="r"))
    assert again.id == created.id


# Concurrency


def test_concurrent_retries_of_one_request_create_one_claim(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(
            pool.map(
                lambda _: add(client, speaker="New Person", request_id="retried").id, range(16)
            )
        )
    assert len(set(ids)) == 1
    assert counts() == {"claims": 1, "speakers": 1, "sources": 0}


def test_concurrent_claims_by_a_new_speaker_create_it_once(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    url = "https://example.com/shared"
    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(
            pool.map(
                lambda i: add(client, f"claim {i}", speaker="New Person", citations=[{"url": url}]),
                range(16),
            )
        )
    assert len({claim.speaker_id for claim in claims}) == 1
    assert len({claim.citations[0].source_id for claim in claims}) == 1
    assert counts() == {"claims": 16, "speakers": 1, "sources": 1}


def test_ids_keep_increasing_across_a_restart(db_path: Path) -> None:
    first = start_server(db_path)
    try:
        with claimstore.Client(first.target) as client:
            before = add(client).id
    finally:
        first.stop(0)
    second = start_server(db_path)
    try:
        with claimstore.Client(second.target) as client:
            after = add(client, "Said after the restart").id
            assert [c.id for c in client.list_claims(order_by="stated_at asc")] == [before, after]
    finally:
        second.stop(0)
    assert after > before


def test_get_claim_views(client: claimstore.Client) -> None:
    claim = add(client, citations=[{"url": "https://example.com/view", "excerpt": "quoted"}])
    full = client.get_claim(claim.id)
    assert full == client.get_claim(claim.id, view="full") == claim
    basic = client.get_claim(claim.id, view="basic")
    assert not basic.HasField("speaker")
    assert basic.speaker_id == claim.speaker_id
    assert [(c.source_id, c.excerpt, c.role) for c in basic.citations] == [
        (c.source_id, c.excerpt, c.role) for c in claim.citations
    ]
    assert not any(c.HasField("source") for c in basic.citations)
    basic.speaker.CopyFrom(full.speaker)
    for with_source, without in zip(full.citations, basic.citations, strict=True):
        without.source.CopyFrom(with_source.source)
    assert basic == full  # the basic view lacks the speaker and sources, nothing else


def test_a_new_source_cited_twice_by_one_claim_is_stored_once(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    url = "https://example.com/cited-twice"
    claim = add(
        client,
        citations=[{"url": url, "role": "origin"}, {"url": url, "role": "report"}],
    )
    assert claim.citations[0].source_id == claim.citations[1].source_id
    assert counts()["sources"] == 1
