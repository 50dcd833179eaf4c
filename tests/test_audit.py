"""Forensics: `deployments` events and `--at`, and `resolve --at`, from pointer history."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Repo, RunCli

from agentver.deploy.audit import parse_time, state_at
from agentver.deploy.pointers import pointer_path
from agentver.errors import UsageError
from agentver.workspace import Workspace

POINTER = pointer_path("production", "support")


def cfg(model: str) -> dict[str, Any]:
    return {"model": model, "system_prompt": f"You are {model}.\n"}


def at(step: int) -> str:
    """The fake clock in the ``...Z`` form agentver prints."""
    return f"2026-01-01T{step:02d}:00:00Z"


@pytest.fixture
def timeline(repo: Repo, run_cli: RunCli) -> tuple[Repo, list[str]]:
    """Versions at steps 1-3; pointer commits at steps 4-9, one per hour."""
    for n in (1, 2, 3):
        repo.commit_agent("support", cfg(f"m{n}"), f"v{n}")
    steps = [
        ("deploy", "support", "1"),  # step 4
        ("canary", "start", "support", "2", "--percent", "10"),  # 5
        ("canary", "set", "support", "--percent", "50"),  # 6
        ("canary", "promote", "support"),  # 7
        ("flag", "set", "support", "beta", "--users", "alice", "--create"),  # 8
        ("rollback", "support"),  # 9
    ]
    commits = []
    for args in steps:
        code, _, err = run_cli(*args, cwd=repo.path, env=repo.tick())
        assert code == 0, (args, err)
        commits.append(repo.head())
    return repo, commits


def test_deployments_events(timeline: tuple[Repo, list[str]], run_cli: RunCli) -> None:
    repo, commits = timeline
    code, out, err = run_cli("deployments", "support", "--json", cwd=repo.path)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"agent", "environment", "events"}
    assert (doc["agent"], doc["environment"]) == ("support", "production")
    by = "Test Author <author@example.com>"
    assert doc["events"] == [
        {
            "at": at(4),
            "action": "deploy",
            "version": 1,
            "percent": None,
            "by": by,
            "commit": commits[0],
        },
        {
            "at": at(5),
            "action": "canary start",
            "version": 2,
            "percent": 10,
            "by": by,
            "commit": commits[1],
        },
        {
            "at": at(6),
            "action": "canary set",
            "version": 2,
            "percent": 50,
            "by": by,
            "commit": commits[2],
        },
        {
            "at": at(7),
            "action": "canary promote",
            "version": 2,
            "percent": None,
            "by": by,
            "commit": commits[3],
        },
        {
            "at": at(8),
            "action": "flag set",
            "version": 2,
            "percent": None,
            "by": by,
            "commit": commits[4],
        },
        {
            "at": at(9),
            "action": "rollback",
            "version": 1,
            "percent": None,
            "by": by,
            "commit": commits[5],
        },
    ]
    code, out, _ = run_cli("deployments", "support", cwd=repo.path)
    assert code == 0 and "canary start" in out and "50%" in out


@pytest.mark.parametrize(
    ("when", "active", "canary"),
    [
        ("2026-01-01T03:59:59Z", None, None),
        (at(4), 1, None),  # at the commit time itself: inclusive
        ("2026-01-01T04:30:00Z", 1, None),
        ("2026-01-01T05:00:00+00:00", 1, {"version": 2, "percent": 10}),
        ("2026-01-01T07:30:00+01:00", 1, {"version": 2, "percent": 50}),  # 06:30Z
        ("2026-01-01T07:00:00", 2, None),  # naive: UTC
        ("2026-01-02", 1, None),
    ],
)
def test_deployments_at(
    timeline: tuple[Repo, list[str]], run_cli: RunCli, when: str, active: int | None, canary: Any
) -> None:
    repo, _ = timeline
    code, out, err = run_cli("deployments", "support", "--at", when, "--json", cwd=repo.path)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"agent", "environment", "at", "active", "canary"}
    assert doc["at"] == parse_time(when)
    assert doc["active"] == active
    if canary is None:
        assert doc["canary"] is None
    else:
        assert {k: doc["canary"][k] for k in ("version", "percent")} == canary
        assert set(doc["canary"]) == {"version", "percent", "started_at"}


def test_resolve_at(timeline: tuple[Repo, list[str]], run_cli: RunCli) -> None:
    repo, _ = timeline

    def resolve(user: str, when: str | None) -> dict[str, Any]:
        args = ["resolve", "support", "--user", user, "--json"]
        if when:
            args += ["--at", when]
        code, out, err = run_cli(*args, cwd=repo.path)
        assert code == 0, err
        result: dict[str, Any] = json.loads(out)
        return result

    users = [f"user{i}" for i in range(24)]
    at_10 = {u: resolve(u, "2026-01-01T05:30:00Z") for u in users}
    at_50 = {u: resolve(u, "2026-01-01T06:30:00Z") for u in users}
    canary_10 = {u for u, r in at_10.items() if r["variant"] == "canary"}
    canary_50 = {u for u, r in at_50.items() if r["variant"] == "canary"}
    assert canary_10 <= canary_50  # raising the share only added users
    assert all(at_50[u]["version"] == (2 if u in canary_50 else 1) for u in users)
    assert 0 < len(canary_50) < 24
    # After promotion everyone had v2; alice had the flag once it was set.
    assert resolve("alice", "2026-01-01T07:30:00Z")["flags"] == []
    assert resolve("alice", "2026-01-01T08:30:00Z")["flags"] == ["beta"]
    assert resolve("bob", "2026-01-01T08:30:00Z")["version"] == 2
    # Now (after the rollback): v1, flag kept.
    now = resolve("alice", None)
    assert now["version"] == 1 and now["variant"] == "stable" and now["flags"] == ["beta"]
    code, _, err = run_cli("resolve", "support", "--user", "a", "--at", "2025-12-31", cwd=repo.path)
    assert code == 2 and "nothing of support was deployed" in err


def test_bad_times_are_usage_errors(timeline: tuple[Repo, list[str]], run_cli: RunCli) -> None:
    repo, _ = timeline
    for bad in ("yesterday", "2026-13-01", ""):
        code, out, err = run_cli("deployments", "support", "--at", bad, cwd=repo.path)
        assert code == 2 and out == "" and "cannot read time" in err
        with pytest.raises(UsageError):
            parse_time(bad)


def test_hand_edits_and_other_environments_in_history(
    timeline: tuple[Repo, list[str]], run_cli: RunCli
) -> None:
    repo, _ = timeline
    path = repo.path / POINTER
    text = path.read_text().replace(
        "# Written by agentver", "# edited by hand; written by agentver"
    )
    path.write_text(text)
    repo.commit("tidy pointer comment", POINTER)
    repo.commit_agent("support", cfg("m4"), "v4")  # unrelated to the pointer
    events = Workspace.open(repo.path).pointer_events("production", "support")
    assert [e.action for e in events][-2:] == ["rollback", "edit"]
    assert len(events) == 7
    assert state_at(events, "2000-01-01T00:00:00Z") is None
    latest = state_at(events, "2100-01-01T00:00:00Z")
    assert latest is not None and latest.commit == repo.git("rev-parse", "HEAD~1").strip()
    code, _, err = run_cli("deployments", "support", "--env", "staging", cwd=repo.path)
    assert code == 2 and "unknown environment" in err


def test_never_deployed(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", cfg("m1"), "v1")
    code, out, _ = run_cli("deployments", "support", "--json", cwd=repo.path)
    assert code == 0 and json.loads(out)["events"] == []
    code, out, _ = run_cli("deployments", "support", "--at", "2026-06-01", "--json", cwd=repo.path)
    assert code == 0 and json.loads(out)["active"] is None
