"""`agentver demo`: the story repository, its facts, and the commands it prints.

One demo run (module fixture) is shared by the fact tests; routing facts are recomputed
here from docs/design.md's formula, not through agentver.routing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import agentver.cli.demo_cmd
from agentver.cli.app import app  # every command registered
from agentver.demo import (
    CommandResult,
    prepare_directory,
    runtime_snippet,
    subprocess_runner,
)
from agentver.demo_story import BILLING_PARAGRAPH, DEMO_EMAIL, DEMO_NAME, VERSIONS
from agentver.errors import UsageError
from agentver.runtime import RuntimeClient

_CLEAN_ENV: dict[str, str | None] = {
    "AGENTVER_STORE": None,
    "AGENTVER_DEBUG": None,
    "GIT_DIR": None,
    "GIT_INDEX_FILE": None,
    "GIT_WORK_TREE": None,
    "GIT_AUTHOR_NAME": None,
    "GIT_AUTHOR_EMAIL": None,
    "GIT_COMMITTER_NAME": None,
    "GIT_COMMITTER_EMAIL": None,
    "GIT_AUTHOR_DATE": None,
    "GIT_COMMITTER_DATE": None,
    "GIT_CONFIG_GLOBAL": None,
    "XDG_CONFIG_HOME": None,
    "GIT_CONFIG_NOSYSTEM": "1",
    "NO_COLOR": "1",
}


@dataclass
class DemoRun:
    parent: Path
    root: Path
    home: Path
    exit_code: int
    output: str
    stderr: str


def _invoke(args: list[str], cwd: Path | None = None) -> Any:
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(app, args, catch_exceptions=False)
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """``agentver demo DIR`` run once, with an empty HOME (no global git identity)."""
    base = tmp_path_factory.mktemp("demo")
    home = base / "home"
    home.mkdir()
    parent = base / "work"
    parent.mkdir()
    (parent / "sentinel.txt").write_text("untouched\n")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in _CLEAN_ENV.items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        patch.setenv("HOME", str(home))
        result = _invoke(["-C", str(parent), "demo", "story"])
        yield DemoRun(
            parent, parent / "story", home, result.exit_code, result.stdout, result.stderr
        )


def _run(demo: DemoRun, *args: str) -> Any:
    return _invoke(["-C", str(demo.root), *args])


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def _bucket(salt: str, agent: str, user: str) -> int:
    digest = hashlib.sha256(f"{salt}:{agent}:{user}".encode()).hexdigest()
    return int(digest[:8], 16) % 10000


def test_demo_runs_and_prints_each_step(demo: DemoRun) -> None:
    assert demo.exit_code == 0, demo.stderr + demo.output
    out = demo.output
    assert out.startswith(f"agentver demo: building a story repository in {demo.root}\n")
    for command in (
        "$ agentver history support",
        "$ agentver validate",
        "$ agentver deploy support v3",
        "$ agentver canary start support v5 --percent 10",
        "$ agentver resolve support --user ",
        "$ agentver diff support v3 v5",
        "$ agentver rollback support",
        "$ agentver sync",
        "$ python - <<'EOF'",
    ):
        assert command in out, command
    # Steps come in story order.
    order = [out.index(c) for c in ("validate", "deploy support v3", "canary start", "rollback")]
    assert order == sorted(order)
    assert "Committed anyway, as a careless edit would be:" in out
    explore = out.split("Explore further:\n", 1)[1].splitlines()
    assert explore[0] == f"  cd {demo.root}"
    elapsed = re.search(r"^Done in ([\d.]+)s\.", out, re.M)
    assert elapsed is not None and float(elapsed.group(1)) < 60


def test_never_writes_outside_dir(demo: DemoRun) -> None:
    assert sorted(p.name for p in demo.parent.iterdir()) == ["sentinel.txt", "story"]
    assert (demo.parent / "sentinel.txt").read_text() == "untouched\n"
    assert list(demo.home.iterdir()) == []  # no ~/.gitconfig written
    assert (demo.root / ".git").is_dir()  # its own repository, not the parent's


def test_five_versions_with_demo_identity_and_pinned_dates(demo: DemoRun) -> None:
    result = _run(demo, "history", "support", "--json")
    assert result.exit_code == 0, result.stderr
    versions = yaml.safe_load(result.stdout)["versions"]
    assert [v["version"] for v in versions] == [5, 4, 3, 2, 1]
    oldest_first = list(reversed(versions))
    assert [v["change_description"] for v in oldest_first] == [m for m, _ in VERSIONS]
    assert {v["created_by"] for v in versions} == {f"{DEMO_NAME} <{DEMO_EMAIL}>"}
    dates = [v["created_at"] for v in oldest_first]
    assert dates == sorted(dates) and len(set(dates)) == 5
    assert dates[0] == "2025-03-05T09:00:00Z"  # fixed clock: the same on every run
    # v4 deleted the billing paragraph the committed policy requires: invalid, and why
    assert [v["valid"] for v in oldest_first] == [True, True, True, False, False]
    assert all("billing" in v["problems"][0] for v in oldest_first[3:])
    assert versions[0]["deployed"] == {"staging": "active"}
    assert versions[2]["deployed"] == {"production": "active"}


def test_v4_deletes_the_billing_paragraph(demo: DemoRun) -> None:
    prompts = {}
    for number in (3, 4, 5):
        result = _run(demo, "show", "support", f"v{number}", "--json")
        assert result.exit_code == 0, result.stderr
        prompts[number] = yaml.safe_load(result.stdout)["config"]["system_prompt"]
    assert BILLING_PARAGRAPH in prompts[3]
    assert "billing" not in prompts[4].lower() and "billing" not in prompts[5].lower()
    diff = _run(demo, "diff", "support", "v3", "v5", "--json")
    document = yaml.safe_load(diff.stdout)
    removed = [line[1:] for line in document["system_prompt_diff"].splitlines() if line[:1] == "-"]
    assert BILLING_PARAGRAPH.splitlines()[0] in removed
    assert {c["field"] for c in document["changes"]} >= {"model", "system_prompt"}


def test_policy_finding_is_shown_and_still_holds(demo: DemoRun) -> None:
    section = demo.output.split("$ agentver validate\n", 1)[1].split("\n   Committed anyway")[0]
    assert re.search(r'agents/support\.yaml:\d+:\d+: policy: .*"billing"', section)
    assert section.rstrip().endswith("(exit 1)")
    result = _run(demo, "validate", "--json")
    assert result.exit_code == 1
    findings = yaml.safe_load(result.stdout)
    assert "billing" in str(findings)


def _pointer_at(root: Path, commit: str) -> dict[str, Any]:
    text = _git(root, "show", f"{commit}:.agentver/deployments/production/support.yaml")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_canary_share_and_resolved_users(demo: DemoRun) -> None:
    log = _git(
        demo.root, "log", "--format=%H %s", "--", ".agentver/deployments/production/support.yaml"
    )
    start = next(line.split()[0] for line in log.splitlines() if "canary start" in line)
    canary = _pointer_at(demo.root, start)["canary"]
    assert canary["version"] == 5 and float(canary["percent"]) == 10
    assert re.fullmatch(r"[0-9a-f]{16}", canary["salt"])
    users = [f"user-{n:04d}" for n in range(1, 1001)]
    inside = sum(1 for user in users if _bucket(canary["salt"], "support", user) < 1000)
    # Binomial(1000, 0.1): sd 9.5, so 60..140 is over 4 sd either side.
    assert 60 <= inside <= 140
    assert f", {inside} ({inside / 10:.1f}%) land in the canary." in demo.output
    resolved = re.findall(r"^(\S+) -> support v(\d) \((stable|canary)\)", demo.output, re.M)
    assert len(resolved) == 3
    for user, version, variant in resolved:
        expected = "canary" if _bucket(canary["salt"], "support", user) < 1000 else "stable"
        assert variant == expected, user
        assert version == ("5" if variant == "canary" else "3")
    assert sorted(v for _, _, v in resolved) == ["canary", "stable", "stable"]


def test_promote_then_rollback_commit(demo: DemoRun) -> None:
    result = _run(demo, "deployments", "support", "--json")
    events = yaml.safe_load(result.stdout)["events"]
    actions = [(e["action"], e["version"]) for e in events]
    assert actions[:4] == [
        ("deploy", 3),
        ("canary start", 5),
        ("canary promote", 5),
        ("rollback", 3),
    ]
    rollback = events[3]
    assert _git(demo.root, "show", "-s", "--format=%s", rollback["commit"]).strip() == (
        "agentver(production): rollback support to v3"
    )
    files = _git(demo.root, "show", "--name-only", "--format=", rollback["commit"]).split()
    assert files == [".agentver/deployments/production/support.yaml"]
    pointer = yaml.safe_load(
        (demo.root / ".agentver/deployments/production/support.yaml").read_text()
    )
    assert pointer["active"]["version"] == 3 and pointer.get("canary") is None
    assert _git(demo.root, "status", "--porcelain") == ""


def test_store_contents_through_the_runtime_client(demo: DemoRun) -> None:
    url = f"sqlite:///{demo.root / '.agentver' / 'runtime.db'}"
    flagged = re.search(r"--users (\S+) --add-tools escalate_to_human", demo.output)
    assert flagged is not None
    with RuntimeClient(url, environment="production") as client:
        assert client.head_commit == _git(demo.root, "rev-parse", "HEAD").strip()
        for user in ["alice", "bob", "zed", *(f"user-{n}" for n in range(50))]:
            config = client.resolve("support", user)
            assert (config.version, config.variant) == (3, "stable")
            assert BILLING_PARAGRAPH in config.config["system_prompt"]
            assert ("escalate_to_human" in config.tools) == (user == flagged.group(1))
    with RuntimeClient(url, environment="staging") as client:
        assert client.resolve("support", "alice").version == 5
    # The snippet's printed output is what the client says.
    printed = demo.output.split("\nEOF\n", 1)[1].split("\n\nDone in")[0].splitlines()
    assert len(printed) == 3 and all(" v3 stable " in line for line in printed)


def test_every_printed_command_works_when_pasted(demo: DemoRun, tmp_path: Path) -> None:
    """Replays the printed `$ agentver ...` lines, then the explore list, in a copy."""
    copy = tmp_path / "copy"
    shutil.copytree(demo.root, copy)
    lines = demo.output.splitlines()
    commands = [line[2:] for line in lines if line.startswith("$ agentver ")]
    explore = demo.output.split("Explore further:\n", 1)[1].splitlines()[1:]
    explore = [line.strip() for line in explore if not line.strip().startswith("export ")]
    assert len(commands) >= 15
    for command in [*commands, *(c for c in explore if c.startswith("agentver "))]:
        args = shlex.split(command)[1:]
        result = _invoke(args, cwd=copy)
        expected = 1 if args == ["validate"] else 0
        assert result.exit_code == expected, (command, result.stderr)
    git_lines = [c for c in explore if c.startswith("git ")]
    assert git_lines
    for command in git_lines:
        subprocess.run(shlex.split(command), cwd=copy, check=True, capture_output=True)
    # The runtime snippet, exactly as printed.
    heredoc = demo.output.split("$ python - <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0] + "\n"
    proc = subprocess.run(
        [sys.executable, "-"], input=heredoc, cwd=copy, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(" v3 stable ") == 3


def test_refuses_a_non_empty_dir(tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    result = _invoke(["-C", str(tmp_path), "demo", "busy"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "not empty" in result.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    assert _invoke(["-C", str(tmp_path), "demo", "file"]).exit_code == 2
    with pytest.raises(UsageError):
        prepare_directory(target)


def test_default_dir_is_a_new_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = _invoke(["demo"])
    assert result.exit_code == 0, result.stderr
    created = [p for p in tmp_path.iterdir() if p.name.startswith("agentver-demo-")]
    assert len(created) == 1
    assert f"building a story repository in {created[0]}" in result.stdout
    assert f"  cd {created[0]}\n" in result.stdout


def test_snippet_and_subprocess_runner(tmp_path: Path) -> None:
    snippet = runtime_snippet(["alice", "bob"])
    compile(snippet, "<snippet>", "exec")
    assert 'RuntimeClient("sqlite:///.agentver/runtime.db", environment="production")' in snippet
    result = subprocess_runner(tmp_path, ["--version"], {"AGENTVER_STORE": None})
    assert isinstance(result, CommandResult)
    assert result.exit_code == 0 and result.stdout.startswith("agentver ")
    assert agentver.cli.demo_cmd.demo_command.__doc__
