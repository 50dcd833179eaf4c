"""The runtime store against its floor, side by side in one run: ``python -m bench.bench_store``.

    python -m bench.bench_store [--runs N] [--skip-pg] [--pg URL] [--agents A]
                                [--versions V] [--no-write]

A snapshot of A agents x V versions (default 100 x 100: 10,000 rows, ~2 KB prompts,
200 pointers) is built in memory once (tests/store_kill_driver.py). For SQLite and
PostgreSQL each, as medians (and minimums) of N runs, measures:

    (1) ``store.sync(snapshot)`` into a new, empty store (a new SQLite file, a new
        PostgreSQL schema, every run);
    (2) ``store.sync(snapshot)`` again, nothing new: the store-level full comparison;
    (3) ``store.load_runtime_state("production")``: what one RuntimeClient refresh reads.

Each figure has its floor, measured in the same run against the same database engine,
floor and agentver alternating run by run (and which goes first alternating too):

    floor (1): the same rows (the store's own ``rows.version_row`` of every version,
        computed once before timing) inserted with one ``executemany`` in ONE transaction
        into a table made with the DDL of ``agent_versions``, committed; SQLite in a new
        WAL file with default ``synchronous`` (as the store), PostgreSQL in a new schema
        through psycopg. Only the insert and commit are timed: the floor does no parsing
        and no row encoding, writes no pointers, runs no migrations.
    floor (2): one SELECT of the columns a comparison must read (agent_id,
        version_number, commit, blob, config_hash) of every row of that table, fetched.
    floor (3): the JOIN SELECT ``load_runtime_state`` runs (agentver/store/sql.py), on a
        raw connection to the store agentver just synced, fetched, nothing decoded.

Rewrites bench/RESULTS-store.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

from agentver.store import Snapshot, Store, open_store
from agentver.store.migrations import MIGRATIONS
from agentver.store.rows import VERSION_COLUMNS, insert_sql, version_row
from agentver.store.url import mask_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import store_kill_driver as fx  # type: ignore[import-not-found,unused-ignore]

RESULTS = Path(__file__).resolve().parent / "RESULTS-store.md"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
ENVIRONMENT = "production"
PROMPT_SIZE = 2000

VERSIONS_DDL = next(s for s in MIGRATIONS[0].statements if "CREATE TABLE agent_versions" in s)
INSERT = insert_sql("agent_versions", VERSION_COLUMNS)
COMPARE_SELECT = 'SELECT agent_id, version_number, "commit", blob, config_hash FROM agent_versions'
# Copied from SqlStore.load_runtime_state (agentver/store/sql.py).
LOAD_SELECT = (
    f"SELECT {', '.join('v.' + c for c in VERSION_COLUMNS)} FROM agent_versions v"
    " JOIN agent_deployments d ON d.agent_id = v.agent_id"
    " AND d.version_number = v.version_number WHERE d.environment = ?"
)

FIGURES = {
    "1": "`sync` into a new, empty store",
    "2": "`sync` again, nothing new",
    "3": f'`load_runtime_state("{ENVIRONMENT}")`',
}
FLOORS = {
    "1": "executemany INSERT of the precomputed rows, one transaction",
    "2": "one SELECT of agent_id, version_number, commit, blob, config_hash",
    "3": "load_runtime_state's JOIN SELECT on a raw connection",
}

T = TypeVar("T")


# -- backends ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A new, empty agentver store: its URL and how to open a raw connection to it."""

    url: str
    connect: Callable[[], Any]


class Backend(Protocol):
    name: str
    mark: str  # the driver's paramstyle
    begin: str  # what the store begins a write transaction with

    def new_store(self) -> AbstractContextManager[Target]: ...

    def new_floor_table(self) -> AbstractContextManager[Any]: ...


