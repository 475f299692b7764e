"""A database file SQLite finds malformed: the calls that read the damaged part end DATA_LOSS
(never INTERNAL), the log says what to do, and the rest of the service goes on."""

from pathlib import Path

import claimstore
import grpc
import pytest
from helpers import damage_table, start_server


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
            assert f"check it with `claimstore check --db {db_path}`" in str(raised.value)
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
