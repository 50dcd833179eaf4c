"""Benchmark versions from git history at scale (issue 3).

    python -m bench.bench_history [--runs N] [--cold-runs N] [--rebuild] [--no-write]

Builds (once, with ``git fast-import``) a synthetic config repository in
``bench/.work/history-repo``: 100 agents, 10,000 commits on first-parent history, ~80%
changing two agents' configs, ~10% formatting/comment-only edits, ~10% touching unrelated
files (~160 versions per agent). Then measures, as the median of N runs of
``time.perf_counter`` around ``subprocess.run``:

    (a) git log --format=%H -- agents/<one>.yaml
    (b) a bare Typer app that only prints (bench/.work/bare_typer.py, same python)
    (c) agentver history <one> --json, cold (.git/agentver-cache deleted before each run;
        git's commit-graph already present: the first-ever run writes it, ~0.3 s once)
    (d) the same, warm
    (e) agentver list --json, warm
    (f) agentver diff <one> 1 <latest> --format json, warm

    (g) agentver show <one> --json, warm

and checks the targets (c) <= (a) + (b) + 100 ms; (d), (e), (g) <= (b) + 40 ms;
(f) <= (b) + 120 ms. Writes the table to bench/RESULTS-history.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
REPO = WORK / "history-repo"
BARE_TYPER = WORK / "bare_typer.py"
RESULTS = HERE / "RESULTS-history.md"
AGENTS = 100
COMMITS = 10_000
SEED = 20260101
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
ONE = "agent-042"
LAYOUT_VERSION = "1"  # bump to force a rebuild when the generator changes

BARE_TYPER_SOURCE = """\
import typer

app = typer.Typer()


@app.command()
def main() -> None:
    print("hello")


app()
"""

PROMPT_BODY = (
    "You are the {name} agent for Acme Corp. Answer politely and concisely.\n"
    "\n"
    "You can answer billing questions and look up invoices for the signed-in customer.\n"
    "Never reveal card numbers, passwords or internal ticket notes.\n"
    "Escalate angry customers to a human within two replies.\n"
    "\n"
    "Policy revision {revision}: follow the current refund policy, section {section}.\n"
)


def agent_yaml(name: str, revision: int, comment: int) -> bytes:
    """One agent file; ``revision`` changes the hash, ``comment`` only the formatting."""
    prompt = PROMPT_BODY.format(name=name, revision=revision, section=revision % 17 + 1)
    indented = "".join(f"  {line}\n" if line else "\n" for line in prompt.splitlines())
    text = (
        f"# {name}: reviewed {comment} time(s)\n"
        f"description: The {name} agent\n"
        "model: gpt-4o\n"
        f"temperature: {(revision % 10) / 10}\n"
        "max_tokens: 4096\n"
        "tools: [search_kb, create_ticket]\n"
        "guardrails: {pii_redaction: true}\n"
        "system_prompt: |\n" + indented
    )
    return text.encode()


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def build_repo(path: Path) -> None:
    """Write the synthetic history with one ``git fast-import`` stream."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    rng = random.Random(SEED)
    names = [f"agent-{i:03d}" for i in range(AGENTS)]
    revision = dict.fromkeys(names, 1)
    comment = dict.fromkeys(names, 0)
    chunks: list[bytes] = []

    def commit(mark: int, message: str, files: list[tuple[str, bytes]]) -> None:
        stamp = EPOCH + mark * 60
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(b"mark :%d\n" % mark)
        who = f"Bench Author <bench@example.com> {stamp} +0000\n".encode()
        chunks.append(b"author " + who)
        chunks.append(b"committer " + who)
        chunks.append(_data(message.encode()))
        if mark > 1:
            chunks.append(b"from :%d\n" % (mark - 1))
        for file_path, payload in files:
            chunks.append(f"M 100644 inline {file_path}\n".encode())
            chunks.append(_data(payload))

    commit(
        1,
        "Add 100 agents",
        [(f"agents/{n}.yaml", agent_yaml(n, 1, 0)) for n in names]
        + [("README.md", b"# configs\n")],
    )
    for mark in range(2, COMMITS + 1):
        roll = rng.random()
        if roll < 0.8:
            changed = rng.sample(names, 2)
            files = []
            for name in changed:
                revision[name] += 1
                files.append(
                    (f"agents/{name}.yaml", agent_yaml(name, revision[name], comment[name]))
                )
            commit(mark, f"Tune {' and '.join(changed)}", files)
        elif roll < 0.9:
            name = rng.choice(names)
            comment[name] += 1
            payload = agent_yaml(name, revision[name], comment[name])
            commit(mark, f"Reformat {name}", [(f"agents/{name}.yaml", payload)])
        else:
            note = f"notes/note-{mark % 50}.md"
            commit(mark, f"Update {note}", [(note, f"note {mark}\n".encode())])
    stream = b"".join(chunks)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True)
    (path / ".git" / "bench-layout").write_text(LAYOUT_VERSION)


