"""`claimstore check`: SQLite's integrity checks of a database file, read-only."""

from pathlib import Path

import claimstore
import pytest
from helpers import damage_table, run_cli, start_server


def stored_claim(db_path: Path) -> None:
    server = start_server(db_path)
    with claimstore.Client(server.target) as client:
        client.create_claim(
            "Talks go on", attribution="paraphrase", stated_at="2025-11-20", speaker="S"
        )
    server.stop(0)


def test_a_sound_file_is_ok(db_path: Path) -> None:
    stored_claim(db_path)
    before = db_path.read_bytes()
    assert run_cli("check", "--db", str(db_path)) == (0, f"{db_path}: ok\n")
    assert db_path.read_bytes() == before  # only read


def test_a_file_checks_while_a_server_serves_it(db_path: Path) -> None:
    stored_claim(db_path)
    server = start_server(db_path)
    try:
        assert run_cli("check", "--db", str(db_path)) == (0, f"{db_path}: ok\n")
    finally:
        server.stop(0)


def test_a_damaged_file_is_reported_with_what_sqlite_finds(db_path: Path) -> None:
    stored_claim(db_path)
    damage_table(db_path, "claims")
    status, out = run_cli("check", "--db", str(db_path))
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == f"{db_path}: damaged; SQLite finds:"
    assert len(lines) > 1
    assert all(line.startswith("  ") for line in lines[1:])


def test_a_missing_file_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.db"
    status, out = run_cli("check", "--db", str(missing))
    assert (status, out) == (2, "")
    assert f"claimstore check: there is no database file {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_a_file_that_is_no_database_is_reported(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a database, just notes\n" * 200)
    status, out = run_cli("check", "--db", str(notes))
    assert status == 1
    assert "file is not a database" in out
