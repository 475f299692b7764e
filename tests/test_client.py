"""The Python client: exceptions, enum and time values, configuration, deadlines."""

import copy
import json
import pickle
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import claimstore
import grpc
import pytest
from claimstore import _exceptions
from claimstore.v1 import claim_pb2, source_pb2, speaker_pb2
from claimstore_server import ClaimServer
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from helpers import stamp, wait_for_speaker, write_lock

UNKNOWN_CLAIM_ID = "clm_01JD3M0X8Y9Z0000000000000A"

# Exceptions


def test_every_status_code_but_ok_maps_to_a_service_error() -> None:
    table = _exceptions.EXCEPTION_BY_CODE
    assert set(table) == set(grpc.StatusCode) - {grpc.StatusCode.OK}
    for code, exception_type in table.items():
        assert issubclass(exception_type, claimstore.ServiceError), code
        assert issubclass(exception_type, claimstore.ClaimstoreError), code
        assert getattr(claimstore, exception_type.__name__) is exception_type


@pytest.mark.parametrize("code", [code for code in grpc.StatusCode if code != grpc.StatusCode.OK])
def test_service_error_keeps_code_and_message(code: grpc.StatusCode) -> None:
    error = _exceptions.EXCEPTION_BY_CODE[code](code, "what happened")
    assert error.code == code
    assert error.message == "what happened"
    assert error.details == ()
    assert error.field_violations == {}
    assert error.resource_name == ""
    assert code.name in str(error)


def test_not_found_carries_code_message_and_details(client: claimstore.Client) -> None:
    with pytest.raises(claimstore.NotFound) as raised:
        client.get_claim(UNKNOWN_CLAIM_ID)
    error = raised.value
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert UNKNOWN_CLAIM_ID in error.message
    assert "id" in error.message
    infos = [d for d in error.details if isinstance(d, error_details_pb2.ResourceInfo)]
    assert len(infos) == 1
    assert infos[0].resource_type == "claim"
    assert infos[0].resource_name == UNKNOWN_CLAIM_ID
    assert error.resource_name == UNKNOWN_CLAIM_ID
    assert isinstance(error.__cause__, grpc.RpcError)


def test_already_exists_names_the_claim_that_holds_the_content(client: claimstore.Client) -> None:
    first = client.create_claim(
        "Consultations are not currently under way.",
        speaker="Dmitry Peskov",
        attribution="direct_quote",
        stated_at="2025-11-20",
    )
    with pytest.raises(claimstore.AlreadyExists) as raised:
        client.create_claim(
            "consultations are NOT currently under way",
            speaker="Dmitry Peskov",
            attribution="paraphrase",
            stated_at="2025-11-20",
        )
    assert raised.value.resource_name == first.id
    assert client.get_claim(raised.value.resource_name).text == first.text


def test_invalid_argument_field_violations_is_a_dict(client: claimstore.Client) -> None:
    with pytest.raises(claimstore.InvalidArgument) as raised:
        client.create_claim("", speaker="", attribution=0, stated_at="2025-11-20")
    violations = raised.value.field_violations
    assert isinstance(violations, dict)
    assert set(violations) == {"claim.text", "claim.attribution", "claim.speaker.display_name"}
    assert all(isinstance(text, str) and text for text in violations.values())
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(raised.value.__cause__, grpc.RpcError)


def test_an_error_survives_pickle_and_copy_whole(client: claimstore.Client) -> None:
    # As a process pool hands a worker's exception back: pickle and copy had raised TypeError
    # "__init__() missing 1 required positional argument: 'message'".
    with pytest.raises(claimstore.InvalidArgument) as raised:
        client.get_claim("nope")
    error = raised.value
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(again) is claimstore.InvalidArgument
        assert (again.code, again.message, str(again)) == (error.code, error.message, str(error))
        assert again.details == error.details
        assert again.field_violations == error.field_violations


def test_already_exists_is_raised_from_the_rpc_error(client: claimstore.Client) -> None:
    client.create_source(url="https://example.com/a")
    with pytest.raises(claimstore.AlreadyExists) as raised:
        client.create_source(url="https://example.com/a")
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert isinstance(raised.value.__cause__, grpc.RpcError)
    assert raised.value.__cause__.code() == grpc.StatusCode.ALREADY_EXISTS


