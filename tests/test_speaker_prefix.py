"""ListSpeakers name_prefix: type-ahead over the words of display names and aliases."""

import functools

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_service_pb2, claim_service_pb2_grpc
from helpers import call_error, invalid_fields, violations

Stub = claim_service_pb2_grpc.ClaimServiceStub

SPEAKERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "zelenskyy": ("Volodymyr Zelenskyy", ("Zelensky", "Zelenskiy")),
    "office": ("Office of the President of Ukraine", ("Zelensky's office",)),
    "peskov": ("Dmitry Peskov", ("Kremlin spokesman",)),
    "barrot": ("Jean-Noël Barrot", ()),
    "rubio": ("Marco Rubio", ("Secretary Rubio",)),
    "percent": ("Percy 100 Percent", ()),
}


@pytest.fixture
def speakers(client: claimstore.Client) -> dict[str, str]:
    """Speaker key by id."""
    return {
        client.create_speaker(name, aliases=aliases).id: key
        for key, (name, aliases) in SPEAKERS.items()
    }


def listed(stub: Stub, speakers: dict[str, str], prefix: str) -> set[str]:
    response = stub.ListSpeakers(
        claim_service_pb2.ListSpeakersRequest(name_prefix=prefix, page_size=1000)
    )
    assert response.next_page_token == ""
    return {speakers[speaker.id] for speaker in response.speakers}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("zelen", {"zelenskyy", "office"}),  # an alias of each
        ("Zelenskyy", {"zelenskyy"}),
        ("zelenskiy", {"zelenskyy"}),
        ("pes", {"peskov"}),  # the start of the second word of the display name
        ("dmitry pes", {"peskov"}),  # words in a row
        ("krem", {"peskov"}),  # an alias
        ("kov", set()),  # the middle of a word
        ("eskov", set()),
        ("noe", {"barrot"}),  # "Jean-Noël": accents and hyphen
        ("NOË", {"barrot"}),
        ("jean-noel", {"barrot"}),
        ("jean noel b", {"barrot"}),
        ("  Rubio ", {"rubio"}),
        ("secretary", {"rubio"}),
        ("of the", {"office"}),
        ("president of ukr", {"office"}),
        ("ukraine president", set()),  # words out of order
        ("office", {"office"}),
        ("100", {"percent"}),
        ("100%", {"percent"}),  # punctuation separates words, as wherever names are matched
        ("x", set()),
    ],
)
def test_a_prefix_matches_the_start_of_a_word_of_a_name_or_alias(
    stub: Stub, speakers: dict[str, str], prefix: str, expected: set[str]
) -> None:
    assert listed(stub, speakers, prefix) == expected


@pytest.mark.parametrize(
    "prefix",
    [
        "z%y",  # LIKE would take % for any run of characters: "zelenskyy"
        "p%kov",
        "_eskov",  # LIKE would take _ for any one character: "peskov"
        "%eskov",
        "zelensk_y",
    ],
)
def test_percent_and_underscore_are_not_wildcards(
    stub: Stub, speakers: dict[str, str], prefix: str
) -> None:
    assert listed(stub, speakers, prefix) == set()


@pytest.mark.parametrize("prefix", ["%", "_", "-"])
def test_a_prefix_of_only_wildcard_characters_does_not_list_every_speaker(
    stub: Stub, speakers: dict[str, str], prefix: str
) -> None:
    # No name has a word starting with "%" or "_": the answer is no speakers, or the prefix is
    # refused as having no letter or digit (as ClaimFilter.speaker is). Listing all six speakers
    # is what the LIKE wildcard would have done.
    request = claim_service_pb2.ListSpeakersRequest(name_prefix=prefix, page_size=1000)
    failure: grpc.Call | None = None
    names: list[str] = []
    try:
        names = [speaker.display_name for speaker in stub.ListSpeakers(request).speakers]
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)  # noqa: PT017
        failure = error
    if failure is None:
        assert names == []
    else:
        assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(failure)) == {"name_prefix"}


