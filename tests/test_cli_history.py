"""`list`, `history`, `show` and `diff` through the CLI: JSON shapes, diff content, states."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Repo, RunCli

PROMPT_V1 = (
    "You are the support agent for Acme.\n"
    "\n"
    "You can answer billing questions and look up invoices.\n"
    "Never share card numbers.\n"
    "\n"
    "Escalate angry customers to a human.\n"
)
PROMPT_V3 = "You are the support agent for Acme.\n\nEscalate angry customers to a human.\n"
HEX16 = re.compile(r"[0-9a-f]{16}")
HEX40 = re.compile(r"[0-9a-f]{40}")
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def support(prompt: str = PROMPT_V1, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": "gpt-4o",
        "system_prompt": prompt,
        "tools": ["search_kb"],
        "guardrails": {"pii_redaction": True},
    }
    data.update(extra)
    return data


@pytest.fixture
def story(repo: Repo) -> Repo:
    """support v1..v3: v2 adds a tool and changes temperature, v3 drops the billing paragraph."""
    repo.commit_agent("support", support(), "Add support agent")
    repo.commit_agent(
        "support", support(tools=["search_kb", "create_ticket"], temperature=0.3), "Add tickets"
    )
    repo.commit_agent(
        "support",
        support(PROMPT_V3, tools=["search_kb", "create_ticket"], temperature=0.3),
        "Shorten prompt",
    )
    return repo


def ok(run_cli: RunCli, repo: Repo, *args: str) -> Any:
    code, out, err = run_cli(*args, cwd=repo.path)
    assert code == 0, err
    return json.loads(out)


def version_shape(item: dict[str, Any]) -> None:
    assert isinstance(item["version"], int) and not isinstance(item["version"], bool)
    assert HEX16.fullmatch(item["config_hash"])
    assert HEX40.fullmatch(item["commit"])
    assert item["created_by"] == "Test Author <author@example.com>"
    assert ISO_Z.fullmatch(item["created_at"])
    assert isinstance(item["change_description"], str)
    assert isinstance(item["valid"], bool)


# -- JSON shapes ----------------------------------------------------------------------------


def test_history_json_shape(story: Repo, run_cli: RunCli) -> None:
    doc = ok(run_cli, story, "history", "support", "--json")
    assert set(doc) == {"agent", "versions"} and doc["agent"] == "support"
    assert [v["version"] for v in doc["versions"]] == [3, 2, 1]  # newest first
    for item in doc["versions"]:
        assert set(item) == {
            "version",
            "config_hash",
            "commit",
            "created_by",
            "created_at",
            "change_description",
            "valid",
            "problems",
            "deployed",
        }
        version_shape(item)
        assert item["deployed"] == {}
    assert doc["versions"][0]["change_description"] == "Shorten prompt"
    assert doc["versions"][2]["created_at"] == "2026-01-01T01:00:00Z"
    limited = ok(run_cli, story, "history", "support", "--json", "--limit", "2")
    assert [v["version"] for v in limited["versions"]] == [3, 2]


def test_history_and_list_markers(story: Repo, run_cli: RunCli) -> None:
    story.write("agentver.yaml", "environments: [staging, production]\n")
    story.commit("two environments", "agentver.yaml")
    assert run_cli("deploy", "support", "1", "--env", "production", cwd=story.path).exit_code == 0
    assert run_cli("deploy", "support", "2", "--env", "staging", cwd=story.path).exit_code == 0
    code, _, err = run_cli(
        "canary", "start", "support", "3", "--percent", "12.5", "--env", "staging", cwd=story.path
    )
    assert code == 0, err
    doc = ok(run_cli, story, "history", "support", "--json")
    deployed = {v["version"]: v["deployed"] for v in doc["versions"]}
    assert deployed == {
        3: {"staging": "canary"},
        2: {"staging": "active"},
        1: {"production": "active"},
    }
    listed = ok(run_cli, story, "list", "--json")
    assert listed == {
        "agents": [
            {
                "agent": "support",
                "versions": 3,
                "latest": 3,
                "invalid": [],
                "environments": {
                    "staging": {"active": 2, "canary": {"version": 3, "percent": 12.5}},
                    "production": {"active": 1, "canary": None},
                },
            }
        ]
    }
    # Text output carries the same markers.
    code, out, _ = run_cli("history", "support", cwd=story.path)
    assert code == 0
    line_v3 = next(line for line in out.splitlines() if line.startswith("v3"))
    assert "staging:canary" in line_v3
    assert "production:active" in next(line for line in out.splitlines() if line.startswith("v1"))
    code, out, _ = run_cli("list", cwd=story.path)
    assert "canary v3 at 12.5%" in out


def test_list_json_shape_and_int_percent(story: Repo, run_cli: RunCli) -> None:
    story.commit_agent("billing", support(), "billing")
    listed = ok(run_cli, story, "list", "--json")
    assert [a["agent"] for a in listed["agents"]] == ["billing", "support"]
    assert listed["agents"][1]["environments"] == {"production": {"active": None, "canary": None}}
    run_cli("deploy", "support", "1", cwd=story.path)
    run_cli("canary", "start", "support", "2", "--percent", "10", cwd=story.path)
    canary = ok(run_cli, story, "list", "--json")["agents"][1]["environments"]["production"][
        "canary"
    ]
    assert canary == {"version": 2, "percent": 10} and isinstance(canary["percent"], int)
    for agent in listed["agents"]:
        assert set(agent) == {"agent", "versions", "latest", "invalid", "environments"}


def test_show_json_shape(story: Repo, run_cli: RunCli) -> None:
    doc = ok(run_cli, story, "show", "support", "--json")  # default: latest
    assert set(doc) == {
        "agent",
        "version",
        "config_hash",
        "commit",
        "created_by",
        "created_at",
        "change_description",
        "valid",
        "problems",
        "config",
    }
    version_shape(doc)
    assert doc["agent"] == "support" and doc["version"] == 3
    assert doc["config"] == {
        "model": "gpt-4o",
        "system_prompt": PROMPT_V3,
        "temperature": 0.3,
        "max_tokens": 4096,
        "tools": ["search_kb", "create_ticket"],
        "guardrails": {"pii_redaction": True},
    }
    first = ok(run_cli, story, "show", "support", "v1", "--json")
    assert first["version"] == 1 and first["config"]["temperature"] == 0.7
    history = ok(run_cli, story, "history", "support", "--json")
    assert first["config_hash"] == history["versions"][2]["config_hash"]


def test_show_worktree_and_text(story: Repo, run_cli: RunCli) -> None:
    story.write("agents/support.yaml", yaml.safe_dump(support("Draft.\n", description="wip")))
    doc = ok(run_cli, story, "show", "support", "worktree", "--json")
    assert doc["version"] is None and doc["commit"] is None
    assert doc["config"]["system_prompt"] == "Draft.\n" and doc["config"]["description"] == "wip"
    code, out, _ = run_cli("show", "support", "2", cwd=story.path)
    assert code == 0 and "support v2" in out and "create_ticket" in out


# -- diff -----------------------------------------------------------------------------------


def test_diff_json_shape_and_content(story: Repo, run_cli: RunCli) -> None:
    doc = ok(run_cli, story, "diff", "support", "1", "3", "--format", "json")
    assert set(doc) == {"agent", "from", "to", "changes", "system_prompt_diff"}
    assert doc["agent"] == "support"
    hashes = {
        v["version"]: v["config_hash"]
        for v in ok(run_cli, story, "history", "support", "--json")["versions"]
    }
    assert doc["from"] == {"version": 1, "config_hash": hashes[1]}
    assert doc["to"] == {"version": 3, "config_hash": hashes[3]}
    for change in doc["changes"]:
        assert change["kind"] in ("added", "removed", "changed")
        assert set(change) <= {"field", "kind", "old", "new"}
    assert {"field": "tools", "kind": "added", "new": "create_ticket"} in doc["changes"]
    assert {"field": "temperature", "kind": "changed", "old": 0.7, "new": 0.3} in doc["changes"]
    assert any(c["field"] == "system_prompt" and c["kind"] == "changed" for c in doc["changes"])
    removed = [
        line
        for line in doc["system_prompt_diff"].splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    assert removed == [
        "-You can answer billing questions and look up invoices.",
        "-Never share card numbers.",
        "-",
    ]
    assert not [
        line
        for line in doc["system_prompt_diff"].splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    same = ok(run_cli, story, "diff", "support", "2", "2", "--json")
    assert same["changes"] == [] and same["system_prompt_diff"] == ""


def test_diff_nested_and_removed_tools(story: Repo, run_cli: RunCli) -> None:
    story.commit_agent(
        "support",
        support(
            PROMPT_V3,
            tools=["create_ticket"],
            temperature=0.3,
            guardrails={"pii_redaction": False},
            params={"top_p": 0.9},
        ),
        "v4",
    )
    doc = ok(run_cli, story, "diff", "support", "3", "4", "--json")
    assert {"field": "tools", "kind": "removed", "old": "search_kb"} in doc["changes"]
    assert {
        "field": "guardrails.pii_redaction",
        "kind": "changed",
        "old": True,
        "new": False,
    } in doc["changes"]
    assert {"field": "params.top_p", "kind": "added", "new": 0.9} in doc["changes"]
    assert doc["system_prompt_diff"] == ""


def test_diff_without_agent_in_a_one_agent_repo(story: Repo, run_cli: RunCli) -> None:
    with_agent = ok(run_cli, story, "diff", "support", "v1", "v3", "--json")
    without = ok(run_cli, story, "diff", "v1", "v3", "--json")
    assert with_agent == without
    story.commit_agent("billing", support(), "second agent")
    code, out, err = run_cli("diff", "v1", "v3", "--json", cwd=story.path)
    assert code == 2 and out == ""
    assert "which agent?" in err and "billing, support" in err


def test_diff_defaults(story: Repo, run_cli: RunCli) -> None:
    # Nothing deployed: latest -> worktree.
    doc = ok(run_cli, story, "diff", "support", "--json")
    assert doc["from"]["version"] == 3 and doc["to"]["version"] is None
    assert doc["changes"] == []
    story.write(
        "agents/support.yaml",
        yaml.safe_dump(
            support(
                PROMPT_V3 + "Be brief.\n", tools=["search_kb", "create_ticket"], temperature=0.3
            )
        ),
    )
    doc = ok(run_cli, story, "diff", "--json")
    assert doc["from"]["version"] == 3 and doc["to"]["version"] is None
    assert "+Be brief." in doc["system_prompt_diff"]
    # Something deployed: active -> worktree.
    assert run_cli("deploy", "support", "1", cwd=story.path).exit_code == 0
    doc = ok(run_cli, story, "diff", "support", "--json")
    assert doc["from"]["version"] == 1 and doc["to"]["version"] is None
    # One reference: that -> worktree.
    doc = ok(run_cli, story, "diff", "support", "2", "--json")
    assert doc["from"]["version"] == 2 and doc["to"]["version"] is None


def test_diff_exit_code(story: Repo, run_cli: RunCli) -> None:
    code, _, _ = run_cli("diff", "support", "1", "2", "--exit-code", "--json", cwd=story.path)
    assert code == 1
    code, _, _ = run_cli("diff", "support", "2", "2", "--exit-code", cwd=story.path)
    assert code == 0
    code, _, _ = run_cli("diff", "support", "1", "2", cwd=story.path)
    assert code == 0


def test_diff_text_and_markdown(story: Repo, run_cli: RunCli) -> None:
    code, out, _ = run_cli("diff", "support", "1", "3", cwd=story.path)
    assert code == 0
    assert "-You can answer billing questions and look up invoices." in out
    assert "create_ticket" in out
    code, out, _ = run_cli("diff", "support", "1", "3", "--format", "markdown", cwd=story.path)
    assert code == 0
    assert "```diff" in out
    assert "-You can answer billing questions and look up invoices." in out
    assert "create_ticket" in out and "support" in out


def test_diff_base_head_over_two_agents(story: Repo, run_cli: RunCli) -> None:
    base = story.head()
    story.commit_agent("billing", support("Billing agent.\n"), "add billing")
    story.commit_agent("support", support(PROMPT_V3, tools=["create_ticket"]), "support v4")
    story.write("README.md", "not an agent\n")
    story.commit("readme")
    doc = ok(run_cli, story, "diff", "--base", base, "--json")
    assert doc["base"] == base and doc["head"] == "HEAD"
    agents = {d["agent"]: d for d in doc["agents"]}
    assert sorted(agents) == ["billing", "support"]
    assert agents["billing"]["from"]["version"] is None
    assert any(
        c["field"] == "tools" and c["kind"] == "removed" and c["old"] == "search_kb"
        for c in agents["support"]["changes"]
    )
    code, _, _ = run_cli("diff", "--base", base, "--exit-code", cwd=story.path)
    assert code == 1
    # --head limits the range: only billing changed between base and HEAD~2.
    doc = ok(run_cli, story, "diff", "--base", base, "--head", "HEAD~2", "--json")
    assert [d["agent"] for d in doc["agents"]] == ["billing"]
    code, out, _ = run_cli("diff", "--base", base, "--format", "markdown", cwd=story.path)
    assert code == 0 and "billing" in out and "support" in out
    code, _, _ = run_cli("diff", "--base", "HEAD", "--exit-code", cwd=story.path)
    assert code == 0
    code, _, err = run_cli("diff", "--base", "nosuchrev", cwd=story.path)
    assert code == 2 and "unknown git revision" in err
    code, _, err = run_cli("diff", "--head", "HEAD", cwd=story.path)
    assert code == 2 and "--head needs --base" in err


# -- repository states ----------------------------------------------------------------------

STATE_COMMANDS = [
    ("list", "--json"),
    ("history", "support", "--json"),
    ("show", "support"),
    ("diff", "support", "1", "2"),
]


@pytest.mark.parametrize("args", STATE_COMMANDS)
def test_not_a_git_work_tree(tmp_path: Path, run_cli: RunCli, args: tuple[str, ...]) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    code, out, err = run_cli(*args, cwd=folder)
    assert code == 2 and out == ""
    assert err.startswith("error: not a git repository")
    assert "hint:" in err and "Traceback" not in err


@pytest.mark.parametrize("args", STATE_COMMANDS)
def test_bare_repository(tmp_path: Path, run_cli: RunCli, args: tuple[str, ...]) -> None:
    bare = tmp_path / "bare.git"
    bare.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    code, out, err = run_cli(*args, cwd=bare)
    assert code == 2 and out == ""
    assert "bare repository" in err and "hint:" in err


@pytest.mark.parametrize("args", STATE_COMMANDS)
def test_repository_without_commits(repo: Repo, run_cli: RunCli, args: tuple[str, ...]) -> None:
    repo.write("agents/support.yaml", yaml.safe_dump(support()))
    code, out, err = run_cli(*args, cwd=repo.path)
    assert code == 2 and out == ""
    assert "no commits yet" in err and "hint:" in err


@pytest.mark.parametrize("args", STATE_COMMANDS)
def test_shallow_clone(story: Repo, tmp_path: Path, run_cli: RunCli, args: tuple[str, ...]) -> None:
    clone = tmp_path / "clone"
    story.git("clone", "-q", "--depth", "1", f"file://{story.path}", str(clone))
    code, out, err = run_cli(*args, cwd=clone)
    assert code == 2 and out == ""
    assert "shallow clone" in err
    assert "hint:" in err and "git fetch --unshallow" in err


def test_dash_c_option(story: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    doc = ok(run_cli, story, "history", "support", "--json")
    code, out, _ = run_cli("-C", str(story.path), "history", "support", "--json", cwd=tmp_path)
    assert code == 0 and json.loads(out) == doc
    sub = story.path / "agents"
    code, out, _ = run_cli("history", "support", "--json", cwd=sub)
    assert code == 0 and json.loads(out) == doc


def test_unknown_agent(story: Repo, run_cli: RunCli) -> None:
    code, out, err = run_cli("history", "nosuch", "--json", cwd=story.path)
    assert code == 2 and out == ""
    assert "unknown agent 'nosuch'" in err and "known agents: support" in err
    code, _, err = run_cli("history", "../etc", cwd=story.path)
    assert code == 2 and "invalid agent id" in err


def test_json_stdout_is_one_document_even_with_warnings(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", support(), "v1")
    repo.commit_agent("support", "model: [\n", "broken")
    for args in (
        ("list", "--json"),
        ("history", "support", "--json"),
        ("show", "support", "--json"),
    ):
        code, out, err = run_cli(*args, cwd=repo.path)
        assert code == 0
        json.loads(out)  # exactly one document, nothing else on stdout
        assert "warning:" in err or args[0] == "show"
