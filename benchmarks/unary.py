"""Unary call throughput and latency of claimstore, as ratios to the gRPC health Check.

What is measured: calls per second, p50 and p95 latency of three calls made to
ONE claimstore server holding a synthetic data set (100,000 claims by default):

* ``grpc.health.v1.Health/Check``: the baseline, a call that does no work;
* ``ClaimService/GetClaim`` of a claim id picked at random (10,000 sampled ids);
* ``ClaimService/ListClaims``: one page of 50, newest first, filtered by
  ``filter.speaker_ids=[one speaker id]``, the speaker picked at random among
  those with at least 50 claims;
* ``ListClaims`` filtered by ``filter.topics=[one topic]`` and by
  ``filter.publisher``, each picked at random among those with at least 50
  claims: from a few hundred claims to a third of them (the store tests
  claims in listing order for the common ones, and collects the rare ones'
  claims; see ``link_plans`` in the SQLite store). No goal: these show what
  a filter on what claims link to costs beside one on a column.

Each is measured with 1 and with 8 callers: threads sharing one channel, each
calling in a closed loop (a call starts when the previous one returned) for
``--seconds`` after a ``--warmup``. All three go through the raw generated
stubs, so they pay the same client cost. The measurements are interleaved:
each round measures every (callers, call) pair once, the order of the calls
rotating from round to round, and the table shows the median over
``--rounds`` rounds. A figure's ratio to Check is taken within each round
(the same machine load for both) and the median of those ratios is shown, so
that drift in the load of this shared machine hits all three calls alike.

Goals: GetClaim at least 0.7 of Check's calls per second, ListClaims at least
0.5, at the same number of callers.

How it runs: the data set comes from ``benchmarks.synthetic`` (seeded, the same
on every machine) and is written straight through ``SqliteStore`` in this
process. The database file is cached in the temp directory, keyed by claim
count, seed, generator version and the store's schema and code, so reruns skip
the build; ``--rebuild`` forces one. Each run serves a copy of it from a
separate ``python -m claimstore_server`` process on a free 127.0.0.1 port, and
terminates that process at the end.

Run it from the repository root::

    .venv/bin/python -m benchmarks.unary                  # 100,000 claims, ~1 minute
    .venv/bin/python -m benchmarks.unary --claims 5000 --seconds 1 --rounds 1   # quick
    .venv/bin/python -m benchmarks.unary --json unary.json

Exit status: 0 when every goal is met, 1 when one is missed, 2 on an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import grpc
from claimstore.v1 import claim_filter_pb2, claim_service_pb2, claim_service_pb2_grpc
from claimstore_server.store import sqlite3
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
)

CHECK: Final = "Check"
GET_CLAIM: Final = "GetClaim"
LIST_CLAIMS: Final = "ListClaims"
LIST_BY_TOPIC: Final = "ListClaims topic"
LIST_BY_PUBLISHER: Final = "ListClaims publisher"
CALLS: Final = (CHECK, GET_CLAIM, LIST_CLAIMS, LIST_BY_TOPIC, LIST_BY_PUBLISHER)
GOALS: Final = {GET_CLAIM: 0.7, LIST_CLAIMS: 0.5}
"""The least calls per second each call must reach, as a fraction of Check's."""

PAGE_SIZE: Final = 50
ID_SAMPLE: Final = 10_000
REQUEST_POOL: Final = 10_000
CALL_TIMEOUT_S: Final = 10.0
MAX_CALLS_PER_CALLER: Final = 5_000_000


# The database


@dataclass(frozen=True, slots=True)
class DataSet:
    """The ids the load generator picks from."""

    claim_ids: list[str]
    speaker_ids: list[str]
    topics: list[str]
    publishers: list[str]
    claim_count: int
    speaker_count: int


