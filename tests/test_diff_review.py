"""``diff --base``: a pull request that only moves pointers shows what will run, and the
markdown comment stays under GitHub's size limit however large the change."""

from __future__ import annotations

import json
from typing import Any

from conftest import Repo, RunCli

from agentver.cli.render_review import MARKDOWN_LIMIT


def cfg(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "system_prompt": prompt, **extra}


def ok(run_cli: RunCli, repo: Repo, *args: str) -> str:
    code, out, err = run_cli(*args, cwd=repo.path)
    assert code == 0, err
    return out


def story(repo: Repo, run_cli: RunCli) -> Repo:
    """support v1..v5 on main with v3 active in production; origin/main marks the base."""
    for number in range(1, 6):
        repo.commit_agent("support", cfg(f"You are support, take {number}. Billing."), f"v{number}")
    ok(run_cli, repo, "deploy", "support", "v3")
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    repo.git("switch", "-q", "-c", "canary-v5")
    return repo


def test_deploy_only_pull_request_shows_the_pointer_change(repo: Repo, run_cli: RunCli) -> None:
    story(repo, run_cli)
    ok(run_cli, repo, "canary", "start", "support", "v5", "--percent", "10")

    text = ok(run_cli, repo, "diff", "--base", "origin/main")
    assert "production/support: v3 -> v5 (canary 10%)" in text
    assert "No agent configuration changes" not in text
    assert text.rstrip().endswith("\n1 deployment change.")
    assert "take 3" in text and "take 5" in text  # the config diff: what ran -> what will

    doc = json.loads(ok(run_cli, repo, "diff", "--base", "origin/main", "--json"))
    assert doc["agents"] == []
    [change] = doc["deployments"]
    assert change["summary"] == "production/support: v3 -> v5 (canary 10%)"
    assert (change["environment"], change["agent"]) == ("production", "support")
    assert change["before"]["active"]["version"] == 3 and change["before"]["canary"] is None
    assert change["after"]["active"]["version"] == 3
    assert change["after"]["canary"]["version"] == 5 and change["after"]["canary"]["percent"] == 10
    assert change["diff"]["from"]["version"] == 3 and change["diff"]["to"]["version"] == 5
    assert any(c["field"] == "system_prompt" for c in change["diff"]["changes"])

    markdown = ok(run_cli, repo, "diff", "--base", "origin/main", "--format", "markdown")
    assert "### Deployments" in markdown
    assert "`production/support: v3 -> v5 (canary 10%)`" in markdown
    assert markdown.count("<details>") == 1 and "take 5" in markdown
    code, _, _ = run_cli("diff", "--base", "origin/main", "--exit-code", cwd=repo.path)
    assert code == 1  # a deployment is a difference


def test_rollback_promote_and_flags_read_as_they_happen(repo: Repo, run_cli: RunCli) -> None:
    story(repo, run_cli)
    ok(run_cli, repo, "canary", "start", "support", "v5", "--percent", "12.5")
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    ok(run_cli, repo, "canary", "promote", "support")
    doc = json.loads(ok(run_cli, repo, "diff", "--base", "origin/main", "--json"))
    assert [c["summary"] for c in doc["deployments"]] == [
        "production/support: v3 + v5 (canary 12.5%) -> v5"
    ]
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    ok(run_cli, repo, "rollback", "support")
    ok(run_cli, repo, "flag", "set", "support", "beta", "--users", "alice", "--create")
    doc = json.loads(ok(run_cli, repo, "diff", "--base", "origin/main", "--json"))
    [change] = doc["deployments"]
    assert change["summary"] == "production/support: v5 -> v3; flags +beta"
    assert change["diff"]["from"]["version"] == 5 and change["diff"]["to"]["version"] == 3


def test_config_and_pointer_changes_together(repo: Repo, run_cli: RunCli) -> None:
    story(repo, run_cli)
    repo.commit_agent("support", cfg("You are support, take 6. Billing."), "v6")
    ok(run_cli, repo, "deploy", "support", "v6")
    doc = json.loads(ok(run_cli, repo, "diff", "--base", "origin/main", "--json"))
    assert [d["agent"] for d in doc["agents"]] == ["support"]
    assert [c["summary"] for c in doc["deployments"]] == ["production/support: v3 -> v6"]
    markdown = ok(run_cli, repo, "diff", "--base", "origin/main", "--format", "markdown")
    assert markdown.count("<details>") == 2


def test_no_changes_at_all(repo: Repo, run_cli: RunCli) -> None:
    story(repo, run_cli)
    assert ok(run_cli, repo, "diff", "--base", "origin/main").strip() == (
        "No agent configuration or deployment changes."
    )


def test_markdown_for_a_huge_change_stays_under_the_limit(repo: Repo, run_cli: RunCli) -> None:
    """Twenty agents whose 400-line prompts all change (the 384 KB comment of issue 15),
    plus one small change that must stay whole."""
    base_lines = [f"Rule {i}: answer billing questions politely, case {i}." for i in range(400)]
    for index in range(20):
        repo.write(
            f"agents/agent{index:02d}.yaml",
            json.dumps(cfg("\n".join(base_lines) + "\n")),
        )
    repo.write("agents/small.yaml", json.dumps(cfg("Small agent.")))
    repo.commit(
        "twenty agents", *[f"agents/agent{i:02d}.yaml" for i in range(20)], "agents/small.yaml"
    )
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    changed = [line.replace("politely", "briefly") for line in base_lines]
    for index in range(20):
        repo.write(f"agents/agent{index:02d}.yaml", json.dumps(cfg("\n".join(changed) + "\n")))
    repo.write("agents/small.yaml", json.dumps(cfg("Small agent, now friendlier.")))
    repo.commit("rewrite", *[f"agents/agent{i:02d}.yaml" for i in range(20)], "agents/small.yaml")

    full = ok(run_cli, repo, "diff", "--base", "origin/main", "--format", "text")
    assert len(full) > 5 * MARKDOWN_LIMIT  # the whole change really is huge
    markdown = ok(run_cli, repo, "diff", "--base", "origin/main", "--format", "markdown")
    assert len(markdown) <= MARKDOWN_LIMIT
    assert markdown.count("<details>") == markdown.count("</details>") == 21
    assert markdown.count("_Truncated: ") == 20
    assert "see all: `agentver diff agent07 @origin/main @HEAD`" in markdown
    small = markdown.split("<summary>small:")[1].split("</details>")[0]
    assert "now friendlier" in small and "Truncated" not in small  # small diffs stay whole
    for block in markdown.split("<details>")[1:]:
        body = block.split("</details>")[0]
        assert body.count("```") % 2 == 0  # every code fence that opens is closed
    assert markdown.rstrip().endswith(
        "21 agents changed: 21 field changes, system prompt changed in 21."
    )


def test_markdown_with_too_many_agents_lists_what_it_omits() -> None:
    from agentver.cli.render_review import render_review_markdown
    from agentver.compare import Review
    from agentver.diff import DiffSide, compute_diff
    from agentver.models import AgentConfig

    def side(prompt: str) -> DiffSide:
        return DiffSide.of("x", None, AgentConfig(model="m", system_prompt=prompt))

    diffs = [compute_diff(f"agent{i:04d}", side("a"), side("b")) for i in range(400)]
    markdown = render_review_markdown(Review("origin/main", "HEAD", diffs, []), limit=20_000)
    assert len(markdown) <= 20_000
    assert "more blocks not shown (comment size limit); see all: " in markdown
    assert "`agentver diff --base origin/main --head HEAD`" in markdown