@dataclass
class Figure:
    key: str
    label: str
    runs: list[tuple[float, float]]  # (wall ms, child CPU ms) per run

    @property
    def median(self) -> float:
        return statistics.median(wall for wall, _ in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(cpu for _, cpu in self.runs)


def child_env() -> dict[str, str]:
    """Like an installed tool: byte-code caches on (this sandbox exports
    PYTHONDONTWRITEBYTECODE=1, which would recompile every agentver module on every run);
    they go to bench/.work/pycache so the source tree stays clean."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPYCACHEPREFIX": str(WORK / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(
    command: Sequence[str], runs: int, before: Callable[[], None] | None = None
) -> list[tuple[float, float]]:
    env = child_env()
    times = []
    for _ in range(runs):
        if before:
            before()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True)
        elapsed = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime) * 1000
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr.decode()}")
        times.append((elapsed, cpu))
    return times


def drop_cache() -> None:
    shutil.rmtree(REPO / ".git" / "agentver-cache", ignore_errors=True)


def commit_graph_present() -> bool:
    info = REPO / ".git" / "objects" / "info"
    return (info / "commit-graph").exists() or (info / "commit-graphs").exists()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="runs per warm figure (median)")
    parser.add_argument("--cold-runs", type=int, default=7, help="runs of the cold figure")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic repo")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    BARE_TYPER.write_text(BARE_TYPER_SOURCE)
    layout = REPO / ".git" / "bench-layout"
    if args.rebuild or not layout.exists() or layout.read_text() != LAYOUT_VERSION:
        started = time.perf_counter()
        build_repo(REPO)
        print(f"built {REPO} in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    agentver = [sys.executable, "-m", "agentver"]
    git_log = ["git", "log", "--format=%H", "--", f"agents/{ONE}.yaml"]

    # Without a commit-graph first (what a fresh clone sees), for reference.
    for graph in (REPO / ".git" / "objects" / "info").glob("commit-graph*"):
        if graph.is_dir():
            shutil.rmtree(graph)
        else:
            graph.unlink()
    measure(git_log, 1)
    a_no_graph = Figure("a0", "git log, no commit-graph", measure(git_log, max(3, args.cold_runs)))

    # The first agentver run writes the commit-graph (once); everything below has it.
    drop_cache()
    first = measure([*agentver, "history", ONE, "--json"], 1)[0][0]
    assert commit_graph_present(), "agentver did not write the commit-graph"

    proc = subprocess.run(
        [*agentver, "history", ONE, "--json"],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        check=True,
    )
    versions = json.loads(proc.stdout)["versions"]
    latest = versions[0]["version"]

    measure(["git", "log", "-1"], 1)
    measure([sys.executable, str(BARE_TYPER)], 2)  # warm the OS cache and .pyc files
    figures = {
        "a": Figure("a", f"git log --format=%H -- agents/{ONE}.yaml", measure(git_log, args.runs)),
        "b": Figure(
            "b", "bare Typer app (prints)", measure([sys.executable, str(BARE_TYPER)], args.runs)
        ),
        "c": Figure(
            "c",
            f"agentver history {ONE} --json (cold)",
            measure([*agentver, "history", ONE, "--json"], args.cold_runs, before=drop_cache),
        ),
    }
    measure([*agentver, "history", ONE, "--json"], 1)
    figures["d"] = Figure(
        "d",
        f"agentver history {ONE} --json (warm)",
        measure([*agentver, "history", ONE, "--json"], args.runs),
    )
    measure([*agentver, "list", "--json"], 1)
    figures["e"] = Figure(
        "e", "agentver list --json (warm)", measure([*agentver, "list", "--json"], args.runs)
    )
    show_cmd = [*agentver, "show", ONE, "--json"]
    measure(show_cmd, 1)
    figures["g"] = Figure("g", f"agentver show {ONE} --json (warm)", measure(show_cmd, args.runs))
    diff_cmd = [*agentver, "diff", ONE, "1", str(latest), "--format", "json"]
    measure(diff_cmd, 1)
    figures["f"] = Figure(
        "f", f"agentver diff {ONE} 1 {latest} --format json (warm)", measure(diff_cmd, args.runs)
    )

    # Issue 16's targets: Typer start-up (b) plus a small budget; cold also pays git log.
    slack = {"c": 100, "d": 40, "e": 40, "g": 40, "f": 120}
    target_text = {k: ("(a)+" if k == "c" else "") + f"(b)+{v}" for k, v in slack.items()}

    def target(key: str, cpu: bool) -> float:
        a = figures["a"].cpu if cpu else figures["a"].median
        b = figures["b"].cpu if cpu else figures["b"].median
        return (a if key == "c" else 0) + b + slack[key]

    a, b = figures["a"].median, figures["b"].median
    lines = [
        "| | command | wall median ms | wall min ms | target (wall) ms | wall | "
        "CPU median ms | target (CPU) ms | CPU | wall / (a) | wall / (b) |",
        "|---|---|---:|---:|---|---|---:|---:|---|---:|---:|",
    ]
    failed = []
    for key, fig in figures.items():
        cells = ["", "", "", ""]
        if key in slack:
            wall_target, cpu_target = target(key, False), target(key, True)
            wall_ok, cpu_ok = fig.median <= wall_target, fig.cpu <= cpu_target
            if not wall_ok:
                failed.append(f"({key}) wall")
            if not cpu_ok:
                failed.append(f"({key}) CPU")
            cells = [
                f"{target_text[key]} = {wall_target:.0f}",
                "pass" if wall_ok else "FAIL",
                f"{cpu_target:.0f}",
                "pass" if cpu_ok else "FAIL",
            ]
        lines.append(
            f"| ({key}) | `{fig.label}` | {fig.median:.0f} | {min(w for w, _ in fig.runs):.0f} | "
            f"{cells[0]} | {cells[1]} | {fig.cpu:.0f} | {cells[2]} | {cells[3]} | "
            f"{fig.median / a:.1f} | {fig.median / b:.2f} |"
        )
    load = os.getloadavg()
    a_no_graph_text = f"{a_no_graph.median:.0f}"
    notes = [
        f"- repository: {AGENTS} agents, {COMMITS} first-parent commits, "
        f"{len(versions)} versions of {ONE} (built with git fast-import, seed {SEED})",
        f"- (a) without a commit-graph (a fresh clone): median {a_no_graph_text} ms; "
        f"(a) in the table is with the commit-graph agentver writes on first use",
        f"- first agentver run ever (writes the commit-graph, then computes): {first:.0f} ms",
        "- (c) deletes .git/agentver-cache before each run; the commit-graph is already present",
        f"- runs: {args.runs} per warm figure, {args.cold_runs} cold; wall = median of "
        "perf_counter around subprocess.run; CPU = median user+sys of the child process "
        "(getrusage), which a busy machine inflates far less than wall time",
        "- children run with byte-code caching on (PYTHONPYCACHEPREFIX=bench/.work/pycache), "
        "as an installed tool would",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}; "
        f"load average during the run {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}",
    ]
    table = "\n".join(lines)
    print(table)
    print("\n".join(notes))
    if not args.no_write:
        RESULTS.write_text(
            "# History benchmark\n\n"
            "Command: `.venv/bin/python -m bench.bench_history`\n\n"
            f"{table}\n\n"
            + "\n".join(notes)
            + "\n"
            + (f"\nFailed targets: {', '.join(failed)}\n" if failed else "\nAll targets met.\n")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
