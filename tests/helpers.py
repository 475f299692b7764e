"""Plain helpers shared by the test files (fixtures live in conftest.py)."""

import io
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import claimstore
import grpc
import pytest
from claimstore.cli._main import main as cli_main
from claimstore_server import ClaimServer, ServerConfig, build_server
from claimstore_server.store import sqlite3
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

Counts = dict[str, int]


def start_server(db_path: Path) -> ClaimServer:
    """Builds and starts a server over ``db_path`` on a free loopback port."""
    server = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"))
    server.start()
    return server


def count_all(client: claimstore.Client) -> Counts:
    """Counts the claims, speakers and sources the server holds, through the API."""
    return {
        "claims": sum(1 for _ in client.list_claims(page_size=1000)),
        "speakers": sum(1 for _ in client.list_speakers(page_size=1000)),
        "sources": sum(1 for _ in client.list_sources(page_size=1000)),
    }


def stamp(iso: str) -> Timestamp:
    """Returns the Timestamp of an ISO 8601 time with an offset."""
    value = Timestamp()
    value.FromDatetime(datetime.fromisoformat(iso))
    return value


def free_port() -> int:
    """Returns a loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call_error(call: Callable[[], object]) -> grpc.Call:
    """Runs a raw stub call that must fail; returns the failed call."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error


def violations(error: grpc.Call) -> dict[str, str]:
    """The google.rpc.BadRequest field violations of a failed call, field -> description."""
    status = rpc_status.from_call(error)
    found: dict[str, str] = {}
    if status is None:
        return found
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def invalid_fields(call: Callable[[], object]) -> set[str]:
    """Runs a raw stub call that must fail with INVALID_ARGUMENT; returns the fields named."""
    error = call_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    fields = set(violations(error))
    for field in fields:
        assert field in (error.details() or ""), "the message names each field"
    return fields


def run_cli(*argv: str) -> tuple[int, str]:
    """Runs the claimstore command in-process; returns its exit status and what it wrote to
    its output."""
    out = io.StringIO()
    status = cli_main(list(argv), out=out)
    return status, out.getvalue()


def cli_usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Runs the command, which must end as a usage error (exit status 2); returns its stderr."""
    with pytest.raises(SystemExit) as exited:
        run_cli(*argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def not_found_field(call: Callable[[], object]) -> str:
    """Runs a raw stub call that must fail with NOT_FOUND; returns the field it names, which
    both its message and its ResourceInfo detail must give."""
    error = call_error(call)
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    info = error_details_pb2.ResourceInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    field: str = info.description.removeprefix("named by ")
    assert (error.details() or "").startswith(f"{field}: ")
    return field


def launch_server(db_path: Path, port: int, stderr: Path) -> subprocess.Popen[bytes]:
    """Starts ``python -m claimstore_server`` over ``db_path`` on ``port``, its stderr to a
    file; returns once it answers SERVING (fails the test if it never does)."""
    with open(stderr, "ab") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "claimstore_server", "--db", str(db_path)),
                *("--listen", f"127.0.0.1:{port}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    give_up = time.monotonic() + 20
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < give_up and process.poll() is None:
            try:
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                time.sleep(0.1)
                continue
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                return process
    process.kill()
    process.wait()
    pytest.fail(f"the server did not start: {stderr.read_text()}")


@contextmanager
def write_lock(db_path: Path) -> Iterator[None]:
    """Holds the database's write lock, so that every write through the server waits for it."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def wait_for_speaker(client: claimstore.Client, name: str) -> None:
    """Waits until the write the server was holding has landed, so teardown finds it done."""
    for _ in range(200):
        if any(speaker.display_name == name for speaker in client.list_speakers()):
            return
        time.sleep(0.05)
    raise AssertionError(f"the speaker {name!r} was never written")


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
