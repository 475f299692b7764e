"""ImportClaims: results, de-duplication, bad items, batch limits, cancellation and deadlines.

Through claimstore.Client.import_claims, and the raw stub (or a raw channel) for
what the client library would never send: oversized batches, malformed bytes, a
stream cancelled between batches.
"""

import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import claimstore
import grpc
import pytest
from claimstore._batches import import_batches
from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from claimstore_server import ClaimServer, ServerConfig, build_server
from claimstore_server.store import ClaimDraft, ImportOutcome, SqliteStore
from helpers import Counts, stamp, violations

CREATED = claim_service_pb2.IMPORT_OUTCOME_CREATED
ALREADY_EXISTS = claim_service_pb2.IMPORT_OUTCOME_ALREADY_EXISTS
FAILED = claim_service_pb2.IMPORT_OUTCOME_FAILED

NOV_20 = "2025-11-20T00:00:00+00:00"
UNKNOWN_SPEAKER_ID = "spk_01JD3M0X8Y9Z0000000000000A"
UNKNOWN_SOURCE_ID = "src_01JD3M0X8Y9Z0000000000000A"
IMPORT_METHOD = "/claimstore.v1.ClaimService/ImportClaims"

STALL_SECONDS = 5.0
"""How long a stalled request iterator waits to be released before it gives up."""


def claim_request(
    text: str,
    *,
    speaker: str | speaker_pb2.Speaker = "Dmitry Peskov",
    stated_at: str = NOV_20,
    request_id: str = "",
    **fields: object,
) -> claim_service_pb2.CreateClaimRequest:
    """A direct quote dated at day precision, with its speaker inline (by name, or given)."""
    claim = claim_pb2.Claim(
        text=text,
        attribution=claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
        speaker=speaker_pb2.Speaker(display_name=speaker) if isinstance(speaker, str) else speaker,
        stated_at=stamp(stated_at),
        stated_at_precision=claim_pb2.DATE_PRECISION_DAY,
        **fields,  # type: ignore[arg-type]
    )
    return claim_service_pb2.CreateClaimRequest(claim=claim, request_id=request_id)


def numbered(count: int, start: int = 0) -> list[claim_service_pb2.CreateClaimRequest]:
    return [claim_request(f"Numbered claim {index}.") for index in range(start, start + count)]


def batch(
    requests: list[claim_service_pb2.CreateClaimRequest],
) -> claim_service_pb2.ImportClaimsRequest:
    return claim_service_pb2.ImportClaimsRequest(claims=requests)


def import_all(
    client: claimstore.Client,
    requests: list[claim_service_pb2.CreateClaimRequest],
    batch_size: int = 500,
) -> list[claim_service_pb2.ImportResult]:
    return list(client.import_claims(requests, batch_size=batch_size))


def stored_texts(client: claimstore.Client) -> set[str]:
    return {claim.text for claim in client.list_claims(page_size=1000)}


def outcomes(results: list[claim_service_pb2.ImportResult]) -> list[str]:
    return [claim_service_pb2.ImportOutcome.Name(result.outcome) for result in results]


# Batches, as the client frames them


def test_client_batches_are_the_bytes_of_their_messages() -> None:
    requests = [
        *numbered(7),
        claim_request("Long " + "é" * 9_000, request_id="long-1"),  # a two-byte length and more
        claim_request("Topical.", topics=["peace plan", "«Noël»"], channel="X"),
    ]
    sent = list(import_batches(requests, 4, 1 << 20))
    assert [len(claim_service_pb2.ImportClaimsRequest.FromString(b).claims) for b in sent] == [
        4,
        4,
        1,
    ]
    assert sent == [batch(requests[i : i + 4]).SerializeToString() for i in range(0, 9, 4)]


def test_client_batches_keep_under_their_byte_bound() -> None:
    requests = numbered(50)
    one = len(batch(requests[:1]).SerializeToString())
    sent = list(import_batches(requests, 500, one * 10))
    assert all(len(b) <= one * 10 for b in sent)
    assert sum(len(claim_service_pb2.ImportClaimsRequest.FromString(b).claims) for b in sent) == 50
    assert 5 <= len(sent) <= 6  # ten claims a batch, give or take one


# Results


def test_one_result_per_claim_indexed_across_batches(client: claimstore.Client) -> None:
    requests = numbered(10)
    results = import_all(client, requests, batch_size=3)
    assert [result.index for result in results] == list(range(10))
    assert outcomes(results) == ["IMPORT_OUTCOME_CREATED"] * 10
    ids = [result.claim_id for result in results]
    assert all(claim_id.startswith("clm_") for claim_id in ids)
    assert len(set(ids)) == 10
    for result, request in zip(results, requests, strict=True):
        assert not result.HasField("error")
        assert client.get_claim(result.claim_id).text == request.claim.text


