"""``agentver canary watch ... | head -1`` and ``agentver ... >&-``: a reader that goes
away, or no stdout at all, ends the command quietly (docs/cli.md, like other Unix tools).

Before: with stdout closed (``>&-``) every command died with a traceback
(``sys.stdout`` is None). The real CLI in a subprocess, a real pipe, a real SQLite store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Repo, RunCli
from tests.test_canary_evaluate import ok, setup_canary

AGENTVER = [sys.executable, "-m", "agentver"]


def watched_canary(repo: Repo, run_cli: RunCli, tmp_path: Path) -> str:
    setup_canary(repo, run_cli)
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    return url


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["lines", "json"])
def test_watch_into_a_reader_that_leaves_ends_quietly(
    repo: Repo, run_cli: RunCli, tmp_path: Path, extra: list[str]
) -> None:
    url = watched_canary(repo, run_cli, tmp_path)
    proc = subprocess.Popen(
        [*AGENTVER, "canary", "watch", "--store", url, "--interval", "100ms", *extra],
        cwd=repo.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # `head -1`
    assert "support" in first
    proc.stdout.close()
    try:
        code = proc.wait(timeout=30)  # the next pass writes, finds the reader gone, stops
    finally:
        proc.kill()
    assert code == 0
    assert proc.stderr.read() == ""


@pytest.mark.parametrize(
    "argv",
    [["canary", "watch", "--once"], ["list"], ["status"]],
    ids=["watch", "list", "status"],
)
def test_no_stdout_at_all_is_a_reader_that_left(
    repo: Repo, run_cli: RunCli, tmp_path: Path, argv: list[str]
) -> None:
    url = watched_canary(repo, run_cli, tmp_path)
    store = ["--store", url] if argv[0] != "list" else []
    proc = subprocess.run(
        [*AGENTVER, *argv, *store],
        cwd=repo.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.close(1),  # `agentver ... >&-`
    )
    assert (proc.returncode, proc.stderr) == (0, "")
