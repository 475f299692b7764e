"""ExportClaims: every claim in the full view, oldest first, filtered as ListClaims filters,
in batches; and the export -> JSON Lines -> import round trip."""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import claimstore
import grpc
import pytest
from claimstore import format_import_line, import_request, parse_import_line
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server import ClaimServer
from helpers import Counts, count_all, stamp, start_server

EXPORT_BATCH = 256
"""The most claims the server puts in one ExportClaimsResponse."""

MAX_MESSAGE = 4 * 1024 * 1024

REUTERS = {"publisher": "Reuters", "kind": "news_article", "published_at": "2025-11-20"}


@dataclass(frozen=True)
class Populated:
    """The ids a test filters by, in a store of ten claims."""

    barrot_id: str
    rubio_id: str
    ap_source_id: str


@pytest.fixture
def populated(client: claimstore.Client) -> Populated:
    """Ten claims of several speakers, days, topics, attributions, languages and sources,
    with ties on stated_at; every speaker and source is cited by a claim."""
    barrot = client.create_speaker(
        "Jean-Noël Barrot",
        title="Foreign Minister of France",
        affiliation="France",
        aliases=["Jean-Noel Barrot"],
        wikidata_id="Q3166917",
    )
    ap = client.create_source(
        url="https://apnews.com/article/peace-plan",
        publisher="Associated Press",
        title="U.S. peace plan",
        kind="news_article",
        published_at="2025-11-20T09:30:00Z",
    )
    reuters = {**REUTERS, "url": "https://www.reuters.com/world/peace-plan", "role": "report"}
    add = client.create_claim
    add(
        "Consultations are not currently under way.",
        speaker="Dmitry Peskov",
        attribution="direct_quote",
        stated_at="2025-11-20",
        channel="remarks to reporters",
        language="en",
        topics=["peace plan", "negotiations"],
        citations=[{**reuters, "excerpt": "Peskov told reporters"}],
    )
    add(
        "Russia's stance remains unchanged.",
        speaker="Dmitry Peskov",
        attribution="paraphrase",
        stated_at="2025-11-20",
        language="en",
        topics=["root causes"],
        citations=[{"source_id": ap.id, "role": "report"}],
    )
    add(
        "But peace cannot be a capitulation.",
        speaker_id=barrot.id,
        attribution="direct_quote",
        stated_at="2025-11-20",
        language="fr",
        topics=["Capitulation"],
        citations=[
            {"source_id": ap.id, "role": "report", "excerpt": "Barrot said"},
            reuters,
        ],
    )
    add(
        "Washington would continue developing potential ideas for ending this war.",
        speaker="Marco Rubio",
        attribution="paraphrase",
        stated_at="2025-11-19",
        channel="post on X",
        language="en-US",
        topics=["negotiations"],
        citations=[
            {
                "url": "https://x.com/SecRubio/status/1",
                "publisher": "Marco Rubio on X",
                "kind": "social_media_post",
                "role": "origin",
            }
        ],
    )
    add(
        "A durable peace will require difficult but necessary concessions.",
        speaker="Marco Rubio",
        attribution="direct_quote",
        stated_at="2025-11-19",
        channel="post on X",
        language="en-US",
        topics=["territorial concessions"],
        citations=[{"url": "https://x.com/SecRubio/status/1", "role": "origin"}],
    )
    add(
        "Washington has signaled to Kyiv that it must accept the framework.",
        speaker=speaker_pb2.Speaker(
            display_name="Two unnamed sources", kind=speaker_pb2.SPEAKER_KIND_ANONYMOUS
        ),
        attribution="reported",
        stated_at="2025-11-18T10:00:00Z",
        topics=["peace plan"],
        citations=[{**REUTERS, "title": "Sources: U.S. presses Kyiv", "role": "origin"}],
    )
    add(
        "We are ready to work constructively with the American side.",
        speaker="Office of the President of Ukraine",
        attribution="direct_quote",
        stated_at="2025-11-21",
        language="uk",
        citations=[
            {
                "publisher": "Office of the President of Ukraine",
                "title": "Statement on Telegram",
                "kind": "social_media_post",
                "published_at": "2025-11-21",
                "role": "origin",
            }
        ],
    )
    add(
        "The best path to a just peace is to bolster Ukraine's air defenses.",
        speaker=speaker_pb2.Speaker(display_name="Oleksandr Syrskyi", aliases=["Syrsky"]),
        attribution="paraphrase",
        stated_at="2025-11-19",
        stated_at_precision="day",
        topics=["air defense"],
        citations=[{"source_id": ap.id}],
    )
    add(
        "There are contacts, of course.",
        speaker="Dmitry Peskov",
        attribution="direct_quote",
        stated_at="2025-11-22T08:15:30.123456Z",
        language="en",
        topics=["negotiations"],
        citations=[reuters],
    )
    add(
        "Ukrainians want peace.",
        speaker_id=barrot.id,
        attribution="direct_quote",
        stated_at="2025-11-20",
        language="fr-FR",
        topics=["sovereignty"],
    )
    rubio = next(iter(client.list_claims(speaker="Rubio"))).speaker_id
    return Populated(barrot_id=barrot.id, rubio_id=rubio, ap_source_id=ap.id)


