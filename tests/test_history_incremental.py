"""A HEAD that extends a cached one is computed from the new commits only, and the
result is exactly what a full pass over the history gives."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from conftest import Repo

from agentver.history import AgentHistory
from agentver.workspace import Workspace


def cfg(**overrides: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "system_prompt": "You help.", **overrides}


def snapshot(histories: dict[str, AgentHistory]) -> dict[str, Any]:
    return {
        name: (h.present, h.warnings, [v.__dict__ for v in h.versions])
        for name, h in sorted(histories.items())
    }


def full_pass(repo: Repo) -> dict[str, Any]:
    shutil.rmtree(Workspace.open(repo.path).repo.cache_dir, ignore_errors=True)
    return snapshot(Workspace.open(repo.path).index.all())


def incremental(repo: Repo, calls: list[str]) -> dict[str, Any]:
    ws = Workspace.open(repo.path)
    original = ws.repo.log_changes

    def spy(revisions: str, pathspecs: Any) -> Any:
        calls.append(revisions)
        return original(revisions, pathspecs)

    ws.repo.log_changes = spy  # type: ignore[method-assign]
    return snapshot(ws.index.all())


def test_extends_the_cached_head(repo: Repo) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("billing", cfg(model="a"), "billing v1")
    Workspace.open(repo.path).index.all()  # caches this HEAD
    cached_head = repo.head()

    repo.commit_agent("support", cfg(model="gpt-5"), "v2")
    repo.commit_agent("support", "model: gpt-5\nsystem_prompt: You help.  # same\n", "reformat")
    repo.commit_agent("broken", "model: [\n", "broken file")
    repo.rm("agents/billing.yaml")
    repo.commit("retire billing")
    repo.commit_agent("billing", cfg(model="a"), "billing back, same hash")
    repo.commit_agent("billing", cfg(model="b"), "billing v2")
    repo.git("switch", "-q", "-c", "side")
    repo.commit_agent("support", cfg(model="side"), "side")
    repo.git("switch", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "side", "-m", "merge side", env=repo.tick())

    calls: list[str] = []
    extended = incremental(repo, calls)
    assert calls == [f"{cached_head}..{repo.head()}"]  # only the new commits were read
    assert extended == full_pass(repo)
    assert [v["version"] for v in extended["support"][2]] == [1, 2, 3]
    assert [v["version"] for v in extended["billing"][2]] == [1, 2]
    assert extended["broken"][1]  # the unparseable commit is a warning, not a version


@pytest.mark.parametrize("move", ["amend", "reset", "rebase-away"])
def test_a_head_off_the_cached_line_is_computed_in_full(repo: Repo, move: str) -> None:
    repo.commit_agent("support", cfg(), "v1")
    repo.commit_agent("support", cfg(model="two"), "v2")
    Workspace.open(repo.path).index.all()
    if move == "amend":
        repo.write("agents/support.yaml", "model: three\nsystem_prompt: You help.\n")
        repo.git("add", "-A")
        repo.git("commit", "-q", "--amend", "-m", "v2 amended", env=repo.tick())
    elif move == "reset":
        repo.git("reset", "-q", "--hard", "HEAD~1")
        repo.commit_agent("support", cfg(model="other"), "other v2")
    else:
        repo.git("checkout", "-q", "--orphan", "fresh")
        repo.commit_agent("support", cfg(model="orphan"), "new root")
    calls: list[str] = []
    result = incremental(repo, calls)
    assert calls == [repo.head()]  # a full pass
    assert result == full_pass(repo)


def test_the_head_in_use_is_the_one_extended(repo: Repo) -> None:
    """Switching back to a HEAD whose lists are cached makes it the base again."""
    repo.commit_agent("support", cfg(), "v1")
    base = repo.head()
    Workspace.open(repo.path).index.all()
    repo.git("switch", "-q", "-c", "other")
    repo.commit_agent("support", cfg(model="other"), "other")
    Workspace.open(repo.path).index.all()  # the newest computed HEAD is now on "other"
    repo.git("switch", "-q", "main")
    Workspace.open(repo.path).index.all()  # served from cache: main's HEAD is in use again
    repo.commit_agent("support", cfg(model="next"), "next")
    calls: list[str] = []
    assert incremental(repo, calls) == full_pass(repo)
    assert calls == [f"{base}..{repo.head()}"]


def _cache_files(repo: Repo) -> dict[str, Any]:
    ws = Workspace.open(repo.path)
    folder = ws.index.cache_dir
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_an_extended_head_writes_the_cache_a_full_pass_writes(repo: Repo) -> None:
    """Issue 16: the files of agents the new commits did not touch are reused from the
    cached HEAD (linked, not serialized again); every file equals a full pass's."""
    repo.write("agentver.yaml", 'policies:\n  billing: {require: ["billing"]}\n')
    repo.commit("policy")
    repo.commit_agent("support", cfg(), "support v1")
    repo.commit_agent("billing", cfg(system_prompt="You help with billing."), "billing v1")
    Workspace.open(repo.path).index.all()
    # A new policy for the untouched agent: its cached versions keep their verdict.
    repo.write("agentver.yaml", 'policies:\n  billing: {require: ["refunds"]}\n')
    repo.commit("stricter policy")
    repo.commit_agent("support", cfg(model="gpt-5"), "support v2")
    calls: list[str] = []
    extended = incremental(repo, calls)
    assert len(calls) == 1 and ".." in calls[0]
    folder = Workspace.open(repo.path).index.cache_dir
    assert (folder / "billing.json").stat().st_nlink == 2  # linked from the cached HEAD
    assert (folder / "support.json").stat().st_nlink == 1
    files = _cache_files(repo)
    assert extended == full_pass(repo)
    assert files == _cache_files(repo)  # the full pass rewrote them: identical
    assert set(files) == {"billing.json", "support.json", "_all.json", "_summary.json"}


def test_a_damaged_blob_cache_shard_is_a_miss(repo: Repo) -> None:
    repo.commit_agent("support", cfg(), "v1")
    expected = full_pass(repo)
    ws = Workspace.open(repo.path)
    shards = list(ws.index.blob_cache.root.glob("*.json"))
    assert shards
    for shard in shards:
        shard.write_text("{not json")
    shutil.rmtree(ws.index.cache_dir.parent)  # history lists gone: blobs are looked up
    assert snapshot(Workspace.open(repo.path).index.all()) == expected
