"""Versions from first-parent git history (agentver.history): numbering, hashing, caches."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import GIT_EMAIL, GIT_NAME, Repo, RunCli, git_date
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentver.errors import NotFound, RepositoryError
from agentver.history import AgentHistory, analyze_blob
from agentver.workspace import Workspace

PROMPT = "You are the support agent.\n\nYou may answer billing questions.\n"


def cfg(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": "gpt-4o",
        "system_prompt": PROMPT,
        "temperature": 0.7,
        "tools": ["search_kb"],
    }
    data.update(overrides)
    return data


def history_of(repo: Repo, agent: str = "support") -> AgentHistory:
    return Workspace.open(repo.path).history(agent)


def numbers_and_commits(history: AgentHistory) -> list[tuple[int, str]]:
    return [(v.version, v.commit) for v in history.versions]


def reference_hash(data: dict[str, Any]) -> str:
    """The original design's formula, written out independently of agentver."""
    obj = {
        "system_prompt": data["system_prompt"],
        "model": data["model"],
        "temperature": float(data.get("temperature", 0.7)),
        "max_tokens": int(data.get("max_tokens", 4096)),
        "tools": sorted(data.get("tools", [])),
        "guardrails": data.get("guardrails", {}),
    }
    if data.get("params"):
        obj["params"] = data["params"]
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()[:16]


# -- numbering ------------------------------------------------------------------------


def test_versions_carry_commit_metadata_and_reference_hash(repo: Repo) -> None:
    c1 = repo.commit_agent("support", cfg(), "Add support agent")
    c2 = repo.commit_agent("support", cfg(tools=["search_kb", "create_ticket"]), "Add tickets")
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1), (2, c2)]
    v1, v2 = history.versions
    assert v1.config_hash == reference_hash(cfg())
    assert v2.config_hash == reference_hash(cfg(tools=["search_kb", "create_ticket"]))
    assert v1.created_by == f"{GIT_NAME} <{GIT_EMAIL}>"
    assert v1.created_at == "2026-01-01T01:00:00Z"
    assert v2.created_at == "2026-01-01T02:00:00Z"
    assert v1.change_description == "Add support agent"
    assert v1.valid and v2.valid
    assert history.present and history.warnings == []


def test_created_at_is_committer_date_in_utc(repo: Repo) -> None:
    repo.write("agents/support.yaml", yaml.safe_dump(cfg()))
    repo.git("add", "-A")
    repo.git(
        "commit",
        "-qm",
        "add",
        env={
            "GIT_AUTHOR_DATE": "2025-06-01T00:00:00+00:00",
            "GIT_COMMITTER_DATE": "2026-03-04T12:30:00+02:00",
        },
    )
    assert history_of(repo).versions[0].created_at == "2026-03-04T10:30:00Z"


def test_formatting_comment_and_description_commits_are_not_versions(repo: Repo) -> None:
    c1 = repo.commit_agent("support", cfg(), "v1")
    # Same config: flow style, other key order, comments, quoting, 1 vs 1.0 elsewhere.
    reformatted = (
        "# the support agent\n"
        "tools: ['search_kb']   # tools\n"
        'model: "gpt-4o"\n'
        "temperature: 0.70\n"
        "system_prompt: |\n"
        "  You are the support agent.\n\n"
        "  You may answer billing questions.\n"
    )
    repo.commit_agent("support", reformatted, "reformat")
    repo.commit_agent("support", {**cfg(), "description": "Support bot"}, "describe it")
    repo.commit_agent("support", {**cfg(), "description": "Changed words"}, "describe again")
    repo.commit_agent("support", cfg(max_tokens=4096, guardrails={}), "spell out defaults")
    c6 = repo.commit_agent("support", cfg(temperature=0.2), "cooler")
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1), (2, c6)]
    assert history.warnings == []


def test_temperature_int_and_float_hash_alike(repo: Repo) -> None:
    c1 = repo.commit_agent("support", cfg(temperature=1), "int")
    repo.commit_agent("support", cfg(temperature=1.0), "float")
    assert numbers_and_commits(history_of(repo)) == [(1, c1)]