def ids(claims: Iterable[claim_pb2.Claim]) -> list[str]:
    return [claim.id for claim in claims]


def listed_oldest_first(client: claimstore.Client, **filters: Any) -> list[str]:
    return ids(client.list_claims(order_by="stated_at asc", page_size=1000, **filters))


def export_lines(client: claimstore.Client) -> list[str]:
    return [format_import_line(import_request(claim)) for claim in client.export_claims()]


def import_lines(
    client: claimstore.Client, lines: list[str]
) -> list[claim_service_pb2.ImportResult]:
    return list(client.import_claims(parse_import_line(line) for line in lines))


# Everything


def test_export_without_filter_is_every_claim_in_full_oldest_first(
    client: claimstore.Client, populated: Populated
) -> None:
    exported = list(client.export_claims())
    assert len(exported) == 10
    assert ids(exported) == listed_oldest_first(client)
    keys = [(claim.stated_at.ToMicroseconds(), claim.id) for claim in exported]
    assert keys == sorted(keys)
    assert len(set(ids(exported))) == 10
    for claim in exported:
        assert claim.speaker.id == claim.speaker_id
        assert claim.speaker.display_name
        for citation in claim.citations:
            assert citation.source.id == citation.source_id
        assert claim == client.get_claim(claim.id, view="full")
    # The order is stable: an unchanged store exports the same every time.
    assert list(client.export_claims()) == exported


def test_export_of_an_empty_store_is_empty(client: claimstore.Client) -> None:
    assert list(client.export_claims()) == []


FILTERS: dict[str, tuple[Callable[[Populated], dict[str, Any]], int]] = {
    "speaker_ids": (lambda p: {"speaker_ids": [p.barrot_id, p.rubio_id]}, 4),
    "speaker": (lambda p: {"speaker": "peskov"}, 3),
    "speaker by alias without accents": (lambda p: {"speaker": "jean-noel barrot"}, 2),
    "topics": (lambda p: {"topics": ["capitulation", "NEGOTIATIONS"]}, 4),
    "publisher": (lambda p: {"publisher": "reuters"}, 4),
    "source_id": (lambda p: {"source_id": p.ap_source_id}, 3),
    "attributions": (lambda p: {"attributions": ["paraphrase", "reported"]}, 4),
    "stated_since": (lambda p: {"since": "2025-11-20"}, 6),
    "stated_before": (lambda p: {"before": "2025-11-20"}, 4),
    "since and before": (lambda p: {"since": "2025-11-19", "before": "2025-11-21"}, 7),
    "language": (lambda p: {"language": "en"}, 5),
    "language with region": (lambda p: {"language": "fr-FR"}, 1),
    "several fields": (
        lambda p: {"speaker": "peskov", "topics": ["negotiations"], "since": "2025-11-21"},
        1,
    ),
    "nothing matches": (lambda p: {"speaker": "peskov", "topics": ["capitulation"]}, 0),
}


@pytest.mark.parametrize(("make_filter", "count"), list(FILTERS.values()), ids=list(FILTERS))
def test_each_filter_narrows_the_export_as_it_narrows_list_claims(
    client: claimstore.Client,
    populated: Populated,
    make_filter: Callable[[Populated], dict[str, Any]],
    count: int,
) -> None:
    filters = make_filter(populated)
    exported = list(client.export_claims(**filters))
    assert ids(exported) == listed_oldest_first(client, **filters)
    assert len(exported) == count
    for claim in exported:
        assert claim.speaker.id == claim.speaker_id
        assert all(citation.source.id for citation in claim.citations)


def test_a_ready_filter_message_is_taken(client: claimstore.Client, populated: Populated) -> None:
    ready = claimstore.ClaimFilter(
        speaker="rubio", attributions=[claim_pb2.ATTRIBUTION_DIRECT_QUOTE]
    )
    exported = list(client.export_claims(filter=ready))
    assert [claim.text for claim in exported] == [
        "A durable peace will require difficult but necessary concessions."
    ]
    assert ids(exported) == listed_oldest_first(client, filter=ready)


