"""Which two configs ``diff`` compares: argument disambiguation and the pull-request view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentver.agentfile import agent_config, is_agent_id
from agentver.config import load_yaml
from agentver.diff import ConfigDiff, DiffSide, compute_diff
from agentver.errors import NotFound, UsageError
from agentver.history import agent_path
from agentver.models import AgentConfig
from agentver.pointer_review import PointerChange, pointer_changes
from agentver.refs import Target, resolve_target
from agentver.workspace import Workspace

_EMPTY = AgentConfig(model="", system_prompt="")


def split_arguments(ws: Workspace, args: list[str]) -> tuple[str, list[str]]:
    """``diff [AGENT] [A] [B]``: the first argument is the agent when such an agent exists."""
    if len(args) > 3:
        raise UsageError("diff takes at most an agent and two versions")
    if args and is_agent_id(args[0]) and _agent_exists(ws, args[0]):
        return args[0], args[1:]
    if len(args) == 3:
        raise NotFound(f"unknown agent {args[0]!r}")
    agents = sorted(name for name, s in ws.agent_summaries().items() if s.present)
    if len(agents) != 1:
        listed = ", ".join(agents) if agents else "none"
        raise UsageError(
            "which agent? this repository has "
            + (f"{len(agents)} agents" if agents else "no agents"),
            f"name it first: agentver diff <agent> {' '.join(args)}".rstrip()
            + f" (agents: {listed})",
        )
    return agents[0], args


def _agent_exists(ws: Workspace, name: str) -> bool:
    if (ws.root / agent_path(ws.settings, name)).is_file():
        return True
    return name in ws.agent_summaries()


def default_refs(
    ws: Workspace, agent: str, refs: list[str], environment: str | None
) -> tuple[str, str]:
    """Defaults: active -> worktree, or latest -> worktree when nothing is deployed."""
    if len(refs) == 2:
        return refs[0], refs[1]
    if len(refs) == 1:
        return refs[0], "worktree"
    env = ws.environment(environment)
    return ("active" if ws.pointer(env, agent).active else "latest"), "worktree"


def side(target: Target) -> DiffSide:
    label = target.label if target.version is None else f"v{target.version.version}"
    number = target.version.version if target.version else None
    return DiffSide(label, number, target.config_hash, target.config)


def diff_refs(
    ws: Workspace, agent: str, a: str, b: str, environment: str | None
) -> tuple[ConfigDiff, list[str]]:
    """The diff, and warnings about sides that do not pass the schema."""
    old = resolve_target(ws, agent, a, environment)
    new = resolve_target(ws, agent, b, environment)
    warnings = [
        f"{target.label} of {agent} does not pass the schema (unknown or invalid keys are "
        "not compared); run `agentver validate`"
        for target in (old, new)
        if not (target.version.valid if target.version else target.valid)
    ]
    return compute_diff(agent, side(old), side(new)), warnings


@dataclass(frozen=True)
class Review:
    """The pull-request view: agent files that changed and pointers that moved."""

    base: str
    head: str
    agents: list[ConfigDiff]
    deployments: list[PointerChange]

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "agents": [diff.to_json() for diff in self.agents],
            "deployments": [change.to_json() for change in self.deployments],
        }


def review_revisions(ws: Workspace, base: str, head: str | None) -> Review:
    """Everything a reviewer approves between two revisions: config and pointer changes."""
    base_commit, head_commit = _commits(ws, base, head)
    head_label = head or "HEAD"
    return Review(
        base,
        head_label,
        _agent_diffs(ws, base_commit, head_commit, base, head_label),
        pointer_changes(ws, base_commit, head_commit, base, head_label),
    )


def diff_revisions(ws: Workspace, base: str, head: str | None) -> list[ConfigDiff]:
    """Every agent whose config changed between two revisions."""
    base_commit, head_commit = _commits(ws, base, head)
    return _agent_diffs(ws, base_commit, head_commit, base, head or "HEAD")


def _commits(ws: Workspace, base: str, head: str | None) -> tuple[str, str]:
    base_commit = ws.repo.resolve_commit(base)
    if base_commit is None:
        raise NotFound(f"unknown git revision {base!r}", "fetch it first (CI: fetch-depth: 0)")
    head_commit = ws.repo.resolve_commit(head or "HEAD")
    if head_commit is None:
        raise NotFound(f"unknown git revision {head!r}")
    return base_commit, head_commit


def _agent_diffs(
    ws: Workspace, base_commit: str, head_commit: str, base: str, head: str
) -> list[ConfigDiff]:
    folder = ws.settings.agents_dir
    diffs: list[ConfigDiff] = []
    for path in sorted(ws.repo.changed_files(base_commit, head_commit, [f"{folder}/"])):
        name = path[len(folder) + 1 :]
        if "/" in name or not name.endswith(".yaml") or not is_agent_id(name[:-5]):
            continue
        agent = name[:-5]
        old = _side_at(ws, base_commit, base, path)
        new = _side_at(ws, head_commit, head, path)
        result = compute_diff(agent, old, new)
        if result.has_changes or result.system_prompt_diff:
            diffs.append(result)
    return diffs


def _side_at(ws: Workspace, commit: str, label: str, path: str) -> DiffSide:
    blob = ws.repo.blob_at(commit, path)
    if blob is None:
        return DiffSide(f"{label} (absent)", None, "", _EMPTY)
    raw = ws.repo.read_blobs([blob])[blob]
    config = agent_config(load_yaml(raw, f"{path} at {label}"))
    return DiffSide.of(label, None, config)