CALLS: list[tuple[str, Callable[[claimstore.Client], object]]] = [
    (
        "create_claim",
        lambda c: c.create_claim(
            "t", speaker="S", attribution="paraphrase", stated_at="2025-01-01"
        ),
    ),
    ("get_claim", lambda c: c.get_claim(UNKNOWN_CLAIM_ID)),
    ("list_claims", lambda c: list(c.list_claims())),
    ("create_speaker", lambda c: c.create_speaker("S")),
    ("get_speaker", lambda c: c.get_speaker("spk_01JD3M0X8Y9Z0000000000000A")),
    ("list_speakers", lambda c: list(c.list_speakers())),
    ("create_source", lambda c: c.create_source(url="https://example.com/")),
    ("get_source", lambda c: c.get_source("src_01JD3M0X8Y9Z0000000000000A")),
    ("list_sources", lambda c: list(c.list_sources())),
]


@pytest.mark.parametrize("call", [call for _, call in CALLS], ids=[name for name, _ in CALLS])
def test_no_rpc_error_escapes_when_the_server_is_down(
    stopped_target: str, call: Callable[[claimstore.Client], object]
) -> None:
    config = claimstore.ClientConfig(target=stopped_target, retry=None)
    with (
        claimstore.Client(config=config) as client,
        pytest.raises(claimstore.Unavailable) as raised,
    ):
        call(client)
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert isinstance(raised.value.__cause__, grpc.RpcError)


def test_get_claim_on_a_stopped_server_is_unavailable_after_retries(stopped_target: str) -> None:
    with claimstore.Client(stopped_target) as client, pytest.raises(claimstore.Unavailable):
        client.get_claim(UNKNOWN_CLAIM_ID)


def test_get_claim_on_a_server_stopped_while_connected(server: ClaimServer) -> None:
    with claimstore.Client(server.target) as client:
        with pytest.raises(claimstore.NotFound):
            client.get_claim(UNKNOWN_CLAIM_ID)
        server.stop(0)
        with pytest.raises(claimstore.Unavailable):
            client.get_claim(UNKNOWN_CLAIM_ID)


# Enum values


@pytest.mark.parametrize(
    "attribution",
    [
        "direct_quote",
        "DIRECT_QUOTE",
        "ATTRIBUTION_DIRECT_QUOTE",
        "Direct-Quote",
        " direct quote ",
        1,
    ],
)
def test_enum_names_in_any_case_with_or_without_prefix(
    client: claimstore.Client, attribution: str | int
) -> None:
    claim = client.create_claim(
        "t", speaker="S", attribution=attribution, stated_at="2025-11-20", stated_at_precision="Day"
    )
    assert claim.attribution == claim_pb2.ATTRIBUTION_DIRECT_QUOTE
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_DAY


def test_enum_names_of_speakers_sources_and_citations(client: claimstore.Client) -> None:
    speaker = client.create_speaker("Ministry", kind="SPEAKER_KIND_ORGANIZATION")
    source = client.create_source(publisher="X", kind="Social_Media_Post")
    claim = client.create_claim(
        "t",
        speaker_id=speaker.id,
        attribution="reported",
        stated_at="2025-11-20",
        citations=[
            {"source_id": source.id, "role": "ORIGIN"},
            {"url": "https://x.y/", "kind": "video"},
        ],
    )
    assert speaker.kind == speaker_pb2.SPEAKER_KIND_ORGANIZATION
    assert source.kind == source_pb2.SOURCE_KIND_SOCIAL_MEDIA_POST
    assert claim.citations[0].role == claim_pb2.CITATION_ROLE_ORIGIN
    assert claim.citations[1].source.kind == source_pb2.SOURCE_KIND_VIDEO


