"""The published pre-commit hook honours ``agents_dir`` and covers agentver.yaml, pointer
files and suites (issue 14: in a monorepo with ``agents_dir: configs/agents`` the hook
never ran). Through the real ``pre-commit`` tool and a real ``git commit``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import Repo

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PRE_COMMIT = BIN / "pre-commit"
GOOD = "model: gpt-4o\nsystem_prompt: You help with billing.\n"
BAD = "model: gpt-4o\nsystem_prompt: hi\ntemprature: 0.5\n"

pytestmark = pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit not in the venv")


@pytest.fixture
def monorepo(repo: Repo) -> Repo:
    """agents_dir: configs/agents, and the published hook run as a local system hook."""
    (published,) = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    hook = {**published, "language": "system", "entry": f"{BIN / 'agentver'} validate"}
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    repo.write("agentver.yaml", "agents_dir: configs/agents\nenvironments: [production]\n")
    repo.write("configs/agents/support.yaml", GOOD)
    repo.commit("initial")
    proc = run(repo, str(PRE_COMMIT), "install")
    assert proc.returncode == 0, proc.stderr
    return repo


def run(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        list(args), cwd=repo.path, env=env, capture_output=True, text=True, check=False
    )


def commit(repo: Repo, rel: str, text: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Stage ``rel`` and ``git commit``; (the process, whether a commit was made)."""
    head = repo.head()
    repo.write(rel, text)
    repo.git("add", rel)
    proc = run(repo, "git", "commit", "-m", f"change {rel}")
    return proc, repo.head() != head


def test_an_agent_under_a_custom_agents_dir_is_checked(monorepo: Repo) -> None:
    proc, committed = commit(monorepo, "configs/agents/support.yaml", BAD)
    assert not committed
    assert "configs/agents/support.yaml:3:1: unknown key 'temprature'" in proc.stdout + proc.stderr
    proc, committed = commit(monorepo, "configs/agents/support.yaml", GOOD + "temperature: 0.2\n")
    assert committed, proc.stdout + proc.stderr


COVERED = {
    "agentver.yaml": (
        "agents_dir: configs/agents\ncanary:\n  alpha: 2\n",
        "agentver.yaml:3:10: canary.alpha: 2 is greater",
    ),
    ".agentver/deployments/production/support.yaml": (
        "agent: support\nenvironment: production\nflags:\n  x: {percent: 0x10}\n",
        "support.yaml:4:16: storable: flags.x.percent: 0x10 is a hexadecimal number",
    ),
    "evals/support.yaml": (
        'cases:\n  - id: one\n    input: "hi {{ name }}"\n    assert: [{contains: x}]\n',
        "evals/support.yaml:3:12: undefined variable 'name'",
    ),
}


@pytest.mark.parametrize("rel", sorted(COVERED))
def test_agentver_yaml_pointers_and_suites_are_covered(monorepo: Repo, rel: str) -> None:
    text, expected = COVERED[rel]
    proc, committed = commit(monorepo, rel, text)
    assert not committed
    assert expected in proc.stdout + proc.stderr


def test_the_old_folder_is_not_an_agent_folder_any_more(monorepo: Repo) -> None:
    proc, committed = commit(monorepo, "agents/notes.yaml", "just: notes\n")
    assert committed, proc.stdout + proc.stderr  # agents/ is not agents_dir here: skipped
