"""The Makefile's client targets (seed, query, export, import), run with make in the
repository root against a real server started in-process."""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import claimstore
import pytest
from claimstore import import_request, parse_import_line
from claimstore_server import ClaimServer
from helpers import start_server

ROOT = Path(__file__).resolve().parent.parent
SEED_LINES = sum(
    1
    for path in (ROOT / "data" / "seed").glob("*.jsonl")
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.strip()
)
CLAIM_ID = re.compile(r"\bclm_[0-9A-Za-z]+")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not on PATH")


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Runs make in the repository root; returns the finished process."""
    # Never rebuild the virtual environment from a test, even if pyproject.toml is newer.
    command = ["make", "--no-print-directory", "-o", ".venv/bin/.installed", *arguments]
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CLAIMSTORE_TARGET")
    }
    return subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def seeded(server: ClaimServer, client: claimstore.Client) -> claimstore.Client:
    done = make("seed", f"TARGET={server.target}")
    assert done.returncode == 0, done.stderr
    return client


def test_make_seed_twice_leaves_exactly_the_seed(
    server: ClaimServer, client: claimstore.Client
) -> None:
    first = make("seed", f"TARGET={server.target}")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{SEED_LINES} created, 0 already there, 0 failed\n"
    claims = list(client.export_claims())
    assert len(claims) == SEED_LINES
    second = make("seed", f"TARGET={server.target}")
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"0 created, {SEED_LINES} already there, 0 failed\n"
    assert list(client.export_claims()) == claims


@pytest.mark.parametrize("target", ["seed", "query", "speakers", "export", "import"])
def test_a_client_target_without_a_server_fails_and_points_at_make_serve(
    stopped_target: str, target: str
) -> None:
    done = make(target, f"TARGET={stopped_target}", "FILE=data/seed/*.jsonl")
    assert done.returncode != 0
    # There, not on make serve's own default address.
    assert f"'make serve LISTEN={stopped_target}'" in done.stderr
    assert done.stdout == ""


QUERIES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "speaker": (["SPEAKER=Peskov"], {"speaker": "Peskov"}),
    "topic": (["TOPIC=capitulation"], {"topics": ["capitulation"]}),
    "until, inclusive": (["UNTIL=2025-11-19"], {"before": "2025-11-20"}),
    "since and speaker": (
        ["SINCE=2025-11-20", "SPEAKER=jean-noel barrot"],
        {"since": "2025-11-20", "speaker": "jean-noel barrot"},
    ),
}


@pytest.mark.parametrize(("variables", "filters"), list(QUERIES.values()), ids=list(QUERIES))
def test_make_query_lists_exactly_the_matching_claims(
    seeded: claimstore.Client, variables: list[str], filters: dict[str, Any]
) -> None:
    done = make("query", *variables, f"TARGET={seeded.config.target}")
    assert done.returncode == 0, done.stderr
    matching = list(seeded.list_claims(view="full", **filters))
    assert 0 < len(matching) < SEED_LINES
    assert set(CLAIM_ID.findall(done.stdout)) == {claim.id for claim in matching}
    rows = [row for row in done.stdout.splitlines() if CLAIM_ID.search(row)]
    assert len(rows) == len(matching)
    speakers = {claim.speaker.display_name for claim in matching}
    assert all(any(name in row for name in speakers) for row in rows)
    others = {s.display_name for s in seeded.list_speakers()} - speakers
    assert not [name for name in others if name in done.stdout]


def test_make_export_writes_only_json_lines(seeded: claimstore.Client) -> None:
    done = make("export", f"TARGET={seeded.config.target}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == SEED_LINES
    requests = [parse_import_line(line) for line in lines]
    assert requests == [import_request(claim) for claim in seeded.export_claims()]


def test_make_export_takes_the_query_filters(seeded: claimstore.Client) -> None:
    done = make("export", "SPEAKER=Peskov", f"TARGET={seeded.config.target}")
    assert done.returncode == 0, done.stderr
    requests = [parse_import_line(line) for line in done.stdout.splitlines()]
    expected = [import_request(claim) for claim in seeded.export_claims(speaker="Peskov")]
    assert 0 < len(requests) == len(expected) < SEED_LINES
    assert requests == expected


def test_make_import_of_an_export_gives_back_the_same_claims(
    seeded: claimstore.Client, tmp_path: Path
) -> None:
    exported = make("export", f"TARGET={seeded.config.target}")
    assert exported.returncode == 0, exported.stderr
    path = tmp_path / "claims.jsonl"
    path.write_text(exported.stdout, encoding="utf-8")
    other = start_server(tmp_path / "other.db")
    try:
        done = make("import", f"FILE={path}", f"TARGET={other.target}")
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"{SEED_LINES} created, 0 already there, 0 failed\n"
        with claimstore.Client(other.target) as empty:
            imported = [import_request(claim) for claim in empty.export_claims()]
    finally:
        other.stop()
    assert imported == [import_request(claim) for claim in seeded.export_claims()]


def test_make_import_reports_bad_lines_and_exits_non_zero(
    server: ClaimServer, client: claimstore.Client, tmp_path: Path
) -> None:
    (seed,) = (ROOT / "data" / "seed").glob("*.jsonl")
    good = seed.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "mixed.jsonl"
    path.write_text(f"{good}\nnot json\n", encoding="utf-8")
    done = make("import", f"FILE={path}", f"TARGET={server.target}")
    assert done.returncode != 0
    assert done.stdout.startswith("1 created, 0 already there, 1 failed\n")
    assert f"{path}:2: not a claim" in done.stdout
    assert len(list(client.list_claims())) == 1


def test_make_import_without_a_file_says_how_to_name_one(
    server: ClaimServer, client: claimstore.Client
) -> None:
    done = make("import", f"TARGET={server.target}")
    assert done.returncode != 0
    assert "make import FILE=claims.jsonl" in done.stderr
    assert list(client.list_claims()) == []


def test_make_search_without_a_query_says_how_to_give_one(server: ClaimServer) -> None:
    done = make("search", f"TARGET={server.target}")
    assert done.returncode != 0
    assert "make search Q=capitulation" in done.stderr


def test_make_filter_values_beginning_with_a_dash_are_values(seeded: claimstore.Client) -> None:
    # A filter or a query that begins with "-" reaches the command as a value, not an option.
    target = f"TARGET={seeded.config.target}"
    done = make("query", "SPEAKER=-Peskov", target)
    assert done.returncode == 0, done.stderr
    peskov = {claim.id for claim in seeded.list_claims(speaker="Peskov")}
    assert peskov
    assert set(CLAIM_ID.findall(done.stdout)) == peskov
    searched = make("search", "Q=-Russia", target)
    assert searched.returncode != 0
    assert "only excludes words" in searched.stderr
    assert "usage:" not in searched.stderr
    searched = make("search", 'Q=-Russia "peace cannot"', target)
    assert searched.returncode == 0, searched.stderr
    assert "Jean-Noël Barrot" in searched.stdout
