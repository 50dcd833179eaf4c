"""Validity in history: a version that breaks a rule is still a version, reported
``valid: false`` with its reasons (docs/design.md sections 3 and 8; issue 12 finding 2)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import Repo, RunCli

from agentver.errors import CheckFailed
from agentver.validity import (
    InvalidVersion,
    policy_reasons,
    require_valid,
    unservable_reasons,
    validity_reasons,
)
from agentver.workspace import Workspace

GOOD = "model: gpt-4o\nsystem_prompt: You help with billing.\n"


def test_unstorable_versions_keep_their_numbers_and_say_why(repo: Repo, run_cli: RunCli) -> None:
    c1 = repo.commit_agent("support", GOOD, "v1")
    c2 = repo.commit_agent("support", GOOD + "max_tokens: 99999999999999999999\n", "huge")
    c3 = repo.commit_agent("support", GOOD + "guardrails: {limit: 0x1F}\n", "hex")
    c4 = repo.commit_agent("support", GOOD + "guardrails: {limit: 31}\n", "decimal")
    history = Workspace.open(repo.path).history("support")
    # hex 0x1F and decimal 31 hash alike: numbering does not depend on the storable rule
    assert [(v.version, v.commit) for v in history.versions] == [(1, c1), (2, c2), (3, c3)]
    assert c4 not in [v.commit for v in history.versions]
    assert [v.valid for v in history.versions] == [True, False, False]
    assert history.versions[1].problems == (
        "line 3, col 13: storable: max_tokens: integer 99999999999999999999 is outside the "
        "64-bit range (-9223372036854775808 to 9223372036854775807)",
    )
    assert "0x1F is a hexadecimal number" in history.versions[2].problems[0]

    code, out, _ = run_cli("history", "support", "--json", cwd=repo.path)
    assert code == 0
    doc = json.loads(out)
    assert [(v["version"], v["valid"]) for v in doc["versions"]] == [
        (3, False),
        (2, False),
        (1, True),
    ]
    assert doc["versions"][2]["problems"] == []
    assert "outside the 64-bit range" in doc["versions"][1]["problems"][0]

    code, out, _ = run_cli("list", "--json", cwd=repo.path)
    assert json.loads(out)["agents"][0]["invalid"] == [2, 3]
    assert unservable_reasons(history.versions[1]) == history.versions[1].problems
    assert policy_reasons(history.versions[1]) == ()
    code, out, _ = run_cli("show", "support", "2", cwd=repo.path)
    assert "valid:       no" in out and "outside the 64-bit range" in out


def test_schema_problems_are_reasons_too(repo: Repo) -> None:
    repo.commit_agent("support", GOOD + "temperature: 5\n", "too hot")
    (version,) = Workspace.open(repo.path).history("support").versions
    assert not version.valid
    assert version.problems == ("line 3, col 14: temperature: 5 is greater than the maximum of 2",)
    assert validity_reasons(version) == version.problems
    with pytest.raises(InvalidVersion) as caught:
        require_valid(version)
    assert isinstance(caught.value, CheckFailed) and caught.value.exit_code == 1
    assert "support v1 is not valid: line 3, col 14" in caught.value.message
    assert "--skip-gate --reason" in (caught.value.hint or "")


def test_a_bad_tag_in_history_is_a_warning_not_a_crash(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", GOOD, "v1")
    bad = repo.commit_agent("support", GOOD + "max_tokens: !!int abc\n", "tagged")
    code, out, err = run_cli("history", "support", cwd=repo.path)
    assert code == 0 and "v1" in out
    assert f"at commit {bad[:10]}" in err and "cannot be read as a YAML int" in err


BILLING = 'policies:\n  support: {require: ["billing"]}\n'


def test_a_version_that_breaks_a_committed_policy_is_invalid(repo: Repo, run_cli: RunCli) -> None:
    """Issue 14: the deleted billing paragraph was shown "valid": true."""
    repo.write("agentver.yaml", BILLING)
    repo.commit("policy")
    repo.commit_agent("support", GOOD, "v1")
    repo.commit_agent("support", "model: gpt-4o\nsystem_prompt: You help.\n", "drop billing")
    _, out, _ = run_cli("history", "support", "--json", cwd=repo.path)
    versions = {v["version"]: v for v in json.loads(out)["versions"]}
    assert (versions[1]["valid"], versions[1]["problems"]) == (True, [])
    assert versions[2]["valid"] is False
    assert versions[2]["problems"] == [
        'line 2, col 1: policy: system prompt must contain "billing" (policy for support)'
    ]
    _, out, _ = run_cli("list", "--json", cwd=repo.path)
    assert json.loads(out)["agents"][0]["invalid"] == [2]
    version = Workspace.open(repo.path).history("support").versions[1]
    assert policy_reasons(version) == version.problems and unservable_reasons(version) == ()


def test_policies_are_those_committed_at_the_versions_commit(repo: Repo) -> None:
    repo.commit_agent("support", "model: gpt-4o\nsystem_prompt: You help.\n", "v1, no policy yet")
    repo.write("agentver.yaml", BILLING)
    repo.commit("policy")  # later policy: v1 stays as it was judged
    repo.commit_agent("support", "model: gpt-4o\nsystem_prompt: You help a lot.\n", "v2")
    repo.write("agentver.yaml", "policies: {}\n")  # uncommitted edits never count
    versions = Workspace.open(repo.path).history("support").versions
    assert [v.valid for v in versions] == [True, False]


def test_policy_validity_survives_caches_and_incremental_history(
    repo: Repo, run_cli: RunCli
) -> None:
    repo.write("agentver.yaml", BILLING)
    repo.commit("policy")
    repo.commit_agent("support", GOOD, "v1")
    first = run_cli("list", "--json", cwd=repo.path)  # caches HEAD's histories
    repo.commit_agent("support", "model: gpt-4o\nsystem_prompt: Hi.\n", "v2 drops billing")
    repo.commit_agent("support", GOOD + "temperature: 0.2\n", "v3 restores it")
    warm = run_cli("history", "support", "--json", cwd=repo.path)
    listed = run_cli("list", "--json", cwd=repo.path)  # extends the cached lists
    for cache in repo.path.joinpath(".git").glob("agentver*"):
        shutil.rmtree(cache)
    cold = run_cli("history", "support", "--json", cwd=repo.path)
    assert first[0] == 0 and warm == cold
    valid = [(v["version"], v["valid"]) for v in json.loads(cold[1])["versions"]]
    assert valid == [(3, True), (2, False), (1, True)]
    assert json.loads(listed[1])["agents"][0]["invalid"] == [2]


def test_a_policy_override_is_published_but_an_unstorable_version_never(
    repo: Repo, run_cli: RunCli
) -> None:
    """A policy finding is overridable (deploy --skip-gate --reason, recorded in git), so
    sync publishes that pointer; schema and storable problems are not (unservable)."""
    repo.write("agentver.yaml", BILLING)
    repo.commit("policy")
    repo.commit_agent("support", GOOD, "v1")
    repo.commit_agent("support", "model: gpt-4o\nsystem_prompt: You help.\n", "v2 drops billing")
    code, _, err = run_cli(
        "deploy", "support", "2", "--skip-gate", "--reason", "known", cwd=repo.path
    )
    assert code == 0, err
    code, out, err = run_cli("sync", cwd=repo.path)
    assert code == 0, out + err
    assert "not published" not in out + err
    code, out, _ = run_cli("history", "support", "--json", cwd=repo.path)
    latest = json.loads(out)["versions"][0]
    assert (latest["version"], latest["valid"], latest["deployed"]) == (
        2,
        False,
        {"production": "active"},
    )
