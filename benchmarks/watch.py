"""The change feed of claimstore: how fast WatchClaims delivers, and what watchers cost writers.

What is measured, in one run, against ONE claimstore server (its own process,
over a new, empty database):

(a) delivery latency: the time from a CreateClaim's acknowledgement (the call
    returned to the writer) to the arrival of that claim's CREATED event at a
    watcher (the WatchClaimsResponse carrying it was received), matched by
    ``event.revision.claim.id``; p50, p95, and the extremes, with 1 and with 10
    watchers. One writer creates claims at a steady ``--rate`` (100 a second
    by default: each call is sent at its scheduled time, or at once when late).
    An event may arrive a little before the writer sees its acknowledgement
    (the server wakes the watches before the reply is sent): such latencies
    are negative, kept in the figures, and their share is shown.
(b) write throughput: CreateClaim calls per second from ``--writers`` threads
    (4 by default) calling in a closed loop (a call starts when the previous
    one returned) for ``--seconds`` after a ``--warmup``, with no watcher and
    with 10 watchers attached; the ratio is taken within each round. The
    delivery latency during the 10-watcher run, with the server saturated, is
    shown too, for information (no goal: under a closed loop it measures the
    backlog as much as the feed).

Every phase checks completeness: every claim created during it (warm-up
included) must reach every watcher exactly once, and nothing else may arrive.
A lost, repeated or unexpected event fails the run (exit status 2).

Goals: p95 delivery under 50 ms with 1 and with 10 watchers at the steady
rate; 10 watchers cost writers under 10% of their throughput (ratio >= 0.9).

How it runs: claims are ``benchmarks.synthetic``'s (seeded), generated before
anything is timed; the k-th call sends the (k mod pool)-th of them with a
unique ``request_id`` and, past the first pass, a suffix to its text, so that
no claim is a duplicate. Writers are threads of this process on one channel,
through the raw generated stub. Watchers run in a separate child process
(``multiprocessing``, spawned), so that receiving and parsing their streams
never takes the writers' GIL: the child runs every watcher on one grpc.aio
event loop, each over a channel (and connection) of its own, watching every
claim in the default (basic) view from the head of the log. The child is
started once and opens new watches for each phase; it is idle during the
phases without watchers.

The clock: both processes read ``time.clock_gettime_ns(CLOCK_MONOTONIC)``. On
Linux it is one system-wide clock, so a time taken in the child and one taken
in this process compare directly, and unlike the wall clock (``time_ns``) it
never steps when the time is adjusted. Each arrival is stamped once per
response, before its events are read.

The machine is shared and noisy, so phases are interleaved: each of
``--rounds`` rounds runs all four (throughput with 0 and with 10 watchers,
latency with 1 and with 10), in an order that alternates between rounds; the
table shows medians over rounds, and the throughput ratio is the median of
the ratios within rounds. The CPU seconds of the server, of the writers (this
process) and of the watchers (the child) are read from ``/proc`` around each
phase and shown per 1,000 writes: on a small machine the watchers' client
competes with the server for the same cores.

Run it from the repository root::

    .venv/bin/python -m benchmarks.watch                         # ~1 minute
    .venv/bin/python -m benchmarks.watch --seconds 1 --rounds 1  # quick: ~10 s
    .venv/bin/python -m benchmarks.watch --json watch.json

Exit status: 0 when every goal is met, 1 when one is missed, 2 on an error
(including an event lost, repeated or unexpected).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

import grpc
from claimstore.v1 import claim_revision_pb2, claim_service_pb2, claim_service_pb2_grpc

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import synthetic
from benchmarks._common import (
    ServerProcess,
    format_table,
    interrupt_on_sigterm,
    loadavg,
    machine,
    machine_line,
)

GOAL_P95_MS: Final = 50.0
"""The most p95 delivery latency may be, at the steady rate, with 1 and with 10 watchers."""
GOAL_RATIO: Final = 0.9
"""The least write throughput with 10 watchers may be, as a fraction of that with none."""

THROUGHPUT: Final = "throughput"
LATENCY: Final = "latency"
MANY_WATCHERS: Final = 10
LATENCY_WATCHERS: Final = (1, MANY_WATCHERS)

CLAIM_POOL: Final = 5_000
CALL_TIMEOUT_S: Final = 10.0
READY_TIMEOUT_S: Final = 30.0
LINGER_S: Final = 0.25
"""How long the watchers keep listening once every expected event arrived (for repeats)."""
CHILD_TIMEOUT_S: Final = 120.0
MAX_CALLS_PER_WRITER: Final = 5_000_000
CREATED: Final = claim_revision_pb2.CHANGE_TYPE_CREATED
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def now_ns() -> int:
    """The system-wide monotonic clock, comparable between processes on one Linux machine."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """The nearest-rank percentile of ``sorted_values``."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