BAD_FILTERS: dict[str, tuple[dict[str, Any], str]] = {
    "malformed speaker id": ({"speaker_ids": ["not-an-id"]}, "filter.speaker_ids[0]"),
    "source id of a claim": (
        {"source_id": "clm_01JD3M0X8Y9Z0000000000000A"},
        "filter.source_id",
    ),
    "before not after since": (
        {"since": "2025-11-20", "before": "2025-11-20"},
        "filter.stated_before",
    ),
    "punctuation-only speaker": ({"speaker": "--"}, "filter.speaker"),
    "bad language tag": ({"language": "not a tag"}, "filter.language"),
}


@pytest.mark.parametrize(("filters", "field"), list(BAD_FILTERS.values()), ids=list(BAD_FILTERS))
def test_a_bad_filter_is_invalid_argument(
    client: claimstore.Client, populated: Populated, filters: dict[str, Any], field: str
) -> None:
    with pytest.raises(claimstore.InvalidArgument) as raised:
        list(client.export_claims(**filters))
    assert field in raised.value.field_violations


# Batches


def many_requests(count: int) -> list[claim_service_pb2.CreateClaimRequest]:
    """``count`` claims by three speakers over three days: many ties on stated_at."""
    requests = []
    for index in range(count):
        claim = claim_pb2.Claim(
            text=f"Claim number {index}.",
            attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
            speaker=speaker_pb2.Speaker(display_name=f"Speaker {index % 3}"),
            stated_at=stamp(f"2025-11-{18 + index % 3}T00:00:00+00:00"),
            topics=["bulk"],
        )
        requests.append(claim_service_pb2.CreateClaimRequest(claim=claim))
    return requests