BAD_VALUES: list[tuple[str, type[Exception], Callable[[claimstore.Client], object]]] = [
    (
        "attribution",
        ValueError,
        lambda c: c.create_claim("t", speaker="S", attribution="quote", stated_at="2025-11-20"),
    ),
    (
        "precision",
        ValueError,
        lambda c: c.create_claim(
            "t",
            speaker="S",
            attribution="reported",
            stated_at="2025-11-20",
            stated_at_precision="week",
        ),
    ),
    (
        "citation role",
        ValueError,
        lambda c: c.create_claim(
            "t",
            speaker="S",
            attribution="reported",
            stated_at="2025-11-20",
            citations=[{"url": "https://x.y/", "role": "author"}],
        ),
    ),
    (
        "citation key",
        ValueError,
        lambda c: c.create_claim(
            "t",
            speaker="S",
            attribution="reported",
            stated_at="2025-11-20",
            citations=[{"link": "https://x.y/"}],
        ),
    ),
    ("speaker kind", ValueError, lambda c: c.create_speaker("S", kind="robot")),
    ("source kind", ValueError, lambda c: c.create_source(kind="blog")),
    ("filter attribution", ValueError, lambda c: c.list_claims(attributions=["quoted"])),
    ("bool enum", TypeError, lambda c: c.create_speaker("S", kind=True)),
    (
        "stated_at text",
        ValueError,
        lambda c: c.create_claim("t", speaker="S", attribution="reported", stated_at="yesterday"),
    ),
    (
        "stated_at number",
        TypeError,
        lambda c: c.create_claim("t", speaker="S", attribution="reported", stated_at=1700000000),  # type: ignore[arg-type]
    ),
    ("since text", ValueError, lambda c: c.list_claims(since="last week")),
    # One string where a sequence of them goes would be read as its characters: the claim
    # stored with the topics c, a, p, i, t, u, l, o, n; a listing matching any such letter.
    (
        "topics one string",
        TypeError,
        lambda c: c.create_claim(
            "t", speaker="S", attribution="reported", stated_at="2025", topics="capitulation"
        ),
    ),
    (
        "topic not a string",
        TypeError,
        lambda c: c.create_claim(
            "t",
            speaker="S",
            attribution="reported",
            stated_at="2025",
            topics=[5],  # type: ignore[list-item]
        ),
    ),
    ("aliases one string", TypeError, lambda c: c.create_speaker("S", aliases="Peskov")),
    ("filter topics one string", TypeError, lambda c: c.list_claims(topics="capitulation")),
    (
        "filter speaker_ids one string",
        TypeError,
        lambda c: c.search_claims("peace", speaker_ids="spk_01JD3M0X8Y9Z0000000000000A"),
    ),
    (
        "filter attributions one string",
        TypeError,
        lambda c: c.export_claims(attributions="reported"),
    ),
    (
        "citations one mapping",
        TypeError,
        lambda c: c.create_claim(
            "t",
            speaker="S",
            attribution="reported",
            stated_at="2025",
            citations={"url": "https://x.y/"},  # type: ignore[dict-item]
        ),
    ),
    (
        "citation a string",
        TypeError,
        lambda c: c.update_claim(UNKNOWN_CLAIM_ID, citations=["https://x.y/"]),  # type: ignore[list-item]
    ),
]


@pytest.mark.parametrize(
    ("error_type", "call"),
    [(error_type, call) for _, error_type, call in BAD_VALUES],
    ids=[name for name, _, _ in BAD_VALUES],
)
def test_bad_python_values_fail_before_any_call(
    stopped_target: str, error_type: type[Exception], call: Callable[[claimstore.Client], object]
) -> None:
    # Nothing listens at the target: any call would raise Unavailable instead.
    with claimstore.Client(stopped_target) as client, pytest.raises(error_type):
        call(client)