def test_no_prefix_lists_every_speaker(stub: Stub, speakers: dict[str, str]) -> None:
    assert listed(stub, speakers, "") == set(SPEAKERS)


def test_the_claim_count_comes_with_a_prefix(client: claimstore.Client) -> None:
    client.create_claim("A", attribution="reported", stated_at="2025-11-20", speaker="Zed Alpha")
    client.create_claim("B", attribution="reported", stated_at="2025-11-21", speaker="Zed Alpha")
    (speaker,) = client.list_speakers(name_prefix="alp")
    assert speaker.display_name == "Zed Alpha"
    assert speaker.claim_count == 2


def test_paging_with_a_prefix(stub: Stub, client: claimstore.Client) -> None:
    made = [client.create_speaker(f"Pager Number{index}").id for index in range(11)]
    client.create_speaker("Someone Else")
    client.create_speaker("Apager Notaword")
    seen: list[str] = []
    token = ""
    for _ in range(20):
        response = stub.ListSpeakers(
            claim_service_pb2.ListSpeakersRequest(
                name_prefix="pager", page_size=3, page_token=token
            )
        )
        assert len(response.speakers) <= 3
        seen += [speaker.id for speaker in response.speakers]
        token = response.next_page_token
        if not token:
            break
    assert seen == sorted(made)
    # A different but equivalent spelling of the prefix keeps the token valid.
    first = stub.ListSpeakers(
        claim_service_pb2.ListSpeakersRequest(name_prefix="pager", page_size=3)
    )
    same = stub.ListSpeakers(
        claim_service_pb2.ListSpeakersRequest(
            name_prefix=" PAGER ", page_size=3, page_token=first.next_page_token
        )
    )
    assert [s.id for s in same.speakers] == sorted(made)[3:6]


@pytest.mark.parametrize("other", ["number", "", "pagers", "p"])
def test_a_token_from_another_prefix_is_invalid(
    stub: Stub, client: claimstore.Client, other: str
) -> None:
    for index in range(4):
        client.create_speaker(f"Pager Number{index}")
    first = stub.ListSpeakers(
        claim_service_pb2.ListSpeakersRequest(name_prefix="pager", page_size=2)
    )
    assert first.next_page_token
    request = claim_service_pb2.ListSpeakersRequest(
        name_prefix=other, page_token=first.next_page_token
    )
    assert invalid_fields(lambda: stub.ListSpeakers(request)) == {"page_token"}


def test_a_prefix_of_201_characters_is_invalid_and_200_is_allowed(
    stub: Stub, speakers: dict[str, str]
) -> None:
    request = claim_service_pb2.ListSpeakersRequest(name_prefix="z" * 201)
    assert invalid_fields(lambda: stub.ListSpeakers(request)) == {"name_prefix"}
    assert listed(stub, speakers, "z" * 200) == set()


def test_a_prefix_with_control_characters_is_invalid(stub: Stub, speakers: dict[str, str]) -> None:
    for prefix in ("zel\x00", "zel\x1b[1m"):
        request = claim_service_pb2.ListSpeakersRequest(name_prefix=prefix)
        error = call_error(functools.partial(stub.ListSpeakers, request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(error)) == {"name_prefix"}


def test_the_client_passes_the_prefix(client: claimstore.Client, speakers: dict[str, str]) -> None:
    assert {speakers[s.id] for s in client.list_speakers(name_prefix="zelen", page_size=1)} == {
        "zelenskyy",
        "office",
    }


def test_a_token_of_another_prefix_says_to_repeat_the_name_prefix(
    stub: Stub, client: claimstore.Client
) -> None:
    for index in range(3):
        client.create_speaker(f"Pager Number{index}")
    first = stub.ListSpeakers(
        claim_service_pb2.ListSpeakersRequest(name_prefix="pager", page_size=1)
    )
    request = claim_service_pb2.ListSpeakersRequest(
        name_prefix="number", page_token=first.next_page_token
    )
    assert violations(call_error(lambda: stub.ListSpeakers(request))) == {
        "page_token": "was issued for a different query; repeat the name_prefix of the request"
        " that returned it"
    }
