"""Fixtures: a real claimstore server on an ephemeral port over a SQLite file in tmp_path."""

from collections.abc import Callable, Iterator
from pathlib import Path

import claimstore
import grpc
import pytest
from claimstore.v1 import claim_service_pb2_grpc
from claimstore_server import ClaimServer
from helpers import Counts, count_all, start_server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "claims.db"


@pytest.fixture
def server(db_path: Path) -> Iterator[ClaimServer]:
    running = start_server(db_path)
    yield running
    running.stop(0)


@pytest.fixture
def client(server: ClaimServer) -> Iterator[claimstore.Client]:
    with claimstore.Client(server.target) as connected:
        yield connected


@pytest.fixture
def channel(server: ClaimServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as opened:
        yield opened


@pytest.fixture
def stub(channel: grpc.Channel) -> claim_service_pb2_grpc.ClaimServiceStub:
    """A raw stub, for requests the client library would never build."""
    return claim_service_pb2_grpc.ClaimServiceStub(channel)


@pytest.fixture
def counts(client: claimstore.Client) -> Callable[[], Counts]:
    """Returns a function that counts claims, speakers and sources through the API."""
    return lambda: count_all(client)


@pytest.fixture
def stopped_target(tmp_path: Path) -> str:
    """The address of a server that was started and then stopped: nothing listens there."""
    stopped = start_server(tmp_path / "stopped.db")
    stopped.stop(0)
    return stopped.target
