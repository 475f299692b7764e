"""What the claimstore benchmarks share: the machine, the cached database, the server process.

* :func:`machine` and :func:`machine_line` describe where a benchmark runs;
* :func:`cached_database_path` and :func:`build_database` make (once) and find
  a database of synthetic claims written straight through ``SqliteStore``,
  cached in the temp directory and keyed by what the store writes;
* :class:`ServerProcess` runs ``python -m claimstore_server`` in a child
  process on a free 127.0.0.1 port;
* :func:`format_table` aligns a text table.

Used by ``benchmarks.unary`` and ``benchmarks.bulk``; not a benchmark itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any, Final

import grpc
from claimstore_server.store import sqlite3
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks import synthetic

SERVER_START_TIMEOUT_S: Final = 60.0
SERVER_STOP_TIMEOUT_S: Final = 15.0
BUILD_REPORT_EVERY: Final = 10_000


# Machine


def machine() -> dict[str, Any]:
    """Describes where the benchmark runs: cores, Python, grpcio, load."""
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "grpcio": grpc.__version__,
        "protobuf": _version("protobuf"),
        "sqlite": sqlite3.sqlite_version,
        "loadavg": loadavg(),
        "revision": revision(),
    }


def machine_line(host: dict[str, Any]) -> str:
    """One line saying what :func:`machine` found."""
    return (
        f"machine: {host['nproc']} cores for this process ({host['cpu_count']} in all),"
        f" {host['implementation']} {host['python']}, grpcio {host['grpcio']},"
        f" protobuf {host['protobuf']}, SQLite {host['sqlite']}, load average"
        f" {' '.join(f'{v:.2f}' for v in host['loadavg'] or [])}; code at {host['revision']}"
    )


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, where the OS has them."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def revision() -> str:
    """The git commit of the code measured, with "+dirty" when the tree has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "?"
    return f"{commit or '?'}{'+dirty' if dirty else ''}"


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


# The database


def store_fingerprint() -> tuple[int, str]:
    """Returns the store's schema version and a digest of its schema and code.

    The digest covers the DDL an empty store creates and the source of the
    store package and of the validation that makes drafts, so a cached
    database is rebuilt whenever what the store writes may have changed.
    """
    from claimstore_server import _validation, store
    from claimstore_server.store import SqliteStore

    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="claimstore-bench-schema-") as directory:
        empty = SqliteStore(Path(directory) / "empty.db")
        version = int(empty.schema_version)
        empty.close()
        with contextlib.closing(sqlite3.connect(Path(directory) / "empty.db")) as connection:
            for (sql,) in connection.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
            ):
                digest.update(sql.encode())
    store_dir = Path(store.__file__).parent
    for path in [*sorted(store_dir.glob("*.py")), Path(_validation.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return version, digest.hexdigest()[:12]


def default_cache_dir() -> Path:
    """Where built databases are kept between runs."""
    return Path(tempfile.gettempdir()) / "claimstore-bench-cache"


def cached_database_path(cache_dir: Path, count: int, seed: int) -> Path:
    """The file a database of ``count`` claims of ``seed`` is cached in."""
    version, digest = store_fingerprint()
    return cache_dir / (
        f"claims-{count}-seed{seed}-gen{synthetic.GENERATOR_VERSION}-schema{version}-{digest}.db"
    )


def build_database(
    path: Path,
    count: int,
    seed: int,
    *,
    batch_size: int | None = None,
    report_every: int = BUILD_REPORT_EVERY,
) -> float:
    """Writes ``count`` synthetic claims into a new database at ``path``; returns seconds taken.

    Claims go through ``claim_draft`` (the servicer's validation) and then,
    when ``batch_size`` is None, ``SqliteStore.create_claim``, one transaction
    each, as CreateClaim would; otherwise ``SqliteStore.import_claims``, one
    transaction per ``batch_size`` claims, as ImportClaims would (faster, and
    the same rows). The file appears at ``path`` only once complete.
    """
    from claimstore_server._validation import claim_draft
    from claimstore_server.store import ClaimDraft, SqliteStore, Workload

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.building-{os.getpid()}")
    remove_database(partial)
    started = time.perf_counter()
    store = SqliteStore(partial)
    if batch_size is not None:
        store.use_thread_for(Workload.BULK)  # as the server's bulk thread does
    pending: list[ClaimDraft] = []

    def flush() -> None:
        outcomes = store.import_claims(pending)
        failed = [outcome for outcome in outcomes if not outcome.created]
        if failed:
            raise RuntimeError(f"building {path.name}: a claim was not created: {failed[0]}")
        pending.clear()

    try:
        for number, request in enumerate(synthetic.generate_claims(count, seed), start=1):
            if batch_size is None:
                store.create_claim(claim_draft(request))
            else:
                pending.append(claim_draft(request))
                if len(pending) >= batch_size or number == count:
                    flush()
            if number % report_every == 0 or number == count:
                elapsed = time.perf_counter() - started
                print(
                    f"  built {number:,}/{count:,} claims in {elapsed:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    except BaseException:
        store.close()
        remove_database(partial)
        raise
    store.close()
    os.replace(partial, path)
    remove_database(partial)  # leftovers of the WAL, if any
    return time.perf_counter() - started


def remove_database(path: Path) -> None:
    """Removes a SQLite file and its WAL, shared-memory and journal files, where present."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


# The server


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``python -m claimstore_server`` in a child process, serving one database file."""

    def __init__(self, db: Path, *, log: Path) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "claimstore_server",
            "--db",
            str(db),
            "--listen",
            self.target,
            "--log-level",
            "WARNING",
            "--grace",
            "2",
        ]
        self.command = command
        self._log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_serving(self, channel: grpc.Channel | None = None) -> float:
        """Waits until health Check says SERVING; returns the seconds it took.

        Asks over ``channel``, or over a channel of its own when none is given.
        """
        if channel is None:
            with grpc.insecure_channel(self.target) as own:
                return self.wait_until_serving(own)
        stub = health_pb2_grpc.HealthStub(channel)
        started = time.monotonic()
        deadline = started + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with status {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            except grpc.RpcError:
                time.sleep(0.1)
                continue
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(
            f"the server was not SERVING after {SERVER_START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> int:
        """Sends SIGTERM and waits for the exit (SIGKILL if it takes too long)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(SERVER_STOP_TIMEOUT_S)
        self._log.close()
        return self.process.returncode

    def stop_and_warn(self) -> None:
        """Stops the server; warns on stderr when it did not exit cleanly."""
        status = self.stop()
        if status not in (0, -signal.SIGTERM):
            print(
                f"warning: the server exited with status {status}:\n{self.log_tail()}",
                file=sys.stderr,
            )

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


# The command


def interrupt_on_sigterm() -> None:
    """Makes SIGTERM unwind like Ctrl-C, so that a server process is stopped too."""

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


def format_table(
    header: Sequence[str], lines: Sequence[Sequence[str]], *, left: Container[int] = (0,)
) -> str:
    """Aligns ``lines`` under ``header``: columns in ``left`` to the left, others right."""
    table = [tuple(header), *(tuple(line) for line in lines)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    out = []
    for number, line in enumerate(table):
        cells = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if number == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)
