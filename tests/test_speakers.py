"""CreateSpeaker, GetSpeaker and ListSpeakers."""

from collections.abc import Callable

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_service_pb2, speaker_pb2
from claimstore.v1.claim_service_pb2_grpc import ClaimServiceStub
from helpers import Counts, call_error, invalid_fields

UNKNOWN_SPEAKER_ID = "spk_01JD3M0X8Y9Z0000000000000A"


def create(stub: ClaimServiceStub, **fields: object) -> speaker_pb2.Speaker:
    request = claim_service_pb2.CreateSpeakerRequest(speaker=speaker_pb2.Speaker(**fields))  # type: ignore[arg-type]
    return stub.CreateSpeaker(request)


def test_create_then_get_returns_every_field(client: claimstore.Client) -> None:
    created = client.create_speaker(
        "Dmitry Peskov",
        kind="person",
        title="Kremlin spokesman",
        affiliation="Russia",
        aliases=["Dmitri Peskov", "Peskov"],
        wikidata_id="Q2289876",
    )
    assert created.id.startswith("spk_")
    assert created.display_name == "Dmitry Peskov"
    assert created.kind == speaker_pb2.SPEAKER_KIND_PERSON
    assert created.title == "Kremlin spokesman"
    assert created.affiliation == "Russia"
    assert list(created.aliases) == ["Dmitri Peskov", "Peskov"]
    assert created.wikidata_id == "Q2289876"
    assert created.create_time.seconds > 0
    assert created.update_time == created.create_time
    assert client.get_speaker(created.id) == created


def test_kind_defaults_to_person(stub: ClaimServiceStub) -> None:
    assert create(stub, display_name="Someone").kind == speaker_pb2.SPEAKER_KIND_PERSON


@pytest.mark.parametrize("kind", ["person", "organization", "group", "anonymous"])
def test_every_kind_is_kept(client: claimstore.Client, kind: str) -> None:
    created = client.create_speaker("Somebody", kind=kind)
    assert client.get_speaker(created.id).kind == speaker_pb2.SpeakerKind.Value(
        f"SPEAKER_KIND_{kind.upper()}"
    )


def test_names_are_stripped(client: claimstore.Client) -> None:
    created = client.create_speaker("  Kaja Kallas  ", aliases=["  Kallas "], title=" HR/VP ")
    assert created.display_name == "Kaja Kallas"
    assert list(created.aliases) == ["Kallas"]
    assert created.title == "HR/VP"


def test_aliases_are_deduplicated_ignoring_case_and_accents(client: claimstore.Client) -> None:
    created = client.create_speaker(
        "Volodymyr Zelenskyy",
        aliases=[
            "Zelensky",
            "zelensky",
            "ZELÉNSKY",
            "volodymyr zelenskyy",  # the display name again
            "Zelenskiy",
            "Зеленський",
            "Zelenskiy",
        ],
    )
    assert list(created.aliases) == ["Zelensky", "Zelenskiy", "Зеленський"]
    assert client.get_speaker(created.id) == created


def test_same_display_name_twice_makes_two_speakers(client: claimstore.Client) -> None:
    first = client.create_speaker("John Smith")
    second = client.create_speaker("John Smith")
    assert first.id != second.id


def test_wikidata_id_is_unique(client: claimstore.Client, counts: Callable[[], Counts]) -> None:
    first = client.create_speaker("Emmanuel Macron", wikidata_id="Q3052772")
    with pytest.raises(claimstore.AlreadyExists) as raised:
        client.create_speaker("E. Macron", wikidata_id="Q3052772")
    assert "speaker.wikidata_id" in raised.value.message
    assert first.id in raised.value.message
    assert counts()["speakers"] == 1
    assert client.get_speaker(first.id) == first


def test_speakers_without_wikidata_id_do_not_collide(client: claimstore.Client) -> None:
    client.create_speaker("A")
    client.create_speaker("B")
    assert sum(1 for _ in client.list_speakers()) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"display_name": ""}, "speaker.display_name"),
        ({"display_name": "   \t "}, "speaker.display_name"),
        ({"display_name": "x" * 201}, "speaker.display_name"),
        ({"display_name": "--- !"}, "speaker.display_name"),
        ({"display_name": "Bad\x00Name"}, "speaker.display_name"),
        ({"display_name": "Bad\x1bName"}, "speaker.display_name"),
        ({"display_name": "Line\nBreak"}, "speaker.display_name"),
        ({"display_name": "A", "kind": 99}, "speaker.kind"),
        ({"display_name": "A", "title": "t" * 201}, "speaker.title"),
        ({"display_name": "A", "affiliation": "a" * 201}, "speaker.affiliation"),
        ({"display_name": "A", "aliases": ["ok", ""]}, "speaker.aliases[1]"),
        ({"display_name": "A", "aliases": ["x" * 201]}, "speaker.aliases[0]"),
        ({"display_name": "A", "aliases": [f"alias {i}" for i in range(51)]}, "speaker.aliases"),
        ({"display_name": "A", "wikidata_id": "3874799"}, "speaker.wikidata_id"),
        ({"display_name": "A", "wikidata_id": "q3874799"}, "speaker.wikidata_id"),
        ({"display_name": "A", "wikidata_id": "Q"}, "speaker.wikidata_id"),
        ({"display_name": "A", "wikidata_id": "Q0123"}, "speaker.wikidata_id"),
        ({"display_name": "A", "wikidata_id": "Q12a"}, "speaker.wikidata_id"),
        ({"display_name": "A", "wikidata_id": "P31"}, "speaker.wikidata_id"),
    ],
)
def test_bad_speaker_is_invalid_argument(
    stub: ClaimServiceStub,
    counts: Callable[[], Counts],
    fields: dict[str, object],
    field: str,
) -> None:
    assert field in invalid_fields(lambda: create(stub, **fields))
    assert counts()["speakers"] == 0