WRONG_TYPES: list[tuple[str, Callable[[claimstore.Client], object]]] = [
    (
        "text",
        lambda c: c.create_claim(5, speaker="S", attribution="reported", stated_at="2025"),  # type: ignore[arg-type]
    ),
    (
        "speaker",
        lambda c: c.create_claim("t", speaker=5, attribution="reported", stated_at="2025"),  # type: ignore[arg-type]
    ),
    ("text", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, text=None)),  # type: ignore[arg-type]
    ("channel", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, channel=None)),  # type: ignore[arg-type]
    ("language", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, language=1)),  # type: ignore[arg-type]
    ("speaker_id", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, speaker_id=None)),  # type: ignore[arg-type]
    # speaker=None had been left out of the update without a word: only the channel changed.
    ("speaker", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, speaker=None, channel="x")),  # type: ignore[arg-type]
    ("topics", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, topics=None)),  # type: ignore[arg-type]
    ("citations", lambda c: c.update_claim(UNKNOWN_CLAIM_ID, citations=None)),  # type: ignore[arg-type]
    ("aliases", lambda c: c.create_speaker("S", aliases=None)),  # type: ignore[arg-type]
    ("topics", lambda c: c.list_claims(topics=None)),  # type: ignore[arg-type]
    # These failed only once iterated, and named nothing; show_deleted="no" is true.
    ("page_size", lambda c: c.list_claims(page_size="10")),  # type: ignore[arg-type]
    ("show_deleted", lambda c: c.search_claims("x", show_deleted="no")),  # type: ignore[arg-type]
    ("show_deleted", lambda c: c.export_claims(show_deleted=1)),  # type: ignore[arg-type]
    ("page_size", lambda c: c.list_speakers(page_size=2.5)),  # type: ignore[arg-type]
    ("page_size", lambda c: c.list_sources(page_size="10")),  # type: ignore[arg-type]
    ("page_size", lambda c: c.list_claim_revisions(UNKNOWN_CLAIM_ID, page_size="1")),  # type: ignore[arg-type]
    ("revision", lambda c: c.get_claim(UNKNOWN_CLAIM_ID, revision="1")),  # type: ignore[arg-type]
    ("batch_size", lambda c: c.import_claims([], batch_size="10")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("field", "call"), WRONG_TYPES, ids=[f"{field} {n}" for n, (field, _) in enumerate(WRONG_TYPES)]
)
def test_a_value_of_a_wrong_type_is_a_type_error_naming_its_argument(
    stopped_target: str, field: str, call: Callable[[claimstore.Client], object]
) -> None:
    # protobuf's own TypeError ("bad argument type for built-in operation") names nothing.
    with claimstore.Client(stopped_target) as client, pytest.raises(TypeError) as raised:
        call(client)
    assert str(raised.value).startswith(f"{field}: expected ")


# Time values


@pytest.mark.parametrize(
    ("stated_at", "expected", "precision"),
    [
        (
            datetime(2025, 11, 20, 10, 30, tzinfo=timezone(timedelta(hours=2))),
            "2025-11-20T08:30:00+00:00",
            claim_pb2.DATE_PRECISION_EXACT,
        ),
        (
            datetime(2025, 11, 20, 10, 30),
            "2025-11-20T10:30:00+00:00",
            claim_pb2.DATE_PRECISION_EXACT,
        ),
        (
            datetime(2025, 11, 20, 10, 30, 1, 250_000, tzinfo=UTC),
            "2025-11-20T10:30:01.250000+00:00",
            claim_pb2.DATE_PRECISION_EXACT,
        ),
        (date(2025, 11, 20), "2025-11-20T00:00:00+00:00", claim_pb2.DATE_PRECISION_DAY),
        ("2025-11-20", "2025-11-20T00:00:00+00:00", claim_pb2.DATE_PRECISION_DAY),
        ("2025-11", "2025-11-01T00:00:00+00:00", claim_pb2.DATE_PRECISION_MONTH),
        (" 2025 ", "2025-01-01T00:00:00+00:00", claim_pb2.DATE_PRECISION_YEAR),
        ("2025-11-20T10:30:00+02:00", "2025-11-20T08:30:00+00:00", claim_pb2.DATE_PRECISION_EXACT),
        ("2025-11-20T10:30:00Z", "2025-11-20T10:30:00+00:00", claim_pb2.DATE_PRECISION_EXACT),
        ("2025-11-20T10:30:00", "2025-11-20T10:30:00+00:00", claim_pb2.DATE_PRECISION_EXACT),
        (
            Timestamp(seconds=1_763_634_600),
            "2025-11-20T10:30:00+00:00",
            claim_pb2.DATE_PRECISION_EXACT,
        ),
    ],
    ids=[
        "aware datetime",
        "naive datetime is UTC",
        "microseconds",
        "date",
        "ISO date",
        "ISO month",
        "ISO year",
        "ISO time with offset",
        "ISO time Z",
        "naive ISO time is UTC",
        "Timestamp",
    ],
)
def test_stated_at_values(
    client: claimstore.Client, stated_at: object, expected: str, precision: int
) -> None:
    claim = client.create_claim("t", speaker="S", attribution="paraphrase", stated_at=stated_at)  # type: ignore[arg-type]
    assert claim.stated_at == stamp(expected)
    assert claim.stated_at_precision == precision