def sample_ids(path: Path, seed: int, *, sample: int = ID_SAMPLE) -> DataSet:
    """Reads the ids to query from the database at ``path`` (before it is served).

    Claim ids are a random sample; speaker ids, topics and publishers are every
    one with at least one full page of claims, so that each ListClaims returns
    ``PAGE_SIZE`` claims.
    """
    with contextlib.closing(sqlite3.connect(path)) as connection:
        claim_ids = [row[0] for row in connection.execute("SELECT id FROM claims ORDER BY id")]
        speaker_ids = [
            row[0]
            for row in connection.execute(
                "SELECT speaker_id FROM claims GROUP BY speaker_id HAVING COUNT(*) >= ?"
                " ORDER BY speaker_id",
                (PAGE_SIZE,),
            )
        ]
        topics = [
            row[0]
            for row in connection.execute(
                "SELECT topic FROM claim_topics GROUP BY topic HAVING COUNT(*) >= ? ORDER BY topic",
                (PAGE_SIZE,),
            )
        ]
        publishers = [
            row[0]
            for row in connection.execute(
                "SELECT s.publisher_folded FROM claim_sources cs JOIN sources s"
                " ON s.id = cs.source_id GROUP BY s.publisher_folded"
                " HAVING COUNT(DISTINCT cs.claim_seq) >= ? ORDER BY s.publisher_folded",
                (PAGE_SIZE,),
            )
        ]
        (speaker_count,) = connection.execute("SELECT COUNT(*) FROM speakers").fetchone()
    if not (claim_ids and speaker_ids and topics and publishers):
        raise RuntimeError(
            f"{path} holds no claims, or no speaker, topic or publisher with {PAGE_SIZE} claims"
        )
    rng = random.Random(f"claimstore-bench-ids:{seed}")
    picked = rng.sample(claim_ids, min(sample, len(claim_ids)))
    return DataSet(picked, speaker_ids, topics, publishers, len(claim_ids), int(speaker_count))


# The load generator

Method = Callable[..., Any]
CallTable = dict[str, tuple[Method, list[Message]]]
"""Each call's stub method and the pool of prepared requests it is called with."""


@dataclass(slots=True)
class Measurement:
    """One closed-loop measurement of one call with a number of callers."""

    call: str
    callers: int
    round: int
    calls: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    latencies_ns: list[int] = field(default_factory=list, repr=False)

    def figures(self) -> dict[str, Any]:
        figures = asdict(self)
        del figures["latencies_ns"]
        return figures


def percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """The nearest-rank percentile of ``sorted_values``."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def measure(
    call: str,
    method: Method,
    requests: Sequence[Message],
    *,
    callers: int,
    seconds: float,
    warmup: float,
    round_number: int,
    seed: int,
) -> Measurement:
    """Runs ``callers`` threads calling ``method`` in a closed loop; returns what they saw.

    Each thread calls for ``warmup + seconds``; calls that start within the last
    ``seconds`` are counted. Throughput is those calls over the time from the
    start of the counted window to the end of the last counted call. Requests
    are built beforehand and picked at random from ``requests``, outside the
    timed part.
    """
    window_ns = int(seconds * 1e9)
    warmup_ns = int(warmup * 1e9)
    timing: dict[str, int] = {}

    def set_times() -> None:
        now = time.perf_counter_ns()
        timing["measure_from"] = now + warmup_ns
        timing["stop_at"] = now + warmup_ns + window_ns

    barrier = threading.Barrier(callers, action=set_times)
    latencies: list[list[int]] = [[] for _ in range(callers)]
    last_end = [0] * callers
    failures: list[BaseException] = []

    def caller(index: int) -> None:
        rng = random.Random(f"{seed}:{call}:{callers}:{round_number}:{index}")
        mine = latencies[index]
        pool = len(requests)
        try:
            barrier.wait(timeout=30)
            measure_from, stop_at = timing["measure_from"], timing["stop_at"]
            for _ in range(MAX_CALLS_PER_CALLER):
                request = requests[rng.randrange(pool)]
                start = time.perf_counter_ns()
                if start >= stop_at:
                    break
                method(request, timeout=CALL_TIMEOUT_S)
                end = time.perf_counter_ns()
                if start >= measure_from:
                    mine.append(end - start)
                    last_end[index] = end
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=caller, args=(index,), name=f"caller-{index}", daemon=True)
        for index in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(warmup + seconds + CALL_TIMEOUT_S + 30)
    if failures:
        raise RuntimeError(f"{call} with {callers} callers failed: {failures[0]!r}")
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"{call} with {callers} callers did not finish in time")
    merged = sorted(latency for per_caller in latencies for latency in per_caller)
    if not merged:
        raise RuntimeError(f"{call} with {callers} callers completed no call")
    elapsed_ns = max(last_end) - timing["measure_from"]
    return Measurement(
        call=call,
        callers=callers,
        round=round_number,
        calls=len(merged),
        seconds=elapsed_ns / 1e9,
        calls_per_second=len(merged) / (elapsed_ns / 1e9),
        p50_ms=percentile(merged, 0.50) / 1e6,
        p95_ms=percentile(merged, 0.95) / 1e6,
        latencies_ns=merged,
    )


def call_table(channel: grpc.Channel, data: DataSet, seed: int) -> CallTable:
    """The stub method and a pool of prepared requests for each call."""
    rng = random.Random(f"claimstore-bench-requests:{seed}")
    claims = claim_service_pb2_grpc.ClaimServiceStub(channel)
    health = health_pb2_grpc.HealthStub(channel)
    get_requests = [
        claim_service_pb2.GetClaimRequest(id=rng.choice(data.claim_ids))
        for _ in range(REQUEST_POOL)
    ]

    def listings(pick: Callable[[], claim_filter_pb2.ClaimFilter]) -> list[Message]:
        return [
            claim_service_pb2.ListClaimsRequest(filter=pick(), page_size=PAGE_SIZE)
            for _ in range(REQUEST_POOL)
        ]

    F = claim_filter_pb2.ClaimFilter  # noqa: N806
    return {
        CHECK: (health.Check, [health_pb2.HealthCheckRequest()]),
        GET_CLAIM: (claims.GetClaim, get_requests),
        LIST_CLAIMS: (
            claims.ListClaims,
            listings(lambda: F(speaker_ids=[rng.choice(data.speaker_ids)])),
        ),
        LIST_BY_TOPIC: (claims.ListClaims, listings(lambda: F(topics=[rng.choice(data.topics)]))),
        LIST_BY_PUBLISHER: (
            claims.ListClaims,
            listings(lambda: F(publisher=rng.choice(data.publishers))),
        ),
    }


def check_replies(table: CallTable) -> None:
    """Makes each call once and checks that the reply is what is being measured."""
    method, requests = table[CHECK]
    if method(requests[0], timeout=CALL_TIMEOUT_S).status != health_pb2.HealthCheckResponse.SERVING:
        raise RuntimeError("health Check is not SERVING")
    method, requests = table[GET_CLAIM]
    get_request = requests[0]
    assert isinstance(get_request, claim_service_pb2.GetClaimRequest)
    claim = method(get_request, timeout=CALL_TIMEOUT_S)
    if claim.id != get_request.id or not claim.citations or not claim.speaker.id:
        raise RuntimeError(f"GetClaim returned an unexpected claim: {claim.id}")
    method, requests = table[LIST_CLAIMS]
    list_request = requests[0]
    assert isinstance(list_request, claim_service_pb2.ListClaimsRequest)
    page = method(list_request, timeout=CALL_TIMEOUT_S)
    speaker_id = list_request.filter.speaker_ids[0]
    if len(page.claims) != PAGE_SIZE or any(c.speaker_id != speaker_id for c in page.claims):
        raise RuntimeError(
            f"ListClaims returned {len(page.claims)} claims, not {PAGE_SIZE} of {speaker_id}"
        )
    for call in (LIST_BY_TOPIC, LIST_BY_PUBLISHER):
        method, requests = table[call]
        page = method(requests[0], timeout=CALL_TIMEOUT_S)
        if len(page.claims) != PAGE_SIZE:
            raise RuntimeError(f"{call} returned {len(page.claims)} claims, not {PAGE_SIZE}")


def run_rounds(
    table: CallTable,
    *,
    callers_list: Sequence[int],
    rounds: int,
    seconds: float,
    warmup: float,
    seed: int,
) -> list[Measurement]:
    """Measures every (callers, call) pair once per round, rotating the order of the calls."""
    measurements = []
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(CALLS)
        order = CALLS[shift:] + CALLS[:shift]
        for callers in callers_list:
            for call in order:
                method, requests = table[call]
                result = measure(
                    call,
                    method,
                    requests,
                    callers=callers,
                    seconds=seconds,
                    warmup=warmup,
                    round_number=round_number,
                    seed=seed,
                )
                print(
                    f"  round {round_number}/{rounds}  {call:<10} {callers} callers:"
                    f" {result.calls_per_second:8.1f} calls/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p95 {result.p95_ms:6.2f} ms",
                    file=sys.stderr,
                    flush=True,
                )
                measurements.append(result)
    return measurements


# The report


@dataclass(frozen=True, slots=True)
class Row:
    """The medians over rounds of one (call, callers) pair, and its ratios to Check."""

    call: str
    callers: int
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    throughput_ratio: float
    throughput_ratio_min: float
    throughput_ratio_max: float
    p50_ratio: float
    p95_ratio: float
    goal: float | None
    met: bool | None


def summarize(measurements: Sequence[Measurement]) -> list[Row]:
    """Medians per (call, callers); ratios are taken to Check of the same round, then medianed."""
    by_key = {(m.call, m.callers, m.round): m for m in measurements}
    rows = []
    for callers in sorted({m.callers for m in measurements}):
        for call in CALLS:
            mine = [m for m in measurements if m.call == call and m.callers == callers]
            if not mine:
                continue
            pairs = [(m, by_key[(CHECK, callers, m.round)]) for m in mine]
            throughput = [m.calls_per_second / c.calls_per_second for m, c in pairs]
            ratio = statistics.median(throughput)
            goal = GOALS.get(call)
            rows.append(
                Row(
                    call=call,
                    callers=callers,
                    calls_per_second=statistics.median(m.calls_per_second for m in mine),
                    p50_ms=statistics.median(m.p50_ms for m in mine),
                    p95_ms=statistics.median(m.p95_ms for m in mine),
                    throughput_ratio=ratio,
                    throughput_ratio_min=min(throughput),
                    throughput_ratio_max=max(throughput),
                    p50_ratio=statistics.median(m.p50_ms / c.p50_ms for m, c in pairs),
                    p95_ratio=statistics.median(m.p95_ms / c.p95_ms for m, c in pairs),
                    goal=goal,
                    met=None if goal is None else ratio >= goal,
                )
            )
    return rows


def format_rows(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table."""
    header = (
        "call",
        "callers",
        "calls/s",
        "ratio to Check",
        "(range)",
        "p50 ms",
        "x Check",
        "p95 ms",
        "x Check",
        "goal",
        "met",
    )
    lines = [
        (
            row.call,
            str(row.callers),
            f"{row.calls_per_second:,.0f}",
            f"{row.throughput_ratio:.2f}",
            f"{row.throughput_ratio_min:.2f}-{row.throughput_ratio_max:.2f}",
            f"{row.p50_ms:.2f}",
            f"{row.p50_ratio:.1f}",
            f"{row.p95_ms:.2f}",
            f"{row.p95_ratio:.1f}",
            "baseline" if row.call == CHECK else "" if row.goal is None else f">= {row.goal:.2f}",
            "" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    return format_table(header, lines, left={0, 9, 10})


# The command


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.unary",
        description="GetClaim and ListClaims throughput and latency as ratios to health Check.",
    )
    parser.add_argument("--claims", type=int, default=100_000, help="claims in the data set")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data set")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="seconds counted per measurement"
    )
    parser.add_argument(
        "--warmup", type=float, default=0.5, help="seconds of calls before counting"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median taken)")
    parser.add_argument(
        "--callers",
        type=lambda text: [int(value) for value in text.split(",")],
        default=[1, 8],
        help="comma-separated numbers of concurrent callers (default: 1,8)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="where built databases are kept (default: %(default)s)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the database afresh")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.claims < 1 or args.rounds < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--claims and --rounds must be positive, --seconds > 0, --warmup >= 0")
    if not args.callers or min(args.callers) < 1 or max(args.callers) > 256:
        parser.error("--callers must be numbers from 1 to 256")
    return args