def test_unparseable_commit_is_skipped_with_warning(repo: Repo, run_cli: RunCli) -> None:
    c1 = repo.commit_agent("support", cfg(), "v1")
    broken = repo.commit_agent("support", "model: [unclosed\nsystem_prompt: hi\n", "oops")
    repo.commit_agent("support", "model: gpt-4o\nmodel: gpt-4\nsystem_prompt: x\n", "dup keys")
    repo.commit_agent("support", "model: [a, b]\nsystem_prompt: x\n", "unhashable model")
    repo.commit_agent("support", "- just\n- a list\n", "not a mapping")
    # Back to v1's content: the same hash as the last version, so not a new version.
    repo.commit_agent("support", cfg(), "fix")
    c7 = repo.commit_agent("support", cfg(model="gpt-4.1"), "v2")
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1), (2, c7)]
    assert len(history.warnings) == 4
    assert broken[:10] in history.warnings[0] and "'oops'" in history.warnings[0]
    assert all("not a version" in w for w in history.warnings)

    code, out, err = run_cli("history", "support", "--json", cwd=repo.path)
    assert code == 0
    assert [v["version"] for v in json.loads(out)["versions"]] == [2, 1]
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 4 and broken[:10] in warnings[0]


def test_schema_invalid_but_hashable_is_an_invalid_version(repo: Repo) -> None:
    c1 = repo.commit_agent("support", cfg(), "v1")
    c2 = repo.commit_agent("support", cfg(temperature=5), "too hot")
    # An unknown key fails the schema but is not hashed: this is v1's hash again, which
    # differs from the previous version (v2), so it is a version, and an invalid one.
    c3 = repo.commit_agent("support", {**cfg(), "unknown_key": 1}, "extra key")
    c4 = repo.commit_agent("support", cfg(temperature=0.3), "v4")
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1), (2, c2), (3, c3), (4, c4)]
    assert [v.valid for v in history.versions] == [True, False, False, True]
    assert history.versions[2].config_hash == history.versions[0].config_hash
    assert history.warnings == []


def test_invalid_then_valid_with_same_hash_is_not_new(repo: Repo) -> None:
    # An extra key makes the file fail the schema but does not change the hash.
    c1 = repo.commit_agent("support", {**cfg(), "extra": True}, "invalid first")
    repo.commit_agent("support", cfg(), "now valid, same hash")
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1)]
    assert history.versions[0].valid is False


def test_delete_and_readd_continues_numbering(repo: Repo, run_cli: RunCli) -> None:
    c1 = repo.commit_agent("support", cfg(), "v1")
    c2 = repo.commit_agent("support", cfg(model="gpt-4.1"), "v2")
    repo.commit_agent("billing", cfg(), "other agent")
    repo.rm("agents/support.yaml")
    repo.commit("retire support")
    retired = history_of(repo)
    assert not retired.present and numbers_and_commits(retired) == [(1, c1), (2, c2)]
    _, out, _ = run_cli("list", "--json", cwd=repo.path)
    assert [a["agent"] for a in json.loads(out)["agents"]] == ["billing"]

    # Back with the same hash as the last version: not new.
    repo.commit_agent("support", cfg(model="gpt-4.1"), "restore")
    assert numbers_and_commits(history_of(repo)) == [(1, c1), (2, c2)]
    repo.rm("agents/support.yaml")
    repo.commit("retire again")
    # Back with a new hash: numbering goes on.
    c3 = repo.commit_agent("support", cfg(model="gpt-5"), "return")
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1), (2, c2), (3, c3)]
    assert history.present


def test_only_first_parent_history_counts(repo: Repo) -> None:
    c1 = repo.commit_agent("support", cfg(), "v1")
    repo.git("switch", "-q", "-c", "side")
    side1 = repo.commit_agent("support", cfg(model="gpt-4.1"), "side 1")
    side2 = repo.commit_agent("support", cfg(model="gpt-5"), "side 2")
    # A side-branch edit that is undone before merging leaves no trace on main.
    repo.git("switch", "-q", "main")
    repo.git("switch", "-q", "-c", "noop")
    repo.commit_agent("support", cfg(model="tmp"), "tmp")
    repo.commit_agent("support", cfg(), "undo tmp")
    repo.git("switch", "-q", "main")
    repo.write("README.md", "readme\n")
    repo.commit("unrelated on main", "README.md")
    repo.git("merge", "-q", "--no-ff", "noop", "-m", "merge noop", env=repo.tick())
    repo.git("merge", "-q", "--no-ff", "side", "-m", "merge side", env=repo.tick())
    merge = repo.head()
    history = history_of(repo)
    assert numbers_and_commits(history) == [(1, c1), (2, merge)]
    assert history.versions[1].change_description == "merge side"
    assert history.versions[1].config_hash == reference_hash(cfg(model="gpt-5"))
    assert {side1, side2}.isdisjoint(v.commit for v in history.versions)


