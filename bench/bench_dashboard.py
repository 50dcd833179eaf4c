"""Benchmark the dashboard's pages server-side (issue 17).

    python -m bench.bench_dashboard [--runs N] [--rebuild] [--no-write]

Builds (once) bench/.work/dashboard-repo: the synthetic history of bench_history (100
agents, 10,000 commits, ~160 versions per agent) plus a production pointer for every
agent (a deploy each, a 10% canary on every tenth agent, through the library) and a
SQLite store synced from it. Then serves requests in-process through Starlette's test
client (the ASGI app itself: routing, library calls, templates; no socket) and reports
the median of N runs with warm caches (one request first warms the history cache under
.git/agentver-cache and the parse cache), against baselines measured in the same run:

    (a) a near-empty request: GET /api/canary/<agent> for an agent without a canary
        (open the repository, read one pointer, JSON): the fixed cost of any page
    (b) the overview's data without HTML and without the server's in-memory versions:
        Workspace.open, every agent's versions from the on-disk history cache, every
        pointer, one `git status` for uncommitted pointers, the store's pointers
    (c) GET /            the overview of 100 agents x 160 versions (target < 300 ms);
        the server keeps every agent's versions in memory until HEAD moves
    (c0) GET / on a new server (or right after HEAD moved): only on-disk caches warm
    (d) GET /agents/<one>/diff?a=1&b=<latest>   (target < 200 ms)
    (e) GET /agents/<one>       the agent page: 160-version timeline, events, charts

Writes the table to bench/RESULTS-dashboard.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import bench_history

HERE = Path(__file__).resolve().parent
REPO = HERE / ".work" / "dashboard-repo"
RESULTS = HERE / "RESULTS-dashboard.md"
ONE = bench_history.ONE
LAYOUT = "1"
TARGETS = {"overview": 300.0, "diff": 200.0}


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench Author",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench Author",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }


def build(rebuild: bool) -> None:
    marker = REPO / ".git" / "bench-dashboard-layout"
    if not rebuild and marker.exists() and marker.read_text() == LAYOUT:
        return
    bench_history.build_repo(REPO)
    os.environ.update(_env())
    from agentver.deploy import canary_start, deploy
    from agentver.workspace import Workspace

    (REPO / ".agentver").mkdir(exist_ok=True)
    for index in range(bench_history.AGENTS):
        agent = f"agent-{index:03d}"
        ws = Workspace.open(REPO)
        latest = len(ws.history(agent).versions)
        deploy(ws, agent, str(max(latest - 1, 1)))
        if index % 10 == 0:
            canary_start(ws, agent, "latest", "10")
    subprocess.run(
        [sys.executable, "-m", "agentver", "-C", str(REPO), "sync"],
        check=True,
        capture_output=True,
        env=_env(),
    )
    marker.write_text(LAYOUT)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="runs per figure (median)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic repo")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    build(args.rebuild)

    from starlette.testclient import TestClient

    from agentver.web.app import Config, create_app
    from agentver.web.security import Guard
    from agentver.web.storeview import read_state
    from agentver.web.views import overview
    from agentver.workspace import Workspace

    client = TestClient(
        create_app(Config(REPO, None, Guard("127.0.0.1", 8700, False))),
        base_url="http://127.0.0.1:8700",
    )
    latest = len(Workspace.open(REPO).history(ONE).versions)
    plain = "agent-001"  # no canary: index % 10 != 0

    def get(url: str) -> Callable[[], object]:
        def call() -> object:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"GET {url}: {response.status_code}\n{response.text[:2000]}")
            return response

        return call

    def library_only() -> object:
        ws = Workspace.open(REPO)
        return overview(ws, read_state(ws, None))

    def new_server() -> object:
        fresh = TestClient(
            create_app(Config(REPO, None, Guard("127.0.0.1", 8700, False))),
            base_url="http://127.0.0.1:8700",
        )
        response = fresh.get("/")
        fresh.close()
        if response.status_code != 200:
            raise SystemExit(f"GET / on a new server: {response.status_code}")
        return response

    figures = [
        ("a", "baseline: near-empty request (GET /api/canary, no canary)", timed(get(f"/api/canary/{plain}"), args.runs)),
        ("b", "baseline: the overview's data, no HTML, versions from disk", timed(library_only, args.runs)),
        ("c", "GET / (overview, 100 agents x ~160 versions)", timed(get("/"), args.runs)),
        ("c0", "GET / on a new server (versions from the on-disk cache)", timed(new_server, args.runs)),
        ("d", f"GET /agents/{ONE}/diff?a=1&b={latest}", timed(get(f"/agents/{ONE}/diff?a=1&b={latest}"), args.runs)),
        ("e", f"GET /agents/{ONE} (timeline of {latest} versions)", timed(get(f"/agents/{ONE}"), args.runs)),
    ]  # fmt: skip
    size = len(client.get("/").content)
    medians = {key: statistics.median(runs) for key, _, runs in figures}
    lines = [
        "# Dashboard benchmark",
        "",
        f"`python -m bench.bench_dashboard --runs {args.runs}`; median of {args.runs} warm "
        "runs (caches warm: one request before), in-process through Starlette's test client.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| | what | median ms | min ms | max ms |",
        "|---|---|---:|---:|---:|",
    ]
    for key, label, runs in figures:
        lines.append(
            f"| {key} | {label} | {statistics.median(runs):.1f} | {min(runs):.1f} | {max(runs):.1f} |"
        )
    verdicts = [
        f"overview (c) {medians['c']:.0f} ms, target < {TARGETS['overview']:.0f} ms: "
        + ("met" if medians["c"] < TARGETS["overview"] else "NOT met"),
        f"diff (d) {medians['d']:.0f} ms, target < {TARGETS['diff']:.0f} ms: "
        + ("met" if medians["d"] < TARGETS["diff"] else "NOT met"),
        f"overview HTML: {size / 1024:.0f} KiB",
    ]
    lines += ["", *verdicts, ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
    client.close()
    ok = medians["c"] < TARGETS["overview"] and medians["d"] < TARGETS["diff"]
    return 0 if ok else 1


if __name__ == "__main__":
    shutil.rmtree(REPO / ".git" / "index.lock", ignore_errors=True)
    raise SystemExit(main())
