"""Version references: N, vN, latest, active, canary, previous, @<git-rev>, worktree."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentver.agentfile import agent_config, check_agent_id, is_valid, read_worktree_file
from agentver.config import load_yaml
from agentver.errors import NotFound, PointerError, UsageError
from agentver.hashing import config_hash
from agentver.history import agent_path
from agentver.models import AgentConfig, Version
from agentver.workspace import Workspace

REF_FORMS = "N, vN, latest, active, canary, previous, @<git-rev> or worktree"
_NUMBER = re.compile(r"v?([1-9][0-9]{0,8})")


@dataclass(frozen=True)
class Target:
    """What a reference names: a version (or the uncommitted file) and its config."""

    label: str
    version: Version | None
    config: AgentConfig
    config_hash: str
    valid: bool = True  # passes the schema (a committed version carries its own flag)


def resolve_version(ws: Workspace, agent: str, ref: str, environment: str | None = None) -> Version:
    """A committed version; ``worktree`` is refused here (it is not a version)."""
    check_agent_id(agent)
    ref = ref.strip()
    match = _NUMBER.fullmatch(ref)
    if match:
        return ws.require_version(agent, int(match.group(1)))
    history = ws.history(agent)
    if ref == "latest":
        if history.latest is None:
            raise NotFound(f"{agent} has no versions yet", "commit its file first")
        return history.latest
    if ref in ("active", "canary", "previous"):
        env = ws.environment(environment)
        return _from_pointer(ws, agent, ref, env)
    if ref.startswith("@") and len(ref) > 1:
        return _at_revision(ws, agent, ref[1:])
    if ref == "worktree":
        raise UsageError(
            "worktree is not a committed version here",
            "name a committed version: N, vN, latest, active, canary, previous or @<git-rev>",
        )
    raise UsageError(
        f"unknown version reference {ref!r}", f"use {REF_FORMS}; {history.range_text()}"
    )


def resolve_target(ws: Workspace, agent: str, ref: str, environment: str | None = None) -> Target:
    if ref.strip() == "worktree":
        return worktree_target(ws, agent)
    version = resolve_version(ws, agent, ref, environment)
    return Target(f"v{version.version}", version, ws.config_of(version), version.config_hash)


def worktree_target(ws: Workspace, agent: str) -> Target:
    rel = agent_path(ws.settings, check_agent_id(agent))
    path = ws.root / rel
    if not path.is_file():
        raise NotFound(f"{rel} does not exist in the work tree", f"is {agent!r} spelled right?")
    loaded = load_yaml(read_worktree_file(ws.root, rel), rel)
    config = agent_config(loaded)
    return Target("worktree", None, config, config_hash(config), is_valid(loaded.data))


def _from_pointer(ws: Workspace, agent: str, ref: str, env: str) -> Version:
    pointer = ws.pointer(env, agent)
    if ref == "previous":
        current = pointer.active.version if pointer.active else None
        for event in reversed(ws.pointer_events(env, agent)):
            active = event.pointer.active if event.pointer else None
            if active is not None and active.version != current:
                return checked_version(ws, agent, active.version, active.config_hash, env)
        raise NotFound(
            f"{agent} has no previous active version in {env}",
            f"name one: agentver rollback {agent} <version> --env {env}",
        )
    slot = pointer.active if ref == "active" else pointer.canary
    if slot is None:
        what = "nothing is deployed" if ref == "active" else "no canary is running"
        hint = (
            f"agentver deploy {agent} <version> --env {env}"
            if ref == "active"
            else f"agentver canary status {agent} --env {env}"
        )
        raise NotFound(f"{agent}: {what} in {env}", hint)
    return checked_version(ws, agent, slot.version, slot.config_hash, env)


def checked_version(
    ws: Workspace, agent: str, number: int, expected_hash: str, env: str
) -> Version:
    """A pointer's number, cross-checked with its hash (numbers are for people)."""
    history = ws.history(agent)
    if (
        1 <= number <= len(history.versions)
        and history.versions[number - 1].config_hash == expected_hash
    ):
        return history.versions[number - 1]
    same = [v for v in history.versions if v.config_hash == expected_hash]
    if same:
        return same[-1]  # history was renumbered; the hash is authoritative
    raise PointerError(
        f"the {env} pointer of {agent} names v{number} ({expected_hash}), "
        "which is not in the history of HEAD",
        "history was rewritten or the pointer edited by hand; run `agentver verify`",
    )


def _at_revision(ws: Workspace, agent: str, rev: str) -> Version:
    commit = ws.repo.resolve_commit(rev)
    if commit is None:
        raise NotFound(f"unknown git revision {rev!r}")
    rel = agent_path(ws.settings, agent)
    blob = ws.repo.blob_at(commit, rel)
    if blob is None:
        raise NotFound(f"{rel} does not exist at {rev}")
    raw = ws.repo.read_blobs([blob])[blob]
    wanted = config_hash(agent_config(load_yaml(raw, f"{rel} at {rev}")))
    for version in reversed(ws.history(agent).versions):
        if version.config_hash == wanted and ws.repo.is_ancestor(version.commit, commit):
            return version
    raise NotFound(
        f"the config of {agent} at {rev} is not a version in the history of HEAD",
        "versions come from HEAD's first-parent history; is that commit on another branch?",
    )