def test_more_claims_than_one_batch_come_back_complete(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    results = list(client.import_claims(many_requests(600)))
    assert all(r.outcome == claim_service_pb2.IMPORT_OUTCOME_CREATED for r in results)
    created = {r.claim_id for r in results}
    responses = list(stub.ExportClaims(claim_service_pb2.ExportClaimsRequest()))
    assert len(responses) >= 3
    assert all(0 < len(response.claims) <= EXPORT_BATCH for response in responses)
    exported = [claim for response in responses for claim in response.claims]
    assert len(exported) == 600
    assert set(ids(exported)) == created
    keys = [(claim.stated_at.ToMicroseconds(), claim.id) for claim in exported]
    assert keys == sorted(keys)
    assert ids(client.export_claims()) == ids(exported)
    # A filter over the batches: one speaker's claims, every one of them.
    one_speaker = ids(client.export_claims(speaker="Speaker 1"))
    assert len(one_speaker) == 200
    assert one_speaker == listed_oldest_first(client, speaker="Speaker 1")


def big_request(index: int) -> claim_service_pb2.CreateClaimRequest:
    """A claim of about 470 KB in the full view: 100 citations of long inline sources."""
    citations = [
        claim_pb2.Citation(
            excerpt="e" * 2_000,
            source=source_pb2.Source(
                url=f"https://example.com/{index}/{position}/" + "u" * 2_000,
                publisher="p" * 200,
                title="t" * 500,
            ),
        )
        for position in range(100)
    ]
    claim = claim_pb2.Claim(
        text=f"Big claim {index}. " + "x" * 9_000,
        attribution=claim_pb2.ATTRIBUTION_PARAPHRASE,
        speaker=speaker_pb2.Speaker(display_name="A Verbose Speaker"),
        stated_at=stamp("2025-11-20T00:00:00+00:00"),
        citations=citations,
    )
    return claim_service_pb2.CreateClaimRequest(claim=claim)


def test_claims_too_big_for_one_message_together_come_back_complete(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    results = list(client.import_claims(big_request(index) for index in range(12)))
    assert [r.outcome for r in results] == [claim_service_pb2.IMPORT_OUTCOME_CREATED] * 12
    responses = list(stub.ExportClaims(claim_service_pb2.ExportClaimsRequest()))
    assert len(responses) >= 2
    assert all(response.ByteSize() <= MAX_MESSAGE for response in responses)
    exported = [claim for response in responses for claim in response.claims]
    assert ids(exported) == sorted(r.claim_id for r in results)
    assert all(len(claim.citations) == 100 for claim in exported)


# The round trip


@pytest.fixture
def second_server(tmp_path: Path) -> Iterator[ClaimServer]:
    """Another server, empty, over another file."""
    running = start_server(tmp_path / "second.db")
    yield running
    running.stop(0)


def test_round_trip_into_an_empty_server_gives_the_same_claims(
    client: claimstore.Client, populated: Populated, second_server: ClaimServer
) -> None:
    lines = export_lines(client)
    assert len(lines) == 10
    with claimstore.Client(second_server.target) as second:
        results = import_lines(second, lines)
        assert [r.outcome for r in results] == [claim_service_pb2.IMPORT_OUTCOME_CREATED] * 10
        copied = list(second.export_claims())
        assert [import_request(claim) for claim in copied] == [
            import_request(claim) for claim in client.export_claims()
        ]
        assert ids(copied) == [r.claim_id for r in results]
        assert count_all(second) == count_all(client)
        # And the copy exports the very lines it was made from.
        assert export_lines(second) == lines


def test_importing_an_export_into_the_same_server_creates_nothing(
    client: claimstore.Client, populated: Populated, counts: Callable[[], Counts]
) -> None:
    before = counts()
    exported_ids = ids(client.export_claims())
    results = import_lines(client, export_lines(client))
    assert [r.outcome for r in results] == [claim_service_pb2.IMPORT_OUTCOME_ALREADY_EXISTS] * 10
    assert [r.claim_id for r in results] == exported_ids
    assert counts() == before


def test_export_stopped_early_is_cancelled_cleanly(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    list(client.import_claims(many_requests(300)))
    call = stub.ExportClaims(claim_service_pb2.ExportClaimsRequest())
    first = next(call)
    assert len(first.claims) == EXPORT_BATCH
    call.cancel()
    with pytest.raises(grpc.RpcError) as raised:
        next(call)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.CANCELLED
    # The server goes on serving.
    assert len(ids(client.export_claims())) == 300


def test_an_export_reads_the_claims_as_they_were_when_it_began(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    results = list(client.import_claims(many_requests(4_000)))
    before = {claim.id: claim for claim in client.export_claims()}
    call = stub.ExportClaims(claim_service_pb2.ExportClaimsRequest())
    first = next(call)
    # Changed while the export runs: a claim it sent, moved after the others; one it has not
    # sent yet, moved before them; one it has not sent yet, deleted; and a new one.
    sent, *_ = first.claims
    unsent = results[-2].claim_id  # the last in export order (the last of 2025-11-20)
    assert unsent not in ids(first.claims)
    client.update_claim(sent.id, stated_at="2025-11-25", text="Moved after the others.")
    client.update_claim(unsent, stated_at="2025-11-01", text="Moved before the others.")
    deleted = results[-5].claim_id
    client.delete_claim(deleted, reason="duplicate")
    new = client.create_claim(
        "Created during the export.",
        speaker="Speaker 0",
        attribution="paraphrase",
        stated_at="2025-11-19",
    )
    exported = [*first.claims, *(claim for response in call for claim in response.claims)]
    assert ids(exported) == list(before)  # each claim once, in the order it had
    assert {claim.id: claim for claim in exported} == before
    assert new.id not in ids(exported)
    # A new export sees the changes.
    after = {claim.id: claim for claim in client.export_claims()}
    assert after[sent.id].text == "Moved after the others."
    assert deleted not in after
    assert new.id in after


def open_files_of(path: Path) -> int:
    """How many file descriptors of this process (where the server runs) are ``path``."""
    count = 0
    for descriptor in Path("/proc/self/fd").iterdir():
        try:
            count += descriptor.readlink() == path
        except OSError:  # closed since it was listed
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_every_export_lets_go_of_its_snapshot_finished_or_cancelled(
    client: claimstore.Client, stub: ClaimServiceStub, db_path: Path
) -> None:
    path = db_path.resolve()

    def cancel_one_and_finish_one() -> None:
        call = stub.ExportClaims(claim_service_pb2.ExportClaimsRequest())
        next(call)
        call.cancel()
        assert len(ids(client.export_claims())) == 600

    def settled() -> int:
        """The count once it has not changed for a while (threads open theirs lazily, and
        a cancelled export's snapshot closes after its call has ended)."""
        counts = [open_files_of(path)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and counts[-3:] != [counts[-1]] * 3:
            time.sleep(0.1)
            counts.append(open_files_of(path))
        return counts[-1]

    list(client.import_claims(many_requests(600)))
    cancel_one_and_finish_one()
    before = settled()
    for _ in range(10):
        cancel_one_and_finish_one()
    # SQLite keeps the descriptor of a connection closed while another one holds a lock on
    # the file, and the next connection takes it: one more, never one an export.
    assert before <= settled() <= before + 1
