"""SearchClaims latency and throughput of claimstore, beside the same queries without gRPC.

What is measured, in one run, over one database of synthetic claims
(1,000,000 by default, ``--claims``):

Query shapes. Six queries, each alone and with ``filter.speaker_ids`` set to
the speaker with the most claims (~16% of them), twelve in all. The words come
from ``benchmarks.synthetic``'s word list, whose word n has Zipf weight 1/n:

* rare word: the last (least frequent) word of the list;
* common word: "said", the most frequent word that is not a function word;
* two typical words: the two words at the middle rank of the list;
* two common words: "said president", the two most frequent content words;
* phrase: "peace talks" in double quotes (also a topic, so in that column too);
* prefix: minist* (minister, ministry, ministers...; also in speaker names).

The ranks and the number of claims each query matches are printed.

Ways of running each query, all against the SAME database file:

* gRPC: ``ClaimService/SearchClaims`` (default page of 20, basic view) through
  the raw generated stub, to ONE ``python -m claimstore_server`` process on a
  free 127.0.0.1 port;
* store: ``SqliteStore.search_claims`` called in this process (no gRPC, no
  request parsing: the parsed query and filter are made beforehand), on the
  store's own per-thread connections;
* SQL: the very statements ``search_claims`` runs (recorded from it, with their
  parameters: a count of matches up to the search bound, then the page's one or
  two statements, see ``store._sqlite_search``) executed with sqlite3 on the
  store's connection and fetched, without making protobuf messages of the rows;
* FTS: the FTS5 table alone, ``SELECT rowid, rank ... MATCH ? ORDER BY rank
  LIMIT 21`` (unfiltered queries only): what ranking every match costs;
* Datasette (when installed, ``pip install datasette``): ``datasette serve``
  of a copy of the file, ``--setting sql_time_limit_ms 10000``, with metadata
  naming ``claims_search`` as the FTS table of ``claims`` (fts_pk seq), since
  Datasette does not detect it by itself (the run checks that). Two kinds of
  request: "table" (DS-table), its table search ``/DB/claims.json?_search=``
  (raw search mode with the store's FTS5 expression, 20 rows, count, facets
  and suggestions off, the speaker as a column filter), which returns matches
  in table order, NOT ranked; and "ranked" (DS-ranked), ``/DB.json?sql=`` with
  each statement the store runs for the query, one request each, in its order
  (the count, then the page or its tiers), so Datasette does the same work.

Latency: each (query, way) pair is called by one caller in a closed loop for
``--seconds`` after ``--warmup``, once per round, the ways rotating within a
round; p50 and p95 are over the calls of all ``--rounds`` rounds together.
Throughput: a fixed batch with 1 and 4 callers (threads; the gRPC ones share
a channel, the others each get a connection): each caller runs the twelve
queries (``--repeats`` times each) in a shuffled order of its own, the same
orders for every way, and calls/s is all the calls over the batch's wall
time; once per round per way. (A mix drawn at random over a time window is not
the same work twice when calls take from milliseconds to most of a second.)
Ratios of gRPC to another way are taken within a round, then their median
shown. Each caller thread opens its own store connection; they are closed after
each measurement.

Goals: p95 < 20 ms through gRPC for every shape; gRPC calls/s >= 0.7 of the
store's (direct query) at 1 and 4 callers.

``--profile DIR`` then records the server with py-spy (``--native``) while
one caller repeats each of the slowest shapes, and summarizes where its
samples are.

The database is built once through the store layer (``claim_draft`` and
``SqliteStore.import_claims``, batches of the client's size) and cached in the
temp directory like ``benchmarks.bulk``'s (the same cache key, so the two
share a 1,000,000-claim file); building 1,000,000 claims takes several minutes
and prints its progress. The server and Datasette each get a copy, so the
cached file stays as built.

Run it from the repository root::

    .venv/bin/python -m benchmarks.search                    # 1,000,000 claims: ~12 min (+ build)
    .venv/bin/python -m benchmarks.search --claims 20000 --seconds 0.5 --rounds 1   # quick
    .venv/bin/python -m benchmarks.search --json search.json --profile /tmp/search-profile
    .venv/bin/python -m benchmarks.search --skip-latency --rounds 3   # throughput only, ~4 min

Exit status: 0 when every goal is met, 1 when one is missed, 2 on an error.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import grpc
from claimstore.v1 import claim_filter_pb2, claim_service_pb2, claim_service_pb2_grpc
from claimstore_server.store import sqlite3
from google.protobuf.message import Message

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import synthetic
from benchmarks._common import (
    ServerProcess,
    build_database,
    cached_database_path,
    default_cache_dir,
    format_table,
    free_port,
    interrupt_on_sigterm,
    loadavg,
    machine,
    machine_line,
    remove_database,
    store_fingerprint,
)
from benchmarks.bulk import PySpy, client_batch_size, cpu_seconds, summarize_profile
from benchmarks.unary import Measurement, measure, percentile

GOAL_P95_MS: Final = 20.0
GOAL_RATIO: Final = 0.7
PAGE_SIZE: Final = 20
"""SearchClaims' default page size (a request with page_size 0 gets it)."""
CALL_TIMEOUT_S: Final = 30.0
DATASETTE_START_TIMEOUT_S: Final = 60.0
DATASETTE_TIME_LIMIT_MS: Final = 10_000
PROFILE_SHAPES: Final = 2