def test_given_precision_wins_over_the_inferred_one(client: claimstore.Client) -> None:
    claim = client.create_claim(
        "t",
        speaker="S",
        attribution="paraphrase",
        stated_at=date(2025, 11, 20),
        stated_at_precision="month",
    )
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_MONTH
    assert claim.stated_at == stamp("2025-11-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("stated_at", "precision"),
    [("2025-11", "day"), ("2025", "month"), ("2025-11-20", "exact"), (date(2025, 11, 20), 4)],
)
def test_a_precision_finer_than_the_time_given_is_refused_before_any_call(
    stopped_target: str, stated_at: str | date, precision: str | int
) -> None:
    # As the CLI's --date 2025-11 --precision day is: the claim had been stored as said on
    # 2025-11-01 to the day, which nobody had said.
    with claimstore.Client(stopped_target) as client:
        with pytest.raises(ValueError, match=r"stated_at_precision: .* is finer than stated_at"):
            client.create_claim(
                "t",
                speaker="S",
                attribution="paraphrase",
                stated_at=stated_at,
                stated_at_precision=precision,
            )
        with pytest.raises(ValueError, match=r"stated_at_precision: .* is finer than stated_at"):
            client.update_claim(
                UNKNOWN_CLAIM_ID, stated_at=stated_at, stated_at_precision=precision
            )


def test_a_precision_as_fine_as_the_time_given_or_unspecified_is_taken(
    client: claimstore.Client,
) -> None:
    claim = client.create_claim(
        "t", speaker="S", attribution="paraphrase", stated_at="2025-11", stated_at_precision="month"
    )
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_MONTH
    # 0, DATE_PRECISION_UNSPECIFIED, is "not given" (claim.proto): inferred, as None is.
    claim = client.update_claim(claim.id, stated_at="2025", stated_at_precision=0)
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_YEAR
    claim = client.update_claim(claim.id, stated_at_precision="year")  # alone: the server's
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_YEAR


def test_since_and_before_take_dates(client: claimstore.Client) -> None:
    for day in (19, 20, 21):
        client.create_claim(
            f"day {day}", speaker="S", attribution="paraphrase", stated_at=date(2025, 11, day)
        )
    found = client.list_claims(since=date(2025, 11, 20), before="2025-11-21")
    assert [claim.text for claim in found] == ["day 20"]
    assert [claim.text for claim in client.list_claims(since="2025", before="2025-12")] == [
        "day 21",
        "day 20",
        "day 19",
    ]


@pytest.mark.parametrize("value", ["2025-13", "2025-00", "202", "2025-1", "٢٠٢٥"])
def test_a_time_that_is_not_one_is_a_value_error_naming_the_field(
    client: claimstore.Client, value: str
) -> None:
    with pytest.raises(ValueError, match=r"^stated_at: .* is not an ISO 8601 date or time"):
        client.create_claim("t", speaker="S", attribution="paraphrase", stated_at=value)
    assert list(client.list_claims()) == []


def test_ready_filter_is_passed_through(client: claimstore.Client) -> None:
    client.create_claim(
        "peace", speaker="S", attribution="paraphrase", stated_at="2025-11-20", topics=["peace"]
    )
    client.create_claim(
        "war", speaker="S", attribution="paraphrase", stated_at="2025-11-20", topics=["war"]
    )
    found = client.list_claims(filter=claimstore.ClaimFilter(topics=["PEACE"]))
    assert [claim.text for claim in found] == ["peace"]


# Configuration


def test_client_is_a_context_manager(server: ClaimServer) -> None:
    with claimstore.Client(server.target) as client:
        assert isinstance(client, claimstore.Client)
        assert client.create_speaker("S").id.startswith("spk_")
    with pytest.raises((ValueError, claimstore.ClaimstoreError)) as raised:
        client.get_claim(UNKNOWN_CLAIM_ID)  # the channel is closed
    assert not isinstance(raised.value, grpc.RpcError)


def test_a_target_or_config_of_a_wrong_kind_is_refused_when_made() -> None:
    # An empty target had failed every call with Unknown "Failed to create channel";
    # the others with an AttributeError from inside the client.
    with pytest.raises(ValueError, match="target: the server address is empty"):
        claimstore.ClientConfig(target=" ")
    with pytest.raises(TypeError, match="target"):
        claimstore.Client(50051)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config: expected a ClientConfig"):
        claimstore.AsyncClient(config="localhost:50051")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("127.0.0.1:99999", "target: '127.0.0.1:99999' has no port 99999: ports run from 1"),
        ("dns:///localhost:0", "target: 'dns:///localhost:0' has no port 0"),
        ("http://localhost:50051", "target: 'http://localhost:50051' is a URL: give host:port"),
    ],
)
def test_a_target_grpc_would_misread_is_refused_when_made(target: str, message: str) -> None:
    # 99999 reached port 34463; a URL failed every call as "Misformatted domain name".
    with pytest.raises(ValueError, match=re.escape(message)):
        claimstore.ClientConfig(target=target)
    with pytest.raises(ValueError, match=re.escape(message)):
        claimstore.Client(target)


