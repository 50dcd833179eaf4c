"""`flag set` guards (issue 14): a typo does not create a flag, a flag set that sets
nothing is refused, and a tool no version ever had is a warning."""

from __future__ import annotations

import json

import pytest
from conftest import Repo, RunCli

POINTER = ".agentver/deployments/production/support.yaml"


@pytest.fixture
def flagged(repo: Repo, run_cli: RunCli) -> Repo:
    """support v1 (tools search_kb) and v2 (adds refund) deployed at v2; a flag
    human_handoff on for everyone."""
    repo.commit_agent(
        "support", {"model": "m", "system_prompt": "Hi", "tools": ["search_kb"]}, "v1"
    )
    repo.commit_agent("support", {"model": "m", "system_prompt": "Hi", "tools": ["refund"]}, "v2")
    for args in (
        ("deploy", "support", "2"),
        ("flag", "set", "support", "human_handoff", "--remove-tools", "refund", "--create"),
    ):
        code, _, err = run_cli(*args, cwd=repo.path)
        assert code == 0, err
    return repo


def state(repo: Repo) -> tuple[str, str, str]:
    return (
        repo.head(),
        (repo.path / POINTER).read_text(),
        repo.git("status", "--porcelain", "--untracked-files=all"),
    )


def test_a_typo_does_not_create_a_flag(flagged: Repo, run_cli: RunCli) -> None:
    before = state(flagged)
    code, out, err = run_cli(
        "flag", "set", "support", "human_handof", "--disable", cwd=flagged.path
    )
    assert (code, out) == (1, "")
    assert err == (
        "error: support has no flag 'human_handof' in production\n"
        "hint: did you mean 'human_handoff'? to create a new flag, add --create\n"
    )
    assert state(flagged) == before
    flags = json.loads(run_cli("flag", "list", "support", "--json", cwd=flagged.path).stdout)
    assert list(flags["flags"]) == ["human_handoff"] and flags["flags"]["human_handoff"]["enabled"]
    # Nothing close: no suggestion, still the way to create it.
    code, _, err = run_cli("flag", "set", "support", "beta", "--users", "al", cwd=flagged.path)
    assert code == 1 and "hint: to create a new flag, add --create" in err
    assert state(flagged) == before
    code, _, err = run_cli("flag", "set", "support", "human_handof", "--disable", "--create",
                           cwd=flagged.path)  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize("name", ["human_handoff", "brand_new"])
def test_a_flag_set_without_options_is_refused(flagged: Repo, run_cli: RunCli, name: str) -> None:
    before = state(flagged)
    code, _, err = run_cli("flag", "set", "support", name, "--create", cwd=flagged.path)
    assert code == 2
    assert err.startswith(f"error: nothing to set: flag set {name} without options changes nothing")
    assert state(flagged) == before


def test_adding_a_tool_no_version_ever_had_warns(flagged: Repo, run_cli: RunCli) -> None:
    args = ("flag", "set", "support", "beta", "--create", "--add-tools")
    code, _, err = run_cli(*args, "web_serch,search_kb", cwd=flagged.path)
    assert code == 0, err
    assert err.splitlines()[0] == (
        "warning: flag beta adds tool 'web_serch', which no version of support has ever had"
    )
    assert "search_kb" not in err  # v1 had it: a known tool, no warning
    code, out, err = run_cli(*args[:-2], "--add-tools", "refund", "--json", cwd=flagged.path)
    assert code == 0 and "warning" not in err and json.loads(out)["warnings"] == []