# The queries

COMMON_WORD: Final = "said"
COMMON_PAIR: Final = ("said", "president")
PHRASE: Final = ("peace", "talks")
PREFIX: Final = "minist"


@dataclass(frozen=True, slots=True)
class Shape:
    """One query shape: what a user types, and the list words it is made of."""

    name: str
    text: str
    words: tuple[str, ...]


def shapes() -> list[Shape]:
    """The six query shapes, their words picked from the synthetic word list by rank."""
    vocabulary = synthetic.vocabulary()
    middle = len(vocabulary) // 2
    typical = (vocabulary[middle], vocabulary[middle + 1])
    return [
        Shape("rare word", vocabulary[-1], (vocabulary[-1],)),
        Shape("common word", COMMON_WORD, (COMMON_WORD,)),
        Shape("two typical words", " ".join(typical), typical),
        Shape("two common words", " ".join(COMMON_PAIR), COMMON_PAIR),
        Shape("phrase", f'"{" ".join(PHRASE)}"', PHRASE),
        Shape("prefix", f"{PREFIX}*", ()),
    ]


def word_ranks(shape: Shape) -> str:
    """The words of a shape with their rank in the word list, such as "said #11"."""
    vocabulary = synthetic.vocabulary()
    if not shape.words:
        return "prefix of " + ", ".join(
            f"{w} #{vocabulary.index(w) + 1}" for w in vocabulary if w.startswith(PREFIX)
        )
    missing = [word for word in shape.words if word not in vocabulary]
    if missing:
        raise RuntimeError(f"{missing} are not in the synthetic word list")
    return ", ".join(f"{word} #{vocabulary.index(word) + 1}" for word in shape.words)


@dataclass(slots=True)
class Query:
    """One shape with or without the speaker filter, in the forms each way needs."""

    shape: Shape
    speaker_id: str  # empty: unfiltered
    request: claim_service_pb2.SearchClaimsRequest
    search: Any  # claimstore_server.store.SearchQuery
    claim_query: Any  # claimstore_server.store.ClaimQuery
    fts: str  # the FTS5 expression the store matches
    sql: str = ""  # the last statement search_claims runs (the one giving the page), its params
    params: tuple[Any, ...] = ()
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)  # all of them
    matches: int = 0

    @property
    def label(self) -> str:
        return f"{self.shape.name}{' +speaker' if self.speaker_id else ''}"


def make_queries(speaker_id: str) -> list[Query]:
    """The twelve queries: each shape alone, then with ``filter.speaker_ids=[speaker_id]``."""
    from claimstore_server import _validation
    from claimstore_server._search import parse_search_query
    from claimstore_server.store._sqlite_search import fts_expression

    queries = []
    for speaker in ("", speaker_id):
        for shape in shapes():
            claim_filter = claim_filter_pb2.ClaimFilter(speaker_ids=[speaker] if speaker else [])
            search = parse_search_query(shape.text)
            queries.append(
                Query(
                    shape=shape,
                    speaker_id=speaker,
                    request=claim_service_pb2.SearchClaimsRequest(
                        query=shape.text, filter=claim_filter
                    ),
                    search=search,
                    claim_query=_validation.claim_query(claim_filter),
                    fts=fts_expression(search),
                )
            )
    return queries