# The watchers: a child process


Arrivals = list[list[tuple[str, int]]]
"""Per watcher, each event received: (claim id, arrival time in ns), in order of arrival."""


def watcher_process(connection: Connection, target: str, drain_timeout: float) -> None:
    """The child's main: serves ("watch", n), ("expect", ids) and ("quit",) commands.

    ("watch", n) opens ``n`` watches and answers ("ready",) once each has its
    first response; ("expect", ids) then waits until every watcher has
    received as many events as ``ids`` (or ``drain_timeout`` passed), listens
    ``LINGER_S`` longer, closes the watches and answers ("arrivals", ...).
    Any failure is answered ("error", text).
    """
    try:
        while True:
            command = connection.recv()
            if command[0] == "quit":
                return
            if command[0] != "watch":
                raise RuntimeError(f"unexpected command {command[0]!r}")
            arrivals = asyncio.run(_watch_phase(connection, target, command[1], drain_timeout))
            connection.send(("arrivals", arrivals))
    except (EOFError, KeyboardInterrupt):
        return
    except BaseException:
        with contextlib.suppress(OSError):
            connection.send(("error", traceback.format_exc()))


async def _watch_phase(
    connection: Connection, target: str, watchers: int, drain_timeout: float
) -> Arrivals:
    loop = asyncio.get_running_loop()
    arrivals: Arrivals = [[] for _ in range(watchers)]
    ready = [asyncio.Event() for _ in range(watchers)]
    progress = asyncio.Event()
    wrong: list[str] = []
    # A channel each, not shared from the global subchannel pool: one connection per watcher.
    channels = [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(watchers)
    ]

    async def watch(index: int) -> None:
        stub = claim_service_pb2_grpc.ClaimServiceStub(channels[index])
        mine = arrivals[index]
        call = stub.WatchClaims(claim_service_pb2.WatchClaimsRequest())
        async for response in call:
            arrived = now_ns()
            if not ready[index].is_set():
                if response.events:
                    wrong.append(f"watcher {index}: the first response carries events")
                ready[index].set()
                continue
            for event in response.events:
                if event.revision.change_type != CREATED:
                    wrong.append(f"watcher {index}: {event.revision.change_type} event")
                mine.append((event.revision.claim.id, arrived))
            progress.set()

    tasks = [loop.create_task(watch(index), name=f"watcher-{index}") for index in range(watchers)]
    try:
        deadline = loop.time() + READY_TIMEOUT_S
        while not all(event.is_set() for event in ready):
            for task in tasks:
                if task.done():
                    task.result()  # a watch that failed raises here
                    raise RuntimeError("a watch ended before the writes")
            if loop.time() > deadline:
                raise RuntimeError(f"the watches were not ready after {READY_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.005)
        connection.send(("ready",))
        command = await loop.run_in_executor(None, connection.recv)
        if command[0] != "expect":
            raise RuntimeError(f"unexpected command {command[0]!r}")
        expected = len(command[1])
        deadline = loop.time() + drain_timeout
        while any(len(mine) < expected for mine in arrivals) and loop.time() < deadline:
            progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), max(0.0, deadline - loop.time()))
            for task in tasks:
                if task.done():
                    task.result()
                    raise RuntimeError("a watch ended while writes were expected")
        await asyncio.sleep(LINGER_S)
        if wrong:
            raise RuntimeError("; ".join(wrong[:5]))
        return arrivals
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(channel.close() for channel in channels))