@pytest.mark.parametrize("size", [0, -1, 1001])
def test_a_batch_size_a_server_would_refuse_is_a_value_error_before_any_call(
    client: claimstore.Client, size: int
) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        client.import_claims(numbered(3), batch_size=size)
    assert list(client.list_claims()) == []


def test_a_claim_too_large_to_send_is_a_value_error_after_the_claims_before_it(
    client: claimstore.Client,
) -> None:
    requests = [*numbered(4), claim_request("x" * 3_000_000), *numbered(2, start=4)]
    received: list[claim_service_pb2.ImportResult] = []

    def receive() -> None:
        received.extend(client.import_claims(requests, batch_size=2))

    with pytest.raises(ValueError, match=r"3,000,0[0-9]{2} bytes is more than a batch takes"):
        receive()
    assert [r.index for r in received] == [0, 1, 2, 3]
    assert stored_texts(client) == {f"Numbered claim {i}." for i in range(4)}


def test_a_claim_for_a_request_is_a_type_error_after_the_claims_before_it(
    client: claimstore.Client,
) -> None:
    # A Claim's bytes were sent as a CreateClaimRequest's: its id read as the claim made the
    # batch corrupt, and the server refused it whole, good claims and all (INVALID_ARGUMENT).
    stored = claim_pb2.Claim(id="clm_01JD3M0X8Y9Z0000000000000A", text="Exported elsewhere.")
    requests: list[object] = [*numbered(3), stored, *numbered(2, start=3)]
    received: list[claim_service_pb2.ImportResult] = []
    with pytest.raises(TypeError, match=r"requests\[3\]: expected a CreateClaimRequest, not Claim"):
        received.extend(client.import_claims(requests, batch_size=2))  # type: ignore[arg-type]
    assert [r.index for r in received] == [0, 1, 2]
    assert stored_texts(client) == {f"Numbered claim {i}." for i in range(3)}
    with pytest.raises(TypeError, match=r"requests\[0\]: expected a CreateClaimRequest, not str"):
        list(client.import_claims("claims.jsonl"))  # type: ignore[arg-type]


@pytest.mark.parametrize("max_message_bytes", [64 * 1024 * 1024, -1], ids=["64 MiB", "no limit"])
def test_a_client_allowed_larger_messages_still_sends_batches_the_server_takes(
    server: ClaimServer, max_message_bytes: int
) -> None:
    # 1,000 claims of 9.5 kB are 9.5 MB: batches of half a 64 MiB limit went over the
    # server's 4 MiB, and the whole import ended RESOURCE_EXHAUSTED with nothing stored.
    words = "word " * 1_900
    requests = [claim_request(f"{index} {words}") for index in range(1_000)]
    config = claimstore.ClientConfig(target=server.target, max_message_bytes=max_message_bytes)
    with claimstore.Client(config=config) as client:
        results = list(client.import_claims(requests, batch_size=1_000))
        assert outcomes(results) == ["IMPORT_OUTCOME_CREATED"] * 1_000
        assert sum(1 for _ in client.list_claims(page_size=100)) == 1_000


def test_each_batch_is_answered_with_its_own_results(stub: ClaimServiceStub) -> None:
    requests = numbered(10)
    batches = [batch(requests[start : start + 3]) for start in range(0, 10, 3)]
    responses = list(stub.ImportClaims(iter(batches)))
    assert [[r.index for r in response.results] for response in responses] == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7, 8],
        [9],
    ]


def test_batches_sent_at_once_see_the_claims_of_the_batches_before(
    stub: ClaimServiceStub,
) -> None:
    # Batches that arrive together may be written in one transaction: each must still be
    # answered on its own, and see what the batches before it stored.
    first = [claim_request(f"Early claim {index}.", request_id=f"r{index}") for index in range(3)]
    batches = [
        batch(first),
        batch(numbered(3)),
        batch([claim_request("EARLY claim 1"), claim_request("Another.", request_id="r2")]),
        batch([claim_request("Early claim 2.", request_id="r2")]),
    ]
    responses = list(stub.ImportClaims(iter(batches)))
    assert [[r.index for r in response.results] for response in responses] == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7],
        [8],
    ]
    early_ids = [result.claim_id for result in responses[0].results]
    duplicate, reused = responses[2].results
    assert (duplicate.outcome, duplicate.claim_id) == (ALREADY_EXISTS, early_ids[1])
    assert reused.outcome == FAILED
    (retried,) = responses[3].results
    assert (retried.outcome, retried.claim_id) == (ALREADY_EXISTS, early_ids[2])