def top_speaker(path: Path) -> tuple[str, int, int]:
    """The id of the speaker with the most claims, its claim count, and all claims."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        speaker_id, count = connection.execute(
            "SELECT speaker_id, COUNT(*) FROM claims GROUP BY speaker_id"
            " ORDER BY COUNT(*) DESC, speaker_id LIMIT 1"
        ).fetchone()
        (total,) = connection.execute("SELECT COUNT(*) FROM claims").fetchone()
    return str(speaker_id), int(count), int(total)


# The direct ways: the store, its SQL, the FTS table alone


class _RecordingConnection:
    """Stands in for a store connection and records each statement executed through it."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        self.statements.append((sql, tuple(params)))
        return self._connection.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class Direct:
    """SqliteStore over the served file, in this process: the store, its SQL, the FTS table."""

    def __init__(self, path: Path) -> None:
        from claimstore_server.store import SqliteStore

        self.store = SqliteStore(path)
        # The store keeps one connection per thread; the SQL ways run on the same ones.
        if not callable(getattr(self.store, "_connection", None)) or not hasattr(
            self.store, "_local"
        ):
            raise RuntimeError("SqliteStore no longer has _connection/_local to record SQL with")
        self._main = self._connection()

    def release_other_connections(self) -> None:
        """Closes the connections of the callers' threads (each measurement starts new ones).

        The store keeps one connection per thread, with a page cache of its own, for as
        long as it is open; closing them after each measurement keeps them from piling up.
        """
        store: Any = self.store
        with store._connections_lock:
            others = [c for c in store._connections if c is not self._main]
            store._connections = [self._main]
        for connection in others:
            connection.close()

    def close(self) -> None:
        self.store.close()

    def _connection(self) -> sqlite3.Connection:
        return self.store._connection()

    def search(self, query: Query) -> list[Any]:
        page = self.store.search_claims(
            query.search, query.claim_query, after=None, limit=PAGE_SIZE
        )
        return cast("list[Any]", page.items)

    def record(self, query: Query) -> None:
        """Runs ``query`` through the store once, keeping the statement it executes."""
        connection = self._connection()
        recorder = _RecordingConnection(connection)
        self.store._local.connection = recorder
        try:
            self.search(query)
        finally:
            self.store._local.connection = connection
        searches = [(sql, p) for sql, p in recorder.statements if "MATCH" in sql]
        if not searches:
            raise RuntimeError("search_claims ran no MATCH statement")
        query.sql, query.params = searches[-1]
        query.statements = list(recorder.statements)

    def sql(self, query: Query) -> list[sqlite3.Row]:
        """Every statement search_claims ran for ``query`` (it may run several: see
        ``store._sqlite_search``); the rows of those that make the page (with snippets)."""
        connection = self._connection()
        rows: list[sqlite3.Row] = []
        for sql, params in query.statements:
            fetched = connection.execute(sql, params).fetchall()
            if "snippet(" in sql:
                rows.extend(fetched)
        return rows

    def fts(self, query: Query) -> list[sqlite3.Row]:
        return (
            self._connection()
            .execute(
                "SELECT rowid, rank FROM claims_search WHERE claims_search MATCH ?"
                " ORDER BY rank LIMIT ?",
                (query.fts, PAGE_SIZE + 1),
            )
            .fetchall()
        )

    def count(self, query: Query) -> int:
        """How many claims match ``query`` (its filter included)."""
        from claimstore_server.store._sqlite import claim_conditions

        conditions, params = claim_conditions(query.claim_query)
        where = " AND ".join(["claims_search MATCH ?", *conditions])
        (count,) = (
            self._connection()
            .execute(
                "SELECT COUNT(*) FROM claims_search JOIN claims c ON c.seq = claims_search.rowid"
                f" WHERE {where}",
                (query.fts, *params),
            )
            .fetchone()
        )
        return int(count)


# Datasette


def datasette_command() -> str | None:
    """The datasette next to this Python, or on PATH; None when it is not installed."""
    if importlib.util.find_spec("datasette") is None:
        return None
    beside = Path(sys.executable).parent / "datasette"
    return str(beside) if beside.exists() else shutil.which("datasette")


def datasette_detects_fts(path: Path) -> str | None:
    """The FTS table Datasette's own detection finds for ``claims``, if any."""
    from datasette.utils import detect_fts

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        found = detect_fts(connection, "claims")
    return None if found is None else str(found)


_PLACEHOLDER: Final = re.compile(r"\?")


def named_parameters(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, str]]:
    """``sql`` with each ? made :pN, for Datasette's ?sql= (which takes named parameters)."""
    if "'" in sql.replace("'…'", ""):
        raise RuntimeError("the store's SQL has string literals; cannot rename its parameters")
    numbers = iter(range(len(params)))
    named = _PLACEHOLDER.sub(lambda _: f":p{next(numbers)}", sql)
    return named, {f"p{i}": str(value) for i, value in enumerate(params)}


