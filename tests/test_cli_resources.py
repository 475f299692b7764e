"""claimstore edit-speaker and edit-source, against a real server."""

import json

import claimstore
import pytest
from claimstore.v1 import claim_pb2
from claimstore_server import ClaimServer
from helpers import cli_usage_error as usage_error
from helpers import run_cli as run


@pytest.fixture
def claim(client: claimstore.Client) -> claim_pb2.Claim:
    return client.create_claim(
        "Consultations are not under way",
        speaker="Dmitry Peskov",
        attribution="direct_quote",
        stated_at="2025-11-20",
        citations=[{"url": "https://www.reuters.com/world/a", "publisher": "Reuter"}],
    )


def test_edit_speaker_changes_the_options_given(
    server: ClaimServer, client: claimstore.Client, claim: claim_pb2.Claim
) -> None:
    status, output = run(
        "edit-speaker", claim.speaker_id, "--target", server.target,
        "--title", "Kremlin spokesman", "--alias", "Peskov", "--alias", "Dmitri Peskov",
    )  # fmt: skip
    assert status == 0
    header, row = output.splitlines()
    assert header.split()[:3] == ["NAME", "CLAIMS", "KIND"]
    assert "Kremlin spokesman" in row
    assert claim.speaker_id in row
    speaker = client.get_speaker(claim.speaker_id)
    assert (speaker.title, list(speaker.aliases)) == (
        "Kremlin spokesman",
        ["Peskov", "Dmitri Peskov"],
    )
    assert speaker.display_name == "Dmitry Peskov"
    assert [c.id for c in client.list_claims(speaker="kremlin spokesman")] == []
    assert [c.id for c in client.list_claims(speaker="dmitri")] == [claim.id]

    status, output = run(
        "edit-speaker", claim.speaker_id, "--target", server.target, "--no-aliases", "--title",
        "", "--json",
    )  # fmt: skip
    assert status == 0
    shown = json.loads(output)
    assert {"aliases", "title"}.isdisjoint(shown)
    assert shown["display_name"] == "Dmitry Peskov"


def test_edit_speaker_to_what_it_already_says_changes_nothing(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = client.get_speaker(claim.speaker_id)
    status, _ = run(
        "edit-speaker", claim.speaker_id, "--target", server.target, "--name", "Dmitry Peskov"
    )
    assert status == 0
    assert "nothing changed" in capsys.readouterr().err
    assert client.get_speaker(claim.speaker_id) == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "nothing to change: give at least one of --name"),
        (["--alias", "P", "--no-aliases"], "give --alias or --no-aliases, not both"),
        (["--kind", "robot"], "invalid choice: 'robot'"),
    ],
)
def test_edit_speaker_usage_errors(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    before = client.get_speaker(claim.speaker_id)
    err = usage_error(capsys, "edit-speaker", claim.speaker_id, "--target", server.target, *options)
    assert message in err
    assert client.get_speaker(claim.speaker_id) == before


def test_edit_speaker_of_an_unknown_id_or_with_a_bad_value_exits_1(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    unknown = "spk_01JD3M0X8Y9Z0000000000000A"
    assert run("edit-speaker", unknown, "--target", server.target, "--title", "x") == (1, "")
    assert f"NOT_FOUND: id: speaker '{unknown}' not found" in capsys.readouterr().err
    status, _ = run("edit-speaker", claim.speaker_id, "--target", server.target, "--name", " ")
    assert status == 1
    assert "--name: is required" in capsys.readouterr().err


def test_the_fields_the_server_refuses_are_named_by_their_options(
    server: ClaimServer, claim: claim_pb2.Claim, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run(
        "edit-speaker", claim.speaker_id, "--target", server.target,
        "--title", "T" * 201, "--alias", "ok", "--alias", "!!", "--wikidata-id", "x",
    )  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: INVALID_ARGUMENT: 3 fields at fault",
        "  --alias #2: must contain a letter or a digit",
        "  --wikidata-id: must be 'Q' followed by digits, such as 'Q3874799'",
        "  --title: must be at most 200 characters, not 201",
    ]
    source_id = claim.citations[0].source_id
    status, _ = run("edit-source", source_id, "--target", server.target, "--url", "notaurl")
    assert status == 1
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: --url: must be an absolute http or https URL, such as"
        " 'https://example.com/a'\n"
    )


def test_edit_source_changes_the_options_given(
    server: ClaimServer, client: claimstore.Client, claim: claim_pb2.Claim
) -> None:
    source_id = claim.citations[0].source_id
    status, output = run(
        "edit-source", source_id, "--target", server.target,
        "--publisher", "Reuters", "--kind", "news_article", "--published", "2025-11-20",
    )  # fmt: skip
    assert status == 0
    assert "Reuters" in output
    source = client.get_source(source_id)
    assert (source.publisher, source.published_at.ToJsonString()) == (
        "Reuters",
        "2025-11-20T00:00:00Z",
    )
    assert [c.id for c in client.list_claims(publisher="reuters")] == [claim.id]
    status, _ = run("edit-source", source_id, "--target", server.target, "--no-published")
    assert status == 0
    assert not client.get_source(source_id).HasField("published_at")


def test_edit_source_that_would_say_nothing_exits_1(
    server: ClaimServer,
    client: claimstore.Client,
    claim: claim_pb2.Claim,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source_id = claim.citations[0].source_id
    before = client.get_source(source_id)
    status, _ = run(
        "edit-source", source_id, "--target", server.target, "--url", "", "--publisher", ""
    )
    assert status == 1
    assert "give a url, a title or a publisher" in capsys.readouterr().err
    assert client.get_source(source_id) == before
    err = usage_error(
        capsys, "edit-source", source_id, "--target", server.target, "--published", "2025",
        "--no-published",
    )  # fmt: skip
    assert "give --published or --no-published, not both" in err


def test_a_source_of_the_year_1_shows_its_year_in_four_digits(
    server: ClaimServer, claim: claim_pb2.Claim
) -> None:
    source_id = claim.citations[0].source_id
    status, output = run(
        "edit-source", source_id, "--target", server.target, "--published", "0001-01-01"
    )
    assert status == 0
    assert " 0001-01-01" in output.splitlines()[1]