def test_unrelated_commits_and_other_agents_do_not_count(repo: Repo) -> None:
    c1 = repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("billing", cfg(model="gpt-5"), "billing v1")
    repo.write("agents/nested/support.yaml", yaml.safe_dump(cfg(model="nested")))
    repo.write("agents/Bad Name.yaml", yaml.safe_dump(cfg()))
    repo.write("agents/notes.txt", "hello\n")
    repo.commit("noise")
    ws = Workspace.open(repo.path)
    assert numbers_and_commits(ws.history("support")) == [(1, c1)]
    assert sorted(ws.agents()) == ["billing", "support"]


def test_unknown_agent_is_not_found_with_known_agents(repo: Repo) -> None:
    repo.commit_agent("support", cfg(), "v1")
    with pytest.raises(NotFound) as info:
        history_of(repo, "nosuch")
    assert info.value.exit_code == 2
    assert "known agents: support" in (info.value.hint or "")


def test_agents_dir_setting_is_used(repo: Repo) -> None:
    repo.write("agentver.yaml", "agents_dir: configs/agents\n")
    repo.write("configs/agents/support.yaml", yaml.safe_dump(cfg()))
    c1 = repo.commit("add")
    assert numbers_and_commits(history_of(repo)) == [(1, c1)]


# -- hashing --------------------------------------------------------------------------

_texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
)
_configs = st.fixed_dictionaries(
    {
        "model": _texts,
        "system_prompt": _texts,
        "temperature": st.one_of(st.integers(0, 2), st.floats(0, 2, allow_nan=False)),
        "max_tokens": st.integers(1, 10**6),
        "tools": st.lists(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), unique=True, max_size=5),
        "guardrails": st.dictionaries(
            st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.booleans(), max_size=3
        ),
    },
    optional={
        "params": st.dictionaries(
            st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
            st.floats(0, 1, allow_nan=False),
            max_size=2,
        ),
        "description": _texts,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_configs, seed=st.randoms(use_true_random=False))
def test_hash_is_invariant_under_formatting(data: dict[str, Any], seed: Any) -> None:
    block = yaml.safe_dump(data, sort_keys=True, allow_unicode=True)
    keys = list(data)
    seed.shuffle(keys)
    shuffled = {key: data[key] for key in keys}
    shuffled["tools"] = list(reversed(data["tools"]))
    flow = "# comment\n" + yaml.safe_dump(
        shuffled, default_flow_style=True, allow_unicode=False, width=10_000
    )
    first = analyze_blob(block.encode(), "agents/a.yaml")
    second = analyze_blob(flow.encode(), "agents/a.yaml")
    assert first.config_hash is not None
    assert first.config_hash == second.config_hash == reference_hash(data)


# -- caches ---------------------------------------------------------------------------


def _history_json(run_cli: RunCli, repo: Repo, *args: str) -> str:
    code, out, err = run_cli(*args, cwd=repo.path)
    assert code == 0, err
    return out