class Datasette:
    """``datasette serve`` of a copy of the database, and paths of requests to it."""

    TABLE_COLUMNS: Final = ("id", "text", "speaker_id", "stated_at", "channel", "topics")

    def __init__(self, command: str, db: Path, directory: Path) -> None:
        self.name = db.stem
        self.port = free_port()
        self.metadata = {
            "databases": {
                self.name: {"tables": {"claims": {"fts_table": "claims_search", "fts_pk": "seq"}}}
            }
        }
        metadata_path = directory / "datasette-metadata.json"
        metadata_path.write_text(json.dumps(self.metadata))
        self.command = [
            command,
            "serve",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--setting",
            "sql_time_limit_ms",
            str(DATASETTE_TIME_LIMIT_MS),
            "--metadata",
            str(metadata_path),
        ]
        self._log_path = directory / "datasette.log"
        self._log = self._log_path.open("wb")
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT)
        self._local = threading.local()

    def wait_until_serving(self) -> float:
        started = time.monotonic()
        while time.monotonic() < started + DATASETTE_START_TIMEOUT_S:
            if self.process.poll() is not None:
                raise RuntimeError(f"datasette exited with status {self.process.returncode}")
            try:
                self.get("/-/versions.json")
            except (OSError, http.client.HTTPException, RuntimeError):
                self._local.__dict__.clear()
                time.sleep(0.2)
                continue
            return time.monotonic() - started
        raise RuntimeError(f"datasette did not answer within {DATASETTE_START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self._log.close()

    def get(self, path: str) -> Any:
        """GETs ``path`` on this thread's keep-alive connection; returns the decoded JSON."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CALL_TIMEOUT_S)
            self._local.connection = connection
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"datasette {path[:120]}: HTTP {response.status}: {body[:300]!r}")
        return json.loads(body)

    def table_path(self, query: Query) -> str:
        """Its table search: the store's FTS5 expression, raw mode, 20 rows, no extras."""
        args: list[tuple[str, str]] = [
            ("_search", query.fts),
            ("_searchmode", "raw"),
            ("_size", str(PAGE_SIZE)),
            ("_nocount", "1"),
            ("_nofacet", "1"),
            ("_nosuggest", "1"),
            ("_shape", "objects"),
            *(("_col", column) for column in self.TABLE_COLUMNS),
        ]
        if query.speaker_id:
            args.append(("speaker_id", query.speaker_id))
        return f"/{self.name}/claims.json?{urllib.parse.urlencode(args)}"

    def ranked_paths(self, query: Query) -> list[str]:
        """The store's own statements through ``?sql=``, one request each, in the order the
        store runs them (a broad search runs several: see ``store._sqlite_search``)."""
        paths = []
        for statement, values in query.statements:
            sql, params = named_parameters(statement, values)
            args = {"sql": sql, **params, "_shape": "objects"}
            paths.append(f"/{self.name}.json?{urllib.parse.urlencode(args)}")
        return paths

    def ranked(self, paths: Sequence[str]) -> dict[str, Any]:
        """Runs the statements of :meth:`ranked_paths`; returns the rows of those that make the
        page (with snippets), as the SQL way does."""
        rows: list[Any] = []
        for path in paths:
            reply = self.get(path)
            if "snippet%28" in path:
                rows.extend(reply["rows"])
        return {"rows": rows}


# Measuring

GRPC: Final = "gRPC"
STORE: Final = "store"
SQL: Final = "SQL"
FTS: Final = "FTS"
DS_TABLE: Final = "DS-table"
DS_RANKED: Final = "DS-ranked"

Call = Callable[[Query], object]


@dataclass(slots=True)
class Ways:
    """Each way of running a query, as a function of the query."""

    calls: dict[str, Call]

    def method(self, way: str) -> Callable[..., object]:
        """A ``method(query, timeout=...)`` as ``benchmarks.unary.measure`` calls it."""
        call = self.calls[way]

        def method(query: Query, timeout: float | None = None) -> object:
            return call(query)

        return method


def make_ways(
    channel: grpc.Channel,
    direct: Direct,
    datasette: Datasette | None,
    queries: Sequence[Query],
) -> dict[str, Call]:
    """Each way of running a query; Datasette's when it runs."""
    stub = claim_service_pb2_grpc.ClaimServiceStub(channel)
    calls: dict[str, Call] = {
        GRPC: lambda query: stub.SearchClaims(query.request, timeout=CALL_TIMEOUT_S),
        STORE: direct.search,
        SQL: direct.sql,
        FTS: direct.fts,
    }
    if datasette is not None:
        table_paths = {query.label: datasette.table_path(query) for query in queries}
        ranked_paths = {query.label: datasette.ranked_paths(query) for query in queries}
        calls[DS_TABLE] = lambda query: datasette.get(table_paths[query.label])
        calls[DS_RANKED] = lambda query: datasette.ranked(ranked_paths[query.label])
    return calls


def applies(way: str, query: Query) -> bool:
    """The FTS-only query has no filter, so it is run for the unfiltered queries alone."""
    return not (way == FTS and query.speaker_id)


def check_replies(ways: dict[str, Call], queries: Sequence[Query]) -> None:
    """Runs every query every way once: the same claims, in the same order, where ranked."""
    for query in queries:
        hits = cast("list[Any]", ways[STORE](query))
        expected = [hit.claim.id for hit in hits]
        if len(expected) != min(PAGE_SIZE, query.matches):
            raise RuntimeError(f"{query.label}: the store found {len(expected)} claims")
        reply = cast("claim_service_pb2.SearchClaimsResponse", ways[GRPC](query))
        got = [result.claim.id for result in reply.results]
        if got != expected:
            raise RuntimeError(f"{query.label}: SearchClaims returned other claims than the store")
        if query.speaker_id and any(r.claim.speaker_id != query.speaker_id for r in reply.results):
            raise RuntimeError(f"{query.label}: SearchClaims ignored the speaker filter")
        rows = cast("list[sqlite3.Row]", ways[SQL](query))
        if len(rows) != min(PAGE_SIZE + 1, query.matches):
            raise RuntimeError(f"{query.label}: the store's SQL returned {len(rows)} rows")
        if applies(FTS, query):
            fts_rows = cast("list[sqlite3.Row]", ways[FTS](query))
            if len(fts_rows) != min(PAGE_SIZE + 1, query.matches):
                raise RuntimeError(f"{query.label}: the FTS query returned {len(fts_rows)} rows")
        if DS_TABLE in ways:
            table = cast("dict[str, Any]", ways[DS_TABLE](query))
            if "claims_search" not in table.get("query", {}).get("sql", ""):
                raise RuntimeError(f"{query.label}: Datasette's table search did not use FTS")
            if len(table["rows"]) != min(PAGE_SIZE, query.matches):
                raise RuntimeError(f"{query.label}: Datasette's table search returned too few")
            if query.speaker_id and any(r["speaker_id"] != query.speaker_id for r in table["rows"]):
                raise RuntimeError(f"{query.label}: Datasette ignored the speaker filter")
            ranked = cast("dict[str, Any]", ways[DS_RANKED](query))
            if len(ranked["rows"]) != len(rows):
                raise RuntimeError(f"{query.label}: Datasette's ranked query returned other rows")


def run_latency(
    ways: dict[str, Call],
    queries: Sequence[Query],
    release: Callable[[], None],
    *,
    rounds: int,
    seconds: float,
    warmup: float,
    seed: int,
) -> list[Measurement]:
    """One caller per (query, way) pair, once per round; the ways rotate from query to query."""
    helper = Ways(ways)
    names = list(ways)
    measurements = []
    for round_number in range(1, rounds + 1):
        for number, query in enumerate(queries):
            shift = (round_number + number) % len(names)
            for way in names[shift:] + names[:shift]:
                if not applies(way, query):
                    continue
                result = measure(
                    f"{way}|{query.label}",
                    helper.method(way),
                    cast("Sequence[Message]", [query]),
                    callers=1,
                    seconds=seconds,
                    warmup=warmup,
                    round_number=round_number,
                    seed=seed,
                )
                release()
                print(
                    f"  round {round_number}/{rounds}  {query.label:<28} {way:<16}"
                    f" {result.calls:5} calls  p50 {result.p50_ms:8.2f} ms"
                    f"  p95 {result.p95_ms:8.2f} ms",
                    file=sys.stderr,
                    flush=True,
                )
                measurements.append(result)
    return measurements


def run_batch(
    way: str,
    call: Call,
    queries: Sequence[Query],
    *,
    callers: int,
    repeats: int,
    round_number: int,
    seed: int,
) -> Measurement:
    """Fixed work: each of ``callers`` threads runs every query ``repeats`` times, in an order
    of its own; calls/s is all the calls over the time from the start to the last one done.

    Each thread first makes one uncounted call (its connection opens and warms). The
    orders depend on the seed, round, callers and thread, not on the way, so every way
    does the same calls in the same order: with calls from milliseconds to most of a second,
    a mix drawn at random over a short window would not be the same work twice.
    """
    orders = []
    for index in range(callers):
        order = [query for query in queries for _ in range(repeats)]
        random.Random(f"{seed}:{round_number}:{callers}:{index}").shuffle(order)
        orders.append(order)
    barrier = threading.Barrier(callers + 1)
    latencies: list[list[int]] = [[] for _ in range(callers)]
    failures: list[BaseException] = []

    def caller(index: int) -> None:
        mine = latencies[index]
        try:
            # Uncounted: opens this thread's connection and warms its page cache.
            call(orders[index][0])
            barrier.wait(timeout=CALL_TIMEOUT_S + 30)
            for query in orders[index]:
                start = time.perf_counter_ns()
                call(query)
                mine.append(time.perf_counter_ns() - start)
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [
        threading.Thread(target=caller, args=(index,), name=f"caller-{index}", daemon=True)
        for index in range(callers)
    ]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=CALL_TIMEOUT_S + 30)
    started = time.perf_counter_ns()
    deadline = time.monotonic() + len(orders[0]) * CALL_TIMEOUT_S + 30
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    elapsed_ns = time.perf_counter_ns() - started
    if failures:
        raise RuntimeError(f"{way} with {callers} callers failed: {failures[0]!r}")
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"{way} with {callers} callers did not finish in time")
    merged = sorted(latency for per_caller in latencies for latency in per_caller)
    return Measurement(
        call=way,
        callers=callers,
        round=round_number,
        calls=len(merged),
        seconds=elapsed_ns / 1e9,
        calls_per_second=len(merged) / (elapsed_ns / 1e9),
        p50_ms=percentile(merged, 0.50) / 1e6,
        p95_ms=percentile(merged, 0.95) / 1e6,
        latencies_ns=merged,
    )


