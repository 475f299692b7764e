"""The claimstore command line, run in-process against a real server."""

import argparse
import io
import json
import re
import socket
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import claimstore
import pytest
from claimstore.cli import build_parser
from claimstore.cli._main import main
from claimstore.v1 import claim_pb2, source_pb2, speaker_pb2
from claimstore_server import ClaimServer
from helpers import cli_usage_error, stamp


def run(*argv: str) -> tuple[int, str]:
    """Runs the command; returns its exit status and what it wrote to ``out``."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def add(client: claimstore.Client, text: str, *options: str) -> claim_pb2.Claim:
    """Runs ``add --json`` against the client's server; returns the claim as stored."""
    status, output = run("add", text, "--target", client.config.target, "--json", *options)
    assert status == 0
    claim = json.loads(output)
    assert claim["text"] == text
    return client.get_claim(claim["id"])


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action


# Help


def test_every_subcommand_and_option_has_help() -> None:
    commands = subcommands(build_parser())
    assert set(commands.choices) == {
        "serve",
        "check",
        "add",
        "get",
        "list",
        "search",
        "speakers",
        "sources",
        "import",
        "export",
        "edit",
        "edit-speaker",
        "edit-source",
        "retract",
        "restore",
        "history",
        "watch",
    }
    summaries = {choice.dest: choice.help for choice in commands._choices_actions}
    for name, subparser in commands.choices.items():
        assert summaries.get(name), f"{name} has no help in the command list"
        assert subparser.description, f"{name} has no description"
        for action in subparser._actions:
            described = f"{name} {action.option_strings or action.dest}"
            assert action.help, f"{described} has no help"
            assert action.help != argparse.SUPPRESS, f"{described} has no help"


def test_the_command_line_starts_without_loading_the_server() -> None:
    # Every command builds the whole parser, serve's options included: reading their
    # defaults must not load the server, its store and SQLite's libraries.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from claimstore.cli import build_parser; build_parser();"
            " print(sorted(m for m in sys.modules"
            " if m.startswith(('claimstore_server', 'sqlite'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.strip() == (
        "['claimstore_server', 'claimstore_server.__main__', 'claimstore_server._config']"
    )


@pytest.mark.parametrize(
    "command",
    ["serve", "add", "get", "list", "speakers", "edit", "retract", "restore", "history", "watch"],
)
def test_help_of_each_subcommand_prints_and_exits_0(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command, "--help"])
    assert exited.value.code == 0
    assert f"claimstore {command}" in capsys.readouterr().out


# add and get


def test_add_prints_the_claim_and_stores_every_option(
    server: ClaimServer, client: claimstore.Client
) -> None:
    status, output = run(
        "add",
        "Consultations are not under way",
        "--target",
        server.target,
        "--speaker",
        "Dmitry Peskov",
        "--attribution",
        "direct_quote",
        "--stated-at",
        "2025-11-20",
        "--channel",
        "call with reporters",
        "--language",
        "EN",
        "--topic",
        "peace plan",
        "--topic",
        "Ukraine",
        "--origin",
        "https://t.me/kremlin/1",
        "--report",
        "https://reuters.com/a",
        "--publisher",
        "Reuters",
        "--request-id",
        "cli-1",
    )
    assert status == 0
    assert "Consultations are not under way" in output
    assert "Dmitry Peskov" in output
    (listed,) = client.list_claims()
    assert listed.id in output
    claim = client.get_claim(listed.id)
    assert claim.attribution == claim_pb2.ATTRIBUTION_DIRECT_QUOTE
    assert claim.stated_at == stamp("2025-11-20T00:00:00+00:00")
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_DAY
    assert claim.channel == "call with reporters"
    assert claim.language == "en"
    assert list(claim.topics) == ["peace plan", "Ukraine"]
    origin, report = claim.citations
    assert (origin.role, origin.source.url) == (
        claim_pb2.CITATION_ROLE_ORIGIN,
        "https://t.me/kremlin/1",
    )
    assert (report.role, report.source.url) == (
        claim_pb2.CITATION_ROLE_REPORT,
        "https://reuters.com/a",
    )
    assert report.source.publisher == "Reuters"
    # The same request id again creates nothing new.
    assert (
        run(
            "add",
            "Consultations are not under way",
            "--target",
            server.target,
            "--speaker",
            "Dmitry Peskov",
            "--attribution",
            "direct_quote",
            "--stated-at",
            "2025-11-20",
            "--channel",
            "call with reporters",
            "--language",
            "EN",
            "--topic",
            "peace plan",
            "--topic",
            "Ukraine",
            "--origin",
            "https://t.me/kremlin/1",
            "--report",
            "https://reuters.com/a",
            "--publisher",
            "Reuters",
            "--request-id",
            "cli-1",
        )[0]
        == 0
    )
    assert len(list(client.list_claims())) == 1


