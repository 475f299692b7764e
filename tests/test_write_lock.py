"""Writes that wait for SQLite's write lock (an import's transaction may hold it for a second
or more) wait on a thread of their own: every other call goes on meanwhile."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import claimstore
import grpc
from claimstore_server import ClaimServer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import wait_for_speaker, write_lock


def test_calls_go_on_while_a_write_waits_for_the_lock(
    server: ClaimServer, client: claimstore.Client, db_path: Path
) -> None:
    claim = client.create_claim(
        "Talks go on", attribution="paraphrase", stated_at="2025-11-20", speaker="Dmitry Peskov"
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        with write_lock(db_path):
            waiting = pool.submit(client.create_speaker, "Waits for the lock")
            # Each answered while the write waits (the server waits up to 5 s for the lock).
            assert client.get_claim(claim.id, timeout=2).text == "Talks go on"
            assert [found.id for found in client.list_claims(timeout=2)] == [claim.id]
            with grpc.insecure_channel(server.target) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
            assert not waiting.done()
        assert waiting.result(timeout=10).display_name == "Waits for the lock"
    wait_for_speaker(client, "Waits for the lock")