def run_throughput(
    ways: dict[str, Call],
    queries: Sequence[Query],
    release: Callable[[], None],
    *,
    callers_list: Sequence[int],
    rounds: int,
    repeats: int,
    seed: int,
) -> list[Measurement]:
    """The fixed mix of the queries (FTS: the unfiltered ones), per callers and way, per round."""
    names = list(ways)
    measurements = []
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % len(names)
        for callers in callers_list:
            for way in names[shift:] + names[:shift]:
                result = run_batch(
                    way,
                    ways[way],
                    [query for query in queries if applies(way, query)],
                    callers=callers,
                    repeats=repeats,
                    round_number=round_number,
                    seed=seed,
                )
                release()
                print(
                    f"  round {round_number}/{rounds}  mix  {way:<16} {callers} callers:"
                    f" {result.calls} calls in {result.seconds:6.2f} s,"
                    f" {result.calls_per_second:8.1f} calls/s  p50 {result.p50_ms:8.2f} ms"
                    f"  p95 {result.p95_ms:8.2f} ms",
                    file=sys.stderr,
                    flush=True,
                )
                measurements.append(result)
    return measurements


# The report


@dataclass(frozen=True, slots=True)
class WayFigures:
    calls: int
    p50_ms: float
    p95_ms: float
    calls_per_second: float


def pooled(measurements: Sequence[Measurement]) -> WayFigures:
    latencies = sorted(latency for m in measurements for latency in m.latencies_ns)
    return WayFigures(
        calls=len(latencies),
        p50_ms=percentile(latencies, 0.50) / 1e6,
        p95_ms=percentile(latencies, 0.95) / 1e6,
        calls_per_second=statistics.median(m.calls_per_second for m in measurements),
    )


@dataclass(frozen=True, slots=True)
class ShapeRow:
    """One query's latency every way, and gRPC's calls/s as a ratio to the store's."""

    query: str
    shape: str
    speaker_filter: bool
    text: str
    matches: int
    ways: dict[str, WayFigures]
    grpc_to_store: float
    met: bool