class Watchers:
    """The child process that runs the watches, and the commands it is sent."""

    def __init__(self, target: str, *, drain_timeout: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self.process = context.Process(
            target=watcher_process,
            args=(child_end, target, drain_timeout),
            name="claimstore-bench-watchers",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        self.drain_timeout = drain_timeout

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def _receive(self, timeout: float) -> tuple[Any, ...]:
        if not self._connection.poll(timeout):
            raise RuntimeError(f"the watcher process did not answer in {timeout:.0f} s")
        reply: tuple[Any, ...] = self._connection.recv()
        if reply[0] == "error":
            raise RuntimeError(f"the watcher process failed:\n{reply[1]}")
        return reply

    def start(self, watchers: int) -> None:
        """Opens ``watchers`` watches from the head of the log; returns once all are ready."""
        self._connection.send(("watch", watchers))
        reply = self._receive(READY_TIMEOUT_S + 10)
        if reply[0] != "ready":
            raise RuntimeError(f"unexpected reply {reply[0]!r} from the watcher process")

    def collect(self, claim_ids: Sequence[str]) -> Arrivals:
        """Waits for the events of ``claim_ids``; closes the watches; returns what each got."""
        self._connection.send(("expect", list(claim_ids)))
        reply = self._receive(self.drain_timeout + LINGER_S + CHILD_TIMEOUT_S)
        if reply[0] != "arrivals":
            raise RuntimeError(f"unexpected reply {reply[0]!r} from the watcher process")
        arrivals: Arrivals = reply[1]
        return arrivals

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(("quit",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)
        self._connection.close()


# The writers: threads of this process


class RequestFeed:
    """Hands out CreateClaimRequests, none a duplicate of another, from a pool of claims."""

    def __init__(self, pool: Sequence[claim_service_pb2.CreateClaimRequest]) -> None:
        self._pool = pool
        self._numbers = itertools.count()  # next() on a count is atomic under the GIL

    def next(self) -> claim_service_pb2.CreateClaimRequest:
        number = next(self._numbers)
        passes, index = divmod(number, len(self._pool))
        request = claim_service_pb2.CreateClaimRequest()
        request.CopyFrom(self._pool[index])
        request.request_id = f"bench-watch-{number}"
        if passes:
            request.claim.text = f"{request.claim.text} ({passes})"
        return request


@dataclass(slots=True)
class Writes:
    """What the writers of one phase did."""

    claim_ids: list[str]
    """Every claim created, warm-up included."""
    acks_ns: dict[str, int]
    """When each create returned, by claim id."""
    counted: set[str]
    """The claims whose call started within the counted window."""
    calls_per_second: float
    write_p50_ms: float
    write_p95_ms: float


def write(
    stub: claim_service_pb2_grpc.ClaimServiceStub,
    feed: RequestFeed,
    *,
    writers: int,
    seconds: float,
    warmup: float,
    rate: float | None,
) -> Writes:
    """Runs ``writers`` threads creating claims for ``warmup + seconds``.

    With ``rate`` None each thread calls in a closed loop; otherwise each sends
    ``rate / writers`` calls a second, each at its scheduled time (at once when
    late). Calls that start within the last ``seconds`` are counted.
    """
    window_ns = int(seconds * 1e9)
    warmup_ns = int(warmup * 1e9)
    interval_ns = None if rate is None else int(writers * 1e9 / rate)
    timing: dict[str, int] = {}

    def set_times() -> None:
        start = now_ns()
        timing["start"] = start
        timing["measure_from"] = start + warmup_ns
        timing["stop_at"] = start + warmup_ns + window_ns

    barrier = threading.Barrier(writers, action=set_times)
    done: list[list[tuple[str, int, int]]] = [[] for _ in range(writers)]
    last_end = [0] * writers
    failures: list[BaseException] = []

    def writer(index: int) -> None:
        mine = done[index]
        try:
            barrier.wait(timeout=30)
            start_at, stop_at = timing["start"], timing["stop_at"]
            for number in range(MAX_CALLS_PER_WRITER):
                request = feed.next()
                if interval_ns is not None:
                    due = start_at + (number * writers + index) * interval_ns // writers
                    wait = due - now_ns()
                    if wait > 0:
                        time.sleep(wait / 1e9)
                start = now_ns()
                if start >= stop_at:
                    break
                claim = stub.CreateClaim(request, timeout=CALL_TIMEOUT_S)
                end = now_ns()
                mine.append((claim.id, start, end))
                last_end[index] = end
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=writer, args=(index,), name=f"writer-{index}", daemon=True)
        for index in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(warmup + seconds + CALL_TIMEOUT_S + 30)
    if failures:
        raise RuntimeError(f"CreateClaim with {writers} writers failed: {failures[0]!r}")
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"CreateClaim with {writers} writers did not finish in time")
    measure_from = timing["measure_from"]
    all_done = [entry for per_writer in done for entry in per_writer]
    counted = [entry for entry in all_done if entry[1] >= measure_from]
    if not counted:
        raise RuntimeError(f"CreateClaim with {writers} writers completed no call")
    claim_ids = [claim_id for claim_id, _, _ in all_done]
    if len(set(claim_ids)) != len(claim_ids):
        raise RuntimeError("CreateClaim returned the same claim id twice")
    latencies = sorted(end - start for _, start, end in counted)
    elapsed_ns = max(last_end) - measure_from
    return Writes(
        claim_ids=claim_ids,
        acks_ns={claim_id: end for claim_id, _, end in all_done},
        counted={claim_id for claim_id, _, _ in counted},
        calls_per_second=len(counted) / (elapsed_ns / 1e9),
        write_p50_ms=percentile(latencies, 0.50) / 1e6,
        write_p95_ms=percentile(latencies, 0.95) / 1e6,
    )


# One phase


@dataclass(frozen=True, slots=True)
class Phase:
    kind: str
    watchers: int
    writers: int
    rate: float | None

    @property
    def name(self) -> str:
        pace = "closed loop" if self.rate is None else f"{self.rate:g}/s"
        return f"{self.kind}, {self.watchers} watchers, {self.writers} writers ({pace})"


@dataclass(slots=True)
class Measurement:
    """One phase of one round."""

    kind: str
    watchers: int
    writers: int
    round: int
    writes: int
    calls_per_second: float
    write_p50_ms: float
    write_p95_ms: float
    deliveries: int
    delivery_p50_ms: float | None
    delivery_p95_ms: float | None
    delivery_min_ms: float | None
    delivery_max_ms: float | None
    negative_share: float | None
    """The share of deliveries that arrived before the writer saw the acknowledgement."""
    events_per_response: float | None
    drain_ms: float | None
    """From the last acknowledgement to the last arrival at any watcher."""
    server_cpu_s: float
    writers_cpu_s: float
    watchers_cpu_s: float


def check_completeness(claim_ids: Sequence[str], arrivals: Arrivals, phase: Phase) -> None:
    """Raises RuntimeError unless every watcher got every claim's event exactly once."""
    expected = set(claim_ids)
    problems = []
    for index, mine in enumerate(arrivals):
        counts = Counter(claim_id for claim_id, _ in mine)
        missing = expected - counts.keys()
        repeated = [claim_id for claim_id, count in counts.items() if count > 1]
        unexpected = counts.keys() - expected
        if missing or repeated or unexpected:
            problems.append(
                f"watcher {index}: {len(missing)} of {len(expected)} events missing"
                f" (e.g. {sorted(missing)[:3]}), {len(repeated)} repeated"
                f" (e.g. {repeated[:3]}), {len(unexpected)} unexpected"
                f" (e.g. {sorted(unexpected)[:3]})"
            )
    if problems:
        raise RuntimeError(
            f"the change feed was incomplete in phase '{phase.name}':\n  " + "\n  ".join(problems)
        )


def run_phase(
    phase: Phase,
    round_number: int,
    *,
    stub: claim_service_pb2_grpc.ClaimServiceStub,
    feed: RequestFeed,
    watchers: Watchers,
    server_pid: int,
    seconds: float,
    warmup: float,
) -> Measurement:
    """Attaches the phase's watchers, writes, collects and checks the events."""
    if phase.watchers:
        watchers.start(phase.watchers)
    pids = (server_pid, os.getpid(), watchers.pid)
    cpu_before = [cpu_seconds(pid) for pid in pids]
    writes = write(
        stub, feed, writers=phase.writers, seconds=seconds, warmup=warmup, rate=phase.rate
    )
    arrivals = watchers.collect(writes.claim_ids) if phase.watchers else []
    cpu_after = [cpu_seconds(pid) for pid in pids]
    server_cpu, writers_cpu, watchers_cpu = (
        b - a for a, b in zip(cpu_before, cpu_after, strict=True)
    )
    check_completeness(writes.claim_ids, arrivals, phase)

    delivery: list[int] = []
    last_arrival = 0
    responses = 0
    for mine in arrivals:
        responses += len({arrived for _, arrived in mine})
        for claim_id, arrived in mine:
            last_arrival = max(last_arrival, arrived)
            if claim_id in writes.counted:
                delivery.append(arrived - writes.acks_ns[claim_id])
    delivery.sort()

    def ms(value: int) -> float:
        return value / 1e6

    return Measurement(
        kind=phase.kind,
        watchers=phase.watchers,
        writers=phase.writers,
        round=round_number,
        writes=len(writes.counted),
        calls_per_second=writes.calls_per_second,
        write_p50_ms=writes.write_p50_ms,
        write_p95_ms=writes.write_p95_ms,
        deliveries=len(delivery),
        delivery_p50_ms=ms(percentile(delivery, 0.50)) if delivery else None,
        delivery_p95_ms=ms(percentile(delivery, 0.95)) if delivery else None,
        delivery_min_ms=ms(delivery[0]) if delivery else None,
        delivery_max_ms=ms(delivery[-1]) if delivery else None,
        negative_share=sum(1 for d in delivery if d < 0) / len(delivery) if delivery else None,
        events_per_response=(sum(len(m) for m in arrivals) / responses) if responses else None,
        drain_ms=ms(last_arrival - max(writes.acks_ns.values())) if arrivals else None,
        server_cpu_s=server_cpu,
        writers_cpu_s=writers_cpu,
        watchers_cpu_s=watchers_cpu,
    )


def phases(writers: int, rate: float) -> list[Phase]:
    """The four phases of a round, in the order of odd rounds."""
    return [
        Phase(THROUGHPUT, 0, writers, None),
        Phase(THROUGHPUT, MANY_WATCHERS, writers, None),
        *(Phase(LATENCY, count, 1, rate) for count in LATENCY_WATCHERS),
    ]


def round_order(all_phases: Sequence[Phase], round_number: int) -> list[Phase]:
    """Odd rounds run throughput 0, 10, latency 1, 10; even rounds swap within each pair."""
    if round_number % 2:
        return list(all_phases)
    return [all_phases[1], all_phases[0], all_phases[3], all_phases[2]]


def run_rounds(
    *,
    stub: claim_service_pb2_grpc.ClaimServiceStub,
    feed: RequestFeed,
    watchers: Watchers,
    server_pid: int,
    args: argparse.Namespace,
) -> list[Measurement]:
    measurements = []
    all_phases = phases(args.writers, args.rate)
    for round_number in range(1, args.rounds + 1):
        for phase in round_order(all_phases, round_number):
            result = run_phase(
                phase,
                round_number,
                stub=stub,
                feed=feed,
                watchers=watchers,
                server_pid=server_pid,
                seconds=args.seconds,
                warmup=args.warmup,
            )
            delivery = (
                f"  delivery p50 {result.delivery_p50_ms:6.2f} ms"
                f"  p95 {result.delivery_p95_ms:6.2f} ms  ({result.deliveries:,} checked)"
                if result.delivery_p50_ms is not None and result.delivery_p95_ms is not None
                else ""
            )
            print(
                f"  round {round_number}/{args.rounds}  {phase.kind:<10} {phase.watchers:2}"
                f" watchers: {result.calls_per_second:7.1f} writes/s"
                f"  write p95 {result.write_p95_ms:6.2f} ms{delivery}",
                file=sys.stderr,
                flush=True,
            )
            measurements.append(result)
    return measurements


# The report


@dataclass(frozen=True, slots=True)
class Row:
    """The medians over rounds of one phase."""

    kind: str
    watchers: int
    writers: int
    writes_per_second: float
    ratio: float | None
    ratio_min: float | None
    ratio_max: float | None
    delivery_p50_ms: float | None
    delivery_p95_ms: float | None
    delivery_min_ms: float | None
    delivery_max_ms: float | None
    negative_share: float | None
    events_per_response: float | None
    drain_ms: float | None
    server_cpu_ms_per_write: float
    writers_cpu_ms_per_write: float
    watchers_cpu_ms_per_write: float
    goal: str
    met: bool | None


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarize(measurements: Sequence[Measurement], writers: int, rate: float) -> list[Row]:
    """Medians per phase; the throughput ratio within each round, then its median."""
    by_key = {(m.kind, m.watchers, m.round): m for m in measurements}
    rows = []
    for phase in phases(writers, rate):
        mine = [m for m in measurements if (m.kind, m.watchers) == (phase.kind, phase.watchers)]
        if not mine:
            continue
        ratios = (
            [m.calls_per_second / by_key[(THROUGHPUT, 0, m.round)].calls_per_second for m in mine]
            if phase.kind == THROUGHPUT and phase.watchers
            else []
        )
        ratio = statistics.median(ratios) if ratios else None
        p95 = _median([m.delivery_p95_ms for m in mine])
        goal, met = "", None
        if ratio is not None:
            goal, met = f"ratio >= {GOAL_RATIO:.2f}", ratio >= GOAL_RATIO
        elif phase.kind == LATENCY and p95 is not None:
            goal, met = f"p95 < {GOAL_P95_MS:.0f} ms", p95 < GOAL_P95_MS
        elif phase.kind == THROUGHPUT and not phase.watchers:
            goal = "baseline"
        rows.append(
            Row(
                kind=phase.kind,
                watchers=phase.watchers,
                writers=phase.writers,
                writes_per_second=statistics.median(m.calls_per_second for m in mine),
                ratio=ratio,
                ratio_min=min(ratios) if ratios else None,
                ratio_max=max(ratios) if ratios else None,
                delivery_p50_ms=_median([m.delivery_p50_ms for m in mine]),
                delivery_p95_ms=p95,
                delivery_min_ms=min(
                    (m.delivery_min_ms for m in mine if m.delivery_min_ms is not None), default=None
                ),
                delivery_max_ms=max(
                    (m.delivery_max_ms for m in mine if m.delivery_max_ms is not None), default=None
                ),
                negative_share=_median([m.negative_share for m in mine]),
                events_per_response=_median([m.events_per_response for m in mine]),
                drain_ms=_median([m.drain_ms for m in mine]),
                server_cpu_ms_per_write=statistics.median(
                    1000 * m.server_cpu_s / m.writes for m in mine
                ),
                writers_cpu_ms_per_write=statistics.median(
                    1000 * m.writers_cpu_s / m.writes for m in mine
                ),
                watchers_cpu_ms_per_write=statistics.median(
                    1000 * m.watchers_cpu_s / m.writes for m in mine
                ),
                goal=goal,
                met=met,
            )
        )
    return rows


def format_rows(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table."""

    def number(value: float | None, spec: str) -> str:
        return "" if value is None else format(value, spec)

    header = (
        "phase",
        "watchers",
        "writers",
        "writes/s",
        "ratio",
        "(range)",
        "p50 ms",
        "p95 ms",
        "min-max ms",
        "early",
        "ev/resp",
        "drain ms",
        "CPU ms/write srv+wr+wa",
        "goal",
        "met",
    )
    lines = [
        (
            row.kind,
            str(row.watchers),
            str(row.writers),
            f"{row.writes_per_second:,.0f}",
            number(row.ratio, ".2f"),
            ""
            if row.ratio_min is None or row.ratio_max is None
            else f"{row.ratio_min:.2f}-{row.ratio_max:.2f}",
            number(row.delivery_p50_ms, ".2f"),
            number(row.delivery_p95_ms, ".2f"),
            ""
            if row.delivery_min_ms is None or row.delivery_max_ms is None
            else f"{row.delivery_min_ms:.2f}-{row.delivery_max_ms:.1f}",
            "" if row.negative_share is None else f"{row.negative_share:.1%}",
            number(row.events_per_response, ".1f"),
            number(row.drain_ms, ".1f"),
            f"{row.server_cpu_ms_per_write:.2f}+{row.writers_cpu_ms_per_write:.2f}"
            f"+{row.watchers_cpu_ms_per_write:.2f}",
            row.goal or "info",
            "" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    return format_table(header, lines, left={0, 13, 14})


# The command


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.watch",
        description="WatchClaims delivery latency, and writers' throughput with watchers attached.",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic claims")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds counted per phase")
    parser.add_argument(
        "--warmup", type=float, default=0.5, help="seconds of writes before counting"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median taken)")
    parser.add_argument(
        "--writers", type=int, default=4, help="writer threads of the throughput phases"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="CreateClaims a second of the one writer of the latency phases",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="seconds the watchers may take, after the writes, to receive every event",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.warmup < 0 or args.drain_timeout <= 0:
        parser.error("--rounds must be positive, --seconds and --drain-timeout > 0, --warmup >= 0")
    if not 1 <= args.writers <= 64 or not 0 < args.rate <= 10_000:
        parser.error("--writers must be from 1 to 64, --rate from 0 to 10,000")
    return args


@contextlib.contextmanager
def serving_empty() -> Iterator[ServerProcess]:
    """Serves a new, empty database from a child process; stops it at the end."""
    with tempfile.TemporaryDirectory(prefix="claimstore-bench-watch-") as directory:
        server = ServerProcess(Path(directory) / "watch.db", log=Path(directory) / "server.log")
        try:
            yield server
        finally:
            server.stop_and_warn()


def main(argv: Sequence[str] | None = None) -> int:
    """Serves an empty database, runs the rounds, prints the table."""
    args = parse_args(argv)
    interrupt_on_sigterm()
    host = machine()
    print(machine_line(host), flush=True)
    pool = list(synthetic.generate_claims(CLAIM_POOL, args.seed))

    with serving_empty() as server, grpc.insecure_channel(server.target) as channel:
        started_in = server.wait_until_serving(channel)
        stub = claim_service_pb2_grpc.ClaimServiceStub(channel)
        feed = RequestFeed(pool)
        watchers = Watchers(server.target, drain_timeout=args.drain_timeout)
        try:
            print(
                f"server pid {server.pid} on {server.target}, SERVING after {started_in:.2f} s"
                f" over an empty database; watcher process pid {watchers.pid}",
                flush=True,
            )
            # One create and its event before anything is measured (first connection, caches).
            run_phase(
                Phase(LATENCY, 1, 1, None),
                0,
                stub=stub,
                feed=feed,
                watchers=watchers,
                server_pid=server.pid,
                seconds=0.2,
                warmup=0.0,
            )
            per_round = 4 * (args.seconds + args.warmup) + 3 * (1 + LINGER_S)
            print(
                f"measuring: {args.rounds} rounds x 4 phases (throughput with 0 and"
                f" {MANY_WATCHERS} watchers, {args.writers} writers in a closed loop; latency"
                f" with 1 and {MANY_WATCHERS} watchers, 1 writer at {args.rate:g}/s),"
                f" {args.warmup:g} s warm-up + {args.seconds:g} s each"
                f" (~{args.rounds * per_round:.0f} s)",
                flush=True,
            )
            measurements = run_rounds(
                stub=stub, feed=feed, watchers=watchers, server_pid=server.pid, args=args
            )
        finally:
            watchers.close()

    rows = summarize(measurements, args.writers, args.rate)
    print()
    print(
        f"claimstore change feed (WatchClaims), medians of {args.rounds} rounds of"
        f" {args.seconds:g} s; delivery = event arrival at a watcher - CreateClaim's"
        " acknowledgement ('early': share < 0; 'drain': last ack to last arrival);"
        " ratio: within each round, then median; CPU: server + writers + watchers"
    )
    print(format_rows(rows))
    host["loadavg_after"] = loadavg()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in host['loadavg_after'] or [])}")

    if args.json is not None:
        report = {
            "benchmark": "watch",
            "machine": host,
            "config": {
                "seed": args.seed,
                "generator_version": synthetic.GENERATOR_VERSION,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "rounds": args.rounds,
                "writers": args.writers,
                "rate": args.rate,
                "watchers": MANY_WATCHERS,
                "claim_pool": CLAIM_POOL,
                "clock": "CLOCK_MONOTONIC",
            },
            "summary": [asdict(row) for row in rows],
            "measurements": [asdict(m) for m in measurements],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, OSError, grpc.RpcError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
