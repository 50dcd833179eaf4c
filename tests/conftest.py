"""Shared fixtures: a hermetic git environment, a real temporary repository with a fake
clock, and two ways to run the CLI (in-process and as a real subprocess).

Usage::

    def test_something(repo, run_cli):
        repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hi"}, "add")
        code, out, err = run_cli("list", "--json", cwd=repo.path)
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
import yaml

from tests.reliability.harness import LEAKY

ROOT_DIR = Path(__file__).resolve().parent.parent

GIT_NAME = "Test Author"
GIT_EMAIL = "author@example.com"
CLOCK_START = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Variables that would make git (or agentver) act on some other repository or store.
_LEAKY_VARS = (*LEAKY, "PRE_COMMIT_HOME")


@pytest.fixture(autouse=True)
def git_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pinned identity, an empty HOME and no inherited git/agentver state. Returns HOME."""
    home = tmp_path_factory.mktemp("home")
    for name in _LEAKY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", GIT_NAME)
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", GIT_EMAIL)
    monkeypatch.setenv("GIT_COMMITTER_NAME", GIT_NAME)
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", GIT_EMAIL)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(home / ".cache" / "pre-commit"))
    return home


def git_date(step: int) -> str:
    """The fake clock: commit ``step`` is ``step`` hours after 2026-01-01T00:00:00Z."""
    return (CLOCK_START + timedelta(hours=step)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class Repo:
    """A real git repository in a temporary folder, with deterministic commit dates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 0  # commits made so far; the next one is dated git_date(clock + 1)
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", GIT_NAME)
        self.git("config", "user.email", GIT_EMAIL)
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run git in the repository; raise with git's stderr on failure; return stdout."""
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=full_env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stderr}{proc.stdout}")
        return proc.stdout

    def write(self, rel: str, text: str | bytes) -> Path:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_bytes(text.encode("utf-8"))  # no newline translation
        return target

    def rm(self, rel: str) -> None:
        self.git("rm", "-q", rel)

    def tick(self) -> dict[str, str]:
        """Advance the fake clock one hour; the env for the next commit."""
        self.clock += 1
        date = git_date(self.clock)
        return {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}

    def commit(self, message: str, *paths: str) -> str:
        """Stage ``paths`` (everything when none) and commit; return the commit sha."""
        if paths:
            self.git("add", "--", *paths)
        else:
            self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, env=self.tick())
        return self.head()

    def commit_agent(
        self, agent_id: str, data_or_text: Mapping[str, Any] | str, message: str
    ) -> str:
        """Write ``agents/<agent_id>.yaml`` (a dict is dumped with yaml.safe_dump) and commit."""
        if isinstance(data_or_text, str):
            text = data_or_text
        else:
            text = yaml.safe_dump(dict(data_or_text), sort_keys=False, allow_unicode=True)
        rel = f"agents/{agent_id}.yaml"
        self.write(rel, text)
        return self.commit(message, rel)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


class CliResult(NamedTuple):
    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., CliResult]


def _invoke_in_process(
    args: tuple[str, ...], cwd: Path | str | None, env: Mapping[str, str | None] | None
) -> CliResult:
    from typer.testing import CliRunner

    from agentver.cli.app import _register, app

    _register()
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(previous)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def run_cli() -> RunCli:
    """``run_cli(*args, cwd=None, env=None) -> (exit_code, stdout, stderr)`` in-process.

    Uses Typer's CliRunner (stdout and stderr kept apart); ``env`` values of None unset.
    """

    def run(
        *args: str, cwd: Path | str | None = None, env: Mapping[str, str | None] | None = None
    ) -> CliResult:
        return _invoke_in_process(tuple(args), cwd, env)

    return run


@pytest.fixture
def run_agentver() -> RunCli:
    """``run_agentver(*args, cwd=None, env=None, input=None)``: a real ``python -m agentver``."""

    def run(
        *args: str,
        cwd: Path | str | None = None,
        env: Mapping[str, str | None] | None = None,
        input: str | None = None,
    ) -> CliResult:
        full_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        proc = subprocess.run(
            [sys.executable, "-m", "agentver", *args],
            cwd=cwd,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


def load_gen_docs() -> ModuleType:
    """``scripts/gen_docs.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT_DIR / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_docs", module)
    spec.loader.exec_module(module)
    return module