class SqliteBackend:
    """New database files in one temporary directory, deleted after each use."""

    name = "SQLite"
    mark = "?"
    begin = "BEGIN IMMEDIATE"

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _new_path(self, prefix: str) -> Path:
        return self._directory / f"{prefix}-{uuid.uuid4().hex[:12]}.db"

    @staticmethod
    def _remove(path: Path) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # As agentver/store/sqlite.py: autocommit, explicit BEGIN/COMMIT.
        return sqlite3.connect(path, isolation_level=None)

    @contextmanager
    def new_store(self) -> Iterator[Target]:
        path = self._new_path("store")
        try:
            yield Target(f"sqlite:///{path}", lambda: self._connect(path))
        finally:
            self._remove(path)

    @contextmanager
    def new_floor_table(self) -> Iterator[sqlite3.Connection]:
        path = self._new_path("floor")
        conn = self._connect(path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # as the store; synchronous left default
            conn.execute(VERSIONS_DDL)
            yield conn
        finally:
            conn.close()
            self._remove(path)


class PostgresBackend:
    """A new schema per store and per floor table, dropped after use (also on error)."""

    name = "PostgreSQL"
    mark = "%s"
    begin = "BEGIN"

    def __init__(self, base_url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self._base = base_url
        self._admin = psycopg.connect(base_url, autocommit=True)

    def server_version(self) -> str:
        row = self._admin.execute("SHOW server_version").fetchone()
        return "unknown" if row is None else str(row[0])

    def close(self) -> None:
        self._admin.close()

    @contextmanager
    def _schema(self, prefix: str) -> Iterator[str]:
        schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
        try:
            yield schema
        finally:
            self._admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def _connect(self, schema: str) -> Any:
        # As agentver/store/postgres.py: autocommit, explicit BEGIN/COMMIT, search_path.
        return self._psycopg.connect(self._base, autocommit=True, options=f"-csearch_path={schema}")

    @contextmanager
    def new_store(self) -> Iterator[Target]:
        with self._schema("bench") as schema:
            sep = "&" if "?" in self._base else "?"
            yield Target(f"{self._base}{sep}schema={schema}", lambda: self._connect(schema))

    @contextmanager
    def new_floor_table(self) -> Iterator[Any]:
        with self._schema("floor") as schema:
            self._admin.execute(f'CREATE SCHEMA "{schema}"')
            conn = self._connect(schema)
            try:
                conn.execute(VERSIONS_DDL)
                yield conn
            finally:
                conn.close()


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Sample:
    """Milliseconds per run, by figure ("1", "2", "3"), for agentver and for its floor."""

    agentver: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in FIGURES})
    floor: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in FIGURES})


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(milliseconds, result) of ``fn()``; garbage collected first, untimed."""
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def open_connection(store: Store) -> None:
    """Open a PostgreSQL store's connection before timing (the floor's is open too);
    SQLite stores open one per operation by design, which stays in their figures."""
    opener = getattr(store, "locked_connection", None)
    if opener is not None:
        with opener(open=True):
            pass


def floor_insert(conn: Any, begin: str, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    cur = conn.cursor()
    try:
        conn.execute(begin)
        cur.executemany(sql, rows)
        conn.execute("COMMIT")
    finally:
        cur.close()


def fetch(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return list(conn.execute(sql, tuple(params)).fetchall())


def run_floor(backend: Backend, rows: Sequence[tuple[Any, ...]], sample: Sample) -> None:
    """Floors (1) and (2) in a new table."""
    sql = INSERT.replace("?", backend.mark)
    with backend.new_floor_table() as conn:
        ms, _ = timed(lambda: floor_insert(conn, backend.begin, sql, rows))
        sample.floor["1"].append(ms)
        ms, index = timed(lambda: fetch(conn, COMPARE_SELECT))
        assert len(index) == len(rows), (len(index), len(rows))
        sample.floor["2"].append(ms)


def run_agentver(backend: Backend, snapshot: Snapshot, sample: Sample, floor_first: bool) -> None:
    """Figures (1), (2), (3) on a new store, and floor (3) on that store."""
    with backend.new_store() as target:
        store = open_store(target.url)
        try:
            open_connection(store)
            ms, plan = timed(lambda: store.sync(snapshot))
            assert plan.applied and len(plan.new_versions) == len(snapshot.versions)
            sample.agentver["1"].append(ms)
            ms, again = timed(lambda: store.sync(snapshot))
            assert again.nothing_to_do
            sample.agentver["2"].append(ms)
            run_loads(backend, store, target, sample, floor_first)
        finally:
            store.close()


def run_loads(
    backend: Backend, store: Store, target: Target, sample: Sample, floor_first: bool
) -> None:
    sql = LOAD_SELECT.replace("?", backend.mark)
    conn = target.connect()
    try:
        results: dict[str, Any] = {}

        def floor() -> None:
            ms, results["rows"] = timed(lambda: fetch(conn, sql, (ENVIRONMENT,)))
            sample.floor["3"].append(ms)

        def agentver() -> None:
            ms, results["state"] = timed(lambda: store.load_runtime_state(ENVIRONMENT))
            sample.agentver["3"].append(ms)

        for step in (floor, agentver) if floor_first else (agentver, floor):
            step()
        served = {(row[1], row[2]) for row in results["rows"]}
        assert served and len(results["state"].versions) == len(served)
    finally:
        conn.close()


def measure(backends: Sequence[Backend], snapshot: Snapshot, runs: int) -> dict[str, Sample]:
    """Every backend, run by run; floor and agentver alternate which goes first."""
    rows = [version_row(stored) for stored in snapshot.versions]
    samples = {backend.name: Sample() for backend in backends}
    for backend in backends:  # a warm-up pair, untimed: imports, the OS cache, plans
        run_floor(backend, rows, Sample())
        run_agentver(backend, snapshot, Sample(), True)
    for run in range(runs):
        floor_first = run % 2 == 0
        for backend in backends:
            sample = samples[backend.name]
            if floor_first:
                run_floor(backend, rows, sample)
            run_agentver(backend, snapshot, sample, floor_first)
            if not floor_first:
                run_floor(backend, rows, sample)
            print(f"run {run + 1}/{runs} {backend.name}: done", file=sys.stderr)
    return samples


# -- report ------------------------------------------------------------------------------


def table(samples: dict[str, Sample]) -> str:
    lines = [
        "| | what | backend | agentver median ms | min | floor median ms | min | agentver / floor |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in FIGURES.items():
        for name, sample in samples.items():
            ours, floor = sample.agentver[key], sample.floor[key]
            ratio = statistics.median(ours) / statistics.median(floor)
            lines.append(
                f"| ({key}) | {label} | {name} | {statistics.median(ours):.1f} | {min(ours):.1f}"
                f" | {statistics.median(floor):.1f} | {min(floor):.1f} | {ratio:.2f} |"
            )
    return "\n".join(lines)


def pair_notes(samples: dict[str, Sample]) -> list[str]:
    notes = []
    for name, sample in samples.items():
        pairs = [a / f for a, f in zip(sample.agentver["1"], sample.floor["1"], strict=True)]
        notes.append(
            f"- (1) / floor (1) of each run, {name}: "
            + ", ".join(f"{ratio:.2f}" for ratio in pairs)
            + f" (median {statistics.median(pairs):.2f})"
        )
    return notes


def workload(snapshot: Snapshot, agents: int, versions: int) -> str:
    canaries = sum(1 for p in snapshot.pointers if p.canary is not None)
    flags = sum(len(p.flags) for p in snapshot.pointers)
    return (
        f"{agents} agents x {versions} versions: {len(snapshot.versions):,} version rows"
        f" (~{PROMPT_SIZE // 1000} KB system prompt each), {len(snapshot.pointers)} pointers"
        f" in {len(snapshot.environments)} environments ({canaries} with a canary,"
        f" {flags} flags). The snapshot is in memory for agentver and the floor alike."
    )


def method_notes(runs: int) -> list[str]:
    return [
        f"- Medians (and minimums) of {runs} runs. Floor and agentver alternate run by run,"
        " and which of the two goes first alternates too (one warm-up pair per backend,"
        " untimed, before the first run).",
        "- Floor (1) excludes parsing and row encoding: it inserts rows already computed"
        " with the store's own `rows.version_row`, before timing, into a table made with"
        " the DDL of `agent_versions` (same columns, types, PRIMARY KEY and UNIQUE); only"
        " the insert and the commit are timed. agentver's (1) also encodes every row,"
        " creates the schema (migrations), writes the pointers (deployment and flag rows)"
        " and the sync log.",
        "- Floor (2) reads the index columns of every row of the floor table; agentver's (2)"
        " also reads the pointers and decodes and re-hashes the rows they name.",
        "- Floor (3) runs `load_runtime_state`'s JOIN on a raw connection to the store"
        " agentver just synced, no decoding; agentver's (3) also reads the schema version,"
        " the pointers and the head, in one read transaction, and decodes every row.",
        "- Caches: warm in the sense that the OS page cache holds the database files (each"
        " file read was just written; PostgreSQL's shared buffers hold its tables); every"
        " run uses a new store (a new SQLite file, a new PostgreSQL schema), so the store"
        " itself starts empty (cold).",
        "- SQLite: WAL and the default `synchronous`"
        f" ({sqlite_synchronous()})"
        " for the floor, as for the store; the store opens"
        " a connection per operation (its design), which is in agentver's figures, while the"
        " floor's connection is opened before timing. PostgreSQL: the store's and the"
        " floor's connections are both opened before timing.",
    ]


def sqlite_synchronous() -> str:
    """The default ``synchronous`` level of a new connection (neither side sets it)."""
    conn = sqlite3.connect(":memory:")
    try:
        level = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        conn.close()
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(level, str(level))


def header(argv: Sequence[str], load_before: str, pg: str) -> str:
    command = " ".join(["python -m bench.bench_store", *(mask_url(a) for a in argv)])
    return "\n".join(
        [
            "# Runtime store benchmark (rewritten by bench/bench_store.py)",
            "",
            f"Command: `{command}`",
            "",
            f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- load average before: {load_before}; after: {loadavg()}",
            f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, Python"
            f" {platform.python_version()}, SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}",
        ]
    )


def loadavg() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL (a schema is added)")
    parser.add_argument("--skip-pg", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    load_before = loadavg()
    snapshot = fx.make_snapshot(args.agents, args.versions, "BENCH", prompt_size=PROMPT_SIZE)
    pg_version = "(not measured: --skip-pg)"
    with tempfile.TemporaryDirectory() as tmp:
        backends: list[Backend] = [SqliteBackend(Path(tmp))]
        postgres = None if args.skip_pg else PostgresBackend(args.pg)
        try:
            if postgres is not None:
                pg_version = postgres.server_version()
                backends.append(postgres)
            samples = measure(backends, snapshot, args.runs)
        finally:
            if postgres is not None:
                postgres.close()
    text = "\n".join(
        [
            header(argv, load_before, pg_version),
            "",
            "Workload: " + workload(snapshot, args.agents, args.versions),
            "",
            table(samples),
            "",
            *pair_notes(samples),
            *method_notes(args.runs),
        ]
    )
    print(text)
    if not args.no_write:
        RESULTS.write_text(text + "\n\n" + ATOMICITY)
    return 0


ATOMICITY = """\
## Atomicity

tests/test_store_atomicity.py SIGKILLs a sync 22 times per backend (once at once, 20
times spread over the sync's measured duration with jitter, once well after it). Every
killed store held exactly the old or the new state, never a mix, and both states occur
in every run.
"""


if __name__ == "__main__":
    sys.exit(main())
