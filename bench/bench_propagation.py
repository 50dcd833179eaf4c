"""How fast a sync reaches a fleet, and what polling costs the store.

    python -m bench.bench_propagation                     # both backends, 50 x 100
    python -m bench.bench_propagation --backend sqlite --clients 50 --syncs 100
    python -m bench.bench_propagation --load-only --load-clients 1000

1. Propagation: ``--clients`` real client processes on this machine, each a
   RuntimeClient in its default mode (LISTEN on PostgreSQL, PRAGMA data_version on
   SQLite; ``--mode poll`` for the head-row poll) with a TTL of an hour, so only the push
   path can explain a prompt refresh. Each process reports the wall-clock time at which
   its ``head_commit`` (set when the new state is served) first shows a new sync. The
   parent runs ``--syncs`` syncs, each moving a pointer, and measures from the moment
   ``sync()`` returned (its commit is done) to the last client serving it.
2. Store load: ``--load-clients`` simulated clients in "poll" mode each reading the
   head row once per second, as ``HeadPollFeed`` does: connect, one primary-key SELECT,
   disconnect. Measured: queries/s achieved and the PostgreSQL server's CPU (its
   processes' utime+stime from /proc, the exited backends' included through the
   postmaster's cutime/cstime), against the idle server in the same run. Also the same
   query rate over a few persistent connections: what the server pays when a pooler
   (PgBouncer, transaction mode) holds the connections.

Rewrites bench/RESULTS-propagation.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import selectors
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import store_kill_driver as fx  # type: ignore[import-not-found]

from agentver.models import ActiveVersion
from agentver.store import Snapshot, open_store

RESULTS = Path(__file__).resolve().parent / "RESULTS-propagation.md"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
CLIENT_CHECK = 0.002  # how often a bench client looks at head_commit (resolution)


# -- the client process ---------------------------------------------------------------


def client_main(url: str, mode: str) -> int:
    from agentver.runtime import RuntimeClient

    client = RuntimeClient(url, ttl=3600, mode=mode)
    deadline = time.monotonic() + 20
    while mode == "listen" and not client.health().listening:
        if time.monotonic() > deadline:
            print("error: not listening after 20 s", flush=True)
            return 1
        time.sleep(0.01)
    print("ready", flush=True)
    seen = client.head_commit
    while True:
        head = client.head_commit
        if head != seen:
            seen = head
            print(f"{head} {time.time():.6f}", flush=True)
        time.sleep(CLIENT_CHECK)


# -- propagation ----------------------------------------------------------------------


def moved(snapshot: Snapshot, i: int) -> Snapshot:
    """Sync number ``i``: agent-000's active version alternates, a new head each time."""
    number = 1 + i % 2
    target = next(
        s.version
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == ("agent-000", number)
    )
    pointers = [
        dataclasses.replace(
            p, active=ActiveVersion(number, target.config_hash, target.commit), canary=None
        )
        if p.agent == "agent-000"
        else p
        for p in snapshot.pointers
    ]
    return dataclasses.replace(snapshot, pointers=pointers, head_commit=f"{i:040x}")


def free_pg_connections() -> int:
    import psycopg

    with psycopg.connect(PG_DEFAULT, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity"
        ).fetchone()
    return int(row[0]) if row else 0


