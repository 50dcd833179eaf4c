"""Version references: N, vN, latest, active, canary, previous, @rev, worktree."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from conftest import Repo, RunCli

from agentver.deploy.pointers import pointer_path
from agentver.errors import AgentverError, NotFound, PointerError, UsageError
from agentver.hashing import config_hash
from agentver.models import AgentConfig
from agentver.refs import resolve_target, resolve_version
from agentver.workspace import Workspace


def cfg(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "system_prompt": f"You are {model}.\n", **extra}


@pytest.fixture
def five(repo: Repo) -> tuple[Repo, list[str]]:
    """support with versions 1-5 (models m1..m5) plus a formatting-only commit after v2."""
    commits = []
    for n in range(1, 6):
        commits.append(repo.commit_agent("support", cfg(f"m{n}"), f"v{n}"))
        if n == 2:
            repo.commit_agent("support", "# reformatted\n" + yaml.safe_dump(cfg("m2")), "fmt")
    return repo, commits


def ws_of(repo: Repo) -> Workspace:
    return Workspace.open(repo.path)


def test_numbers_and_v_numbers(five: tuple[Repo, list[str]]) -> None:
    repo, commits = five
    ws = ws_of(repo)
    for n in range(1, 6):
        assert resolve_version(ws, "support", str(n)).commit == commits[n - 1]
        assert resolve_version(ws, "support", f"v{n}").version == n
    assert resolve_version(ws, "support", " 3 ").version == 3  # surrounding blanks ignored
    assert resolve_version(ws, "support", "latest").version == 5


@pytest.mark.parametrize(
    "ref", ["0", "v0", "6", "v6", "99999", "-1", "v", "vv1", "1.0", "latest2", "@", "V3", "03"]
)
def test_unknown_or_malformed_reference_names_the_range(
    five: tuple[Repo, list[str]], ref: str
) -> None:
    repo, _ = five
    with pytest.raises(AgentverError) as info:
        resolve_version(ws_of(repo), "support", ref)
    assert info.value.exit_code == 2
    assert "support has versions 1-5" in f"{info.value.message} {info.value.hint}"


@pytest.mark.parametrize("ref", ["7", "v0", "garbage"])
def test_cli_reference_errors_exit_2_with_range(
    five: tuple[Repo, list[str]], run_cli: RunCli, ref: str
) -> None:
    repo, _ = five
    code, out, err = run_cli("show", "support", ref, cwd=repo.path)
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert "support has versions 1-5" in err
    assert "Traceback" not in err


def test_range_wording_for_one_version(repo: Repo) -> None:
    repo.commit_agent("support", cfg("m1"), "v1")
    with pytest.raises(NotFound) as info:
        resolve_version(ws_of(repo), "support", "2")
    assert info.value.hint == "support has version 1"


def test_at_revision_is_the_version_current_at_that_commit(
    five: tuple[Repo, list[str]],
) -> None:
    repo, commits = five
    ws = ws_of(repo)
    assert resolve_version(ws, "support", f"@{commits[0]}").version == 1
    assert resolve_version(ws, "support", f"@{commits[3][:8]}").version == 4
    assert resolve_version(ws, "support", "@HEAD").version == 5
    assert resolve_version(ws, "support", "@HEAD~1").version == 4
    # The formatting-only commit right after v2 is still v2.
    fmt_commit = repo.git("log", "--format=%H", "--grep=^fmt$").strip()
    assert resolve_version(ws, "support", f"@{fmt_commit}").version == 2
    # A tag works like any revision.
    repo.git("tag", "release-1", commits[2])
    assert resolve_version(ws, "support", "@release-1").version == 3


def test_at_revision_errors(five: tuple[Repo, list[str]]) -> None:
    repo, commits = five
    ws = ws_of(repo)
    with pytest.raises(NotFound, match="unknown git revision"):
        resolve_version(ws, "support", "@nosuchbranch")
    with pytest.raises(NotFound, match="unknown git revision"):
        resolve_version(ws, "support", "@--all")  # never passed to git as an option
    repo.commit_agent("other", cfg("o"), "other agent")
    with pytest.raises(NotFound, match="does not exist at"):
        resolve_version(ws_of(repo), "other", f"@{commits[0]}")
    # A commit on another branch whose config is not in HEAD's history.
    repo.git("switch", "-q", "-c", "side")
    repo.commit_agent("support", cfg("side-only"), "side")
    repo.git("switch", "-q", "main")
    with pytest.raises(NotFound, match="not a version in the history of HEAD"):
        resolve_version(ws_of(repo), "support", "@side")


def test_worktree_target_reads_the_file_on_disk(five: tuple[Repo, list[str]]) -> None:
    repo, _ = five
    repo.write("agents/support.yaml", yaml.safe_dump(cfg("uncommitted")))
    target = resolve_target(ws_of(repo), "support", "worktree")
    assert target.version is None and target.label == "worktree"
    assert target.config.model == "uncommitted"
    assert target.config_hash == config_hash(AgentConfig("uncommitted", "You are uncommitted.\n"))
    # worktree is not a committed version: commands that need one refuse it.
    with pytest.raises(UsageError, match="worktree is not a committed version"):
        resolve_version(ws_of(repo), "support", "worktree")


def test_numbered_target_loads_that_versions_config(five: tuple[Repo, list[str]]) -> None:
    repo, _ = five
    target = resolve_target(ws_of(repo), "support", "v3")
    assert target.label == "v3" and target.config.model == "m3"
    assert target.config_hash == target.version.config_hash if target.version else False


def _pointer(repo: Repo, **fields: str) -> None:
    lines = ["agent: support", "environment: production", *(f"{k}: {v}" for k, v in fields.items())]
    repo.write(pointer_path("production", "support"), "\n".join(lines) + "\n")


def test_active_canary_previous_follow_the_pointer(
    five: tuple[Repo, list[str]], run_cli: RunCli
) -> None:
    repo, _ = five
    ws = ws_of(repo)
    for ref in ("active", "canary", "previous"):
        with pytest.raises(NotFound):
            resolve_version(ws, "support", ref)
    assert run_cli("deploy", "support", "2", cwd=repo.path).exit_code == 0
    assert run_cli("deploy", "support", "4", cwd=repo.path).exit_code == 0
    assert (
        run_cli("canary", "start", "support", "5", "--percent", "10", cwd=repo.path).exit_code == 0
    )
    ws = ws_of(repo)
    assert resolve_version(ws, "support", "active").version == 4
    assert resolve_version(ws, "support", "canary").version == 5
    assert resolve_version(ws, "support", "previous").version == 2
    code, out, _ = run_cli("show", "support", "canary", "--json", cwd=repo.path)
    assert code == 0 and json.loads(out)["version"] == 5
    code, _, err = run_cli("show", "support", "active", "--env", "staging", cwd=repo.path)
    assert code == 2 and "unknown environment 'staging'" in err


def test_pointer_number_is_cross_checked_with_its_hash(five: tuple[Repo, list[str]]) -> None:
    repo, commits = five
    ws = ws_of(repo)
    v2 = ws.history("support").versions[1]
    # The pointer says v3 but carries v2's hash: the hash is authoritative.
    _pointer(repo, active=f'{{version: 3, config_hash: "{v2.config_hash}", commit: "{v2.commit}"}}')
    assert resolve_version(ws_of(repo), "support", "active").version == 2
    _pointer(repo, active=f'{{version: 3, config_hash: "{"0" * 16}", commit: "{commits[2]}"}}')
    with pytest.raises(PointerError, match="not in the history of HEAD"):
        resolve_version(ws_of(repo), "support", "active")


def test_invalid_agent_id_is_refused_before_any_path_is_built(
    five: tuple[Repo, list[str]],
) -> None:
    repo, _ = five
    for bad in ("../support", "Support", "", "a/b", "-x"):
        with pytest.raises(UsageError, match="invalid agent id"):
            resolve_version(ws_of(repo), bad, "1")