def test_deleting_the_cache_changes_no_output(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("support", "model: [x\n", "broken")
    repo.commit_agent("support", cfg(temperature=5), "invalid")
    repo.commit_agent("billing", cfg(), "billing")
    commands = [
        ("history", "support", "--json"),
        ("list", "--json"),
        ("show", "support", "1", "--json"),
    ]
    cold = [run_cli(*c, cwd=repo.path) for c in commands]
    assert (repo.path / ".git" / "agentver-cache").is_dir()
    warm = [run_cli(*c, cwd=repo.path) for c in commands]
    shutil.rmtree(repo.path / ".git" / "agentver-cache")
    again = [run_cli(*c, cwd=repo.path) for c in commands]
    assert [r[:2] for r in cold] == [r[:2] for r in warm] == [r[:2] for r in again]
    # Warnings are part of the output too and come from the cache when warm.
    assert "warning:" in warm[0].stderr and warm[0].stderr.count("warning:") == 1


@pytest.mark.parametrize(
    "garbage",
    [
        "{not json",
        "{}",
        "[]",
        "null",
        '{"agent": "support", "present": true, "warnings": [], "versions": [[1, "x"]]}',
        '{"agent": "support", "present": true, "warnings": [], "versions": [{"version": 1}]}',
        '{"agents": [{"agent": "support"}]}',
    ],
)
def test_garbage_in_the_cache_is_never_served(repo: Repo, run_cli: RunCli, garbage: str) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("support", cfg(model="b"), "v2")
    commands = [("history", "support", "--json"), ("list", "--json"), ("show", "support", "--json")]
    good = [_history_json(run_cli, repo, *c) for c in commands]
    cache = repo.path / ".git" / "agentver-cache"
    paths = list(cache.rglob("*.json"))
    assert len(paths) >= 3  # blob cache, per-agent and all-agents entries
    for path in paths:
        path.write_text(garbage, "utf-8")
    assert [_history_json(run_cli, repo, *c) for c in commands] == good


def test_new_commit_is_never_served_stale(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", cfg(), "v1")
    _history_json(run_cli, repo, "history", "support", "--json")
    _history_json(run_cli, repo, "list", "--json")
    c2 = repo.commit_agent("support", cfg(model="gpt-5"), "v2")
    doc = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    assert (doc["versions"][0]["version"], doc["versions"][0]["commit"]) == (2, c2)
    listed = json.loads(_history_json(run_cli, repo, "list", "--json"))
    assert listed["agents"][0]["latest"] == 2


def test_amend_and_reset_are_never_served_stale(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("support", cfg(model="gpt-5"), "v2")
    before = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    assert before["versions"][0]["change_description"] == "v2"

    repo.write("agents/support.yaml", yaml.safe_dump(cfg(model="gpt-6")))
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "-m", "v2 amended", env=repo.tick())
    amended = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    assert amended["versions"][0]["commit"] == repo.head()
    assert amended["versions"][0]["config_hash"] == reference_hash(cfg(model="gpt-6"))
    assert amended["versions"][0]["change_description"] == "v2 amended"

    repo.git("reset", "-q", "--hard", "HEAD~1")
    reset = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    assert [v["version"] for v in reset["versions"]] == [1]
    # And forward again to a commit whose result was cached earlier.
    repo.git("reset", "-q", "--hard", "HEAD@{1}")
    forward = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    assert forward == amended


def test_rebase_is_never_served_stale(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.git("switch", "-q", "-c", "feature")
    repo.commit_agent("support", cfg(model="gpt-5"), "feature change")
    feature_doc = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    repo.git("switch", "-q", "main")
    repo.commit_agent("support", cfg(temperature=0.1), "main change")
    repo.git("switch", "-q", "feature")
    repo.git("rebase", "-q", "main", env=repo.tick())
    doc = json.loads(_history_json(run_cli, repo, "history", "support", "--json"))
    assert [v["change_description"] for v in doc["versions"]] == [
        "feature change",
        "main change",
        "v1",
    ]
    assert doc["versions"][0]["commit"] == repo.head()
    assert doc != feature_doc


def test_commit_graph_is_written_once_and_can_be_turned_off(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    repo.commit_agent("support", cfg(), "v1")
    graph = repo.path / ".git" / "objects" / "info" / "commit-graph"
    _, _, err = run_cli("history", "support", "--json", cwd=repo.path)
    assert graph.exists() and "commit-graph" in err
    repo.commit_agent("support", cfg(model="x"), "v2")
    _, _, err = run_cli("history", "support", "--json", cwd=repo.path)
    assert "commit-graph" not in err

    other = Repo(tmp_path / "other")
    other.write("agentver.yaml", "commit_graph: false\n")
    other.commit_agent("support", cfg(), "v1")
    code, _, err = run_cli("history", "support", "--json", cwd=other.path)
    assert code == 0 and "commit-graph" not in err
    assert not (other.path / ".git" / "objects" / "info" / "commit-graph").exists()


# -- repository states (core) -----------------------------------------------------------


def test_shallow_clone_is_refused(repo: Repo, tmp_path: Path) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("support", cfg(model="b"), "v2")
    clone = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone))
    with pytest.raises(RepositoryError) as info:
        Workspace.open(clone).history("support")
    assert "shallow" in info.value.message
    assert "git fetch --unshallow" in (info.value.hint or "")


def test_fake_clock_matches_conftest() -> None:
    # Guards the dates asserted above against a change of the shared fake clock.
    assert git_date(1) == "2026-01-01T01:00:00+00:00"


def test_cached_version_rows_keep_field_order_whatever_built_the_version() -> None:
    """_history_to_json writes a Version's __dict__ values as its row: a Version made by
    dataclasses.replace (policies) or by the fast constructor must give the same row."""
    import dataclasses

    from agentver.history import AgentHistory, _history_from_json, _history_to_json
    from agentver.models import Version

    made = Version(
        agent="a",
        version=1,
        config_hash="h",
        commit="c",
        created_by="b <b@x>",
        created_at="2026-01-01T00:00:00Z",
        change_description="s",
        valid=True,
        blob="x",
        problems=("p",),
    )
    history = AgentHistory("a", [made, dataclasses.replace(made, version=2, valid=False)])
    again = _history_from_json(_history_to_json(history))
    assert again.versions == history.versions
    assert _history_to_json(again) == _history_to_json(history)
