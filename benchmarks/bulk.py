"""Bulk import and export throughput of claimstore, and the server's memory during an export.

What is measured, in one run:

(a) claims per second through ImportClaims: ``claimstore.Client.import_claims``
    with its default batching (500 claims a batch) into an EMPTY server, a
    separate ``python -m claimstore_server`` process on a free 127.0.0.1 port
    over a new database file. Counted from the first request to the last
    result; every result must be IMPORT_OUTCOME_CREATED, at its index.
(b) claims per second written straight into a new database by the store layer
    in this process, without gRPC: the same claims made into drafts by
    ``claimstore_server._validation.claim_draft`` (as the servicer does) and
    written by ``SqliteStore.import_claims`` in batches of the client's size,
    into the same schema and indexes. The draft and store shares are shown.
    (a)/(b) is what the service keeps of what its store can do.
(c) ExportClaims of a large database (1,000,000 claims by default), streamed
    through ``claimstore.Client.export_claims`` and counted (not kept), while
    the server's VmRSS is read from ``/proc/PID/status`` every 0.2 s. The peak
    over the export is compared with the goal; the baseline (before the
    export), the peak of its anonymous and file-backed parts (SQLite maps the
    database file, and mapped pages it touched count as resident), the
    kernel's high-water mark, claims exported and claims per second, and the
    client's CPU and memory are shown too.

The synthetic claims (``benchmarks.synthetic``, seeded) are generated into a
list before anything is timed, so neither (a) nor (b) counts making them.
(a) and (b) are interleaved: each of ``--rounds`` rounds measures both, over
new databases, in alternating order; the table shows medians, and the ratio
is taken within each round before its median. CPU seconds of the server and
of this process (the client) are read around (a) and shown per claim; on a
small machine they tell which side is the bottleneck.

Goals: (a)/(b) >= 0.7 and (a) >= 10,000 claims/s at 100,000 claims; the
server's resident memory stays under 250 MB while exporting 1,000,000 claims.

The export database is written once through the store layer (``claim_draft``
and ``SqliteStore.import_claims``, a transaction per batch) and cached in the
temp directory like ``benchmarks.unary``'s, keyed by claim count, seed,
generator version and the store's schema and code; building 1,000,000 claims
takes several minutes and prints its progress. ``--rebuild`` forces it. Each
run serves a copy, so the cached file stays as built.

``--profile DIR`` adds one more import (a), not counted in the figures, with
``py-spy record --format raw`` attached to the server and to this process;
the raw stacks are written to DIR and summarized (share of the samples per
part: validation, store, servicer, gRPC and protobuf, asyncio).

Run it from the repository root::

    .venv/bin/python -m benchmarks.bulk                       # full: ~10 min, more to build
    .venv/bin/python -m benchmarks.bulk --claims 10000 --export-claims 50000   # quick
    .venv/bin/python -m benchmarks.bulk --skip-export --json bulk.json
    .venv/bin/python -m benchmarks.bulk --profile /tmp/bulk-profile

Exit status: 0 when every goal is met, 1 when one is missed, 2 on an error.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import grpc
from claimstore.v1 import claim_service_pb2
from claimstore_server.store import sqlite3

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import claimstore

from benchmarks import synthetic
from benchmarks._common import (
    ServerProcess,
    build_database,
    cached_database_path,
    default_cache_dir,
    format_table,
    interrupt_on_sigterm,
    loadavg,
    machine,
    machine_line,
    remove_database,
    store_fingerprint,
)

GOAL_RATIO: Final = 0.7
"""The least (a)/(b): ImportClaims over the store's own rate."""
GOAL_IMPORT_CLAIMS_PER_S: Final = 10_000.0
GOAL_EXPORT_RSS_MB: Final = 250.0
GOAL_IMPORT_AT_CLAIMS: Final = 100_000
GOAL_EXPORT_AT_CLAIMS: Final = 1_000_000

SAMPLE_INTERVAL_S: Final = 0.2
MAX_SAMPLES: Final = 100_000
"""Bounds the sampler: 100,000 samples at 0.2 s is over 5 hours."""
BASELINE_SAMPLES: Final = 5
MIN_IMPORT_TIMEOUT_S: Final = 600.0
MIN_EXPORT_TIMEOUT_S: Final = 1800.0
PY_SPY_RATE: Final = 100
PY_SPY_ATTACH_S: Final = 1.0
PY_SPY_STOP_TIMEOUT_S: Final = 60.0
CREATED: Final = claim_service_pb2.IMPORT_OUTCOME_CREATED