def test_an_empty_batch_is_answered_with_no_results(stub: ClaimServiceStub) -> None:
    responses = list(stub.ImportClaims(iter([batch([]), batch(numbered(2))])))
    assert [len(response.results) for response in responses] == [0, 2]
    assert [r.index for r in responses[1].results] == [0, 1]


@pytest.mark.parametrize("with_request_ids", [False, True], ids=["by content", "by request_id"])
def test_importing_again_stores_nothing_new(
    client: claimstore.Client, counts: Callable[[], Counts], with_request_ids: bool
) -> None:
    requests = numbered(10)
    if with_request_ids:
        for index, request in enumerate(requests):
            request.request_id = f"import-{index}"
    first = import_all(client, requests, batch_size=3)
    before = counts()
    assert before["claims"] == 10
    again = import_all(client, requests, batch_size=4)
    assert outcomes(again) == ["IMPORT_OUTCOME_ALREADY_EXISTS"] * 10
    assert [r.claim_id for r in again] == [r.claim_id for r in first]
    assert [r.index for r in again] == list(range(10))
    assert counts() == before


# De-duplication by content


def test_same_speaker_time_and_words_are_the_same_claim(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    (original,) = import_all(client, [claim_request("Consultations are not currently under way.")])
    assert original.outcome == CREATED
    before = counts()
    variants = [
        claim_request("consultations ARE NOT currently under way"),
        claim_request("Consultations -- are not, currently, under way!!"),
        claim_request("Cönsultations are nót currently ünder wáy."),
        claim_request("  Consultations are not\ncurrently under way . "),
        # The speaker's name in another case matches the same speaker.
        claim_request("Consultations are not currently under way.", speaker="dmitry PESKOV"),
        # Day precision: any time of the day is the first instant of that day.
        claim_request(
            "Consultations are not currently under way.", stated_at="2025-11-20T15:30:00+00:00"
        ),
    ]
    results = import_all(client, variants)
    assert outcomes(results) == ["IMPORT_OUTCOME_ALREADY_EXISTS"] * len(variants)
    assert {r.claim_id for r in results} == {original.claim_id}
    assert counts() == before


def test_another_time_speaker_or_words_is_another_claim(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    (original,) = import_all(client, [claim_request("Consultations are not currently under way.")])
    others = [
        claim_request("Consultations are not currently under way.", stated_at="2025-11-21T00:00Z"),
        claim_request("Consultations are not currently under way.", speaker="Marco Rubio"),
        claim_request("Consultations are currently under way."),
        claim_request("Consultations are not currently under way yet."),
    ]
    results = import_all(client, others)
    assert outcomes(results) == ["IMPORT_OUTCOME_CREATED"] * len(others)
    assert original.claim_id not in {r.claim_id for r in results}
    assert len({r.claim_id for r in results}) == len(others)
    assert counts()["claims"] == 1 + len(others)


def test_duplicates_within_one_batch(client: claimstore.Client) -> None:
    requests = [
        claim_request("We are ready now, as before."),
        claim_request("A claim in between."),
        claim_request("we are READY now as before"),
        claim_request("We are ready now, as before.", request_id="dup-in-batch"),
    ]
    results = import_all(client, requests)
    assert outcomes(results) == [
        "IMPORT_OUTCOME_CREATED",
        "IMPORT_OUTCOME_CREATED",
        "IMPORT_OUTCOME_ALREADY_EXISTS",
        "IMPORT_OUTCOME_ALREADY_EXISTS",
    ]
    assert results[2].claim_id == results[0].claim_id == results[3].claim_id
    assert len(stored_texts(client)) == 2


def test_a_speaker_created_in_a_batch_is_matched_by_the_claims_after_it(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    new_speaker = speaker_pb2.Speaker(display_name="Jean-Noël Barrot", aliases=["J.-N. Barrot"])
    requests = [
        claim_request("But peace cannot be a capitulation.", speaker=new_speaker),
        claim_request("Ukrainians want peace.", speaker="jean-noel barrot"),
        claim_request("But peace cannot be a capitulation", speaker="J.-N. Barrot"),
    ]
    results = import_all(client, requests)
    assert outcomes(results) == [
        "IMPORT_OUTCOME_CREATED",
        "IMPORT_OUTCOME_CREATED",
        "IMPORT_OUTCOME_ALREADY_EXISTS",
    ]
    assert results[2].claim_id == results[0].claim_id
    assert counts()["speakers"] == 1
    speaker_ids = {client.get_claim(r.claim_id).speaker_id for r in results}
    assert len(speaker_ids) == 1


# request_id


def test_same_request_id_is_already_exists(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    request = claim_request("There are contacts, of course.", request_id="peskov-1")
    (first,) = import_all(client, [request])
    assert first.outcome == CREATED
    before = counts()
    (again,) = import_all(client, [request])
    assert again.outcome == ALREADY_EXISTS
    assert again.claim_id == first.claim_id
    assert not again.HasField("error")
    assert counts() == before


def test_request_id_reused_with_another_claim_fails(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    (first,) = import_all(client, [claim_request("There are contacts.", request_id="peskov-1")])
    before = counts()
    results = import_all(
        client,
        [
            claim_request("Something else entirely.", request_id="peskov-1"),
            claim_request("A good claim after it."),
        ],
    )
    assert outcomes(results) == ["IMPORT_OUTCOME_FAILED", "IMPORT_OUTCOME_CREATED"]
    failed = results[0]
    assert failed.claim_id == ""
    assert failed.error.code == "ALREADY_EXISTS"
    assert "request_id" in failed.error.message
    assert stored_texts(client) == {"There are contacts.", "A good claim after it."}
    assert counts()["claims"] == before["claims"] + 1
    assert client.get_claim(first.claim_id).text == "There are contacts."


def test_request_id_reused_within_one_batch(client: claimstore.Client) -> None:
    results = import_all(
        client,
        [
            claim_request("The first claim of the request.", request_id="same"),
            claim_request("The first claim of the request.", request_id="same"),
            claim_request("Another claim, same request_id.", request_id="same"),
        ],
    )
    assert outcomes(results) == [
        "IMPORT_OUTCOME_CREATED",
        "IMPORT_OUTCOME_ALREADY_EXISTS",
        "IMPORT_OUTCOME_FAILED",
    ]
    assert results[1].claim_id == results[0].claim_id
    assert results[2].error.code == "ALREADY_EXISTS"
    assert stored_texts(client) == {"The first claim of the request."}


# Bad items


def test_bad_items_fail_alone_with_the_field_at_fault(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    client.create_speaker("Same Name", title="one")
    client.create_speaker("Same Name", title="other")
    no_speaker = claim_request("Unknown speaker id.", speaker_id=UNKNOWN_SPEAKER_ID)
    no_speaker.claim.ClearField("speaker")
    bad_url = claim_request(
        "Bad url.",
        speaker="A Speaker Nobody Has Named",
        citations=[claim_pb2.Citation(source=source_pb2.Source(url="not a url"))],
    )
    no_attribution = claim_request("No attribution.")
    no_attribution.claim.attribution = claim_pb2.ATTRIBUTION_UNSPECIFIED
    before = counts()
    requests = [
        claim_request("Good claim 0."),
        claim_request(""),
        claim_request("Good claim 2."),
        no_speaker,
        claim_request("Good claim 4."),
        bad_url,
        claim_request("Good claim 6."),
        no_attribution,
        claim_request("Good claim 8."),
        claim_request("Ambiguous speaker.", speaker="same name"),
    ]
    results = import_all(client, requests, batch_size=500)
    assert [r.index for r in results] == list(range(len(requests)))
    good = [0, 2, 4, 6, 8]
    for position in good:
        assert results[position].outcome == CREATED, results[position].error.message
    expected = {
        1: ("INVALID_ARGUMENT", "claim.text"),
        3: ("NOT_FOUND", "claim.speaker_id"),
        5: ("INVALID_ARGUMENT", "claim.citations[0].source.url"),
        7: ("INVALID_ARGUMENT", "claim.attribution"),
        9: ("INVALID_ARGUMENT", "claim.speaker"),
    }
    for position, (code, field) in expected.items():
        result = results[position]
        assert result.outcome == FAILED, position
        assert result.claim_id == "", position
        assert result.error.code == code, (position, result.error)
        assert field in result.error.message, (position, result.error.message)
        named = {violation.field for violation in result.error.field_violations}
        if code == "INVALID_ARGUMENT":
            assert named == {field}, (position, named)
            assert all(v.description for v in result.error.field_violations)
        else:
            assert named == set()
    assert stored_texts(client) == {f"Good claim {position}." for position in good}
    after = counts()
    assert after["claims"] == before["claims"] + len(good)
    # The bad items' inline speaker and source were not created: only Dmitry Peskov is new.
    assert after["speakers"] == before["speakers"] + 1
    assert after["sources"] == before["sources"]


def test_a_claim_is_stored_with_all_its_citations_or_not_at_all(
    client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    broken = claim_request(
        "A claim whose second citation names no source.",
        speaker=speaker_pb2.Speaker(display_name="Brand New Speaker", wikidata_id="Q999999"),
        citations=[
            claim_pb2.Citation(
                role=claim_pb2.CITATION_ROLE_ORIGIN,
                source=source_pb2.Source(url="https://new.example/origin", publisher="New"),
            ),
            claim_pb2.Citation(source_id=UNKNOWN_SOURCE_ID),
            claim_pb2.Citation(
                source=source_pb2.Source(publisher="Nobody", title="A url-less source")
            ),
        ],
    )
    results = import_all(client, [claim_request("Before it."), broken, claim_request("After it.")])
    assert outcomes(results) == [
        "IMPORT_OUTCOME_CREATED",
        "IMPORT_OUTCOME_FAILED",
        "IMPORT_OUTCOME_CREATED",
    ]
    error = results[1].error
    assert error.code == "NOT_FOUND"
    assert "claim.citations[1].source_id" in error.message
    assert stored_texts(client) == {"Before it.", "After it."}
    speakers = [speaker.display_name for speaker in client.list_speakers()]
    assert speakers == ["Dmitry Peskov"]
    assert list(client.list_sources()) == []
    assert counts() == {"claims": 2, "speakers": 1, "sources": 0}


NEW_SOURCES = {
    "by url": source_pb2.Source(url="https://example.com/report", publisher="Reuters"),
    "without url": source_pb2.Source(
        publisher="Reuters", title="A report", kind=source_pb2.SOURCE_KIND_NEWS_ARTICLE
    ),
}


@pytest.mark.parametrize("source", list(NEW_SOURCES.values()), ids=list(NEW_SOURCES))
def test_a_new_source_cited_twice_by_one_claim_is_stored_once(
    client: claimstore.Client, counts: Callable[[], Counts], source: source_pb2.Source
) -> None:
    # The same article as the origin and as a report, each with its own excerpt.
    twice = claim_request(
        "Cited twice.",
        citations=[
            claim_pb2.Citation(role=claim_pb2.CITATION_ROLE_ORIGIN, source=source),
            claim_pb2.Citation(role=claim_pb2.CITATION_ROLE_REPORT, source=source, excerpt="x"),
        ],
    )
    again = claim_request("Cited again.", citations=[claim_pb2.Citation(source=source)])
    results = import_all(client, [claim_request("Before it."), twice, again])
    assert outcomes(results) == ["IMPORT_OUTCOME_CREATED"] * 3, [r.error for r in results]
    stored = client.get_claim(results[1].claim_id)
    first, second = (citation.source_id for citation in stored.citations)
    assert first == second
    assert [c.source_id for c in client.get_claim(results[2].claim_id).citations] == [first]
    assert counts() == {"claims": 3, "speakers": 1, "sources": 1}


# Limits and malformed input


def test_a_batch_of_1000_claims_is_taken_and_1001_is_not(
    stub: ClaimServiceStub, client: claimstore.Client, counts: Callable[[], Counts]
) -> None:
    stream = stub.ImportClaims(iter([batch(numbered(1000)), batch(numbered(1001, start=1000))]))
    first = next(stream)
    assert len(first.results) == 1000
    assert all(result.outcome == CREATED for result in first.results)
    with pytest.raises(grpc.RpcError) as raised:
        next(stream)
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "claims" in violations(error)
    assert "claims" in (error.details() or "")
    assert counts()["claims"] == 1000


def test_an_oversized_batch_alone_stores_nothing(
    stub: ClaimServiceStub, counts: Callable[[], Counts]
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.ImportClaims(iter([batch(numbered(1001))])))
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(error)) == {"claims"}
    assert counts()["claims"] == 0


def test_a_message_over_4_mib_ends_the_import_after_the_batches_answered(
    stub: ClaimServiceStub, counts: Callable[[], Counts]
) -> None:
    # Each claim is valid (its text under the limit on texts); together they are too many bytes.
    large = [claim_request(f"Large claim {i}. " + "word " * 1000) for i in range(1000)]
    assert batch(large).ByteSize() > 4 * 1024**2
    outbox: queue.Queue[claim_service_pb2.ImportClaimsRequest | None] = queue.Queue()
    stream = stub.ImportClaims(iter(outbox.get, None), timeout=10)
    try:
        outbox.put(batch(numbered(3)))
        first = next(stream)
        outbox.put(batch(large))
        with pytest.raises(grpc.RpcError) as raised:
            next(stream)
    finally:
        outbox.put(None)
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert [r.outcome for r in first.results] == [CREATED] * 3
    assert counts()["claims"] == 3


def invalid_utf8_text() -> bytes:
    """An ImportClaimsRequest whose one claim has a text of invalid UTF-8."""
    valid = batch([claim_request("XXXX")]).SerializeToString()
    assert valid.count(b"XXXX") == 1
    return valid.replace(b"XXXX", b"\xff\xfe\xfd\xfc")


MALFORMED = {
    "truncated": b"\x0a\x40\x0a\x05",
    "bad wire type": b"\x0f\x01\x02\x03",
    "invalid utf-8 in claim.text": invalid_utf8_text(),
}


@pytest.mark.parametrize("garbage", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_bytes_are_invalid_argument(
    channel: grpc.Channel, counts: Callable[[], Counts], garbage: bytes
) -> None:
    # Identity serializers: the bytes go on the wire exactly as given.
    import_raw: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(IMPORT_METHOD)
    good = batch([claim_request("Stored before the garbage.")]).SerializeToString()
    stream = import_raw(iter([good, garbage, good]))
    first = claim_service_pb2.ImportClaimsResponse.FromString(next(stream))
    assert [r.outcome for r in first.results] == [CREATED]
    with pytest.raises(grpc.RpcError) as raised:
        next(stream)
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "ImportClaimsRequest" in (error.details() or "")
    assert counts()["claims"] == 1


def test_an_error_raised_by_the_request_iterator_reaches_the_caller(
    client: claimstore.Client,
) -> None:
    def requests() -> Iterator[claim_service_pb2.CreateClaimRequest]:
        yield from numbered(3)
        raise ValueError("line 4 is not a claim")

    with pytest.raises(ValueError, match="line 4 is not a claim"):
        list(client.import_claims(requests(), batch_size=3))


# Cancellation and deadlines


def test_cancel_between_batches_keeps_the_batches_answered(
    stub: ClaimServiceStub, client: claimstore.Client
) -> None:
    outbox: queue.Queue[claim_service_pb2.ImportClaimsRequest | None] = queue.Queue()
    stream = stub.ImportClaims(iter(outbox.get, None))
    try:
        outbox.put(batch(numbered(3, start=0)))
        first = next(stream)
        outbox.put(batch(numbered(3, start=3)))
        second = next(stream)
        stream.cancel()
    finally:
        outbox.put(None)  # lets the request iterator end
    assert [r.index for r in first.results] == [0, 1, 2]
    assert [r.index for r in second.results] == [3, 4, 5]
    with pytest.raises(grpc.RpcError) as raised:
        next(stream)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.CANCELLED
    answered = {r.claim_id for r in [*first.results, *second.results]}
    stored = list(client.list_claims())
    assert {claim.id for claim in stored} == answered
    assert {claim.text for claim in stored} == {f"Numbered claim {i}." for i in range(6)}


def test_a_client_that_waits_for_each_answer_gets_it(
    stub: ClaimServiceStub, client: claimstore.Client
) -> None:
    # The server groups batches into transactions: a client that sends one and waits must
    # still be answered, not left waiting for a group to fill.
    outbox: queue.Queue[claim_service_pb2.ImportClaimsRequest | None] = queue.Queue()
    stream = stub.ImportClaims(iter(outbox.get, None), timeout=10)
    answers = []
    try:
        for start in range(0, 15, 3):
            outbox.put(batch(numbered(3, start=start)))
            answers.append(next(stream))
    finally:
        outbox.put(None)
    assert list(stream) == []
    assert [[r.index for r in answer.results] for answer in answers] == [
        [start, start + 1, start + 2] for start in range(0, 15, 3)
    ]
    assert all(r.outcome == CREATED for answer in answers for r in answer.results)
    assert stored_texts(client) == {f"Numbered claim {i}." for i in range(15)}


def test_a_client_that_keeps_sending_a_few_claims_at_a_time_is_answered_as_it_goes(
    stub: ClaimServiceStub,
) -> None:
    # Batches that arrive while others are written go together into the next transaction:
    # a stream that never pauses must still be answered as it goes, not once it ends.
    answered = threading.Event()
    sent = 0
    gave_up = False

    def requests() -> Iterator[claim_service_pb2.ImportClaimsRequest]:
        nonlocal sent, gave_up
        deadline = time.monotonic() + STALL_SECONDS
        while not answered.is_set():
            if time.monotonic() > deadline:
                gave_up = True  # end here, so that the test fails rather than hangs
                return
            yield batch(numbered(2, start=sent))
            sent += 2
            time.sleep(0.005)

    stream = stub.ImportClaims(requests(), timeout=3 * STALL_SECONDS)
    first = next(stream)
    answered.set()
    rest = list(stream)
    assert not gave_up, "the first batch was answered only once the client stopped sending"
    assert [r.index for r in first.results] == [0, 1]
    assert sum(len(response.results) for response in [first, *rest]) == sent


class PausingStore(SqliteStore):
    """The SQLite store, pausing each import once its batch is written and before it
    commits, until released: what a large batch is doing most of the time it is written."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written = threading.Event()
        self.release = threading.Event()

    def import_claims(
        self,
        drafts: Sequence[ClaimDraft],
        *,
        actor: str = "",
        abandoned: Callable[[], bool] = lambda: False,
        left_to_sqlite: Callable[[], None] = lambda: None,
    ) -> list[ImportOutcome]:
        def pause_then_ask() -> bool:
            self.written.set()
            self.release.wait(STALL_SECONDS)
            return abandoned()

        return super().import_claims(
            drafts, actor=actor, abandoned=pause_then_ask, left_to_sqlite=left_to_sqlite
        )


def test_cancel_while_a_batch_is_written_stores_nothing_of_it(db_path: Path) -> None:
    store = PausingStore(db_path)
    server = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"), store)
    server.start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            stream = ClaimServiceStub(channel).ImportClaims(iter([batch(numbered(3))]))
            assert store.written.wait(STALL_SECONDS)
            stream.cancel()
            # Let the cancellation reach the server before the write goes on.
            time.sleep(0.5)
            store.release.set()
            with pytest.raises(grpc.RpcError) as raised:
                next(stream)
            assert isinstance(raised.value, grpc.Call)
            assert raised.value.code() == grpc.StatusCode.CANCELLED
        with claimstore.Client(server.target) as client:
            # The batch was never answered, so it must not be kept.
            assert list(client.list_claims()) == []
    finally:
        store.release.set()
        server.stop()


def test_a_stopping_server_ends_an_open_import_once_its_batches_are_answered(
    db_path: Path,
) -> None:
    """The client keeps the stream open after one batch; the server does not wait out its
    grace period for it, but answers the batch, stores it, and ends with UNAVAILABLE."""
    server = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"))
    server.start()
    release = threading.Event()

    def requests() -> Iterator[claim_service_pb2.CreateClaimRequest]:
        yield from numbered(3)
        release.wait(60)
        yield from numbered(3, start=3)

    received: list[claim_service_pb2.ImportResult] = []
    ended: list[BaseException] = []

    def read() -> None:
        try:
            received.extend(client.import_claims(requests(), batch_size=3))
        except claimstore.ClaimstoreError as error:
            ended.append(error)

    try:
        with claimstore.Client(server.target) as client:
            reader = threading.Thread(target=read)
            reader.start()
            deadline = time.monotonic() + STALL_SECONDS
            while len(received) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(received) == 3
            started = time.monotonic()
            server.stop(grace=30)
            elapsed = time.monotonic() - started
            reader.join(STALL_SECONDS)
    finally:
        release.set()
        server.stop(grace=0)
    assert elapsed < 10, "the server does not wait out its grace period for an open import"
    assert [r.outcome for r in received] == [CREATED] * 3
    (error,) = ended
    assert isinstance(error, claimstore.Unavailable)
    assert "shutting down" in error.message
    reopened = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"))
    reopened.start()
    try:
        with claimstore.Client(reopened.target) as client:
            stored = {claim.id for claim in client.list_claims()}
    finally:
        reopened.stop(grace=0)
    assert stored == {r.claim_id for r in received}


class StalledRequests:
    """Yields ``head``, then waits (at most STALL_SECONDS) to be released before the rest."""

    def __init__(
        self,
        head: list[claim_service_pb2.CreateClaimRequest],
        rest: list[claim_service_pb2.CreateClaimRequest],
    ) -> None:
        self.head = head
        self.rest = rest
        self.release = threading.Event()
        self.gave_up = False

    def __iter__(self) -> Iterator[claim_service_pb2.CreateClaimRequest]:
        yield from self.head
        if not self.release.wait(STALL_SECONDS):
            # Never released: end here, so that the test fails rather than hangs.
            self.gave_up = True
            return
        yield from self.rest


def test_breaking_out_of_the_results_keeps_the_batches_answered(
    client: claimstore.Client,
) -> None:
    requests = StalledRequests(numbered(3), numbered(7, start=3))
    received: list[claim_service_pb2.ImportResult] = []
    try:
        for result in client.import_claims(iter(requests), batch_size=3):
            received.append(result)
            if len(received) == 3:
                break
    finally:
        requests.release.set()
    assert not requests.gave_up, (
        "the first batch was answered only once the request iterator moved on: a full batch"
        " must be sent without waiting for the next claim"
    )
    assert [r.index for r in received] == [0, 1, 2]
    assert all(r.outcome == CREATED for r in received)
    stored = list(client.list_claims())
    assert {claim.id for claim in stored} == {r.claim_id for r in received}
    assert {claim.text for claim in stored} == {f"Numbered claim {i}." for i in range(3)}


def test_deadline_while_the_requests_stall_keeps_the_batches_answered(
    client: claimstore.Client,
) -> None:
    # Four claims before the stall: the first batch of three is complete however the
    # client groups claims, and the fourth is never sent.
    requests = StalledRequests(numbered(4), numbered(6, start=4))
    received: list[claim_service_pb2.ImportResult] = []

    def receive() -> None:
        for result in client.import_claims(iter(requests), batch_size=3, timeout=1.5):
            received.append(result)

    try:
        with pytest.raises(claimstore.DeadlineExceeded):
            receive()
    finally:
        requests.release.set()
    assert not requests.gave_up, "the deadline expired while the request iterator stalled"
    assert [r.index for r in received] == [0, 1, 2]
    stored = list(client.list_claims())
    assert {claim.id for claim in stored} == {r.claim_id for r in received}
    assert {claim.text for claim in stored} == {f"Numbered claim {i}." for i in range(3)}


# The database file taken away while the server runs


def import_then(
    stub: ClaimServiceStub, between: Callable[[], object]
) -> tuple[claim_service_pb2.ImportClaimsResponse, grpc.Call]:
    """Imports one batch, runs ``between`` once it is answered, and sends another; returns
    the first answer and the call, which must have failed."""
    outbox: queue.Queue[claim_service_pb2.ImportClaimsRequest | None] = queue.Queue()
    stream = stub.ImportClaims(iter(outbox.get, None), timeout=10)
    try:
        outbox.put(batch(numbered(3)))
        first = next(stream)
        between()
        outbox.put(batch(numbered(3, start=3)))
        with pytest.raises(grpc.RpcError) as raised:
            next(stream)
    finally:
        outbox.put(None)
    assert isinstance(raised.value, grpc.Call)
    return first, raised.value


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The folder of the database that ``stub_in_folder`` serves."""
    made = tmp_path / "data"
    made.mkdir()
    return made


@pytest.fixture
def stub_in_folder(folder: Path) -> Iterator[ClaimServiceStub]:
    """A stub of a server over a database in ``folder``, which the test may remove."""
    server = build_server(ServerConfig(db_path=folder / "claims.db", listen="127.0.0.1:0"))
    server.start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            yield ClaimServiceStub(channel)
    finally:
        server.stop(0)


def test_a_database_removed_mid_import_stops_it_saying_so(
    folder: Path, stub_in_folder: ClaimServiceStub
) -> None:
    # SQLite goes on writing to the file it has open, unlinked: the claims would be
    # answered CREATED and be gone once the server restarts.
    first, error = import_then(stub_in_folder, lambda: shutil.rmtree(folder))
    assert [r.outcome for r in first.results] == [CREATED] * 3
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    assert f"{folder / 'claims.db'} is gone" in (error.details() or "")
    with pytest.raises(grpc.RpcError) as raised:
        stub_in_folder.CreateClaim(claim_request("Written nowhere."))
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_an_import_after_the_database_was_removed_says_so(
    folder: Path, stub_in_folder: ClaimServiceStub
) -> None:
    # The import's thread opens its own connection on its first import: SQLite's "unable
    # to open database file" had been INTERNAL.
    stub_in_folder.CreateClaim(claim_request("Stored before."))
    shutil.rmtree(folder)
    with pytest.raises(grpc.RpcError) as raised:
        list(stub_in_folder.ImportClaims(iter([batch(numbered(3))]), timeout=10))
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION, raised.value.details()
    assert f"{folder / 'claims.db'} is gone" in (raised.value.details() or "")


def test_a_database_replaced_mid_import_is_not_written_to(tmp_path: Path) -> None:
    db_path = tmp_path / "claims.db"
    other = tmp_path / "other.db"
    SqliteStore(other).close()
    server = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"))
    server.start()
    try:
        with grpc.insecure_channel(server.target) as channel:
            first, error = import_then(ClaimServiceStub(channel), lambda: other.replace(db_path))
    finally:
        server.stop(0)
    assert [r.outcome for r in first.results] == [CREATED] * 3
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    assert "no longer the database file this server opened" in (error.details() or "")
    # What the file now at the path holds is not asserted: SQLite names the write-ahead log
    # by the path, so the log of the batches committed before the file was replaced may be
    # read with the new file, as with any SQLite file replaced while it is open.
