"""`claimstore search`, `claimstore speakers --prefix` and `make search`, against a real
server."""

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import claimstore
import pytest
from claimstore.cli._main import main
from claimstore.cli._render import format_score
from claimstore.v1 import claim_service_pb2, speaker_pb2
from google.protobuf import json_format

ROOT = Path(__file__).resolve().parent.parent
CLAIM_ID = re.compile(r"\bclm_[0-9A-Za-z]+")

CLAIMS = [
    # text, speaker, aliases, date
    ("Peace cannot be imposed from outside.", "Jean-Noël Barrot", ["Barrot"], "2025-11-18"),
    ("We cannot accept a peace on those terms.", "Dmitry Peskov", ["Peskov"], "2025-11-19"),
    ("Peace cannot wait for winter.", "Dmitry Peskov", ["Peskov"], "2025-11-21"),
    ("A peace that people reject cannot last.", "Volodymyr Zelenskyy", ["Zelensky"], "2025-11-22"),
]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


@pytest.fixture
def stored(client: claimstore.Client) -> dict[str, str]:
    """Claim text by id."""
    texts = {}
    for text, name, aliases, day in CLAIMS:
        claim = client.create_claim(
            text,
            attribution="direct_quote",
            stated_at=day,
            speaker=speaker_pb2.Speaker(display_name=name, aliases=aliases),
        )
        texts[claim.id] = text
    return texts


def ids_in(output: str) -> list[str]:
    return CLAIM_ID.findall(output)