def client_batch_size() -> int:
    """The batch size ``Client.import_claims`` uses by default (the client's own default)."""
    default = inspect.signature(claimstore.Client.import_claims).parameters["batch_size"].default
    if not isinstance(default, int):
        raise RuntimeError(f"Client.import_claims has no integer default batch_size: {default!r}")
    return default


# Processes: memory and CPU from /proc


def read_status(pid: int) -> dict[str, int]:
    """The memory figures (kB) of ``/proc/PID/status``: VmRSS, VmHWM, RssAnon, RssFile..."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name.startswith(("Vm", "Rss")) and value.strip().endswith("kB"):
                figures[name] = int(value.split()[0])
    return figures


_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class MemorySample:
    """One reading of a process's resident memory, in MB."""

    seconds: float
    rss_mb: float
    anon_mb: float
    file_mb: float
    shmem_mb: float


def memory_sample(pid: int, since: float) -> MemorySample:
    figures = read_status(pid)
    return MemorySample(
        seconds=time.perf_counter() - since,
        rss_mb=figures.get("VmRSS", 0) / 1024,
        anon_mb=figures.get("RssAnon", 0) / 1024,
        file_mb=figures.get("RssFile", 0) / 1024,
        shmem_mb=figures.get("RssShmem", 0) / 1024,
    )


