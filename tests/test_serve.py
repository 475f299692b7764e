"""Serving as a process: start, health, SIGTERM, exit status, and data kept on disk."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import claimstore
import grpc
import pytest
from claimstore_server import ServerConfig, build_server
from claimstore_server.__main__ import main as serve_main
from claimstore_server.store import (
    DatabaseFileError,
    SqliteStore,
    _schema,
    has_wal_reset_bug,
    sqlite3,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers import free_port, start_server

CONSOLE_SCRIPT = Path(sys.executable).parent / "claimstore"


def launch(db_path: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "claimstore_server", "--db", str(db_path)),
            *("--listen", f"127.0.0.1:{port}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_serving(process: subprocess.Popen[str], target: str, seconds: float = 10.0) -> bool:
    """Polls the health service until it answers SERVING; False if the process ends first."""
    give_up = time.monotonic() + seconds
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < give_up:
            if process.poll() is not None:
                return False
            try:
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                time.sleep(0.1)
                continue
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                return True
            time.sleep(0.1)
    return False


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Stops a process that is still running; returns its exit status and stderr."""
    if process.poll() is None:
        process.kill()
    _, err = process.communicate(timeout=15)
    return process.returncode, err


@pytest.fixture
def served(tmp_path: Path) -> tuple[subprocess.Popen[str], str, Path]:
    """A server process over tmp_path/x.db that answers SERVING; killed if a test leaves it."""
    db_path = tmp_path / "x.db"
    for _attempt in range(2):  # the free port may be taken by the time the server binds
        port = free_port()
        process = launch(db_path, port)
        if wait_serving(process, f"127.0.0.1:{port}"):
            return process, f"127.0.0.1:{port}", db_path
        status, err = finish(process)
        if "cannot listen" not in err:
            pytest.fail(f"the server did not start (status {status}): {err}")
    pytest.fail("no free port to serve on")


def test_sigterm_stops_the_server_cleanly_and_keeps_the_data(
    served: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, target, db_path = served
    try:
        with claimstore.Client(target) as client:
            claim = client.create_claim(
                "Kept across restarts",
                speaker="Dmitry Peskov",
                attribution="direct_quote",
                stated_at="2025-11-20",
                citations=[{"url": "https://example.com/kept"}],
            )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        status, err = finish(process)
    assert status == 0, err
    assert "Traceback" not in err

    reopened = start_server(db_path)
    try:
        with claimstore.Client(reopened.target) as client:
            assert client.get_claim(claim.id) == claim
    finally:
        reopened.stop(0)


def test_a_sqlite_with_the_wal_reset_bug_is_named_in_the_log(
    served: tuple[subprocess.Popen[str], str, Path],
) -> None:
    process, _, _ = served
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    status, err = finish(process)
    assert status == 0, err
    warned = (
        f"the store reaches SQLite {sqlite3.sqlite_version} through {sqlite3.__name__}, and that"
        " SQLite has the WAL-reset bug"
    )
    assert (warned in err) == has_wal_reset_bug(sqlite3.sqlite_version_info)


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ((3, 6, 23), False),
        ((3, 7, 0), True),
        ((3, 40, 1), True),
        ((3, 44, 5), True),
        ((3, 44, 6), False),
        ((3, 50, 6), True),
        ((3, 50, 7), False),
        ((3, 51, 2), True),
        ((3, 51, 3), False),
        ((3, 53, 0), False),
    ],
)
def test_which_sqlite_versions_have_the_wal_reset_bug(
    version: tuple[int, int, int], affected: bool
) -> None:
    assert has_wal_reset_bug(version) == affected


def test_console_script_serve_help() -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    for option in ("--db", "--listen", "--grace"):
        assert option in result.stdout