def latency_rows(queries: Sequence[Query], measurements: Sequence[Measurement]) -> list[ShapeRow]:
    rows = []
    for query in queries:
        mine: dict[str, list[Measurement]] = {}
        for m in measurements:
            way, _, label = m.call.partition("|")
            if label == query.label:
                mine.setdefault(way, []).append(m)
        figures = {way: pooled(ms) for way, ms in mine.items()}
        by_round = {m.round: m for m in mine[STORE]}
        ratio = statistics.median(
            m.calls_per_second / by_round[m.round].calls_per_second for m in mine[GRPC]
        )
        rows.append(
            ShapeRow(
                query=query.label,
                shape=query.shape.name,
                speaker_filter=bool(query.speaker_id),
                text=query.shape.text,
                matches=query.matches,
                ways=figures,
                grpc_to_store=ratio,
                met=figures[GRPC].p95_ms < GOAL_P95_MS,
            )
        )
    return rows


def format_latency(rows: Sequence[ShapeRow], way_names: Sequence[str]) -> str:
    header = ["query", "text", "matches", "n"]
    for way in way_names:
        header += [f"{way} p50", "p95"]
    header += ["gRPC/store calls/s", "goal", "met"]
    lines = []
    for row in rows:
        line = [row.query, row.text, f"{row.matches:,}", str(row.ways[GRPC].calls)]
        for way in way_names:
            figures = row.ways.get(way)
            line += (
                ["-", "-"]
                if figures is None
                else [f"{figures.p50_ms:.1f}", f"{figures.p95_ms:.1f}"]
            )
        line += [
            f"{row.grpc_to_store:.2f}",
            f"gRPC p95 < {GOAL_P95_MS:.0f} ms",
            "yes" if row.met else "NO",
        ]
        lines.append(line)
    return format_table(header, lines, left={0, 1, len(header) - 2, len(header) - 1})


@dataclass(frozen=True, slots=True)
class ThroughputRow:
    way: str
    callers: int
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    grpc_ratio: float  # gRPC's calls/s over this way's, within a round, median
    grpc_ratio_min: float
    grpc_ratio_max: float
    goal: float | None
    met: bool | None


def throughput_rows(measurements: Sequence[Measurement]) -> list[ThroughputRow]:
    by_key = {(m.call, m.callers, m.round): m for m in measurements}
    rows = []
    for callers in sorted({m.callers for m in measurements}):
        for way in dict.fromkeys(m.call for m in measurements):
            mine = [m for m in measurements if m.call == way and m.callers == callers]
            ratios = [
                by_key[(GRPC, callers, m.round)].calls_per_second / m.calls_per_second for m in mine
            ]
            ratio = statistics.median(ratios)
            goal = GOAL_RATIO if way == STORE else None
            rows.append(
                ThroughputRow(
                    way=way,
                    callers=callers,
                    calls_per_second=statistics.median(m.calls_per_second for m in mine),
                    p50_ms=statistics.median(m.p50_ms for m in mine),
                    p95_ms=statistics.median(m.p95_ms for m in mine),
                    grpc_ratio=ratio,
                    grpc_ratio_min=min(ratios),
                    grpc_ratio_max=max(ratios),
                    goal=goal,
                    met=None if goal is None else ratio >= goal,
                )
            )
    return rows


def format_throughput(rows: Sequence[ThroughputRow]) -> str:
    header = (
        "way",
        "callers",
        "calls/s",
        "p50 ms",
        "p95 ms",
        "gRPC / way",
        "(range)",
        "goal",
        "met",
    )
    lines = [
        (
            row.way,
            str(row.callers),
            f"{row.calls_per_second:,.1f}",
            f"{row.p50_ms:.1f}",
            f"{row.p95_ms:.1f}",
            f"{row.grpc_ratio:.2f}",
            f"{row.grpc_ratio_min:.2f}-{row.grpc_ratio_max:.2f}",
            "" if row.goal is None else f">= {row.goal:.2f}",
            "" if row.met is None else ("yes" if row.met else "NO"),
        )
        for row in rows
    ]
    return format_table(header, lines, left={0, 7, 8})


# Profiling the server


def profile_server(
    server: ServerProcess,
    ways: dict[str, Call],
    queries: Sequence[Query],
    directory: Path,
    *,
    seconds: float,
) -> list[dict[str, Any]]:
    """py-spy on the server while one caller repeats each query in turn for ``seconds``."""
    call = ways[GRPC]
    results = []
    for query in queries:
        output = directory / f"server-{re.sub(r'[^a-z0-9]+', '-', query.label.lower())}.txt"
        spy = PySpy(server.pid, output)
        try:
            time.sleep(1.0)  # py-spy attaches
            cpu_before = cpu_seconds(server.pid)
            started = time.perf_counter()
            calls = 0
            while time.perf_counter() - started < seconds and calls < 100_000:
                call(query)
                calls += 1
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(server.pid) - cpu_before
        finally:
            spy.stop()
        summary = summarize_profile(output)
        results.append(
            {
                "query": query.label,
                "calls": calls,
                "ms_per_call": elapsed / calls * 1e3,
                "server_cpu_ms_per_call": cpu / calls * 1e3,
                "raw": str(output),
                "summary": summary,
            }
        )
    return results


