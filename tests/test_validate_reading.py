"""Files in the repository are read through ``config.read_file``: a FIFO named like an
agent file or a suite is a finding, never a hang; a huge file is never read whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo

GOOD = "model: gpt-4o\nsystem_prompt: You help with billing.\n"


def agentver(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    # a subprocess with a timeout: before the fix, reading a FIFO blocked forever
    return subprocess.run(
        [sys.executable, "-m", "agentver", *args],
        cwd=repo.path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("rel", ["agents/fifo.yaml", "evals/support.yaml"])
def test_a_fifo_named_as_a_file_is_a_finding(repo: Repo, rel: str) -> None:
    repo.commit_agent("support", GOOD, "v1")
    (repo.path / rel).parent.mkdir(exist_ok=True)
    os.mkfifo(repo.path / rel)
    proc = agentver(repo, "validate", rel)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"{rel}:1:1: " in proc.stdout and "not a regular file" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_eval_refuses_a_fifo_suite(repo: Repo) -> None:
    repo.commit_agent("support", GOOD, "v1")
    (repo.path / "evals").mkdir()
    os.mkfifo(repo.path / "evals" / "support.yaml")
    proc = agentver(repo, "eval", "support")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_a_huge_agent_file_is_refused_by_its_size(repo: Repo, tmp_path: Path) -> None:
    repo.commit_agent("support", GOOD, "v1")
    (repo.path / "agents" / "support.yaml").write_bytes(GOOD.encode() + b"#" * (5 * 2**20))
    proc = agentver(repo, "validate", "agents/support.yaml")
    assert proc.returncode == 1, proc.stderr
    assert "5,242,932 bytes; the limit is 1,048,576" in proc.stdout


def test_a_pointer_of_an_environment_not_configured_is_a_finding(repo: Repo) -> None:
    """sync silently ignored it (validate passed): the environment is not in agentver.yaml."""
    repo.commit_agent("support", GOOD, "v1")
    assert agentver(repo, "deploy", "support", "1").returncode == 0
    pointer = (repo.path / ".agentver/deployments/production/support.yaml").read_text()
    staging = repo.path / ".agentver/deployments/staging/support.yaml"
    staging.parent.mkdir()
    staging.write_text(pointer.replace("environment: production", "environment: staging"))
    repo.commit("a pointer for staging")
    proc = agentver(repo, "validate")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert ".agentver/deployments/staging/support.yaml:1:1: " in proc.stdout
    assert "'staging' is not in environments" in proc.stdout