def test_console_script_without_command_is_a_usage_error() -> None:
    result = subprocess.run([str(CONSOLE_SCRIPT)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "usage: claimstore" in result.stderr


def test_serving_a_newer_database_exits_1(tmp_path: Path) -> None:
    db_path = tmp_path / "newer.db"
    with sqlite3.connect(db_path) as connection:
        connection.execute(f"PRAGMA user_version = {_schema.LATEST_VERSION + 1}")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "claimstore_server", "--db", str(db_path)),
            *("--listen", f"127.0.0.1:{free_port()}"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "schema version" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("not-a-database.db", "file is not a database"),
        ("missing/claims.db", "(there is no folder "),
        ("a-folder", "(it is a folder)"),
    ],
)
def test_serving_a_file_that_cannot_be_a_database_exits_1_naming_it(
    tmp_path: Path, name: str, why: str
) -> None:
    db_path = tmp_path / name
    if name == "a-folder":
        db_path.mkdir()
    elif db_path.parent.exists():
        db_path.write_text("not SQLite\n" * 100)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "claimstore_server", "--db", str(db_path)),
            *("--listen", f"127.0.0.1:{free_port()}"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"cannot open {db_path} as a claimstore database" in result.stderr
    assert why in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--db", ""], "argument --db: give the path of a SQLite file"),
        (["--db", ":memory:"], "argument --db: give the path of a file"),
        (["--listen", "127.0.0.1:99999"], "the port must be a number from 0 to 65535"),
        (["--listen", "127.0.0.1:"], "give host:port"),
        (["--listen", "garbage"], "give host:port"),
        (["--listen", ":abc"], "give host:port"),
        (["--grace", "-1"], "argument --grace: must be 0 or more seconds"),
        (["--grace", "soon"], "'soon' is not a number of seconds"),
    ],
)
def test_bad_serve_options_are_usage_errors(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as raised:
        serve_main(["--db", str(tmp_path / "x.db"), *options])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_in_memory_database_is_refused(tmp_path: Path) -> None:
    # Each of the store's connections would open an empty database of its own.
    for path in ("", ":memory:"):
        with pytest.raises(DatabaseFileError, match="give the path of a file"):
            SqliteStore(path)


def test_serving_on_a_taken_port_exits_1(
    served: tuple[subprocess.Popen[str], str, Path], tmp_path: Path
) -> None:
    process, target, _ = served
    try:
        result = subprocess.run(
            [
                *(sys.executable, "-m", "claimstore_server"),
                *("--db", str(tmp_path / "other.db"), "--listen", target),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        finish(process)
    assert result.returncode == 1
    assert f"cannot listen on {target}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


# Run in a child process: the failure it looks for can crash the interpreter.
STOP_DURING_WRITE = textwrap.dedent(
    """
    import faulthandler, sqlite3, sys, tempfile, threading, time
    faulthandler.enable()
    from pathlib import Path

    import claimstore
    from claimstore_server import ServerConfig, build_server

    for trial in range(int(sys.argv[1])):
        db_path = Path(tempfile.mkdtemp()) / "claims.db"
        server = build_server(ServerConfig(db_path=db_path, listen="127.0.0.1:0"))
        server.start()
        client = claimstore.Client(server.target)
        client.create_speaker("warm up")
        lock = sqlite3.connect(db_path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")

        def write() -> None:
            try:
                client.create_claim(
                    "t", speaker="S", attribution="paraphrase", stated_at="2025-11-20",
                    citations=[{"url": f"https://example.com/{i}"} for i in range(100)],
                    timeout=2,
                )
            except claimstore.ClaimstoreError:
                pass

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.2)  # the call reaches the server, whose worker waits for the lock
        lock.execute("ROLLBACK")  # the worker starts its write...
        lock.close()
        server.stop(0)  # ...while the server stops and closes the store
        writer.join()
        client.close()
        time.sleep(0.2)
    print("survived")
    """
)


def test_stop_while_a_write_is_in_flight_does_not_crash(tmp_path: Path) -> None:
    """ClaimServer.stop(0) must not close the store under a worker still writing."""
    result = subprocess.run(
        [sys.executable, "-c", STOP_DURING_WRITE, "5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-2000:]


def test_serving_on_a_unix_socket(tmp_path: Path) -> None:
    # A socket's path is not host:port, even where it ends as one would.
    listen = f"unix:{tmp_path / 'claimstore:8080'}"
    server = build_server(ServerConfig(db_path=tmp_path / "x.db", listen=listen))
    server.start()
    try:
        assert server.target == listen
        with claimstore.Client(server.target) as client:
            created = client.create_speaker("Dmitry Peskov")
            assert [speaker.id for speaker in client.list_speakers()] == [created.id]
    finally:
        server.stop(0)


def test_claimstore_serve_with_stdout_closed_serves(tmp_path: Path) -> None:
    # Started with `>&-`, as a service manager may start it: serve writes nothing to standard
    # output, so it needs none (the commands that write there refuse to start without it).
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "claimstore", "serve", "--db", str(tmp_path / "x.db")),
            *("--listen", f"127.0.0.1:{port}"),
        ],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
    )
    try:
        assert wait_serving(process, f"127.0.0.1:{port}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        status, err = finish(process)
    assert status == 0, err
    assert "standard output" not in err