def format_profiles(profiles: Sequence[dict[str, Any]]) -> str:
    lines = []
    for profile in profiles:
        summary = profile["summary"]
        lines.append(
            f"{profile['query']}: {profile['calls']} calls, {profile['ms_per_call']:.1f} ms each,"
            f" server CPU {profile['server_cpu_ms_per_call']:.1f} ms a call;"
            f" {summary['samples']:,} busy samples (raw stacks: {profile['raw']})"
        )
        lines.append("  parts: " + ", ".join(f"{p} {s:.0%}" for p, s in summary["parts"].items()))
        lines.append(
            "  threads: " + ", ".join(f"{t} {s:.0%}" for t, s in summary["threads"].items())
        )
        lines.append("  innermost Python frames:")
        lines += [f"    {share:6.1%}  {frame}" for frame, share in summary["top_python"][:6]]
        lines.append("  innermost frames (Python or native):")
        lines += [f"    {share:6.1%}  {frame}" for frame, share in summary["top_self"][:8]]
    return "\n".join(lines)


# The command


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.search",
        description="SearchClaims latency per query shape; throughput against direct SQLite"
        " and Datasette.",
    )
    parser.add_argument("--claims", type=int, default=1_000_000, help="claims in the data set")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data set")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="seconds counted per measurement"
    )
    parser.add_argument(
        "--warmup", type=float, default=0.3, help="seconds of calls before counting"
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument(
        "--callers",
        type=lambda text: [int(value) for value in text.split(",")],
        default=[1, 4],
        help="comma-separated numbers of concurrent callers for throughput (default: 1,4)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="times each caller runs every query in a throughput batch (default: 1)",
    )
    parser.add_argument("--skip-datasette", action="store_true", help="leave Datasette out")
    parser.add_argument(
        "--skip-latency", action="store_true", help="measure throughput only (no latency table)"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the server on the slowest shapes"
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=8.0, help="seconds profiled per shape"
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
    if not 1 <= args.repeats <= 100:
        parser.error("--repeats must be from 1 to 100")
    if not args.callers or min(args.callers) < 1 or max(args.callers) > 64:
        parser.error("--callers must be numbers from 1 to 64")
    if args.profile_seconds <= 0 or args.profile_seconds > 600:
        parser.error("--profile-seconds must be from 0 to 600")
    return args


def ensure_database(args: argparse.Namespace) -> tuple[Path, float | None]:
    """The cached database, built first when missing; and the seconds building took."""
    db = cached_database_path(args.cache_dir, args.claims, args.seed)
    if db.exists() and not args.rebuild:
        print(f"using cached {db} ({db.stat().st_size / 1e6:,.0f} MB; --rebuild to rebuild)")
        return db, None
    batch_size = client_batch_size()
    print(
        f"building {args.claims:,} claims (seed {args.seed}) into {db},"
        f" batches of {batch_size} through SqliteStore.import_claims",
        flush=True,
    )
    seconds = build_database(
        db,
        args.claims,
        args.seed,
        batch_size=batch_size,
        report_every=max(10_000, args.claims // 20),
    )
    print(
        f"built in {seconds:.1f} s ({args.claims / seconds:,.0f} claims/s),"
        f" {db.stat().st_size / 1e6:,.0f} MB",
        flush=True,
    )
    return db, seconds


@contextlib.contextmanager
def running(
    db: Path, *, with_datasette: bool
) -> Iterator[tuple[ServerProcess, grpc.Channel, Direct, Datasette | None, Path]]:
    """Serves a copy of ``db`` (gRPC server and ``Direct`` on one file; Datasette on another)."""
    with tempfile.TemporaryDirectory(prefix="claimstore-search-") as name:
        directory = Path(name)
        served = directory / "served.db"
        shutil.copyfile(db, served)
        datasette: Datasette | None = None
        server = ServerProcess(served, log=directory / "server.log")
        channel = grpc.insecure_channel(server.target)
        direct: Direct | None = None
        try:
            server.wait_until_serving(channel)
            direct = Direct(served)
            if with_datasette:
                command = datasette_command()
                assert command is not None
                copy = directory / "datasette.db"
                shutil.copyfile(db, copy)
                datasette = Datasette(command, copy, directory)
                datasette.wait_until_serving()
            yield server, channel, direct, datasette, served
        finally:
            if datasette is not None:
                datasette.stop()
            if direct is not None:
                direct.close()
            channel.close()
            server.stop_and_warn()
            remove_database(served)


def main(argv: Sequence[str] | None = None) -> int:
    """Builds or reuses the database, serves it, measures, prints the tables."""
    args = parse_args(argv)
    interrupt_on_sigterm()
    host = machine()
    print(machine_line(host), flush=True)
    with_datasette = not args.skip_datasette
    if with_datasette and datasette_command() is None:
        print(
            "datasette is not installed (.venv/bin/pip install datasette):"
            " skipping the Datasette comparison",
            flush=True,
        )
        with_datasette = False

    fingerprint = store_fingerprint()
    db, build_seconds = ensure_database(args)
    speaker_id, speaker_claims, total = top_speaker(db)
    queries = make_queries(speaker_id)
    print(f"{total:,} claims; speaker filter: {speaker_id} ({speaker_claims:,} claims)")
    print(
        "query shapes (words with their rank in the synthetic word list of"
        f" {len(synthetic.vocabulary())}, Zipf weight 1/rank):"
    )
    for shape in shapes():
        print(f"  {shape.name:<18} {shape.text:<16} {word_ranks(shape)}")
    detected = datasette_detects_fts(db) if with_datasette else None
    if with_datasette:
        print(
            "Datasette's FTS detection for claims: "
            + (
                f"finds {detected}"
                if detected
                else "finds none (claims_search is not an"
                " external-content table), so metadata gives fts_table=claims_search, fts_pk=seq"
            )
        )

    report: dict[str, Any] = {
        "benchmark": "search",
        "machine": host,
        "config": {
            "claims": total,
            "seed": args.seed,
            "generator_version": synthetic.GENERATOR_VERSION,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "callers": args.callers,
            "page_size": PAGE_SIZE,
            "database": str(db),
            "speaker_id": speaker_id,
            "speaker_claims": speaker_claims,
        },
        "goals": {"p95_ms": GOAL_P95_MS, "grpc_to_store": GOAL_RATIO},
        "build_seconds": build_seconds,
        "shapes": [{**asdict(shape), "ranks": word_ranks(shape)} for shape in shapes()],
        "datasette_detects_fts": detected,
    }

    with running(db, with_datasette=with_datasette) as (server, channel, direct, datasette, _):
        for query in queries:
            direct.record(query)
            query.matches = direct.count(query)
        ways = make_ways(channel, direct, datasette, queries)
        check_replies(ways, queries)
        print(
            f"server pid {server.pid} on {server.target}"
            + (
                f"; datasette pid {datasette.process.pid} on port {datasette.port}"
                if datasette
                else ""
            )
        )
        latency_count = (
            0 if args.skip_latency else sum(1 for q in queries for w in ways if applies(w, q))
        )
        throughput_count = len(args.callers) * len(ways)
        total_s = args.rounds * latency_count * (args.seconds + args.warmup)
        print(
            f"measuring: {args.rounds} rounds x ({latency_count} latency measurements of"
            f" {args.warmup:g} s warm-up + {args.seconds:g} s, ~{total_s / 60:.0f} min and more"
            f" for slow calls; then {throughput_count} throughput batches of each query"
            f" x {args.repeats} per caller)",
            flush=True,
        )
        latency = (
            []
            if args.skip_latency
            else run_latency(
                ways,
                queries,
                direct.release_other_connections,
                rounds=args.rounds,
                seconds=args.seconds,
                warmup=args.warmup,
                seed=args.seed,
            )
        )
        throughput = run_throughput(
            ways,
            queries,
            direct.release_other_connections,
            callers_list=args.callers,
            rounds=args.rounds,
            repeats=args.repeats,
            seed=args.seed,
        )
        shape_rows = latency_rows(queries, latency) if latency else []
        if args.profile is not None:
            slowest = sorted(shape_rows, key=lambda row: row.ways[GRPC].p50_ms, reverse=True)
            labels = {row.query for row in slowest[:PROFILE_SHAPES]}
            print(f"profiling the server on {sorted(labels)} into {args.profile}", flush=True)
            profiles = profile_server(
                server,
                ways,
                [q for q in queries if q.label in labels],
                args.profile,
                seconds=args.profile_seconds,
            )
            report["profiles"] = profiles

    throughput_table = throughput_rows(throughput)
    way_names = list(ways)
    if shape_rows:
        print()
        print(
            f"SearchClaims latency, {total:,} claims, page of {PAGE_SIZE}, 1 caller, ms (p50, p95"
            f" over {args.rounds} rounds of {args.seconds:g} s; n: gRPC calls counted);"
            f" speaker filter = {speaker_id}"
        )
        print(format_latency(shape_rows, way_names))
    print()
    print(
        f"throughput: each caller runs the {len(queries)} queries (FTS: the 6 unfiltered)"
        f" x {args.repeats} in a shuffled order, the same for every way; medians of"
        f" {args.rounds} rounds; 'gRPC / way' = gRPC calls/s over that way's, within a round"
    )
    print(format_throughput(throughput_table))
    if "profiles" in report:
        print()
        print(format_profiles(report["profiles"]))

    if store_fingerprint() != fingerprint:
        print(
            "warning: the store's code changed during the run; figures may mix two versions",
            file=sys.stderr,
        )
    met = all(row.met for row in shape_rows) and all(
        row.met is not False for row in throughput_table
    )
    host["loadavg_after"] = loadavg()
    report["queries"] = [
        {
            "query": q.label,
            "text": q.shape.text,
            "fts": q.fts,
            "matches": q.matches,
            "sql": [sql for sql, _ in q.statements],
        }
        for q in queries
    ]
    report["latency"] = [asdict(row) for row in shape_rows]
    report["throughput"] = [asdict(row) for row in throughput_table]
    report["measurements"] = [m.figures() for m in [*latency, *throughput]]
    report["all_goals_met"] = met
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if met else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except (RuntimeError, OSError, grpc.RpcError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception:  # anything else is an error too, never a missed goal
        traceback.print_exc()
        sys.exit(2)