@pytest.mark.parametrize(
    "target", ["localhost:50051", "[::1]:50051", "dns:///example.org:443", "unix:///tmp/cs.sock"]
)
def test_a_target_grpc_reads_is_taken(target: str) -> None:
    assert claimstore.ClientConfig(target=target).target == target


def test_target_in_argument_and_config_must_agree() -> None:
    with pytest.raises(ValueError, match="target"):
        claimstore.Client("a:1", config=claimstore.ClientConfig(target="b:2"))


def test_channel_options_carry_a_retry_policy_for_unavailable() -> None:
    options = dict(claimstore.ClientConfig().channel_options())
    assert options["grpc.enable_retries"] == 1
    service_config = json.loads(options["grpc.service_config"])
    (method_config,) = service_config["methodConfig"]
    policy = method_config["retryPolicy"]
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert policy["maxAttempts"] >= 2
    assert policy["initialBackoff"].endswith("s")
    methods = {name["method"] for name in method_config["name"]}
    services = {name["service"] for name in method_config["name"]}
    assert services == {"claimstore.v1.ClaimService"}
    # Reads and CreateClaim (always sent with a request_id) are safe to repeat.
    assert {"CreateClaim", "GetClaim", "ListClaims", "ListSpeakers", "ListSources"} <= methods
    assert not {"CreateSpeaker", "CreateSource"} & methods


def test_channel_options_without_retries() -> None:
    options = dict(claimstore.ClientConfig(retry=None).channel_options())
    assert options["grpc.enable_retries"] == 0
    assert "grpc.service_config" not in options


@pytest.mark.parametrize(
    "policy",
    [
        claimstore.RetryPolicy(max_attempts=1),
        claimstore.RetryPolicy(initial_backoff=0.1 + 0.2, max_backoff=100),
        claimstore.RetryPolicy(retryable_status_codes=("UNAVAILABLE", "RESOURCE_EXHAUSTED")),
    ],
    ids=["one attempt", "many digits", "two codes"],
)
def test_every_retry_policy_taken_is_one_grpc_takes(
    server: ClaimServer, policy: claimstore.RetryPolicy
) -> None:
    # gRPC refused the service config of the first two ("maxAttempts must be at least 2",
    # "initialBackoff: Not a duration" for "0.30000000000000004s"), and every call failed
    # INVALID_ARGUMENT "Failed to create channel".
    config = claimstore.ClientConfig(target=server.target, retry=policy)
    with claimstore.Client(config=config) as client, pytest.raises(claimstore.NotFound):
        client.get_claim(UNKNOWN_CLAIM_ID)
    options = dict(config.channel_options())
    assert options["grpc.enable_retries"] == (0 if policy.max_attempts == 1 else 1)


@pytest.mark.parametrize(
    ("error_type", "field", "values"),
    [
        (ValueError, "max_attempts", {"max_attempts": 0}),
        (TypeError, "max_attempts", {"max_attempts": 2.5}),
        (ValueError, "initial_backoff", {"initial_backoff": 0}),
        (ValueError, "initial_backoff", {"initial_backoff": 1e-5}),  # "1e-05s", under 1 ms
        (ValueError, "max_backoff", {"max_backoff": float("inf")}),
        (ValueError, "backoff_multiplier", {"backoff_multiplier": -1.0}),
        (TypeError, "initial_backoff", {"initial_backoff": "0.1s"}),
        (ValueError, "retryable_status_codes", {"retryable_status_codes": ("unavailable",)}),
        (ValueError, "retryable_status_codes", {"retryable_status_codes": ("OK",)}),
        (TypeError, "retryable_status_codes", {"retryable_status_codes": "UNAVAILABLE"}),
        (TypeError, "retryable_status_codes", {"retryable_status_codes": ()}),
    ],
)
def test_a_retry_policy_grpc_would_refuse_is_refused_when_made(
    error_type: type[Exception], field: str, values: dict[str, Any]
) -> None:
    with pytest.raises(error_type, match=field):
        claimstore.RetryPolicy(**values)