def propagation(url: str, mode: str, clients: int, syncs: int) -> dict[str, Any]:
    if url.startswith("postgresql") and mode == "listen":
        # Each listening client holds one connection; the server is shared with tests.
        free = free_pg_connections()
        if free < clients + 20:
            raise SystemExit(f"only {free} free PostgreSQL connections for {clients} listeners")
    snapshot = fx.make_snapshot(3, 3, "P")
    store = open_store(url)
    store.sync(snapshot, force=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.bench_propagation", "--client", url, "--mode", mode],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(clients)
    ]
    selector = selectors.DefaultSelector()
    try:
        for proc in procs:
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()
            if first != "ready":
                raise SystemExit(f"a client did not start: {first or 'it exited'}")
            selector.register(proc.stdout, selectors.EVENT_READ, proc)
        last_latency, median_latency = [], []
        for i in range(1, syncs + 1):
            time.sleep(0.05 + (i % 5) * 0.03)  # syncs a little apart, not in phase
            next_snapshot = moved(snapshot, i)
            store.sync(next_snapshot, force=True)
            committed = time.time()
            seen: dict[int, float] = {}
            deadline = time.monotonic() + 30
            while len(seen) < clients and time.monotonic() < deadline:
                for key, _ in selector.select(1.0):
                    line = key.fileobj.readline().split()  # type: ignore[union-attr]
                    if line and line[0] == next_snapshot.head_commit:
                        seen[id(key.data)] = float(line[1])
            if len(seen) < clients:
                raise SystemExit(f"sync {i}: only {len(seen)} of {clients} clients updated")
            delays = sorted(t - committed for t in seen.values())
            last_latency.append(delays[-1])
            median_latency.append(delays[len(delays) // 2])
            print(f"  sync {i:3d}: last client {delays[-1] * 1000:7.1f} ms", end="\r")
        print()
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
        store.close()

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    return {
        "last_p50": statistics.median(last_latency),
        "last_p99": pct(last_latency, 0.99),
        "last_max": max(last_latency),
        "median_client_p50": statistics.median(median_latency),
    }


# -- store load -----------------------------------------------------------------------


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL server process, exited backends included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm not in ("postgres", "postmaster"):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        total += (utime + stime + cutime + cstime) / tick
    return total


def poll_load(url: str, clients: int, seconds: float, pooled: int | None) -> dict[str, float]:
    """``clients`` polls per second for ``seconds``: connect-per-poll, or over ``pooled``
    persistent connections."""
    from agentver.store.changes import _Postgres
    from agentver.store.url import parse_store_url

    pg = _Postgres(parse_store_url(url, Path.cwd()), 2.0, 2.0)
    target = clients * seconds
    done = [0]
    errors = [0]
    lock = threading.Lock()
    workers = pooled or max(8, clients // 20)  # connects take ms: enough in flight
    stop = time.monotonic() + seconds
    interval = workers / clients  # each worker's share of the schedule

    def work(offset: int) -> None:
        conn = pg.connect() if pooled else None
        next_at = time.monotonic() + offset * interval / workers
        while True:
            now = time.monotonic()
            if now >= stop:
                break
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            try:
                if conn is not None:
                    pg.head_on(conn)
                else:
                    pg.head()
                with lock:
                    done[0] += 1
            except Exception:
                with lock:
                    errors[0] += 1
        if conn is not None:
            conn.close()

    cpu_before, wall_before = postgres_cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - wall_before
    cpu = postgres_cpu_seconds() - cpu_before
    return {
        "target_qps": target / seconds,
        "qps": done[0] / wall,
        "errors": errors[0],
        "server_cpu": cpu / wall,  # cores
    }


def start_pgbouncer(
    tmp: Path, database: str, pool_size: int
) -> tuple[subprocess.Popen[bytes], int]:
    """A PgBouncer in transaction mode on a free port, run as the postgres user (it
    refuses root); None when it is not installed."""
    import shutil
    import socket

    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise FileNotFoundError("pgbouncer is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tmp.chmod(0o777)
    (tmp / "users.txt").write_text('"postgres" ""\n')
    (tmp / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{database} = host=127.0.0.1 port=5432 dbname={database}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {tmp / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
        "max_client_conn = 5000\n"
        # libpq options (search_path, statement_timeout) cannot pass a transaction pooler.
        "ignore_startup_parameters = options,extra_float_digits\n"
        f"logfile = {tmp / 'pgbouncer.log'}\n"
    )
    for path in tmp.iterdir():
        path.chmod(0o666)
    proc = subprocess.Popen(
        ["runuser", "-u", "postgres", "--", binary, str(tmp / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"pgbouncer did not start; see {tmp / 'pgbouncer.log'}")


def pgbouncer_cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in [proc.pid, *_children(proc.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:13]) / tick
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    kids = [int(x) for x in text.split()]
    return kids + [g for k in kids for g in _children(k)]


def idle_cpu(seconds: float) -> float:
    before = postgres_cpu_seconds()
    time.sleep(seconds)
    return (postgres_cpu_seconds() - before) / seconds


def pgbouncer_rows(base: str, clients: int, seconds: float) -> list[str]:
    """Connect-per-poll through a real PgBouncer (transaction mode, 4 server connections)
    to a store in the public schema of a database of its own (``?schema=`` travels as a
    startup option, which a transaction pooler drops)."""
    import psycopg

    database = f"agentver_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    base_db = base.rsplit("/", 1)[0] + "/" + database
    try:
        store = open_store(base_db)
        store.sync(fx.make_snapshot(3, 3, "L"), force=True)
        store.close()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                proc, port = start_pgbouncer(Path(tmp), database, 4)
            except (FileNotFoundError, RuntimeError) as exc:
                print(f"load: PgBouncer skipped: {exc}")
                return [f"| through PgBouncer: not measured ({exc}) | | | | |"]
            try:
                url = f"postgresql://postgres@127.0.0.1:{port}/{database}"
                print("load: connect per poll through PgBouncer")
                bouncer_before = pgbouncer_cpu_seconds(proc)
                got = poll_load(url, clients, seconds, None)
                bouncer = (pgbouncer_cpu_seconds(proc) - bouncer_before) / seconds
            finally:
                proc.terminate()
                proc.wait(10)
        row = (
            f"| connect per poll through PgBouncer (transaction mode, 4 server connections)"
            f" | {got['target_qps']:,.0f} | {got['qps']:,.0f} | {got['errors']:.0f}"
            f" | {got['server_cpu']:.2f} (+ PgBouncer {bouncer:.2f}) |"
        )
        print(row)
        return [row]
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


# -- main -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--syncs", type=int, default=100)
    parser.add_argument("--load-clients", type=int, default=1000)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    if args.client:
        return client_main(args.client, args.mode)

    import psycopg

    report = [
        "# Propagation of a sync to a fleet (rewritten by bench/bench_propagation.py)",
        "",
        f"Command: `python -m bench.bench_propagation {' '.join(sys.argv[1:])}`; run"
        f" {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()},"
        f" load average {os.getloadavg()[0]:.1f} before the run, on a shared 2-vCPU machine.",
        "",
    ]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    pg_url = f"{args.pg}?schema={schema}"
    try:
        if not args.load_only:
            report += [
                f"Propagation: {args.clients} client processes, {args.syncs} syncs; from"
                " `sync()` returning to the last client serving the new head (p50/p99 over"
                f" syncs); client resolution {CLIENT_CHECK * 1000:.0f} ms.",
                "",
                "| store | mode | last client p50 | last client p99 | max | median client p50 |",
                "|---|---|---:|---:|---:|---:|",
            ]
            backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
            with tempfile.TemporaryDirectory() as tmp:
                for backend in backends:
                    url = f"sqlite:///{tmp}/runtime.db" if backend == "sqlite" else pg_url
                    mode = args.mode
                    if mode == "auto":
                        mode = "data_version" if backend == "sqlite" else "listen"
                    print(f"{backend} ({mode}): {args.clients} clients, {args.syncs} syncs")
                    got = propagation(url, mode, args.clients, args.syncs)
                    report.append(
                        f"| {backend} | {mode} | {got['last_p50'] * 1000:.0f} ms"
                        f" | {got['last_p99'] * 1000:.0f} ms | {got['last_max'] * 1000:.0f} ms"
                        f" | {got['median_client_p50'] * 1000:.0f} ms |"
                    )
                    print(report[-1])
            report.append("")
        if not args.skip_load:
            store = open_store(pg_url)
            store.sync(fx.make_snapshot(3, 3, "L"), force=True)
            store.close()
            idle = idle_cpu(3.0)
            n = args.load_clients
            report += [
                f"Store load: {n} simulated clients in poll mode, one head-row read per client"
                f" per second, {args.load_seconds:.0f} s each; PostgreSQL server CPU in cores"
                f" (idle server, same run: {idle:.3f} cores).",
                "",
                "| how the clients reach PostgreSQL | target q/s | achieved q/s | errors"
                " | server CPU (cores) |",
                "|---|---:|---:|---:|---:|",
            ]
            for label, pooled in (
                ("connect per poll, straight to PostgreSQL", None),
                ("4 persistent connections (what a pooler holds)", 4),
            ):
                print(f"load: {label}")
                got = poll_load(pg_url, n, args.load_seconds, pooled)
                report.append(
                    f"| {label} | {got['target_qps']:,.0f} | {got['qps']:,.0f} |"
                    f" {got['errors']:.0f} | {got['server_cpu']:.2f} |"
                )
                print(report[-1])
            report += pgbouncer_rows(args.pg, n, args.load_seconds)
            report.append("")
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    text = "\n".join(report) + "\n"
    print(text)
    if not args.no_results:
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
