"""Runtime store benchmark: ``python -m bench.bench_store [--pg URL] [--skip-pg]``.

1. sync of 100 agents x 100 versions (2 KB prompts, 2 environments) into an empty store,
   then a re-sync with nothing new, on SQLite and PostgreSQL;
2. RuntimeClient.resolve throughput in one process with a warm cache;
3. ``--cli-resync``: ``agentver sync`` run again with nothing new, through the CLI, on a
   generated repository (agents x versions commits): the head-row fast path against the
   full comparison (``sync --force``, same work as before the fast path), interleaved.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

from agentver.models import Flag
from agentver.runtime import RuntimeClient
from agentver.store import Snapshot, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import store_kill_driver as fx  # type: ignore[import-not-found]

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def bench_sync(url: str, snapshot: Snapshot) -> dict[str, float]:
    store = open_store(url)
    started = time.perf_counter()
    plan = store.sync(snapshot)
    cold = time.perf_counter() - started
    assert plan.applied and len(plan.new_versions) == len(snapshot.versions)
    started = time.perf_counter()
    again = store.sync(snapshot)
    warm = time.perf_counter() - started
    assert again.nothing_to_do
    started = time.perf_counter()
    store.load_runtime_state("production")
    load = time.perf_counter() - started
    store.close()
    return {"cold": cold, "resync": warm, "load": load}


def bench_resolve(url: str, n: int) -> dict[str, float]:
    results = {}
    with RuntimeClient(url, ttl=3600) as client:
        cases = {
            "no canary, no flags": "agent-001",
            "canary": "agent-002",
            "canary + percent flag": "agent-000",
        }
        users = [f"user-{i}" for i in range(n)]
        for label, agent in cases.items():
            for user in users[:1000]:  # warm the per-variant templates
                client.resolve(agent, user)
            started = time.perf_counter()
            for user in users:
                client.resolve(agent, user)
            results[label] = n / (time.perf_counter() - started)
    return results


def resolve_snapshot() -> Snapshot:
    """Three agents: with canary and flag, plain, with canary only."""
    snapshot: Snapshot = fx.make_snapshot(3, 4, "R")
    pointers = []
    for p in snapshot.pointers:
        if p.agent == "agent-001":
            p = dataclasses.replace(p, canary=None, flags={})
        elif p.agent == "agent-002":
            canary_src = next(q for q in snapshot.pointers if q.agent == "agent-000")
            assert canary_src.canary is not None
            p = dataclasses.replace(
                p,
                canary=dataclasses.replace(
                    canary_src.canary,
                    config_hash=_hash(snapshot, "agent-002", 4),
                    commit=_commit(snapshot, "agent-002", 4),
                ),
                flags={},
            )
        else:
            p = dataclasses.replace(p, flags={"beta": Flag(name="beta", percent_bp=2000)})
        pointers.append(p)
    return dataclasses.replace(snapshot, pointers=pointers)


def _hash(snapshot: Snapshot, agent: str, number: int) -> str:
    return next(
        s.version.config_hash
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == (agent, number)
    )


def _commit(snapshot: Snapshot, agent: str, number: int) -> str:
    return next(
        s.version.commit
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == (agent, number)
    )


def generated_repo(root: Path, agents: int, versions: int) -> None:
    """One commit per (version, agent), ~1 KB prompts, built with git fast-import."""
    import subprocess

    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream: list[bytes] = []
    mark = 0
    for version in range(1, versions + 1):
        for agent in range(agents):
            mark += 1
            prompt = f"You are agent {agent}, version {version}. " + "Help with billing. " * 50
            files = [
                (f"agents/agent-{agent:03d}.yaml", f"model: gpt-4o\nsystem_prompt: {prompt}\n")
            ]
            if mark == 1:
                files.append(("agentver.yaml", "environments: [production]\n"))
            stream.append(f"commit refs/heads/main\nmark :{mark}\n".encode())
            stream.append(f"committer B <b@example.com> {1767225600 + mark} +0000\n".encode())
            stream.append(b"data 2\nc\n" + (f"from :{mark - 1}\n".encode() if mark > 1 else b""))
            for path, text in files:
                data = text.encode()
                stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=root, check=True)


def bench_cli_resync(agents: int, versions: int, repeats: int = 5) -> dict[str, float]:
    """Median seconds of ``agentver sync`` with nothing new: fast path, full compare,
    and ``agentver --version`` (the interpreter and CLI start-up in both)."""
    import os
    import statistics
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        generated_repo(root, agents, versions)
        url = f"sqlite:///{tmp}/runtime.db"
        env = {**os.environ, "NO_COLOR": "1"}

        def timed(*argv: str) -> float:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "agentver", "-C", str(root), *argv],
                env=env,
                capture_output=True,
                check=True,
            )
            return time.perf_counter() - started

        first = timed("sync", "--store", url)
        runs: dict[str, list[float]] = {"fast": [], "full": [], "startup": []}
        for _ in range(repeats):
            runs["fast"].append(timed("sync", "--store", url))
            runs["full"].append(timed("sync", "--force", "--store", url))
            runs["startup"].append(timed("--version"))
        figures = {name: statistics.median(values) for name, values in runs.items()}
        figures["first"] = first
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL (a schema is added)")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--resolves", type=int, default=300_000)
    parser.add_argument(
        "--cli-resync",
        metavar="AGENTSxVERSIONS",
        help="only the CLI re-sync benchmark, e.g. 100x20",
    )
    args = parser.parse_args()
    if args.cli_resync:
        agents, versions = (int(n) for n in args.cli_resync.split("x"))
        figures = bench_cli_resync(agents, versions)
        print(
            f"{agents * versions} versions: first sync {figures['first']:.2f}s; re-sync,"
            f" nothing new (median of 5): head-row fast path {figures['fast']:.2f}s,"
            f" full compare {figures['full']:.2f}s, start-up alone {figures['startup']:.2f}s"
        )
        return 0

    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}")
    snapshot = fx.make_snapshot(args.agents, args.versions, "BENCH", prompt_size=2000)
    print(f"snapshot: {len(snapshot.versions)} versions, {len(snapshot.pointers)} pointers")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{tmp}/runtime.db"
        figures = bench_sync(sqlite_url, snapshot)
        print(
            f"sqlite      sync cold {figures['cold']:.2f}s  re-sync (no change)"
            f" {figures['resync']:.2f}s  runtime load {figures['load'] * 1000:.1f}ms"
        )
        if not args.skip_pg:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            pg_url = f"{args.pg}?schema={schema}"
            try:
                figures = bench_sync(pg_url, snapshot)
                print(
                    f"postgresql  sync cold {figures['cold']:.2f}s  re-sync (no change)"
                    f" {figures['resync']:.2f}s  runtime load {figures['load'] * 1000:.1f}ms"
                )
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        resolve_url = f"sqlite:///{tmp}/resolve.db"
        store = open_store(resolve_url)
        store.sync(resolve_snapshot())
        store.close()
        for label, rate in bench_resolve(resolve_url, args.resolves).items():
            print(f"resolve, warm cache, {label:<22} {rate:>10,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
