"""Sync at scale: 1,000 agents x 100 versions (100,000 versions) to SQLite and PostgreSQL.

    python -m bench.bench_scale [--agents 1000] [--versions 100] [--skip-pg] [--no-write]

Builds (once, with ``git fast-import``) bench/.work/scale-repo: ``--versions`` commits,
each changing every agent (~1.5 KB prompts). Then runs ``agentver sync`` cold (no caches,
a new store) to a SQLite file and to a fresh PostgreSQL schema, and reports wall time,
CPU time and peak RSS of the sync process (``getrusage`` of the child), beside the floor
of bench/floor.py on the same repository in the same run. Target: peak RSS < 300 MB.
Writes bench/RESULTS-scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.bench_history import child_env

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RESULTS = HERE / "RESULTS-scale.md"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
RSS_LIMIT_MB = 300
EPOCH = 1_767_225_600

PROMPT = (
    "You are {name}, an assistant for Acme Corp. Revision {rev}.\n\n"
    + "Follow the policy on refunds, billing access, escalation and privacy. " * 18
    + "\n"
)


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def agent_file(name: str, rev: int) -> bytes:
    prompt = PROMPT.format(name=name, rev=rev)
    body = "".join(f"  {line}\n" if line else "\n" for line in prompt.splitlines())
    return (
        f"model: gpt-4o\ntemperature: 0.{rev % 9 + 1}\nmax_tokens: {1000 + rev}\n"
        f"tools: [search_kb, create_ticket]\nguardrails: {{pii_redaction: true}}\n"
        f"system_prompt: |\n{body}"
    ).encode()


def build(repo: Path, agents: int, versions: int) -> None:
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    names = [f"agent-{i:04d}" for i in range(agents)]
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for rev in range(1, versions + 1):
        stamp = EPOCH + rev * 3600
        who = f"Bench <bench@example.com> {stamp} +0000\n".encode()
        parts = [b"commit refs/heads/main\n", b"mark :%d\n" % rev, b"author " + who]
        parts += [b"committer " + who, _data(f"Revision {rev} of every agent".encode())]
        if rev > 1:
            parts.append(b"from :%d\n" % (rev - 1))
        for name in names:
            parts.append(f"M 100644 inline agents/{name}.yaml\n".encode())
            parts.append(_data(agent_file(name, rev)))
        proc.stdin.write(b"".join(parts))
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)
    (repo / ".git" / "bench-layout").write_text(f"{agents}x{versions}")


def run(command: list[str], repo: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall, CPU and peak RSS of one process (GNU time: getrusage of the children would
    report the largest child so far, not this one)."""
    report = WORK / "scale-time.txt"
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", "-o", str(report), *command],
        cwd=repo,
        env=env,
        capture_output=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr.decode()[-2000:]}")
    rss_kb, user, system = report.read_text().split()[-3:]
    return {"wall_s": wall, "cpu_s": float(user) + float(system), "rss_mb": int(rss_kb) / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    repo = WORK / "scale-repo"
    layout = repo / ".git" / "bench-layout"
    if not layout.exists() or layout.read_text() != f"{args.agents}x{args.versions}":
        started = time.perf_counter()
        build(repo, args.agents, args.versions)
        print(f"built {repo} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    env = child_env()
    rows: list[tuple[str, dict[str, float]]] = []
    floor = json.loads(
        subprocess.run(
            [sys.executable, str(HERE / "floor.py")], cwd=repo, capture_output=True, check=True
        ).stdout
    )
    targets = [("SQLite", "sqlite:///.agentver/scale.db")]
    if not args.skip_pg:
        targets.append(("PostgreSQL", f"{PG_BASE}?schema=scale_{uuid.uuid4().hex[:8]}"))
    for label, url in targets:
        shutil.rmtree(repo / ".git" / "agentver-cache", ignore_errors=True)
        shutil.rmtree(repo / ".agentver", ignore_errors=True)
        (repo / ".agentver").mkdir()
        command = [sys.executable, "-m", "agentver", "sync", "--store", url]
        rows.append((label, run(command, repo, env)))
        if url.startswith("postgresql"):
            schema = url.rsplit("=", 1)[1]
            import psycopg

            with psycopg.connect(PG_BASE, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    shutil.rmtree(repo / ".agentver", ignore_errors=True)
    lines = [
        "| store | versions | cold sync wall s | CPU s | peak RSS MB | RSS target | / floor (wall) |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    failed = []
    for label, figure in rows:
        ok = figure["rss_mb"] < RSS_LIMIT_MB
        failed += [] if ok else [label]
        lines.append(
            f"| {label} | {args.agents * args.versions:,} | {figure['wall_s']:.1f} | "
            f"{figure['cpu_s']:.1f} | {figure['rss_mb']:.0f} | < {RSS_LIMIT_MB} "
            f"{'pass' if ok else 'FAIL'} | {figure['wall_s'] * 1000 / floor['total_ms']:.1f} |"
        )
    load = os.getloadavg()
    notes = [
        f"- floor on the same repository in the same run: {floor['total_ms'] / 1000:.1f} s "
        f"(git log {floor['git_log_ms']:.0f} ms, cat-file {floor['cat_file_ms']:.0f} ms, "
        f"parse + hash {floor['parse_hash_ms']:.0f} ms of {floor['blobs']} blobs)",
        "- each sync: no caches under .git/agentver-cache, a new store; peak RSS is "
        "ru_maxrss of the sync process",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}",
    ]
    table = "\n".join(lines)
    print(table)
    print("\n".join(notes))
    if not args.no_write:
        RESULTS.write_text(
            "# Scale benchmark\n\nCommand: `.venv/bin/python -m bench.bench_scale`\n\n"
            f"{table}\n\n"
            + "\n".join(notes)
            + "\n"
            + (f"\nFailed: {', '.join(failed)}\n" if failed else "\nAll targets met.\n")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