def test_missing_speaker_is_invalid_argument(stub: ClaimServiceStub) -> None:
    assert invalid_fields(lambda: stub.CreateSpeaker(claim_service_pb2.CreateSpeakerRequest())) == {
        "speaker"
    }


def test_all_mistakes_are_reported_at_once(stub: ClaimServiceStub) -> None:
    fields = invalid_fields(
        lambda: create(stub, display_name="", kind=42, wikidata_id="nope", aliases=[""])
    )
    assert fields == {
        "speaker.display_name",
        "speaker.kind",
        "speaker.wikidata_id",
        "speaker.aliases[0]",
    }


@pytest.mark.parametrize(
    ("speaker_id", "code"),
    [
        (UNKNOWN_SPEAKER_ID, grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("nope", grpc.StatusCode.INVALID_ARGUMENT),
        ("clm_01JD3M0X8Y9Z0000000000000A", grpc.StatusCode.INVALID_ARGUMENT),
        ("spk_01jd3m0x8y9z0000000000000a", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_get_speaker_errors(stub: ClaimServiceStub, speaker_id: str, code: grpc.StatusCode) -> None:
    error = call_error(lambda: stub.GetSpeaker(claim_service_pb2.GetSpeakerRequest(id=speaker_id)))
    assert error.code() == code
    assert "id" in (error.details() or "")


def test_list_speakers_in_creation_order(client: claimstore.Client) -> None:
    created = [client.create_speaker(f"Speaker {index}").id for index in range(7)]
    assert [s.id for s in client.list_speakers()] == created


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 50])
def test_list_speakers_pages(
    client: claimstore.Client, stub: ClaimServiceStub, page_size: int
) -> None:
    created = [client.create_speaker(f"Speaker {index}").id for index in range(7)]
    listed: list[str] = []
    token = ""
    pages = 0
    while True:
        response = stub.ListSpeakers(
            claim_service_pb2.ListSpeakersRequest(page_size=page_size, page_token=token)
        )
        pages += 1
        assert len(response.speakers) <= page_size
        listed.extend(speaker.id for speaker in response.speakers)
        token = response.next_page_token
        if not token:
            break
    assert listed == created
    assert pages == -(-7 // page_size)


def test_list_speakers_default_page_is_50(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    for index in range(51):
        client.create_speaker(f"Speaker {index}")
    response = stub.ListSpeakers(claim_service_pb2.ListSpeakersRequest())
    assert len(response.speakers) == 50
    assert response.next_page_token
    assert len(list(client.list_speakers().pages())) == 2


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"page_token": "garbage"}, "page_token"),
    ],
)
def test_list_speakers_bad_request(
    stub: ClaimServiceStub, request_fields: dict[str, object], field: str
) -> None:
    request = claim_service_pb2.ListSpeakersRequest(**request_fields)  # type: ignore[arg-type]
    assert invalid_fields(lambda: stub.ListSpeakers(request)) == {field}


def test_sources_token_is_refused_by_list_speakers(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    for index in range(3):
        client.create_source(url=f"https://example.com/{index}")
    token = stub.ListSources(claim_service_pb2.ListSourcesRequest(page_size=1)).next_page_token
    assert token
    request = claim_service_pb2.ListSpeakersRequest(page_token=token)
    assert invalid_fields(lambda: stub.ListSpeakers(request)) == {"page_token"}


def test_speakers_token_is_refused_by_list_sources_saying_whose_it_is(
    client: claimstore.Client, stub: ClaimServiceStub
) -> None:
    for index in range(3):
        client.create_speaker(f"Speaker {index}")
    token = stub.ListSpeakers(claim_service_pb2.ListSpeakersRequest(page_size=1)).next_page_token
    assert token
    request = claim_service_pb2.ListSourcesRequest(page_token=token)
    error = call_error(lambda: stub.ListSources(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "page_token: was not issued by ListSources: pass the next_page_token of its last page"
    )
