"""examples/: every file loads, the sample repository validates and works, and every
`agentver ...` command in the workflows names a command and options the CLI has."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import load_gen_docs
from typer.testing import CliRunner

from agentver.cli.app import app  # every command registered
from agentver.config import load_yaml
from agentver.settings import load_settings
from agentver.validate import validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CONFIG_REPO = EXAMPLES / "config-repo"
WORKFLOWS = EXAMPLES / "workflows"


gen_docs = load_gen_docs()


def _yaml_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml"))


def _workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text("utf-8"))
    return loaded


def _triggers(workflow: dict[Any, Any]) -> Any:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _uses_own_action(step: dict[str, Any]) -> bool:
    return bool(re.match(r"^[\w.-]+/agentver@[0-9a-f]{40}$", str(step.get("uses", ""))))


def _invocations(workflow: dict[str, Any]) -> list[list[str]]:
    """agentver commands a workflow runs, including those of our action (action.yml)
    in the steps that use it, with the inputs the step gives it."""
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    found: list[list[str]] = []
    for step in _steps(workflow):
        found.extend(gen_docs.agentver_invocations(step.get("run", "")))
        if _uses_own_action(step):
            inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
            inputs.update({k: str(v) for k, v in step.get("with", {}).items()})
            for inner in action["runs"]["steps"]:
                condition = str(inner.get("if", ""))
                if "inputs.validate == 'true'" in condition and inputs["validate"] != "true":
                    continue
                if "inputs.comment == 'true'" in condition and inputs["comment"] != "true":
                    continue
                found.extend(gen_docs.agentver_invocations(inner.get("run", "")))
    return found


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which plain YAML silently overwrites."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = {key for key in keys if keys.count(key) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {duplicates}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_yaml_loads_strictly(path: Path) -> None:
    loaded = yaml.load(path.read_text("utf-8"), Loader=_StrictLoader)
    assert isinstance(loaded, dict) and loaded
    if path.parent.name != "workflows":  # agentver files: agentver's own loader too
        assert load_yaml(path.read_bytes(), path.name).data == loaded


def test_strict_loader_rejects_duplicate_keys() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.load("a: 1\na: 2\n", Loader=_StrictLoader)


def test_expected_example_files_exist() -> None:
    for rel in (
        "config-repo/agentver.yaml",
        "config-repo/README.md",
        "pre-commit-config.yaml",
        "workflows/pr.yml",
        "workflows/sync.yml",
    ):
        assert (EXAMPLES / rel).is_file(), rel
    assert len(list((CONFIG_REPO / "agents").glob("*.yaml"))) >= 3


@pytest.fixture
def config_repo(tmp_path: Path) -> Path:
    """A copy outside any git work tree (validate judges a path by its repository)."""
    target = tmp_path / "config-repo"
    shutil.copytree(CONFIG_REPO, target)
    return target


def test_sample_repository_validates(config_repo: Path) -> None:
    report = validate(config_repo)
    assert report.valid, [str(f) for f in report.findings]
    assert report.summary() == "5 files valid"  # three agents, one suite, agentver.yaml
    settings = load_settings(config_repo)
    assert settings.environments == ("staging", "production")
    assert settings.default_environment == "production"
    assert set(settings.raw["policies"]) == {"*", "support", "sales"}


def test_sample_policy_catches_the_billing_edit(config_repo: Path) -> None:
    agent = config_repo / "agents" / "support.yaml"
    text = agent.read_text("utf-8")
    agent.write_text(re.sub(r"(?i)billing", "accounts", text), "utf-8")
    report = validate(config_repo)
    assert not report.valid
    assert any("billing" in str(finding) for finding in report.findings)


def test_config_repo_readme_commands_work(config_repo: Path) -> None:
    """The README's shell block, run line by line in a fresh git repository."""
    readme = (CONFIG_REPO / "README.md").read_text("utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    cwd = config_repo
    ran = 0
    for raw in block.splitlines():
        line = raw.split("  #", 1)[0].strip()
        if line.startswith("cp -r ") or not line:
            continue
        for part in line.split("&&"):
            args = shlex.split(part)
            if args[0] == "cd":
                continue  # already in the copy
            if args[0] == "git":
                subprocess.run(args, cwd=cwd, check=True, capture_output=True)
                continue
            assert args[0] == "agentver", line
            previous = Path.cwd()
            os.chdir(cwd)
            try:
                result = CliRunner().invoke(app, args[1:], catch_exceptions=False)
            finally:
                os.chdir(previous)
            assert result.exit_code == 0, (line, result.stderr)
            ran += 1
    assert ran >= 5
    assert (config_repo / ".agentver" / "runtime.db").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""  # the store is ignored by the sample .gitignore


def test_pre_commit_snippet_uses_the_project_hook() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    hook_ids = {hook["id"] for hook in hooks}
    snippet = yaml.safe_load((EXAMPLES / "pre-commit-config.yaml").read_text("utf-8"))
    used = [hook["id"] for repo in snippet["repos"] for hook in repo["hooks"]]
    assert used == ["agentver-validate"]
    assert set(used) <= hook_ids
    assert all("rev" in repo and "repo" in repo for repo in snippet["repos"])


def _checkout_depths(workflow: dict[str, Any]) -> list[Any]:
    return [
        step.get("with", {}).get("fetch-depth")
        for step in _steps(workflow)
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]


def test_pr_workflow_validates_and_comments_the_diff() -> None:
    workflow = _workflow("pr.yml")
    assert "pull_request" in _triggers(workflow)
    assert _checkout_depths(workflow) == [0]
    commands = _invocations(workflow)
    assert ["validate"] in commands
    diff = next(c for c in commands if c[:1] == ["diff"])
    assert diff[diff.index("--base") + 1].startswith(("origin/", "${BASE:-origin/"))
    assert diff[diff.index("--format") + 1] == "markdown"
    assert workflow["permissions"]["pull-requests"] == "write"
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    scripts = " ".join(str(s.get("with", {}).get("script", "")) for s in action["runs"]["steps"])
    assert "createComment" in scripts and any(map(_uses_own_action, _steps(workflow)))


def test_sync_workflow_publishes_main_with_the_secret_store() -> None:
    workflow = _workflow("sync.yml")
    assert _triggers(workflow) == {"push": {"branches": ["main"]}}
    assert _checkout_depths(workflow) == [0]
    assert ["sync"] in _invocations(workflow)
    [holder] = [s for s in _steps(workflow) if "AGENTVER_STORE" in s.get("env", {})]
    assert holder["env"]["AGENTVER_STORE"] == "${{ secrets.AGENTVER_STORE }}"
    assert "sync" in holder["run"] and "env" not in workflow["jobs"]["sync"]
    assert workflow["concurrency"]["cancel-in-progress"] is False


# release.yml releases agentver itself; it runs no agentver command.
CONFIG_REPO_WORKFLOWS = sorted(p.name for p in WORKFLOWS.glob("*.yml") if p.name != "release.yml")


@pytest.mark.parametrize("name", CONFIG_REPO_WORKFLOWS)
def test_workflow_commands_exist_in_the_cli(name: str) -> None:
    workflow = _workflow(name)
    commands = _invocations(workflow)
    assert commands, f"{name} runs no agentver command"
    for args in commands:
        assert gen_docs.command_problems(args) == [], (name, args)
    # History matters: every checkout in a workflow that runs agentver fetches all of it.
    assert all(depth == 0 for depth in _checkout_depths(workflow))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("agentver nosuch", "no command `agentver nosuch`"),
        ("agentver diff --nope", "`agentver diff` has no option --nope"),
        ("agentver canary nosuch AGENT", "no command `agentver canary nosuch`"),
        ("agentver canary", "`agentver canary` needs a subcommand"),
        ("agentver --bogus list", "unknown global option --bogus"),
    ],
)
def test_command_checker_rejects_what_the_cli_would(line: str, problem: str) -> None:
    [args] = gen_docs.agentver_invocations(line)
    assert gen_docs.command_problems(args) == [problem]


def test_command_checker_finds_commands_in_command_position_only() -> None:
    script = (
        "pip install agentver && agentver list --json | jq .  # agentver nope\n"
        'x="$(agentver show a --json)"\n'
        "if agentver verify; then echo ok; fi\n"
        "agentver diff --base origin/main \\\n  --format markdown > out.md\n"
    )
    assert gen_docs.agentver_invocations(script) == [
        ["list", "--json"],
        ["show", "a", "--json"],
        ["verify"],
        ["diff", "--base", "origin/main", "--format", "markdown"],
    ]
