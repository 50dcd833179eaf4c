"""Fixtures of the dashboard tests: the demo story repository, built once per session
and copied for each test that changes it, and a Starlette test client over a repo."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.harness import LEAKY

ROOT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("AGENTVER_TEST_ARTIFACTS", ROOT_DIR / "test-artifacts")) / "web"


@dataclass(frozen=True)
class DemoRun:
    root: Path
    output: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``agentver demo DIR`` run once (in-process); tests copy DIR before changing it."""
    from typer.testing import CliRunner

    from agentver.cli.app import app

    base = tmp_path_factory.mktemp("web-demo")
    home = base / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for key in LEAKY:
            patch.delenv(key, raising=False)
        patch.setenv("HOME", str(home))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        result = CliRunner().invoke(app, ["demo", str(base / "story")], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    return DemoRun(base / "story", result.stdout)


@pytest.fixture(scope="session")
def demo_template(demo_run: DemoRun) -> Path:
    return demo_run.root


@pytest.fixture
def demo_repo(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "story"
    shutil.copytree(demo_template, target, symlinks=True)
    return target


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def artifact(name: str) -> Path:
    """Where a screenshot goes (test-artifacts/web/, or $AGENTVER_TEST_ARTIFACTS/web/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture
def client_for() -> Iterator[object]:
    """``client_for(root, allow_writes=False)``: a TestClient whose Host is the server's."""
    from starlette.testclient import TestClient

    from agentver.web.app import Config, create_app
    from agentver.web.security import Guard

    clients: list[TestClient] = []

    def make(root: Path, allow_writes: bool = False, store: str | None = None) -> TestClient:
        guard = Guard("127.0.0.1", 8700, allow_writes)
        app = create_app(Config(root, store, guard))
        client = TestClient(app, base_url="http://127.0.0.1:8700")
        client.guard = guard  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