@pytest.mark.parametrize(
    ("error_type", "match", "values"),
    [
        # gRPC failed every call of these with INTERNAL "Invalid metadata", as a server bug.
        (
            ValueError,
            "'Authorization' is not a key .* 'authorization'",
            {"metadata": (("Authorization", "x"),)},
        ),
        (ValueError, "'x-key' has characters", {"metadata": (("x-key", "two\nlines"),)}),
        (TypeError, "pairs", {"metadata": ("authorization",)}),
        # gRPC ignored the option, and the limit stayed 4 MiB.
        (TypeError, "max_message_bytes", {"max_message_bytes": "16MB"}),
        (TypeError, "timeout", {"timeout": "10"}),
        # Each of these was an AttributeError (or len()'s TypeError) when the client was made.
        (TypeError, "retry: expected a RetryPolicy", {"retry": {"max_attempts": 3}}),
        (TypeError, "credentials: expected grpc.ChannelCredentials", {"credentials": "tls"}),
        (TypeError, "actor: expected a string", {"actor": 7}),
    ],
)
def test_a_config_grpc_would_refuse_or_ignore_is_refused_when_made(
    error_type: type[Exception], match: str, values: dict[str, Any]
) -> None:
    with pytest.raises(error_type, match=match):
        claimstore.ClientConfig(**values)


def test_metadata_grpc_takes_is_sent_and_a_timeout_not_a_number_is_named(
    server: ClaimServer,
) -> None:
    metadata = (("authorization", "Bearer abc.def"), ("x-trace-bin", b"\x00\x01"))
    config = claimstore.ClientConfig(target=server.target, metadata=metadata)  # type: ignore[arg-type]
    with claimstore.Client(config=config) as client, pytest.raises(claimstore.NotFound):
        client.get_claim(UNKNOWN_CLAIM_ID)
    with claimstore.Client(server.target) as client, pytest.raises(TypeError, match="timeout"):
        client.get_claim(UNKNOWN_CLAIM_ID, timeout="1")  # type: ignore[arg-type]


def test_message_size_option_is_applied() -> None:
    options = dict(claimstore.ClientConfig(max_message_bytes=1234).channel_options())
    assert options["grpc.max_receive_message_length"] == 1234
    assert options["grpc.max_send_message_length"] == 1234


def test_default_deadline_is_applied(server: ClaimServer, db_path: Path) -> None:
    # The server waits up to 5 s for the lock; the call gives up after its deadline.
    config = claimstore.ClientConfig(target=server.target, timeout=0.2)
    with claimstore.Client(config=config) as client:
        with write_lock(db_path), pytest.raises(claimstore.DeadlineExceeded) as raised:
            client.create_speaker("Waits for the lock")
        wait_for_speaker(client, "Waits for the lock")
    assert raised.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert isinstance(raised.value.__cause__, grpc.RpcError)


def test_timeout_of_one_call_overrides_the_default(
    client: claimstore.Client, db_path: Path
) -> None:
    with write_lock(db_path), pytest.raises(claimstore.DeadlineExceeded):
        client.create_speaker("Waits for the lock", timeout=0.2)
    wait_for_speaker(client, "Waits for the lock")
    # The default deadline (10 s) still holds for the next call, which succeeds.
    assert client.create_speaker("After the lock").id.startswith("spk_")


@pytest.mark.parametrize("seconds", [0, -1.5, float("nan"), float("inf")])
def test_a_timeout_no_call_could_meet_is_a_value_error_before_any_call(
    client: claimstore.Client, seconds: float
) -> None:
    with pytest.raises(ValueError, match="timeout"):
        claimstore.ClientConfig(target=client.config.target, timeout=seconds)
    with pytest.raises(ValueError, match="timeout"):
        client.create_claim(
            "Never sent",
            speaker="Nobody",
            attribution="paraphrase",
            stated_at="2025-11-20",
            timeout=seconds,
        )
    with pytest.raises(ValueError, match="timeout"):
        client.import_claims([], timeout=seconds)
    with pytest.raises(ValueError, match="timeout"):
        list(client.export_claims(timeout=seconds))
    assert list(client.list_claims()) == []


def test_the_package_exports_a_sorted_all_whose_names_all_resolve() -> None:
    assert claimstore.__all__ == sorted(claimstore.__all__)
    missing = [name for name in claimstore.__all__ if not hasattr(claimstore, name)]
    assert missing == []
    exported_classes = {name for name, value in vars(claimstore).items() if isinstance(value, type)}
    assert exported_classes <= set(claimstore.__all__)
