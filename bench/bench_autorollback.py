"""Time to automatic rollback, end to end: ``python -m bench.bench_autorollback``.

Per run, in a fresh temporary folder: a config repository pushed to a bare remote on
disk, the watcher's own clone, a real store (SQLite file, or a PostgreSQL schema with
``--store postgresql``). ``--clients`` agent processes, each a real RuntimeClient, serve
``--rate`` requests per second in total to random users (one new user per request) and
record every outcome: the stable version fails ``--stable-errors`` of requests, the
canary ``--canary-errors``. A ``canary watch --apply --push --sync --interval I``
process watches. Then the canary starts (``--percent``), is pushed and synced, and
failing from its first request. Measured from that first canary request (t = 0):

- verdict: the watcher logs its rollback verdict;
- commit / push / sync: its pointer commit, the push to the remote, the sync's commit;
- stable: the last agent process stops serving the canary;
- users who saw the bad canary (requests served by it; each request is a new user).

Modes, each with the same traffic:

- ``watch``: the canary rule of ``canary evaluate``; agents refresh on the runtime's
  change feed (LISTEN on PostgreSQL, ``PRAGMA data_version`` on SQLite);
- ``watch+ttl``: the same, agents on TTL polling only (``--ttl``, 30 s by default);
- ``ratio``: close to the original design's plain ratio rule: ``min_requests: 1`` and
  ``alpha: 0.49`` (the largest allowed), so the test barely holds a verdict back;
  change feed. (The rule itself has no "ratio only" setting; bench/canary_sim.py measures
  the plain ratio rule's false rollbacks.)

The results file (``--out``) is rewritten by every run of the bench.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AGENT = "support"
ENV = "production"
BOT = "Canary Bot <canary-bot@example.com>"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
V1 = "model: gpt-4o\nsystem_prompt: You are the support agent. Billing is in scope.\n"
V2 = "model: gpt-4o\nsystem_prompt: You are the support agent.\n"


# -- the agent process -------------------------------------------------------------------


def client_kwargs(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """RuntimeClient options: the runtime's change feed (``mode="auto"``: LISTEN on
    PostgreSQL, ``PRAGMA data_version`` on SQLite) with the TTL as its fallback, or TTL
    polling only for ``watch+ttl``."""
    if mode == "watch+ttl":
        return {"mode": "ttl", "ttl": args.ttl}
    return {"mode": "auto", "ttl": args.ttl}


def run_client(spec: dict[str, Any]) -> int:
    """One agent process: serve at a fixed rate until stdin closes; print events."""
    from agentver.runtime import RuntimeClient

    rng = random.Random(spec["seed"])
    client = RuntimeClient(spec["url"], environment=ENV, **spec["kwargs"])
    period = 1.0 / spec["rate"]
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print(json.dumps({"event": "ready"}), flush=True)
    canary_requests = canary_errors = requests = 0
    first_canary: float | None = None
    stable_at: float | None = None
    next_at = time.monotonic()
    while not stop.is_set():
        user = f"u{spec['seed']}-{requests}"
        resolved = client.resolve(AGENT, user)
        now = time.time()
        requests += 1
        if resolved.variant == "canary":
            failed = rng.random() < spec["canary_errors"]
            canary_requests += 1
            canary_errors += failed
            if first_canary is None:
                first_canary = now
                print(json.dumps({"event": "canary", "at": now}), flush=True)
        else:
            failed = rng.random() < spec["stable_errors"]
        client.record_outcome(resolved, ok=not failed)
        if first_canary is not None and stable_at is None and client.agents()[AGENT].canary is None:
            stable_at = now
            print(json.dumps({"event": "stable", "at": now}), flush=True)
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    client.close()
    print(
        json.dumps(
            {
                "event": "done",
                "requests": requests,
                "canary_requests": canary_requests,
                "canary_errors": canary_errors,
            }
        ),
        flush=True,
    )
    return 0


# -- one run -----------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _agentver(cwd: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "agentver", *args], cwd=cwd, check=True, capture_output=True
    )


@dataclass
class Run:
    mode: str
    t0: float | None = None  # first canary request
    times: dict[str, float] = field(default_factory=dict)  # event -> seconds after t0
    canary_requests: int = 0
    canary_errors: int = 0
    requests: int = 0
    timed_out: bool = False


def one_run(args: argparse.Namespace, mode: str, seed: int) -> Run:
    run = Run(mode)
    folder = Path(tempfile.mkdtemp(prefix="bench-autorollback-"))
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = (
        f"sqlite:///{folder / 'runtime.db'}"
        if args.store == "sqlite"
        else f"{PG_BASE}?schema={schema}"
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        person = folder / "person"
        person.mkdir()
        _git(person, "init", "-q", "-b", "main")
        settings = {"canary": {"min_requests": 1, "alpha": 0.49}} if mode == "ratio" else {}
        (person / "agentver.yaml").write_text(json.dumps(settings) + "\n")
        (person / "agents").mkdir()
        for text, message in ((V1, "v1"), (V2, "v2")):
            (person / "agents" / f"{AGENT}.yaml").write_text(text)
            _git(person, "add", "-A")
            _git(person, "commit", "-q", "-m", message)
        _agentver(person, "deploy", AGENT, "1")
        remote = folder / "remote.git"
        _git(folder, "init", "-q", "--bare", "-b", "main", str(remote))
        _git(person, "remote", "add", "origin", str(remote))
        _git(person, "push", "-q", "origin", "main")
        _git(folder, "clone", "-q", str(remote), str(folder / "watcher"))
        _agentver(person, "sync", "--store", url)

        kwargs = client_kwargs(args, mode)
        lines: list[tuple[int, dict[str, Any]]] = []
        lock = threading.Lock()

        def reader(index: int, proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                with lock:
                    lines.append((index, json.loads(line)))

        for index in range(args.clients):
            spec = {
                "url": url,
                "seed": seed * 1000 + index,
                "rate": args.rate / args.clients,
                "stable_errors": args.stable_errors,
                "canary_errors": args.canary_errors,
                "kwargs": kwargs,
            }
            proc = subprocess.Popen(
                [sys.executable, __file__, "--client", json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            threading.Thread(target=reader, args=(index, proc), daemon=True).start()
        watcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentver",
                "-C",
                str(folder / "watcher"),
                "canary",
                "watch",
                "--apply",
                "--push",
                "--sync",
                "--json",
                "--interval",
                args.interval,
                "--store",
                url,
                "--author",
                BOT,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(watcher)
        threading.Thread(target=reader, args=(-1, watcher), daemon=True).start()
        deadline = time.monotonic() + 60
        while sum(1 for i, e in lines if e["event"] == "ready") < args.clients:
            if time.monotonic() > deadline:
                raise RuntimeError("agent processes did not start")
            time.sleep(0.05)
        time.sleep(1.0)  # stable traffic before the canary
        _agentver(person, "canary", "start", AGENT, "2", "--percent", str(args.percent))
        _git(person, "push", "-q", "origin", "main")
        _agentver(person, "sync", "--store", url)

        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with lock:
                stable = {i for i, e in lines if e["event"] == "stable"}
                synced = any(i == -1 and e["event"] == "sync" for i, e in lines)
            if synced and len(stable) == args.clients:
                break
            time.sleep(0.1)
        else:
            run.timed_out = True
        watcher.send_signal(signal.SIGTERM)
        for proc in procs[:-1]:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=60)
        time.sleep(0.2)  # the readers drain the last lines
        with lock:
            events = list(lines)
        starts = [e["at"] for i, e in events if e["event"] == "canary"]
        if not starts:
            run.timed_out = True
            return run
        run.t0 = min(starts)
        for index, event in events:
            if index == -1 and event["event"] in ("verdict", "commit", "push", "sync"):
                if event["event"] == "verdict" and event.get("verdict") != "rollback":
                    continue
                name = event["event"]
                if name not in run.times:
                    run.times[name] = _epoch(event["at"]) - run.t0
            elif event["event"] == "done":
                run.requests += event["requests"]
                run.canary_requests += event["canary_requests"]
                run.canary_errors += event["canary_errors"]
        stable_times = [e["at"] for i, e in events if e["event"] == "stable"]
        if len(stable_times) == args.clients:
            run.times["stable"] = max(stable_times) - run.t0
        return run
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
        if args.store == "postgresql":
            import psycopg

            with psycopg.connect(PG_BASE, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _epoch(at: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


# -- report ------------------------------------------------------------------------------


STEPS = ("verdict", "commit", "push", "sync", "stable")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(runs: list[Run]) -> dict[str, Any]:
    done = [r for r in runs if not r.timed_out and "stable" in r.times]
    row: dict[str, Any] = {"runs": len(runs), "completed": len(done)}
    for step in STEPS:
        values = [r.times[step] for r in done if step in r.times]
        row[step] = (statistics.median(values), _pct(values, 0.95)) if values else None
    users = [r.canary_requests for r in done]
    row["users"] = (statistics.median(users), _pct(users, 0.95)) if users else None
    failed = [r.canary_errors for r in done]
    row["failed"] = (statistics.median(failed), _pct(failed, 0.95)) if failed else None
    return row


def report(args: argparse.Namespace, results: dict[str, list[Run]], elapsed: float) -> str:
    labels = {
        "watch": "canary watch, agents on the change feed",
        "watch+ttl": f"canary watch, agents on TTL polling only ({args.ttl:g} s)",
        "ratio": "near-plain ratio rule (min_requests 1, alpha 0.49), change feed",
    }
    feed = "LISTEN/NOTIFY" if args.store == "postgresql" else "PRAGMA data_version polling"
    lines = [
        "# Automatic rollback, end to end: results",
        "",
        "Rewritten by every run of the bench. Command:",
        "",
        "```",
        "python -m bench.bench_autorollback " + " ".join(sys.argv[1:]),
        "```",
        "",
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores (shared "
        f"with other work), git {_git(ROOT, 'version').split()[-1]}, store: {args.store}. "
        f"{args.rate:g} requests/s from {args.clients} agent processes, canary at "
        f"{args.percent}%, stable fails {args.stable_errors:.0%}, canary "
        f"{args.canary_errors:.0%} from its first request; watcher --interval "
        f"{args.interval} --apply --push --sync (bare remote on disk). Change feed: "
        f"{feed} (RuntimeClient mode auto). Each run starts cold: new repository, store and processes.",
        "",
        "Seconds from the first canary request to each step, median / p95 over the "
        "completed runs; users = requests served by the bad canary (one user each), "
        "failed = those that failed.",
        "",
        "| mode | runs | verdict | commit | push | sync | last agent stable | users | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, runs in results.items():
        row = summarize(runs)

        def cell(value: Any, fmt: str = ".1f") -> str:
            return "-" if value is None else f"{value[0]:{fmt}} / {value[1]:{fmt}}"

        lines.append(
            f"| {labels[mode]} | {row['completed']}/{row['runs']} | "
            + " | ".join(cell(row[step]) for step in STEPS)
            + f" | {cell(row['users'], '.0f')} | {cell(row['failed'], '.0f')} |"
        )
    lines += ["", f"Total bench time {elapsed:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--modes", default="watch,watch+ttl,ratio")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--percent", default="10")
    parser.add_argument("--stable-errors", type=float, default=0.02)
    parser.add_argument("--canary-errors", type=float, default=0.20)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-autorollback.md")
    args = parser.parse_args(argv)
    if args.client:
        return run_client(json.loads(args.client))
    started = time.monotonic()
    results: dict[str, list[Run]] = {}
    for mode in args.modes.split(","):
        results[mode] = []
        for number in range(args.runs):
            run = one_run(args, mode, number)
            results[mode].append(run)
            times = ", ".join(f"{k} {v:.1f}" for k, v in run.times.items())
            status = "TIMEOUT " if run.timed_out else ""
            print(
                f"{mode} run {number + 1}: {status}{times}; {run.canary_requests} canary users",
                flush=True,
            )
    text = report(args, results, time.monotonic() - started)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
