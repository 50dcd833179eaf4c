"""Concurrent writers: several agentver processes changing one pointer lose no update."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import Repo, RunCli

from agentver.deploy.pointers import parse_pointer, pointer_path

POINTER = pointer_path("production", "support")
WORKERS = 4
PER_WORKER = 6


def test_concurrent_flag_writers_lose_no_update(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", {"model": "m1", "system_prompt": "You help.\n"}, "v1")
    assert run_cli("deploy", "support", "1", cwd=repo.path).exit_code == 0
    start = repo.head()
    script = (
        'for i in $(seq 1 "$N"); do '
        '"$PY" -m agentver flag set support "f${W}_${i}" --create --percent "$((W * 10 + i)).5" '
        "|| exit 1; done"
    )
    procs = [
        subprocess.Popen(
            ["sh", "-c", script],
            cwd=repo.path,
            env={**os.environ, "PY": sys.executable, "W": str(w), "N": str(PER_WORKER)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(1, WORKERS + 1)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err

    raw = (repo.path / POINTER).read_bytes()
    pointer = parse_pointer(raw, POINTER, "production", "support")
    expected = {f"f{w}_{i}" for w in range(1, WORKERS + 1) for i in range(1, PER_WORKER + 1)}
    assert set(pointer.flags) == expected
    for w in range(1, WORKERS + 1):
        for i in range(1, PER_WORKER + 1):
            assert pointer.flags[f"f{w}_{i}"].percent_bp == (w * 10 + i) * 100 + 50
    assert pointer.active is not None and pointer.active.version == 1

    # One commit per change, each containing only the pointer file and adding one flag.
    commits = repo.git("rev-list", "--reverse", f"{start}..HEAD").split()
    assert len(commits) == WORKERS * PER_WORKER
    previous: set[str] = set()
    for commit in commits:
        assert repo.git("show", "--name-only", "--format=", commit).split() == [POINTER]
        at_commit = parse_pointer(
            repo.git("show", f"{commit}:{POINTER}").encode(), POINTER, "production", "support"
        )
        added = set(at_commit.flags) - previous
        assert len(added) == 1 and previous <= set(at_commit.flags)
        subject = repo.git("log", "-1", "--format=%s", commit).strip()
        assert subject == f"agentver(production): flag set support {added.pop()}"
        previous = set(at_commit.flags)

    assert repo.git("status", "--porcelain").strip() == ""
    fsck = subprocess.run(
        ["git", "fsck", "--strict", "--no-progress"], cwd=repo.path, capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    assert "error" not in fsck.stderr.lower()
    leftovers = [p for p in (repo.path / POINTER).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
