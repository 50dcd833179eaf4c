"""The pre-commit hook: the real ``pre-commit`` tool, in a real repository, through a real
``git commit`` (so the hook runs with git's GIT_DIR/GIT_INDEX_FILE exported)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PRE_COMMIT = BIN / "pre-commit"
GOOD = "model: gpt-4o\nsystem_prompt: |\n  You are the support agent. Help with billing.\n"
BAD = "model: 1.10\nsystem_prompt: hi\ntemprature: 0.5\n"

pytestmark = pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit not in the venv")


def real_hook() -> dict[str, Any]:
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list) and len(hooks) == 1
    hook: dict[str, Any] = hooks[0]
    return hook


def agentver_entry(tmp_path: Path) -> str:
    """The installed console script (the venv's bin), which must know ``validate``."""
    installed = BIN / "agentver"
    probe = subprocess.run(
        [str(installed), "validate", "--help"], capture_output=True, text=True, check=False
    )
    assert probe.returncode == 0, probe.stderr
    return str(installed)


def test_hook_definition() -> None:
    hook = real_hook()
    assert hook["id"] == "agentver-validate"
    assert hook["entry"] == "agentver validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    # no folder in a regex: agentver decides from agents_dir (tests/test_validate_precommit.py)
    assert "files" not in hook and hook["types"] == ["yaml"]


@pytest.fixture
def hooked(repo: Any, tmp_path: Path) -> Any:
    """A repository whose .pre-commit-config.yaml runs our hook as a local system hook."""
    real = real_hook()
    local = {**real, "language": "system", "entry": f"{agentver_entry(tmp_path)} validate"}
    # Field-for-field copy: only language and entry differ from the published hook.
    assert {k: v for k, v in local.items() if k not in ("language", "entry")} == {
        k: v for k, v in real.items() if k not in ("language", "entry")
    }
    assert set(local) == set(real)
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    repo.write("agents/support.yaml", GOOD)
    repo.commit("initial", ".pre-commit-config.yaml", "agents/support.yaml")
    return repo


def run(repo: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_DIR")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        list(args), cwd=repo.path, env=env, capture_output=True, text=True, check=False
    )


def test_pre_commit_run_blocks_bad_and_passes_good(hooked: Any) -> None:
    hooked.write("agents/broken.yaml", BAD)
    hooked.git("add", "agents/broken.yaml")
    proc = run(hooked, str(PRE_COMMIT), "run", "--files", "agents/broken.yaml", "README.md")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "agents/broken.yaml:1:8: model must be a string" in proc.stdout
    assert "agents/broken.yaml:3:1: unknown key 'temprature'" in proc.stdout
    proc = run(hooked, str(PRE_COMMIT), "run", "--files", "agents/support.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_git_commit_is_blocked_then_passes(hooked: Any) -> None:
    proc = run(hooked, str(PRE_COMMIT), "install")
    assert proc.returncode == 0, proc.stderr
    head = hooked.head()

    hooked.write("agents/broken.yaml", BAD)
    hooked.git("add", "agents/broken.yaml")
    proc = run(hooked, "git", "commit", "-m", "add broken agent")
    assert proc.returncode != 0
    assert "agents/broken.yaml:3:1: unknown key 'temprature'" in proc.stdout + proc.stderr
    assert hooked.head() == head  # nothing was committed

    hooked.write("agents/broken.yaml", GOOD)
    hooked.git("add", "agents/broken.yaml")
    proc = run(hooked, "git", "commit", "-m", "add fixed agent")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert hooked.head() != head
    assert hooked.git("log", "-1", "--format=%s").strip() == "add fixed agent"


def test_commit_from_a_linked_worktree_with_policy_change(hooked: Any, tmp_path: Path) -> None:
    """A policy added in agentver.yaml re-checks unchanged agents; in a linked worktree
    git exports GIT_DIR/GIT_INDEX_FILE pointing into .git/worktrees/<name>."""
    proc = run(hooked, str(PRE_COMMIT), "install")
    assert proc.returncode == 0, proc.stderr
    other = tmp_path / "linked"
    hooked.git("worktree", "add", "-q", "-b", "feature", str(other))
    (other / "agentver.yaml").write_text('policies:\n  "*": {require: ["refund"]}\n')
    subprocess.run(["git", "add", "agentver.yaml"], cwd=other, check=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["git", "commit", "-m", "require refunds"],
        cwd=other,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    shown = proc.stdout + proc.stderr
    assert 'agents/support.yaml:2:1: policy: system prompt must contain "refund"' in shown

    (other / "agentver.yaml").write_text('policies:\n  "*": {require: ["billing"]}\n')
    subprocess.run(["git", "add", "agentver.yaml"], cwd=other, check=True)
    proc = subprocess.run(
        ["git", "commit", "-m", "require billing"],
        cwd=other,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hook_ignores_unrelated_files(hooked: Any) -> None:
    proc = run(hooked, str(PRE_COMMIT), "install")
    assert proc.returncode == 0
    hooked.write("notes/todo.yaml", BAD)  # YAML, but no agentver file: validate skips it
    hooked.write("notes/todo.txt", BAD)  # not YAML: pre-commit does not even call the hook
    hooked.git("add", "notes/todo.yaml", "notes/todo.txt")
    proc = run(hooked, "git", "commit", "-m", "notes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout + proc.stderr


def test_validate_ignores_exported_git_dir(hooked: Any, tmp_path: Path) -> None:
    """Hooks run with GIT_DIR/GIT_INDEX_FILE exported. With GIT_DIR set, plain git takes
    the cwd for the top level; agentver strips them and still finds the real root."""
    entry = agentver_entry(tmp_path)
    hooked.write("agents/broken.yaml", BAD)
    env = {
        **os.environ,
        "GIT_DIR": str(hooked.path / ".git"),
        "GIT_INDEX_FILE": str(hooked.path / ".git" / "index"),
    }
    proc = subprocess.run(
        [entry, "validate"],
        cwd=hooked.path / "agents",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("broken.yaml:1:8: model must be a string")
    assert proc.stderr == "2 problems in 1 file\n"


EXAMPLES = PROJECT / "examples"
PLACEHOLDER_URL = "https://github.com/your-org/agentver"
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def _copy_example(repo: Any, name: str) -> dict[str, Any]:
    text = (EXAMPLES / name).read_text("utf-8")
    if PLACEHOLDER_URL in text:  # the one line a user edits: where agentver is hosted
        text = text.replace(PLACEHOLDER_URL, str(PROJECT))
    repo.write(".pre-commit-config.yaml", text)
    repo.write("agents/support.yaml", GOOD)
    repo.commit("initial", ".pre-commit-config.yaml", "agents/support.yaml")
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def _bad_then_good(repo: Any, env: dict[str, str] | None = None) -> None:
    repo.write("agents/broken.yaml", BAD)
    repo.git("add", "agents/broken.yaml")
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    full_env = {**base, **(env or {})}
    proc = subprocess.run(
        [str(PRE_COMMIT), "run", "--files", "agents/broken.yaml"],
        cwd=repo.path,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "agents/broken.yaml:1:8: model must be a string" in proc.stdout
    repo.write("agents/broken.yaml", GOOD)
    repo.git("add", "agents/broken.yaml")
    proc = subprocess.run(
        [str(PRE_COMMIT), "run", "--files", "agents/broken.yaml"],
        cwd=repo.path,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_local_example_runs_the_agentver_on_path(repo: Any) -> None:
    """examples/pre-commit-config.local.yaml, copied verbatim: `repo: local` with
    `language: system` runs the agentver on PATH; nothing is installed or fetched."""
    config = _copy_example(repo, "pre-commit-config.local.yaml")
    [hook] = config["repos"][0]["hooks"]
    assert config["repos"][0]["repo"] == "local" and hook["language"] == "system"
    published = real_hook()
    # The same hook as the published one, field for field, except how it is installed.
    assert {k: v for k, v in hook.items() if k != "language"} == {
        k: v for k, v in published.items() if k != "language"
    }
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    _bad_then_good(repo, {"PATH": path, "PIP_NO_INDEX": "1"})  # offline: no index at all
    assert not (Path(os.environ["PRE_COMMIT_HOME"]) / "repo").exists()


def test_remote_example_installs_agentver_at_the_pinned_commit(repo: Any) -> None:
    """examples/pre-commit-config.yaml with only its `repo:` URL pointed at this
    repository: pre-commit clones it, checks out `rev` (a real commit of this project),
    installs agentver from that commit into its own environment and runs the hook.
    Nothing of the test's environment is on PATH."""
    config = _copy_example(repo, "pre-commit-config.yaml")
    [entry] = config["repos"]
    rev = entry["rev"]
    assert len(rev) == 40 and all(c in "0123456789abcdef" for c in rev), rev
    exists = subprocess.run(
        ["git", "cat-file", "-e", f"{rev}^{{commit}}"], cwd=PROJECT, capture_output=True
    )
    assert exists.returncode == 0, f"rev {rev} is not a commit of this repository"
    hooks_at_rev = subprocess.run(
        ["git", "show", f"{rev}:.pre-commit-hooks.yaml"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [h["id"] for h in entry["hooks"]] == [h["id"] for h in yaml.safe_load(hooks_at_rev)]
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != str(BIN))
    _bad_then_good(repo, {"PATH": path, "PIP_CACHE_DIR": PIP_CACHE})