def test_add_with_time_and_precision(server: ClaimServer, client: claimstore.Client) -> None:
    claim = add(
        client,
        "Said in November",
        "--speaker",
        "S",
        "--attribution",
        "paraphrase",
        "--stated-at",
        "2025-11-20T10:30:00+02:00",
        "--precision",
        "month",
    )
    assert claim.stated_at == stamp("2025-11-01T00:00:00+00:00")
    assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_MONTH


def test_add_by_speaker_id(server: ClaimServer, client: claimstore.Client) -> None:
    speaker = client.create_speaker("Kaja Kallas")
    claim = add(
        client,
        "t",
        "--speaker-id",
        speaker.id,
        "--attribution",
        "reported",
        "--date",
        "2025-11-20",
    )
    assert claim.speaker_id == speaker.id


@pytest.mark.parametrize(
    "options",
    [
        ["--attribution", "paraphrase", "--stated-at", "2025-11-20"],  # no speaker
        [
            "--speaker",
            "S",
            "--speaker-id",
            "spk_x",
            "--attribution",
            "paraphrase",
            "--date",
            "2025-11-20",
        ],
        ["--speaker", "S", "--attribution", "paraphrase", "--stated-at", "yesterday"],
        ["--speaker", "S", "--attribution", "paraphrase", "--stated-at", "2025-13"],
        ["--speaker", "S", "--attribution", "quoted", "--stated-at", "2025-11-20"],
        ["--speaker", "S", "--stated-at", "2025-11-20"],  # no attribution
    ],
    ids=[
        "no speaker",
        "both speakers",
        "bad date",
        "bad month",
        "bad attribution",
        "no attribution",
    ],
)
def test_add_usage_errors_exit_2(
    server: ClaimServer,
    client: claimstore.Client,
    options: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = cli_usage_error(capsys, "add", "t", "--target", server.target, *options)
    assert "error" in err
    assert list(client.list_claims()) == []


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["list", "--limit", "0"], "--limit"),
        (["list", "--limit", "-5"], "--limit"),
        (["list", "--limit", "ten"], "--limit"),
        (["search", "peace", "--limit", "0"], "--limit"),
        (["list", "--timeout", "0"], "--timeout"),
        (["list", "--timeout", "-1"], "--timeout"),
        (["list", "--timeout", "nan"], "--timeout"),
        (["list", "--timeout", "1e10"], "--timeout"),
        (["export", "--export-timeout", "1e300"], "--export-timeout"),
        (["import", "--batch-size", "0", "-"], "--batch-size"),
        (["import", "--batch-size", "1001", "-"], "--batch-size"),
        (["import", "--import-timeout", "0", "-"], "--import-timeout"),
        (["export", "--export-timeout", "0"], "--export-timeout"),
    ],
)
def test_numbers_out_of_range_are_usage_errors_naming_the_option(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any call: no server is needed to tell.
    err = cli_usage_error(capsys, *argv, "--target", "127.0.0.1:9")
    assert f"argument {option}: '{argv[argv.index(option) + 1]}'" in err
    assert "Traceback" not in err


def test_add_publisher_without_a_report_is_a_usage_error(
    server: ClaimServer, client: claimstore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # The publisher is that of the --report sources: with none, it would be dropped.
    err = cli_usage_error(
        capsys,
        "add", "t", "--target", server.target, "--speaker", "S", "--attribution", "reported",
        "--date", "2025-01-01", "--origin", "https://x.com/a/status/1", "--publisher", "Foo",
    )  # fmt: skip
    assert (
        "claimstore add: error: --publisher names the publisher of the --report URLs: give"
        " --report URL too"
    ) in err
    assert list(client.list_claims()) == []


@pytest.mark.parametrize(
    ("date", "options", "stated", "precision"),
    [
        ("2025-11", [], "2025-11-01", claim_pb2.DATE_PRECISION_MONTH),
        ("2025", [], "2025-01-01", claim_pb2.DATE_PRECISION_YEAR),
        ("2025-11", ["--precision", "year"], "2025-01-01", claim_pb2.DATE_PRECISION_YEAR),
    ],
    ids=["month", "year", "month at year precision"],
)
def test_add_with_a_month_or_a_year_is_that_precise_unless_told(
    server: ClaimServer,
    client: claimstore.Client,
    date: str,
    options: list[str],
    stated: str,
    precision: int,
) -> None:
    claim = add(
        client, "t", "--speaker", "S", "--attribution", "paraphrase", "--date", date, *options
    )
    assert claim.stated_at == stamp(f"{stated}T00:00:00+00:00")
    assert claim.stated_at_precision == precision


@pytest.mark.parametrize(
    ("date", "precision", "message"),
    [
        (
            "2025-11",
            "day",
            "2025-11 gives no day for --precision day: give a whole date (2025-11-20), or"
            " --precision month",
        ),
        (
            "2025",
            "month",
            "2025 gives no month for --precision month: give a month (2025-11), or"
            " --precision year",
        ),
        (
            "2025-11-20",
            "exact",
            "2025-11-20 gives no time of day for --precision exact: give an ISO 8601 time"
            " (2025-11-20T10:30:00Z), or --precision day",
        ),
    ],
    ids=["day of a month", "month of a year", "time of a date"],
)
def test_add_with_a_precision_finer_than_its_date_is_a_usage_error(
    server: ClaimServer,
    client: claimstore.Client,
    date: str,
    precision: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = cli_usage_error(
        capsys,
        "add", "t", "--target", server.target, "--speaker", "S", "--attribution", "paraphrase",
        "--date", date, "--precision", precision,
    )  # fmt: skip
    assert f"claimstore add: error: {message}\n" in err
    assert list(client.list_claims()) == []


def test_add_rejected_by_the_server_exits_1_and_names_the_field(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run(
        "add", "   ", "--target", server.target, "--speaker", "S",
        "--attribution", "paraphrase", "--date", "2025-11-20",
    )  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: text: is required and must not be empty or only white"
        " space\n"
    )


def test_the_fields_of_an_add_the_server_refuses_are_named_by_their_options(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run(
        "add", "Peace.", "--target", server.target, "--speaker", "S" * 201,
        "--attribution", "paraphrase", "--date", "2025-11-20", "--topic", "peace",
        "--topic", "!!", "--origin", "https://example.com/a", "--report", "notaurl",
        "--report", "https://example.com/b", "--publisher", "P" * 201, "--request-id", "a b",
    )  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: INVALID_ARGUMENT: 5 fields at fault",
        "  --request-id: must be 1 to 128 letters, digits or '._:-', such as a UUID",
        "  --speaker: must be at most 200 characters, not 201",
        "  --topic #2: must contain a letter or a digit",
        "  --report #1: must be an absolute http or https URL, such as 'https://example.com/a'",
        "  --publisher: must be at most 200 characters, not 201",
    ]


def test_a_revision_the_server_refuses_is_named_by_its_option(
    server: ClaimServer, client: claimstore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    claim = add(client, "Peace.", "--speaker", "S", "--attribution", "paraphrase", "--date", "2025")
    assert run("get", claim.id, "--target", server.target, "--revision", "-1") == (1, "")
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: --revision: must not be negative, not -1\n"
    )


def test_several_fields_at_fault_are_listed_one_a_line(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run(
        "add", "   ", "--target", server.target, "--speaker", "S", "--channel", "a\tb",
        "--attribution", "paraphrase", "--date", "2025-11-20",
    )  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: INVALID_ARGUMENT: 2 fields at fault",
        "  text: is required and must not be empty or only white space",
        "  --channel: must not contain control characters",
    ]


class Terminal(io.StringIO):
    """Standard output that is a terminal, as the CLI's tables are laid out for one."""

    def isatty(self) -> bool:
        return True


def columns_seen(text: str) -> int:
    """The columns a terminal gives ``text``: two a CJK character, none a combining mark."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) == "W" else 1
        for c in text
    )


def test_a_table_of_wide_and_combining_characters_keeps_its_columns_on_a_terminal(
    client: claimstore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    for text, speaker in [
        ("日本語のテキストはとても長いので切り詰める必要があります。", "岸田文雄"),
        ("Cafe\u0301 de\u0301compose\u0301, and so on for a while.", "Zoe\u0308"),
        ("Plain words that run on past the edge of the terminal.", "Peskov"),
    ]:
        add(client, text, "--speaker", speaker, "--attribution", "reported", "--date", "2025")
    for out in (Terminal(), io.StringIO()):
        assert main(["list", "--target", client.config.target], out=out) == 0
        header, *rows = out.getvalue().splitlines()
        assert len(rows) == 3
        # Each column starts where its header does, on a terminal and in a pipe alike.
        for row in rows:
            assert columns_seen(row[: row.index("reported")]) == header.index("ATTRIBUTION")
            assert columns_seen(row[: row.index("clm_")]) == header.index("ID"), row
        if isinstance(out, Terminal):
            assert all(columns_seen(row) <= 90 for row in rows)
            assert all("…" in row for row in rows)


def test_get_prints_the_claim(server: ClaimServer, client: claimstore.Client) -> None:
    claim = add(
        client,
        "Get me",
        "--speaker",
        "Jean-Noël Barrot",
        "--attribution",
        "paraphrase",
        "--date",
        "2025-11-20",
        "--report",
        "https://lemonde.fr/x",
        "--publisher",
        "Le Monde",
    )
    status, output = run("get", claim.id, "--target", server.target)
    assert status == 0
    assert claim.id in output
    assert "Get me" in output
    assert "Jean-Noël Barrot" in output
    assert "2025-11-20" in output
    assert "paraphrase" in output
    assert "https://lemonde.fr/x" in output
    assert "Le Monde" in output

    status, output = run("get", claim.id, "--target", server.target, "--json")
    assert status == 0
    as_json = json.loads(output)
    assert as_json["id"] == claim.id
    assert as_json["speaker"]["display_name"] == "Jean-Noël Barrot"
    assert as_json["attribution"] == "ATTRIBUTION_PARAPHRASE"


def test_get_names_each_cited_source_by_publisher_title_kind_and_url(
    server: ClaimServer, client: claimstore.Client
) -> None:
    report = source_pb2.Source(
        kind=source_pb2.SOURCE_KIND_NEWS_ARTICLE,
        title="News report on the peace plan",
        published_at=stamp("2025-11-20"),
    )
    post = source_pb2.Source(
        publisher="X", kind=source_pb2.SOURCE_KIND_SOCIAL_MEDIA_POST, url="https://x.com/a/status/1"
    )
    claim = client.create_claim(
        "Cited twice",
        attribution="paraphrase",
        stated_at="2025-11-20",
        speaker=speaker_pb2.Speaker(display_name="Marco Rubio"),
        citations=[
            claim_pb2.Citation(role=claim_pb2.CITATION_ROLE_REPORT, source=report),
            claim_pb2.Citation(role=claim_pb2.CITATION_ROLE_ORIGIN, source=post),
        ],
    )
    status, output = run("get", claim.id, "--target", server.target)
    assert status == 0
    report_id, post_id = (citation.source.id for citation in claim.citations)
    assert f"report: News report on the peace plan, news_article  [{report_id}]" in output
    assert f"origin: X, social_media_post, https://x.com/a/status/1  [{post_id}]" in output


def test_get_of_an_unknown_id_exits_1_and_names_the_field(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "clm_01JD3M0X8Y9Z0000000000000A"
    status, output = run("get", unknown, "--target", server.target)
    assert status == 1
    assert output == ""
    err = capsys.readouterr().err
    assert "id" in err
    assert unknown in err
    assert "NOT_FOUND" in err


def test_get_of_a_malformed_id_lists_the_field_violation(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run("get", "nope", "--target", server.target)
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("claimstore: INVALID_ARGUMENT: id: 'nope' is not a valid id")
    assert err.count("is not a valid id") == 1  # the one violation, not said twice


# list and speakers


@pytest.fixture
def listed(server: ClaimServer, client: claimstore.Client) -> dict[str, str]:
    """Five claims over four days; returns their ids by a short name."""
    claims = {
        "peskov 19": ("Dmitry Peskov", "2025-11-19T23:59:00+00:00", "peace plan"),
        "peskov 20": ("Dmitry Peskov", "2025-11-20T00:00:00+00:00", "sanctions"),
        "barrot 21": ("Jean-Noël Barrot", "2025-11-21T12:00:00+00:00", "peace plan"),
        "peskov 21 late": ("Dmitry Peskov", "2025-11-21T23:30:00+00:00", "energy"),
        "lavrov 22": ("Sergei Lavrov", "2025-11-22T00:00:00+00:00", "peace plan"),
    }
    ids = {}
    for name, (speaker, when, topic) in claims.items():
        claim = add(
            client,
            name,
            "--speaker",
            speaker,
            "--attribution",
            "paraphrase",
            "--stated-at",
            when,
            "--topic",
            topic,
        )
        ids[name] = claim.id
    return ids


def listing(target: str, *options: str) -> list[str]:
    """Runs ``list --json``; returns the texts of the claims in the order printed."""
    status, output = run("list", "--target", target, "--json", *options)
    assert status == 0
    return [json.loads(line)["text"] for line in output.splitlines()]


def test_list_table(server: ClaimServer, listed: dict[str, str]) -> None:
    status, output = run("list", "--target", server.target)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split() == ["STATED", "SPEAKER", "ATTRIBUTION", "TEXT", "ID"]
    assert len(rows) == 5
    assert [row.split()[-1] for row in rows] == [
        listed[name]
        for name in ["lavrov 22", "peskov 21 late", "barrot 21", "peskov 20", "peskov 19"]
    ]
    assert "Sergei Lavrov" in rows[0]
    assert "paraphrase" in rows[0]
    assert rows[0].startswith("2025-11-22T00:00:00Z")


def test_list_json_newest_first(server: ClaimServer, listed: dict[str, str]) -> None:
    status, output = run("list", "--target", server.target, "--json")
    assert status == 0
    ids = [json.loads(line)["id"] for line in output.splitlines()]
    assert ids == [
        listed[name]
        for name in ["lavrov 22", "peskov 21 late", "barrot 21", "peskov 20", "peskov 19"]
    ]


def test_list_oldest_first_and_limit(server: ClaimServer, listed: dict[str, str]) -> None:
    assert listing(server.target, "--oldest-first", "--limit", "2") == ["peskov 19", "peskov 20"]
    assert listing(server.target, "--limit", "1") == ["lavrov 22"]


def test_list_by_speaker(server: ClaimServer, listed: dict[str, str]) -> None:
    assert listing(server.target, "--speaker", "peskov") == [
        "peskov 21 late",
        "peskov 20",
        "peskov 19",
    ]
    assert listing(server.target, "--speaker", "jean-noel barrot") == ["barrot 21"]


def test_list_by_topic(server: ClaimServer, listed: dict[str, str]) -> None:
    assert listing(server.target, "--topic", "Peace Plan") == [
        "lavrov 22",
        "barrot 21",
        "peskov 19",
    ]
    assert listing(server.target, "--topic", "energy", "--topic", "sanctions") == [
        "peskov 21 late",
        "peskov 20",
    ]


def test_list_since_until_includes_the_whole_until_day(
    server: ClaimServer, listed: dict[str, str]
) -> None:
    assert listing(server.target, "--since", "2025-11-20", "--until", "2025-11-21") == [
        "peskov 21 late",
        "barrot 21",
        "peskov 20",
    ]
    assert listing(server.target, "--until", "2025-11-19") == ["peskov 19"]
    assert listing(server.target, "--since", "2025-11-22") == ["lavrov 22"]


def test_list_combines_options(server: ClaimServer, listed: dict[str, str]) -> None:
    assert listing(
        server.target, "--speaker", "Peskov", "--topic", "peace plan", "--until", "2025-11-21"
    ) == ["peskov 19"]


def test_list_since_and_until_a_month_or_a_year_take_in_all_of_it(
    server: ClaimServer, client: claimstore.Client
) -> None:
    for text, when in [
        ("October", "2025-10-31T23:59:00+00:00"),
        ("November", "2025-11-30T23:59:00+00:00"),
        ("December", "2025-12-01T00:00:00+00:00"),
        ("Next year", "2026-01-01T00:00:00+00:00"),
    ]:
        client.create_claim(text, speaker="S", attribution="paraphrase", stated_at=when)
    assert listing(server.target, "--since", "2025-11", "--until", "2025-11") == ["November"]
    assert listing(server.target, "--since", "2025-12", "--until", "2025-12") == ["December"]
    assert listing(server.target, "--until", "2025") == ["December", "November", "October"]
    assert listing(server.target, "--since", "2026") == ["Next year"]
    # The last month and year there are end nowhere.
    assert listing(server.target, "--since", "2026", "--until", "9999-12") == ["Next year"]
    assert listing(server.target, "--since", "2026", "--until", "9999") == ["Next year"]


def test_list_until_a_time_includes_that_time(
    server: ClaimServer, client: claimstore.Client
) -> None:
    for text, when in [
        ("Before", "2025-11-20T09:59:59.999999+00:00"),
        ("At ten", "2025-11-20T10:00:00+00:00"),
        ("After", "2025-11-20T10:00:00.000001+00:00"),
    ]:
        client.create_claim(text, speaker="S", attribution="paraphrase", stated_at=when)
    assert listing(server.target, "--until", "2025-11-20T10:00:00Z") == ["At ten", "Before"]
    assert listing(server.target, "--until", "2025-11-20T12:00:00+02:00") == ["At ten", "Before"]
    at_ten = ("--since", "2025-11-20T10:00:00Z", "--until", "2025-11-20T10:00:00Z")
    assert listing(server.target, *at_ten) == ["At ten"]
    assert listing(server.target, "--since", "2025", "--until", "9999-12-31T23:59:59.999999Z") == [
        "After",
        "At ten",
        "Before",
    ]


@pytest.mark.parametrize("command", [["list"], ["search", "peace"], ["export"]])
def test_a_filter_the_server_refuses_is_reported_by_the_options_that_made_it(
    server: ClaimServer, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = run(
        *command, "--target", server.target, "--since", "2025-11-21", "--until", "2025-11-19"
    )
    assert (status, output) == (1, "")
    assert capsys.readouterr().err == (
        "claimstore: INVALID_ARGUMENT: --until: must be later than --since\n"
    )


def test_each_filter_option_at_fault_is_named_with_its_place_among_its_kind(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run(
        "list", "--target", server.target,
        "--topic", "peace", "--topic", "!!", "--speaker-id", "x",
    )  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: INVALID_ARGUMENT: 2 fields at fault",
        "  --speaker-id #1: 'x' is not a valid id: ids are 'spk_' and 26 capital letters and"
        " digits, such as 'spk_01JD3M0X8Y9Z0000000000000A'",
        "  --topic #2: must contain a letter or a digit",
    ]


@pytest.fixture
def silent_target() -> Iterator[str]:
    """The address of a peer that takes connections and never answers: every call there
    runs out of time."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield f"127.0.0.1:{listening.getsockname()[1]}"


def test_a_deadline_passed_says_which_option_to_raise(
    silent_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = run("list", "--target", silent_target, "--timeout", "0.2")
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: DEADLINE_EXCEEDED: Deadline Exceeded",
        "  not done within 0.2 seconds (--timeout): raise --timeout to wait longer",
    ]
    path = tmp_path / "one.jsonl"
    path.write_text('{"claim": {"text": "t"}}\n', encoding="utf-8")
    status, _ = run("import", "--target", silent_target, "--import-timeout", "0.2", str(path))
    assert status == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "  not done within 0.2 seconds (--import-timeout): raise --import-timeout to wait longer"
    )
    # An export has a deadline of its own, which it keeps: it had none, and waited forever.
    status, _ = run("export", "--target", silent_target, "--export-timeout", "0.2")
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "claimstore: DEADLINE_EXCEEDED: Deadline Exceeded",
        "  not done within 0.2 seconds (--export-timeout): raise --export-timeout to wait longer",
    ]


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (
            ["add", "caf\udce9", "--speaker", "S", "--attribution", "reported", "--date", "2025"],
            "text",
        ),
        (["list", "--topic", "peace", "--topic", "\udcff"], "--topic"),
        (["search", "\udcff"], "query"),
        (["--actor", "\udcff", "get", "clm_01JD3M0X8Y9Z0000000000000A"], "--actor"),
    ],
)
def test_an_argument_that_is_not_utf8_is_a_usage_error_naming_it(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # What Python makes of the bytes of a Latin-1 terminal: it failed as "claimstore: 'utf-8'
    # codec can't encode character '\udce9' in position 3: surrogates not allowed".
    err = cli_usage_error(capsys, *argv, "--target", "127.0.0.1:9")
    byte = "e9" if option == "text" else "ff"
    assert err.endswith(
        f": error: argument {option}: is not UTF-8 text (it has the byte 0x{byte})\n"
    )


def test_the_longest_timeout_is_one_a_call_can_meet(
    server: ClaimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # A deadline past 2262 is past already for gRPC: every call failed at once with
    # DEADLINE_EXCEEDED, "not done within 1e+10 seconds".
    assert run("speakers", "--target", server.target, "--timeout", "1e9")[0] == 0
    err = cli_usage_error(capsys, "speakers", "--target", server.target, "--timeout", "1e10")
    assert err.splitlines()[-1] == (
        "claimstore speakers: error: argument --timeout: '1e10' is not a number of seconds"
        " above 0 and at most 1,000,000,000"
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("127.0.0.1:99999", "'127.0.0.1:99999' has no port 99999: ports run from 1 to 65535"),
        ("localhost:0", "'localhost:0' has no port 0: ports run from 1 to 65535"),
        ("http://localhost:50051", "'http://localhost:50051' is a URL: give host:port"),
    ],
)
def test_a_target_grpc_would_misread_is_a_usage_error(
    target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # 99999 reached port 34463; a URL failed as "Misformatted domain name".
    err = cli_usage_error(capsys, "list", "--target", target)
    assert f"claimstore list: error: argument --target: {message}" in err


@pytest.mark.parametrize("target", ["", "  "], ids=["empty", "blank"])
def test_an_empty_target_is_a_usage_error(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = cli_usage_error(capsys, "list", "--target", target)
    assert (
        "claimstore list: error: argument --target: the server address is empty: give one such"
        " as localhost:50051\n"
    ) in err


def test_sources(server: ClaimServer, client: claimstore.Client) -> None:
    for number, publisher in enumerate(["Reuters", "Le Monde", "AP"]):
        client.create_source(
            url=f"https://news.example/{number}",
            publisher=publisher,
            title=f"Report {number}",
            kind="news_article",
            published_at="2025-11-20",
        )
    status, output = run("sources", "--target", server.target)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split() == ["PUBLISHER", "TITLE", "KIND", "PUBLISHED", "URL", "ID"]
    assert [re.split(r"\s{2,}", row)[:5] for row in rows] == [
        ["Reuters", "Report 0", "news_article", "2025-11-20", "https://news.example/0"],
        ["Le Monde", "Report 1", "news_article", "2025-11-20", "https://news.example/1"],
        ["AP", "Report 2", "news_article", "2025-11-20", "https://news.example/2"],
    ]
    status, output = run("sources", "--target", server.target, "--limit", "2", "--json")
    assert status == 0
    assert [json.loads(row)["publisher"] for row in output.splitlines()] == ["Reuters", "Le Monde"]


def test_speakers(server: ClaimServer, listed: dict[str, str]) -> None:
    status, output = run("speakers", "--target", server.target)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split() == ["NAME", "CLAIMS", "KIND", "TITLE", "AFFILIATION", "ID"]
    assert [re.split(r"\s{2,}", row)[:2] for row in rows] == [
        ["Dmitry Peskov", "3"],
        ["Jean-Noël Barrot", "1"],
        ["Sergei Lavrov", "1"],
    ]
    assert [row.split("  ")[0] for row in rows] == [
        "Dmitry Peskov",
        "Jean-Noël Barrot",
        "Sergei Lavrov",
    ]
    assert all("person" in row for row in rows)

    status, output = run("speakers", "--target", server.target, "--json")
    assert status == 0
    names = [json.loads(line)["display_name"] for line in output.splitlines()]
    assert names == ["Dmitry Peskov", "Jean-Noël Barrot", "Sergei Lavrov"]


def test_target_from_the_environment(
    server: ClaimServer, client: claimstore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.create_speaker("From The Environment")
    monkeypatch.setenv("CLAIMSTORE_TARGET", server.target)
    status, output = run("speakers", "--json")
    assert status == 0
    assert json.loads(output)["display_name"] == "From The Environment"


def test_unreachable_target_exits_1_with_a_hint(
    stopped_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = run("list", "--target", stopped_target)
    assert status == 1
    assert output == ""
    err = capsys.readouterr().err
    assert "UNAVAILABLE" in err
    assert "make serve" in err
    assert stopped_target in err


def test_unreachable_target_from_the_environment(
    stopped_target: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLAIMSTORE_TARGET", stopped_target)
    assert run("speakers")[0] == 1
    assert stopped_target in capsys.readouterr().err