class MemorySampler:
    """Reads the resident memory of some processes every ``interval`` seconds, on a thread."""

    def __init__(self, pids: Sequence[int], *, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.samples: dict[int, list[MemorySample]] = {pid: [] for pid in self.pids}
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def _sample(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(OSError):  # the process may have just exited
                self.samples[pid].append(memory_sample(pid, self._started))

    def _run(self) -> None:
        for _ in range(MAX_SAMPLES):
            self._sample()
            if self._stop.wait(self.interval):
                break

    def __enter__(self) -> MemorySampler:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)
        self._sample()  # one last reading at the end

    def peak(self, pid: int) -> MemorySample:
        """The sample of ``pid`` with the highest VmRSS."""
        samples = self.samples[pid]
        if not samples:
            raise RuntimeError(f"no memory sample of process {pid}")
        return max(samples, key=lambda sample: sample.rss_mb)

    def peak_of(self, pid: int, attribute: str) -> float:
        return max(float(getattr(sample, attribute)) for sample in self.samples[pid])


# (a) ImportClaims through the client, (b) the store in-process


def connect(client: claimstore.Client) -> None:
    """Makes one cheap call, so that the channel is connected before anything is counted.

    One page of one source: an index lookup. (ListSpeakers would count every
    speaker's claims, and iterating its pager would fetch every page.)
    """
    next(iter(client.list_sources(page_size=1)), None)


@dataclass(slots=True)
class ImportRun:
    """One import of the claims, by gRPC (a) or straight into the store (b)."""

    way: str
    round: int
    claims: int
    seconds: float
    claims_per_second: float
    steady_claims_per_second: float | None = None
    server_cpu_s: float | None = None
    client_cpu_s: float | None = None
    server_peak_rss_mb: float | None = None
    draft_s: float | None = None
    store_s: float | None = None


STEADY_AFTER_PART: Final = 5
"""(a) is also given over the claims after the first fifth: the rate once the server's
groups are full, without the start of the import, whose first groups are small (they hold
what arrived while the group before was written)."""

GRPC: Final = "grpc"
STORE: Final = "store"


def import_via_grpc(
    requests: Sequence[claim_service_pb2.CreateClaimRequest],
    workdir: Path,
    *,
    round_number: int,
    profile_dir: Path | None = None,
) -> ImportRun:
    """(a): imports ``requests`` through ``Client.import_claims`` into a new, empty server."""
    db = workdir / f"import-{round_number}.db"
    remove_database(db)
    server = ServerProcess(db, log=workdir / f"import-{round_number}-server.log")
    spies: list[PySpy] = []
    try:
        server.wait_until_serving()
        with claimstore.Client(server.target) as client:
            # Connect first: the count starts at the first request, not at the TCP handshake.
            connect(client)
            if profile_dir is not None:
                spies = [
                    PySpy(server.pid, profile_dir / "server.txt"),
                    PySpy(os.getpid(), profile_dir / "client.txt"),
                ]
                time.sleep(PY_SPY_ATTACH_S)
            timeout = max(MIN_IMPORT_TIMEOUT_S, len(requests) / 100)
            with MemorySampler([server.pid]) as sampler:
                server_cpu = cpu_seconds(server.pid)
                client_cpu = time.process_time()
                started = time.perf_counter()
                count = 0
                steady_from, steady_started = len(requests) // STEADY_AFTER_PART, started
                for result in client.import_claims(requests, timeout=timeout):
                    if count == steady_from:
                        steady_started = time.perf_counter()
                    if result.outcome != CREATED or result.index != count:
                        raise RuntimeError(
                            f"ImportClaims: claim {count} was not created: index {result.index},"
                            f" outcome {result.outcome}, error {result.error}"
                        )
                    count += 1
                elapsed = time.perf_counter() - started
                client_cpu = time.process_time() - client_cpu
                server_cpu = cpu_seconds(server.pid) - server_cpu
            for spy in spies:
                spy.stop()
        if count != len(requests):
            raise RuntimeError(f"ImportClaims returned {count} results for {len(requests)} claims")
        return ImportRun(
            way=GRPC,
            round=round_number,
            claims=count,
            seconds=elapsed,
            claims_per_second=count / elapsed,
            steady_claims_per_second=(count - steady_from) / (started + elapsed - steady_started),
            server_cpu_s=server_cpu,
            client_cpu_s=client_cpu,
            server_peak_rss_mb=sampler.peak(server.pid).rss_mb,
        )
    finally:
        for spy in spies:
            spy.stop()
        server.stop_and_warn()
        remove_database(db)


def import_in_process(
    requests: Sequence[claim_service_pb2.CreateClaimRequest],
    workdir: Path,
    *,
    round_number: int,
    batch_size: int,
) -> ImportRun:
    """(b): makes drafts of ``requests`` and writes them with ``SqliteStore.import_claims``."""
    from claimstore_server._validation import claim_draft
    from claimstore_server.store import SqliteStore, Workload

    db = workdir / f"store-{round_number}.db"
    remove_database(db)
    store = SqliteStore(db)
    store.use_thread_for(Workload.BULK)  # tuned as the server's bulk thread is
    try:
        draft_s = store_s = 0.0
        count = 0
        started = time.perf_counter()
        for start in range(0, len(requests), batch_size):
            before = time.perf_counter()
            drafts = [claim_draft(request) for request in requests[start : start + batch_size]]
            drafted = time.perf_counter()
            outcomes = store.import_claims(drafts)
            stored = time.perf_counter()
            draft_s += drafted - before
            store_s += stored - drafted
            for outcome in outcomes:
                if not outcome.created or outcome.error is not None:
                    raise RuntimeError(f"SqliteStore.import_claims: claim {count}: {outcome}")
                count += 1
        elapsed = time.perf_counter() - started
    finally:
        store.close()
        remove_database(db)
    if count != len(requests):
        raise RuntimeError(f"SqliteStore.import_claims stored {count} of {len(requests)} claims")
    return ImportRun(
        way=STORE,
        round=round_number,
        claims=count,
        seconds=elapsed,
        claims_per_second=count / elapsed,
        draft_s=draft_s,
        store_s=store_s,
    )


def run_import_rounds(
    requests: Sequence[claim_service_pb2.CreateClaimRequest],
    workdir: Path,
    *,
    rounds: int,
    batch_size: int,
) -> list[ImportRun]:
    """Measures (a) and (b) once a round, (a) first in odd rounds and (b) first in even ones."""
    runs = []
    for round_number in range(1, rounds + 1):
        order = (GRPC, STORE) if round_number % 2 == 1 else (STORE, GRPC)
        for way in order:
            if way == GRPC:
                run = import_via_grpc(requests, workdir, round_number=round_number)
                extra = (
                    f" ({run.steady_claims_per_second:,.0f} after the first 1/{STEADY_AFTER_PART})"
                    f"  server CPU {run.server_cpu_s:.1f} s, client CPU {run.client_cpu_s:.1f} s,"
                    f" server peak RSS {run.server_peak_rss_mb:.0f} MB"
                )
            else:
                run = import_in_process(
                    requests, workdir, round_number=round_number, batch_size=batch_size
                )
                extra = f"  drafts {run.draft_s:.1f} s, store {run.store_s:.1f} s"
            print(
                f"  round {round_number}/{rounds}  ({'a' if way == GRPC else 'b'}) {way:<5}"
                f" {run.claims:,} claims in {run.seconds:.1f} s:"
                f" {run.claims_per_second:8,.0f} claims/s{extra}",
                file=sys.stderr,
                flush=True,
            )
            runs.append(run)
    return runs


# (c) ExportClaims and the server's memory


@dataclass(slots=True)
class ExportRun:
    """One export of a whole database, with the server's memory around it."""

    claims: int
    seconds: float
    claims_per_second: float
    baseline_rss_mb: float
    peak_rss_mb: float
    peak_anon_mb: float
    peak_file_mb: float
    peak_shmem_mb: float
    hwm_rss_mb: float
    server_cpu_s: float
    client_cpu_s: float
    client_peak_rss_mb: float
    client_baseline_rss_mb: float
    samples: int
    database_mb: float
    rss_timeline: list[tuple[float, float, float, float]] = field(default_factory=list)


def export_database(db: Path, workdir: Path, *, expected: int) -> ExportRun:
    """(c): serves a copy of ``db`` and streams every claim through ``Client.export_claims``."""
    copy = workdir / "export.db"
    shutil.copyfile(db, copy)
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        (stored,) = connection.execute("SELECT COUNT(*) FROM claims").fetchone()
    if stored != expected:
        raise RuntimeError(f"{db} holds {stored:,} claims, not {expected:,}")
    server = ServerProcess(copy, log=workdir / "export-server.log")
    try:
        server.wait_until_serving()
        with claimstore.Client(server.target) as client:
            baseline = []
            for _ in range(BASELINE_SAMPLES):
                baseline.append(memory_sample(server.pid, 0.0).rss_mb)
                time.sleep(SAMPLE_INTERVAL_S)
            connect(client)  # after the baseline: it is the server before any call
            client_baseline = memory_sample(os.getpid(), 0.0).rss_mb
            timeout = max(MIN_EXPORT_TIMEOUT_S, expected / 500)
            with MemorySampler([server.pid, os.getpid()]) as sampler:
                server_cpu = cpu_seconds(server.pid)
                client_cpu = time.process_time()
                started = time.perf_counter()
                count = 0
                for _claim in client.export_claims(timeout=timeout):
                    count += 1
                elapsed = time.perf_counter() - started
                client_cpu = time.process_time() - client_cpu
                server_cpu = cpu_seconds(server.pid) - server_cpu
            hwm = read_status(server.pid).get("VmHWM", 0) / 1024
    finally:
        server.stop_and_warn()
        remove_database(copy)
    if count != expected:
        raise RuntimeError(f"ExportClaims streamed {count:,} claims, not {expected:,}")
    peak = sampler.peak(server.pid)
    return ExportRun(
        claims=count,
        seconds=elapsed,
        claims_per_second=count / elapsed,
        baseline_rss_mb=statistics.median(baseline),
        peak_rss_mb=peak.rss_mb,
        peak_anon_mb=sampler.peak_of(server.pid, "anon_mb"),
        peak_file_mb=sampler.peak_of(server.pid, "file_mb"),
        peak_shmem_mb=sampler.peak_of(server.pid, "shmem_mb"),
        hwm_rss_mb=hwm,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
        client_peak_rss_mb=sampler.peak(os.getpid()).rss_mb,
        client_baseline_rss_mb=client_baseline,
        samples=len(sampler.samples[server.pid]),
        database_mb=db.stat().st_size / 1e6,
        rss_timeline=[
            (round(s.seconds, 2), round(s.rss_mb, 1), round(s.anon_mb, 1), round(s.file_mb, 1))
            for s in sampler.samples[server.pid]
        ],
    )


# Profiling with py-spy


def py_spy_command() -> str:
    """The py-spy next to this Python (the venv's), or the one on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    return found


class PySpy:
    """``py-spy record --format raw`` attached to one process until :meth:`stop`."""

    def __init__(self, pid: int, output: Path, *, rate: int = PY_SPY_RATE) -> None:
        self.output = output
        output.parent.mkdir(parents=True, exist_ok=True)
        self._log = output.with_suffix(".log").open("wb")
        self.process = subprocess.Popen(
            [
                py_spy_command(),
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(rate),
                "--threads",
                "--native",
                "--output",
                str(output),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        """Stops recording (SIGINT makes py-spy write its output) and waits for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(PY_SPY_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(PY_SPY_STOP_TIMEOUT_S)
        self._log.close()


PARTS: Final = (
    ("validation", ("claimstore_server/_validation.py",)),
    ("store", ("claimstore_server/store/",)),
    ("protobuf", ("google/protobuf", "_message.abi3", "upb_")),
    ("client", ("claimstore/_client.py",)),
    (
        "servicer",
        (
            "claimstore_server/_servicer.py",
            "claimstore_server/_status.py",
            "claimstore_server/_handlers.py",
        ),
    ),
    ("grpc", ("grpc/", "grpc_", "cygrpc")),
    ("asyncio", ("asyncio/",)),
    ("benchmark", ("benchmarks/",)),
)
"""Parts of the code a stack is charged to: the first part, in this order, that any of
its frames (Python or native) is in. So protobuf work called from validation or the
store is charged to them, and protobuf work called by gRPC (parsing, serializing) or
by the servicer (building results) to protobuf."""


IDLE_LEAVES: Final = (
    "epoll_wait",
    "PyThread_acquire_lock_timed",
    "poll (",
    "select (",
    "nanosleep",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
)
"""Innermost named frames of a thread that waits (a lock, a queue, epoll). With ``--native``
py-spy cannot tell idle threads itself, so these stacks are set apart as "idle"."""


def _innermost_named(frames: Sequence[str]) -> str:
    """The innermost frame with a name (native frames of stripped libraries are bare addresses)."""
    return next((frame for frame in reversed(frames) if not frame.startswith("0x")), "")


def summarize_profile(path: Path, *, top: int = 12) -> dict[str, Any]:
    """Shares of a py-spy raw profile: per part of the code, per function, per thread.

    Stacks of waiting threads count as "idle" and are left out of every share.
    "top_self" are the innermost named frames; "top_python" the innermost Python
    frames (where a call into C, such as protobuf parsing or SQLite, was made from).
    """
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    python: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        samples = int(number)
        frames = stack.split(";")
        leaf = _innermost_named(frames)
        if any(mark in leaf for mark in IDLE_LEAVES):
            idle += samples
            continue
        total += samples
        threads[frames[0]] += samples
        part = next(
            (name for name, marks in PARTS if any(m in f for f in frames for m in marks)), "other"
        )
        parts[part] += samples
        leaves[leaf] += samples
        innermost_python = next((f for f in reversed(frames) if ".py:" in f), "(native only)")
        python[innermost_python] += samples
    if not total:
        return {
            "samples": 0,
            "idle_samples": idle,
            "parts": {},
            "top_self": [],
            "top_python": [],
            "threads": {},
        }
    return {
        "samples": total,
        "idle_samples": idle,
        "parts": {name: count / total for name, count in parts.most_common()},
        "top_self": [(frame, count / total) for frame, count in leaves.most_common(top)],
        "top_python": [(frame, count / total) for frame, count in python.most_common(top)],
        "threads": {name: count / total for name, count in threads.most_common(6)},
    }


def format_profile(name: str, summary: dict[str, Any], *, cpu_us_per_claim: float) -> str:
    """A profile summary as text: parts with their share of CPU per claim, then hot functions."""
    lines = [
        f"{name}: {summary['samples']:,} busy samples of Python threads"
        f" ({summary['idle_samples']:,} idle ones left out);"
        f" {cpu_us_per_claim:.0f} us of process CPU per claim in all"
    ]
    for part, share in summary["parts"].items():
        lines.append(f"  {part:<11} {share:6.1%}  ~{share * cpu_us_per_claim:5.0f} us/claim")
    lines.append("  threads:")
    for thread, share in summary["threads"].items():
        lines.append(f"    {share:6.1%}  {thread}")
    lines.append("  innermost Python frames:")
    for frame, share in summary["top_python"]:
        lines.append(f"    {share:6.1%}  {frame}")
    lines.append("  innermost frames (Python or native):")
    for frame, share in summary["top_self"]:
        lines.append(f"    {share:6.1%}  {frame}")
    return "\n".join(lines)


# The report


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the table."""

    name: str
    value: float | int | None
    unit: str
    spread: str = ""
    goal: str = ""
    met: bool | None = None


def median_of(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def import_figures(runs: Sequence[ImportRun], *, claims: int) -> list[Figure]:
    """(a), (b) and their ratio as medians over rounds, with the goals."""
    grpc_runs = [run for run in runs if run.way == GRPC]
    store_runs = {run.round: run for run in runs if run.way == STORE}
    a = median_of([run.claims_per_second for run in grpc_runs])
    b = median_of([run.claims_per_second for run in store_runs.values()])
    ratios = [run.claims_per_second / store_runs[run.round].claims_per_second for run in grpc_runs]
    ratio = median_of(ratios)
    at_scale = claims >= GOAL_IMPORT_AT_CLAIMS
    scale_note = "" if at_scale else f" (at {GOAL_IMPORT_AT_CLAIMS:,})"

    def spread(values: Sequence[float], digits: int = 0) -> str:
        return f"{min(values):,.{digits}f}-{max(values):,.{digits}f}" if len(values) > 1 else ""

    a_values = [run.claims_per_second for run in grpc_runs]
    steady_values = [run.steady_claims_per_second or 0.0 for run in grpc_runs]
    b_values = [run.claims_per_second for run in store_runs.values()]
    per_claim = 1e6 / claims
    return [
        Figure(
            "(a) ImportClaims via Client, claims/s",
            a,
            "claims/s",
            spread(a_values),
            f">= {GOAL_IMPORT_CLAIMS_PER_S:,.0f}{scale_note}",
            a >= GOAL_IMPORT_CLAIMS_PER_S,
        ),
        Figure(
            f"    claims after the first 1/{STEADY_AFTER_PART}, claims/s",
            median_of(steady_values),
            "claims/s",
            spread(steady_values),
        ),
        Figure(
            "    server CPU per claim",
            median_of([run.server_cpu_s or 0.0 for run in grpc_runs]) * per_claim,
            "us",
        ),
        Figure(
            "    client CPU per claim",
            median_of([run.client_cpu_s or 0.0 for run in grpc_runs]) * per_claim,
            "us",
        ),
        Figure(
            "    server peak RSS during import",
            median_of([run.server_peak_rss_mb or 0.0 for run in grpc_runs]),
            "MB",
        ),
        Figure("(b) store.import_claims in-process", b, "claims/s", spread(b_values)),
        Figure(
            "    claim_draft per claim",
            median_of([run.draft_s or 0.0 for run in store_runs.values()]) * per_claim,
            "us",
        ),
        Figure(
            "    SqliteStore.import_claims per claim",
            median_of([run.store_s or 0.0 for run in store_runs.values()]) * per_claim,
            "us",
        ),
        Figure(
            "(a)/(b)",
            ratio,
            "",
            spread(ratios, 2),
            f">= {GOAL_RATIO:.2f}{scale_note}",
            ratio >= GOAL_RATIO,
        ),
    ]


def export_figures(run: ExportRun) -> list[Figure]:
    at_scale = run.claims >= GOAL_EXPORT_AT_CLAIMS
    scale_note = "" if at_scale else f" (at {GOAL_EXPORT_AT_CLAIMS:,})"
    return [
        Figure(
            "(c) ExportClaims: server peak VmRSS",
            run.peak_rss_mb,
            "MB",
            f"{run.samples} samples",
            f"< {GOAL_EXPORT_RSS_MB:.0f}{scale_note}",
            run.peak_rss_mb < GOAL_EXPORT_RSS_MB,
        ),
        Figure("    baseline VmRSS before the export", run.baseline_rss_mb, "MB"),
        Figure("    peak RssAnon (heap)", run.peak_anon_mb, "MB"),
        Figure("    peak RssFile (mapped database)", run.peak_file_mb, "MB"),
        Figure("    peak RssShmem (WAL index)", run.peak_shmem_mb, "MB"),
        Figure("    VmHWM (kernel's high-water mark)", run.hwm_rss_mb, "MB"),
        Figure("    claims exported", run.claims, "claims"),
        Figure("    export rate, seen by the client", run.claims_per_second, "claims/s"),
        Figure("    server CPU per claim", run.server_cpu_s / run.claims * 1e6, "us"),
        Figure("    client CPU per claim", run.client_cpu_s / run.claims * 1e6, "us"),
        Figure(
            "    client CPU busy",
            run.client_cpu_s / run.seconds * 100,
            "% of a core",
        ),
        Figure(
            "    client VmRSS, before -> peak",
            run.client_peak_rss_mb,
            "MB",
            f"from {run.client_baseline_rss_mb:.0f}",
        ),
    ]


def format_figures(figures: Sequence[Figure]) -> str:
    def value(figure: Figure) -> str:
        if figure.value is None:
            return ""
        if isinstance(figure.value, int):
            return f"{figure.value:,}"
        return f"{figure.value:,.2f}" if abs(figure.value) < 10 else f"{figure.value:,.0f}"

    lines = [
        (
            figure.name,
            value(figure),
            figure.unit,
            figure.spread,
            figure.goal,
            "" if figure.met is None else ("yes" if figure.met else "NO"),
        )
        for figure in figures
    ]
    return format_table(
        ("figure", "value", "unit", "(range)", "goal", "met"), lines, left={0, 2, 4, 5}
    )


# The command


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bulk",
        description="ImportClaims vs the store's own rate; server memory during ExportClaims.",
    )
    parser.add_argument(
        "--claims", type=int, default=GOAL_IMPORT_AT_CLAIMS, help="claims imported per run"
    )
    parser.add_argument(
        "--export-claims",
        type=int,
        default=GOAL_EXPORT_AT_CLAIMS,
        help="claims in the exported database (default: %(default)s)",
    )
    parser.add_argument("--skip-export", action="store_true", help="measure (a) and (b) only")
    parser.add_argument("--skip-import", action="store_true", help="measure (c) only")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic claims")
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved rounds of (a) and (b) (median taken)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="where built databases are kept (default: %(default)s)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the export database afresh")
    parser.add_argument(
        "--export-db",
        type=Path,
        metavar="FILE",
        help="export this claimstore database (its claim count is taken) instead of the cached one",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="one more import (not counted) under py-spy; raw stacks written to DIR",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.claims < 1 or args.export_claims < 1 or args.rounds < 1:
        parser.error("--claims, --export-claims and --rounds must be positive")
    if args.skip_import and args.skip_export:
        parser.error("--skip-import and --skip-export leave nothing to measure")
    return args


def generate_requests(count: int, seed: int) -> list[claim_service_pb2.CreateClaimRequest]:
    """The synthetic CreateClaimRequests, all made before anything is timed."""
    started = time.perf_counter()
    requests = list(synthetic.generate_claims(count, seed))
    elapsed = time.perf_counter() - started
    size = sum(request.ByteSize() for request in requests)
    print(
        f"generated {count:,} claims (seed {seed}) in {elapsed:.1f} s,"
        f" {size / count:,.0f} bytes each on the wire",
        flush=True,
    )
    return requests


def ensure_export_database(args: argparse.Namespace, batch_size: int) -> tuple[Path, float | None]:
    """The cached export database, built first when missing; and the seconds building took."""
    if args.export_db is not None:
        uri = f"file:{args.export_db}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            (args.export_claims,) = connection.execute("SELECT COUNT(*) FROM claims").fetchone()
        print(f"using {args.export_db} ({args.export_claims:,} claims, given by --export-db)")
        return args.export_db, None
    db = cached_database_path(args.cache_dir, args.export_claims, args.seed)
    if db.exists() and not args.rebuild:
        print(f"using cached {db} ({db.stat().st_size / 1e6:,.0f} MB; --rebuild to rebuild)")
        return db, None
    print(
        f"building {args.export_claims:,} claims (seed {args.seed}) into {db},"
        f" batches of {batch_size} through SqliteStore.import_claims",
        flush=True,
    )
    seconds = build_database(
        db,
        args.export_claims,
        args.seed,
        batch_size=batch_size,
        report_every=max(10_000, args.export_claims // 20),
    )
    print(
        f"built in {seconds:.1f} s ({args.export_claims / seconds:,.0f} claims/s),"
        f" {db.stat().st_size / 1e6:,.0f} MB",
        flush=True,
    )
    return db, seconds


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="claimstore-bulk-") as directory:
        yield Path(directory)


def main(argv: Sequence[str] | None = None) -> int:
    """Measures (a), (b) and (c), prints the table, returns the exit status."""
    args = parse_args(argv)
    interrupt_on_sigterm()
    host = machine()
    print(machine_line(host), flush=True)
    schema_version, store_digest = store_fingerprint()
    batch_size = client_batch_size()
    figures: list[Figure] = []
    report: dict[str, Any] = {
        "benchmark": "bulk",
        "machine": host,
        "config": {
            "claims": args.claims,
            "export_claims": None if args.skip_export else args.export_claims,
            "seed": args.seed,
            "generator_version": synthetic.GENERATOR_VERSION,
            "rounds": args.rounds,
            "batch_size": batch_size,
            "schema_version": schema_version,
            "store_digest": store_digest,
        },
        "goals": {
            "ratio": GOAL_RATIO,
            "import_claims_per_second": GOAL_IMPORT_CLAIMS_PER_S,
            "export_rss_mb": GOAL_EXPORT_RSS_MB,
        },
    }

    with work_directory() as workdir:
        if not args.skip_import:
            requests = generate_requests(args.claims, args.seed)
            print(
                f"importing: {args.rounds} rounds x ((a) ImportClaims, (b) store in-process),"
                f" batches of {batch_size}",
                flush=True,
            )
            runs = run_import_rounds(requests, workdir, rounds=args.rounds, batch_size=batch_size)
            figures += import_figures(runs, claims=args.claims)
            report["import_runs"] = [asdict(run) for run in runs]
            if args.profile is not None:
                print(f"profiling one more import (a) with py-spy into {args.profile}", flush=True)
                profiled = import_via_grpc(
                    requests, workdir, round_number=0, profile_dir=args.profile
                )
                report["profile"] = profile_report(args.profile, profiled)
            del requests

        if not args.skip_export:
            db, build_seconds = ensure_export_database(args, batch_size)
            report["config"]["export_database"] = str(db)
            report["export_build_seconds"] = build_seconds
            print(f"exporting {args.export_claims:,} claims", flush=True)
            exported = export_database(db, workdir, expected=args.export_claims)
            print(
                f"  exported {exported.claims:,} claims in {exported.seconds:.1f} s"
                f" ({exported.claims_per_second:,.0f} claims/s); server VmRSS"
                f" {exported.baseline_rss_mb:.0f} MB before, {exported.peak_rss_mb:.0f} MB peak",
                file=sys.stderr,
                flush=True,
            )
            figures += export_figures(exported)
            report["export"] = asdict(exported)

    if store_fingerprint() != (schema_version, store_digest):
        print(
            "warning: the store's code changed during the run; figures may mix two versions",
            file=sys.stderr,
        )
    host["loadavg_after"] = loadavg()
    print()
    print(
        f"claimstore bulk: import {args.claims:,} claims in batches of {batch_size}"
        f" (medians of {args.rounds} rounds)"
        + ("" if args.skip_export else f"; export {args.export_claims:,} claims")
    )
    print(format_figures(figures))
    if "profile" in report:
        print()
        print(report["profile"]["text"])
    met = all(figure.met is not False for figure in figures)
    report["figures"] = [asdict(figure) for figure in figures]
    report["all_goals_met"] = met
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if met else 1


def profile_report(directory: Path, run: ImportRun) -> dict[str, Any]:
    """Summaries of the server's and the client's py-spy profiles of one import."""
    server = summarize_profile(directory / "server.txt")
    client = summarize_profile(directory / "client.txt")
    server_us = (run.server_cpu_s or 0.0) / run.claims * 1e6
    client_us = (run.client_cpu_s or 0.0) / run.claims * 1e6
    text = "\n".join(
        [
            f"profiled import: {run.claims_per_second:,.0f} claims/s under py-spy"
            f" (raw stacks in {directory})",
            format_profile("server", server, cpu_us_per_claim=server_us),
            format_profile("client", client, cpu_us_per_claim=client_us),
        ]
    )
    return {"run": asdict(run), "server": server, "client": client, "text": text}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, OSError, grpc.RpcError, claimstore.ServiceError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception:  # anything else is an error too, never a missed goal
        traceback.print_exc()
        sys.exit(2)
