"""Benchmark `agentver sync` against its floor, side by side in one run (issue 16).

    python -m bench.bench_sync [--runs N] [--no-write]

On the synthetic 10,000-commit repository of bench/bench_history.py (built once), with
a SQLite store, measures as medians of N runs (wall and child CPU):

    (F) the floor: bench/floor.py (git log --raw + git cat-file --batch + libyaml's C
        loader and sha256 of every agent blob), in its own Python process
    (T) a bare Typer app that only prints (Python and Typer start-up)
    (1) agentver sync, cold: no caches under .git/agentver-cache, a new store (its
        runs alternate with the floor's)
    (2) agentver sync to a new store, history caches warm
    (3) agentver sync again, nothing new
    (3f) the same with --force: every stored row compared with git (no fast path)
    (4) agentver sync after one new commit (one agent changed)

(T) alternates with (3), (3f) and (4) run by run, as (F) does with (1).

Targets: (1) <= 1.3 x (F); (3) <= (T) + 100 ms; (4) <= (T) + 250 ms.
Writes bench/RESULTS-sync.md. ``AGENTVER_JOBS=1`` in the environment shows the cold
sync on one core (the default uses every core the process may run on).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.bench_history import (
    BARE_TYPER,
    BARE_TYPER_SOURCE,
    LAYOUT_VERSION,
    REPO,
    WORK,
    agent_yaml,
    build_repo,
    child_env,
    drop_cache,
    measure,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS-sync.md"
STORE = REPO / ".agentver" / "runtime.db"


def drop_store() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{STORE}{suffix}").unlink(missing_ok=True)


def cold() -> None:
    drop_cache()
    drop_store()


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


_bumps = [0]


def one_new_commit() -> None:
    """Commit one changed agent file (untimed), as a merged pull request would."""
    _bumps[0] += 1
    path = REPO / "agents" / "agent-007.yaml"
    path.write_bytes(agent_yaml("agent-007", 100_000 + _bumps[0], 0))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", "add", "agents/agent-007.yaml"], cwd=REPO, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "-m", "bench: one change"], cwd=REPO, check=True, env=env
    )


def median(runs: list[tuple[float, float]], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    BARE_TYPER.write_text(BARE_TYPER_SOURCE)
    layout = REPO / ".git" / "bench-layout"
    if not layout.exists() or layout.read_text() != LAYOUT_VERSION:
        build_repo(REPO)
    main_commit = git("rev-parse", "main")
    git("checkout", "-q", "-B", "bench-sync", main_commit)
    agentver = [sys.executable, "-m", "agentver", "sync"]
    try:
        measure([sys.executable, str(BARE_TYPER)], 2)  # warm the OS cache and .pyc files
        floor_script = [sys.executable, str(HERE / "floor.py")]
        measure(floor_script, 1)
        figures: dict[str, tuple[str, list[tuple[float, float]]]] = {}
        floor_runs = []
        floor_steps = []
        cold_runs: list[tuple[float, float]] = []
        env = child_env()
        # The floor and the cold sync alternate, run by run: on a shared machine the speed
        # drifts by 30% within a minute, and blocks of runs measured apart would carry
        # that drift into the ratio.
        for _ in range(args.runs):
            start = time.perf_counter()
            proc = subprocess.run(
                floor_script,
                cwd=REPO,
                env=env,
                capture_output=True,
                check=True,
            )
            floor_runs.append(((time.perf_counter() - start) * 1000, 0.0))
            floor_steps.append(json.loads(proc.stdout))
            cold_runs += measure(agentver, 1, before=cold)
        figures["F"] = ("floor: git log --raw + cat-file --batch + C YAML + sha256", floor_runs)
        figures["1"] = ("agentver sync, cold (no caches, new store)", cold_runs)
        figures["2"] = (
            "agentver sync, new store, warm caches",
            measure(agentver, args.runs, before=drop_store),
        )
        # (T) is the baseline of (3), (3f) and (4): it alternates with them run by run.
        bare_typer = [sys.executable, str(BARE_TYPER)]
        typer_runs: list[tuple[float, float]] = []
        rows: dict[str, list[tuple[float, float]]] = {"3": [], "3f": [], "4": []}
        for _ in range(args.runs):
            typer_runs += measure(bare_typer, 1)
            rows["3"] += measure(agentver, 1)
            rows["3f"] += measure([*agentver, "--force"], 1)
            rows["4"] += measure(agentver, 1, before=one_new_commit)
        figures["T"] = ("bare Typer app (prints)", typer_runs)
        figures["3"] = ("agentver sync, nothing new", rows["3"])
        figures["3f"] = (
            "agentver sync --force, nothing new (full comparison, no fast path)",
            rows["3f"],
        )
        figures["4"] = ("agentver sync after one new commit", rows["4"])
    finally:
        git("checkout", "-q", "main")
        git("branch", "-q", "-D", "bench-sync")
        drop_store()

    floor = median(figures["F"][1], 0)
    typer = median(figures["T"][1], 0)
    targets = {
        "1": ("1.3 x (F)", 1.3 * floor),
        "3": ("(T)+100", typer + 100),
        "4": ("(T)+250", typer + 250),
    }
    lines = [
        "| | what | wall median ms | wall min ms | CPU median ms | target ms | result | / (F) | / (T) |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    failed = []
    for key in ("F", "T", "1", "2", "3", "3f", "4"):
        label, runs = figures[key]
        wall = median(runs, 0)
        target = ""
        result = ""
        if key in targets:
            text, limit = targets[key]
            target = f"{text} = {limit:.0f}"
            result = "pass" if wall <= limit else "FAIL"
            if result == "FAIL":
                failed.append(key)
        cpu = "" if key == "F" else f"{median(runs, 1):.0f}"
        lines.append(
            f"| ({key}) | {label} | {wall:.0f} | {min(r[0] for r in runs):.0f} | {cpu} | "
            f"{target} | {result} | {wall / floor:.2f} | {wall / typer:.2f} |"
        )
    steps = {k: statistics.median(s[k] for s in floor_steps) for k in floor_steps[0]}
    pairs = [c[0] / f[0] for c, f in zip(figures["1"][1], figures["F"][1], strict=True)]
    load = os.getloadavg()
    notes = [
        f"- floor steps (median ms): git log {steps['git_log_ms']:.0f}, cat-file "
        f"{steps['cat_file_ms']:.0f}, parse + hash {steps['parse_hash_ms']:.0f} of "
        f"{steps['blobs']:.0f} blobs",
        "- (1) deletes .git/agentver-cache and the store before each run (caches cold; "
        "the OS page cache is warm: every figure here reads the same files)",
        "- (F) and (1) alternate run by run; (1) / (F) of each pair: "
        + ", ".join(f"{ratio:.2f}" for ratio in pairs)
        + f" (median {statistics.median(pairs):.2f})",
        "- (T), (3), (3f) and (4) alternate run by run",
        "- (4) commits one changed agent (untimed) before each run; the store is one commit behind",
        f"- jobs: {os.environ.get('AGENTVER_JOBS', 'all cores')}; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}",
    ]
    table = "\n".join(lines)
    print(table)
    print("\n".join(notes))
    if not args.no_write:
        RESULTS.write_text(
            "# Sync benchmark\n\nCommand: `.venv/bin/python -m bench.bench_sync"
            f"{'' if args.runs == 5 else f' --runs {args.runs}'}`; run "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC\n\n"
            f"{table}\n\n"
            + "\n".join(notes)
            + "\n"
            + (f"\nFailed targets: {', '.join(failed)}\n" if failed else "\nAll targets met.\n")
        )
    shutil.rmtree(REPO / ".agentver", ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
