"""action.yml, the composite GitHub Action: its shape, and its shell steps run as the
runner would run them (bash, the step's env and working directory, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files) on a real pull request branch. The `uses:` steps
(setup-python, github-script) are GitHub's; their pins are checked, not run."""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
# Commit ids of the actions we use, each checked against its release tag (the tag is in
# the comment next to every pin). Never invent one: add a verified pin here first.
VERIFIED_PINS = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/github-script": ("60a0d83039c74a4aee543508d2ffcb1c3799cdea", "v7.0.1"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "actions/attest-build-provenance": ("e8998f949152b193b063cb0ec769d69d929409be", "v2.4.0"),
    "pypa/gh-action-pypi-publish": ("76f52bc884231f62b9a034ebfe128415bbaabdfc", "v1.12.4"),
}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+?)@(\S+)(?:\s+#\s*(\S+))?", re.M)


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text("utf-8"))
    return loaded


def check_pins(text: str, allow: tuple[str, ...] = ()) -> list[str]:
    """Problems with the `uses:` lines of a workflow or action: every third-party action
    pinned to a verified commit with its tag in a comment."""
    problems = []
    for name, ref, comment in USES.findall(text):
        if name.startswith("./") or name in allow:
            continue
        pin = VERIFIED_PINS.get(name)
        if pin is None:
            problems.append(f"{name}: no verified pin")
        elif ref != pin[0] or comment != pin[1]:
            problems.append(f"{name}@{ref} # {comment}: expected {pin[0]} # {pin[1]}")
    return problems


def test_action_is_composite_with_pinned_steps() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    text = ACTION.read_text("utf-8")
    assert check_pins(text) == []
    assert len(USES.findall(text)) == 2
    declared = set(spec["inputs"])
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used == declared, used ^ declared
    for step in spec["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            # Expressions reach scripts through env only (no script injection).
            assert "${{" not in step["run"], step.get("name")


def test_pin_checker_refuses_tags_and_unknown_shas() -> None:
    assert check_pins("- uses: actions/checkout@v4\n") != []
    assert check_pins("- uses: actions/checkout@" + "a" * 40 + " # v4.2.2\n") != []
    assert check_pins("- uses: some/thing@v1\n") == ["some/thing: no verified pin"]
    ok = "- uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n"
    assert check_pins(ok) == []


_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _expand(value: str, context: dict[str, str]) -> str:
    return _EXPR.sub(lambda m: context[m.group(1)], value)


def run_action_steps(
    checkout: Path,
    event: str,
    inputs: dict[str, str],
    bin_dir: Path,
    tmp: Path,
    installed: bool = False,
) -> dict[str, Any]:
    """Run the `run:` steps of action.yml as a runner would; `if:` is evaluated for the
    few forms the action uses. Returns outputs, summary and each step's result."""
    spec = action()
    values = {name: str(d.get("default", "")) for name, d in spec["inputs"].items()}
    values["github-token"] = "unused"
    values.update(inputs)
    context = {f"inputs.{k}": v for k, v in values.items()}
    context.update({"github.action_path": str(ROOT), "github.base_ref": "main"})
    summary, outputs_file = tmp / "summary.md", tmp / "output.txt"
    summary.write_text("")
    results: list[tuple[str, int, str]] = []
    outputs: dict[str, str] = {}
    for step in spec["runs"]["steps"]:
        if "run" not in step or (installed and step["name"].startswith("Install")):
            continue
        condition = str(step.get("if", "true"))
        if "inputs.validate == 'true'" in condition and values["validate"] != "true":
            continue
        if "inputs.comment == 'true'" in condition and (
            values["comment"] != "true" or event != "pull_request"
        ):
            continue
        outputs_file.write_text("")
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PIP_CACHE_DIR": PIP_CACHE,
            "RUNNER_TEMP": str(tmp),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(outputs_file),
        }
        env.pop("PYTHONPATH", None)
        env.update({k: _expand(str(v), context) for k, v in step.get("env", {}).items()})
        cwd = checkout / _expand(step.get("working-directory", "."), context)
        proc = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        results.append((step["name"], proc.returncode, proc.stdout + proc.stderr))
        for line in outputs_file.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        if proc.returncode != 0:
            break
    return {"steps": results, "outputs": outputs, "summary": summary.read_text()}


def pull_request(repo: Any) -> None:
    """main: support v1; the PR branch edits the prompt (v2)."""
    agent = {"model": "gpt-4o", "system_prompt": "You are support. Help with billing."}
    repo.commit_agent("support", agent, "add support")
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    repo.git("switch", "-q", "-c", "pr")
    agent = {**agent, "system_prompt": "You are support. Help with billing and refunds."}
    repo.commit_agent("support", agent, "mention refunds")


def test_action_installs_validates_and_diffs_a_pull_request(repo: Any, tmp_path: Path) -> None:
    """One install (the slow part, ~10-30 s), then the steps as a pull request runs them,
    then again on a push with a broken config (the install is not repeated)."""
    env_dir = tmp_path / "runner-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    pull_request(repo)
    result = run_action_steps(repo.path, "pull_request", {}, bin_dir, tmp_path)
    names = [(name, code) for name, code, _ in result["steps"]]
    assert names == [
        ("Install agentver (this action's own commit)", 0),
        ("Validate", 0),
        ("Diff against the base", 0),
    ], result["steps"]
    assert (bin_dir / "agentver").exists()  # installed from the action's checkout
    body = Path(result["outputs"]["file"]).read_text("utf-8")
    assert body.startswith("<!-- agentver-diff -->\n")
    assert "support" in body and "refunds" in body
    assert body in result["summary"]

    repo.write("agents/broken.yaml", "model: 1.10\nsystem_prompt: hi\n")
    repo.commit("broken agent", "agents/broken.yaml")
    result = run_action_steps(repo.path, "push", {}, bin_dir, tmp_path, installed=True)
    assert [(name, code) for name, code, _ in result["steps"]] == [("Validate", 1)]
    assert "agents/broken.yaml:1:8: model must be a string" in result["steps"][0][2]
    assert result["outputs"] == {}  # no diff on a push