def test_search_prints_a_table_with_the_matches_in_brackets(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    status, output = run("search", '"peace cannot"', "--target", client.config.target)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split() == ["STATED", "SPEAKER", "MATCH", "SCORE", "ID"]
    assert len(rows) == 2
    assert set(ids_in(output)) == {
        claim_id for claim_id, text in stored.items() if text.startswith("Peace cannot")
    }
    assert all("[Peace cannot]" in row for row in rows)
    assert "\x1b[" not in output, "no terminal escapes when stdout is not a terminal"
    assert "Jean-Noël Barrot" in output
    assert "Dmitry Peskov" in output


class Terminal(io.StringIO):
    """Standard output that is a terminal, as the CLI's tables are laid out for one."""

    def isatty(self) -> bool:
        return True


ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def on_a_terminal(*argv: str) -> tuple[int, str]:
    out = Terminal()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_search_on_a_terminal_shows_the_matches_in_bold_in_aligned_columns(
    client: claimstore.Client, stored: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    status, output = on_a_terminal("search", '"peace cannot"', "--target", client.config.target)
    assert status == 0
    header, *rows = output.splitlines()
    assert len(rows) == 2
    assert all("\x1b[1mPeace cannot\x1b[22m" in row for row in rows)
    assert "[Peace cannot]" not in output
    shown = [ESCAPE.sub("", line) for line in (header, *rows)]
    # Escapes take no room: the scores and ids line up under their headers, within the width.
    assert {line.index("clm_") for line in shown[1:]} == {header.index("ID")}
    scores = [line[header.index("SCORE") :].split()[0] for line in shown[1:]]
    assert all(re.fullmatch(r"-?[0-9]+\.[0-9]+(e-[0-9]+)?", score) for score in scores), scores
    assert all(len(line) <= 100 for line in shown)


def test_a_match_cut_at_the_terminal_edge_turns_bold_off_before_the_next_column(
    client: claimstore.Client, stored: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # the snippet gets its least room, 20 characters
    phrase = '"peace cannot be imposed from outside"'
    status, output = on_a_terminal("search", phrase, "--target", client.config.target)
    assert status == 0
    (row,) = output.splitlines()[1:]
    assert "\x1b[1mPeace cannot be imp\x1b[22m…  " in row
    assert ESCAPE.sub("", row).split("  ")[2] == "Peace cannot be imp…"


def test_search_json_on_a_terminal_keeps_brackets(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    status, output = on_a_terminal(
        "search", '"peace cannot"', "--json", "--target", client.config.target
    )
    assert status == 0
    snippets = [json.loads(line)["snippet"] for line in output.splitlines()]
    assert len(snippets) == 2
    assert all(snippet.startswith("[Peace cannot]") for snippet in snippets)
    assert "\x1b" not in output
    assert "\ue000" not in output


def test_search_orders_best_first_and_limit_cuts(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    status, output = run("search", "peace cannot", "--target", client.config.target)
    assert status == 0
    assert set(ids_in(output)) == set(stored)
    scores = [float(row.split()[-2]) for row in output.splitlines()[1:]]
    assert scores == sorted(scores, reverse=True)
    status, limited = run(
        "search", "peace cannot", "--limit", "2", "--target", client.config.target
    )
    assert status == 0
    assert ids_in(limited) == ids_in(output)[:2]


def test_search_json_lines_are_search_results(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    status, output = run("search", "peace -reject", "--json", "--target", client.config.target)
    assert status == 0
    lines = output.splitlines()
    assert len(lines) == 3
    results = [json_format.Parse(line, claim_service_pb2.SearchResult()) for line in lines]
    assert {result.claim.id for result in results} == {
        claim_id for claim_id, text in stored.items() if "reject" not in text
    }
    assert all(result.score > 0 and "[" in result.snippet for result in results)
    assert all(result.claim.speaker.display_name for result in results)  # the full view
    expected = list(client.search_claims("peace -reject", view="full"))
    assert [r.claim.id for r in results] == [r.claim.id for r in expected]


@pytest.mark.parametrize(
    ("options", "texts"),
    [
        (["--speaker", "peskov"], {CLAIMS[1][0], CLAIMS[2][0]}),
        (["--speaker", "jean-noel"], {CLAIMS[0][0]}),
        (["--since", "2025-11-21"], {CLAIMS[2][0], CLAIMS[3][0]}),
        (["--until", "2025-11-19"], {CLAIMS[0][0], CLAIMS[1][0]}),  # inclusive
        (["--since", "2025-11-19", "--until", "2025-11-21"], {CLAIMS[1][0], CLAIMS[2][0]}),
        (["--speaker", "peskov", "--until", "2025-11-20"], {CLAIMS[1][0]}),
        (["--language", "fr"], set()),
    ],
)
def test_search_filters_narrow(
    client: claimstore.Client, stored: dict[str, str], options: list[str], texts: set[str]
) -> None:
    status, output = run("search", "peace", "--json", "--target", client.config.target, *options)
    assert status == 0
    found = {json.loads(line)["claim"]["text"] for line in output.splitlines()}
    assert found == texts


@pytest.mark.parametrize("query", ['"peace', "OR", "-peace", "!!!", "x" * 1001])
def test_a_bad_query_exits_1_naming_the_query(
    client: claimstore.Client,
    stored: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    query: str,
) -> None:
    status, output = run("search", "--target", client.config.target, "--", query)
    assert status == 1
    assert output == ""
    assert "query" in capsys.readouterr().err


def test_search_with_no_match_prints_only_the_header(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    status, output = run("search", "tariffs", "--target", client.config.target)
    assert status == 0
    assert output.splitlines() == ["STATED  SPEAKER  MATCH  SCORE  ID"]


def test_speakers_prefix(client: claimstore.Client, stored: dict[str, str]) -> None:
    status, output = run("speakers", "--prefix", "zelen", "--target", client.config.target)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split()[:2] == ["NAME", "CLAIMS"]
    assert len(rows) == 1
    assert rows[0].startswith("Volodymyr Zelenskyy")
    status, output = run("speakers", "--prefix", "pes", "--json", "--target", client.config.target)
    assert status == 0
    (line,) = output.splitlines()
    speaker = json.loads(line)
    assert speaker["display_name"] == "Dmitry Peskov"
    assert speaker["claim_count"] == "2"  # int64 in the JSON mapping
    status, output = run("speakers", "--prefix", "kov", "--target", client.config.target)
    assert status == 0
    assert len(output.splitlines()) == 1  # the header alone


# make search


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", "-o", ".venv/bin/.installed", *arguments]
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CLAIMSTORE_TARGET")
    }
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not on PATH")


@needs_make
def test_make_search_passes_a_quoted_phrase_as_typed(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    done = make("search", 'Q="peace cannot"', f"TARGET={client.config.target}")
    assert done.returncode == 0, done.stderr
    assert set(ids_in(done.stdout)) == {
        claim_id for claim_id, text in stored.items() if text.startswith("Peace cannot")
    }
    assert "[Peace cannot]" in done.stdout


@needs_make
def test_make_search_with_filters_and_a_bad_query(
    client: claimstore.Client, stored: dict[str, str]
) -> None:
    done = make(
        "search",
        "Q=peace cannot",
        "SPEAKER=Peskov",
        "SINCE=2025-11-20",
        f"TARGET={client.config.target}",
    )
    assert done.returncode == 0, done.stderr
    assert set(ids_in(done.stdout)) == {
        claim_id for claim_id, text in stored.items() if text == CLAIMS[2][0]
    }
    bad = make("search", 'Q="peace', f"TARGET={client.config.target}")
    assert bad.returncode != 0
    assert "query" in bad.stderr
    assert bad.stdout == ""


@pytest.mark.parametrize(
    ("score", "shown"),
    [(3.634, "3.63"), (0.5, "0.50"), (0.005, "0.01"), (0.0, "0.00"), (2.1e-06, "2.1e-06")],
)
def test_a_score_too_small_for_two_decimals_shows_two_figures(score: float, shown: str) -> None:
    assert format_score(score) == shown