@contextlib.contextmanager
def serving_copy(db: Path, *, seed: int) -> Iterator[tuple[ServerProcess, grpc.Channel, DataSet]]:
    """Serves a copy of ``db`` from a child process, with the ids sampled from it.

    The server writes to the file it serves (WAL, ``PRAGMA optimize`` on close),
    so it gets a copy and the cached database stays as it was built.
    """
    with tempfile.TemporaryDirectory(prefix="claimstore-bench-") as directory:
        copy = Path(directory) / "served.db"
        shutil.copyfile(db, copy)
        data = sample_ids(copy, seed)
        server = ServerProcess(copy, log=Path(directory) / "server.log")
        channel = grpc.insecure_channel(server.target)
        try:
            yield server, channel, data
        finally:
            channel.close()
            server.stop_and_warn()


def main(argv: Sequence[str] | None = None) -> int:
    """Builds or reuses the database, serves it, measures, prints the table."""
    args = parse_args(argv)
    interrupt_on_sigterm()
    host = machine()
    print(machine_line(host), flush=True)

    db = cached_database_path(args.cache_dir, args.claims, args.seed)
    build_seconds: float | None = None
    if args.rebuild or not db.exists():
        print(f"building {args.claims:,} claims (seed {args.seed}) into {db}", flush=True)
        build_seconds = build_database(db, args.claims, args.seed)
        print(
            f"built in {build_seconds:.1f} s ({args.claims / build_seconds:,.0f} claims/s),"
            f" {db.stat().st_size / 1e6:.0f} MB",
            flush=True,
        )
    else:
        print(f"using cached {db} ({db.stat().st_size / 1e6:.0f} MB; --rebuild to rebuild)")

    with serving_copy(db, seed=args.seed) as (
        server,
        channel,
        data,
    ):
        started_in = server.wait_until_serving(channel)
        print(
            f"server pid {server.pid} on {server.target}, SERVING after"
            f" {started_in:.2f} s; {data.claim_count:,} claims, {data.speaker_count} speakers"
            f" ({len(data.speaker_ids)} with >= {PAGE_SIZE} claims queried, and"
            f" {len(data.topics)} topics and {len(data.publishers)} publishers),"
            f" {len(data.claim_ids):,} claim ids sampled",
            flush=True,
        )
        table = call_table(channel, data, args.seed)
        check_replies(table)
        total = args.rounds * len(args.callers) * len(CALLS) * (args.seconds + args.warmup)
        print(
            f"measuring: {args.rounds} rounds x callers {args.callers} x {len(CALLS)} calls,"
            f" {args.warmup:g} s warm-up + {args.seconds:g} s each (~{total:.0f} s)",
            flush=True,
        )
        measurements = run_rounds(
            table,
            callers_list=args.callers,
            rounds=args.rounds,
            seconds=args.seconds,
            warmup=args.warmup,
            seed=args.seed,
        )

    rows = summarize(measurements)
    print()
    print(
        f"claimstore unary calls, {data.claim_count:,} claims, medians of {args.rounds} rounds"
        f" of {args.seconds:g} s (ratios: within each round, then median; 'range' is min-max)"
    )
    print(format_rows(rows))
    host["loadavg_after"] = loadavg()

    if args.json is not None:
        report = {
            "benchmark": "unary",
            "machine": host,
            "config": {
                "claims": args.claims,
                "seed": args.seed,
                "generator_version": synthetic.GENERATOR_VERSION,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "rounds": args.rounds,
                "callers": args.callers,
                "page_size": PAGE_SIZE,
                "database": str(db),
            },
            "build_seconds": build_seconds,
            "summary": [asdict(row) for row in rows],
            "measurements": [m.figures() for m in measurements],
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
