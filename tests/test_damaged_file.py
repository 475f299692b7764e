"""A database file SQLite finds malformed: the calls that read the damaged part end DATA_LOSS
(never INTERNAL), the log says what to do, and the rest of the service goes on."""

from pathlib import Path

import claimstore
import grpc
import pytest
from claimstore_server.store import sqlite3
from helpers import start_server


def damage_table(db_path: Path, table: str) -> None:
    """Overwrites the first page of ``table`` in the (closed) file with bytes no page holds."""
    with sqlite3.connect(db_path) as connection:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    with db_path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


def test_reading_a_damaged_table_ends_data_loss(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(db_path)
    with claimstore.Client(server.target) as client:
        claim = client.create_claim(
            "Talks go on", attribution="paraphrase", stated_at="2025-11-20", speaker="S"
        )
    server.stop(0)
    damage_table(db_path, "claims")

    server = start_server(db_path)
    try:
        with claimstore.Client(server.target) as client:
            with pytest.raises(claimstore.DataLoss) as raised:
                client.get_claim(claim.id)
            assert raised.value.code == grpc.StatusCode.DATA_LOSS
            assert f"the database file {db_path} is damaged" in str(raised.value)
            assert "restore it from a backup" in str(raised.value)
            with pytest.raises(claimstore.DataLoss):
                list(client.list_claims())
            # What does not read the damaged table still works.
            assert client.create_speaker("Still served").display_name == "Still served"
    finally:
        server.stop(0)
    assert any(
        record.levelname == "WARNING" and "is damaged" in record.getMessage()
        for record in caplog.records
    )
