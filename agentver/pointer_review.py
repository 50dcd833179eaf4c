"""Pointer changes between two revisions: what a pull request deploys (docs/design.md
section 8, ``diff --base``).

A pull request that only deploys, rolls back or starts a canary changes no agent file,
only pointer files. The reviewer still needs to see what production will run: for every
pointer file that differs between ``base`` and ``head``, one line
(``production/support: v3 -> v5 (canary 10%)``) and the config diff between the version
that was active at ``base`` and the version that will serve after the merge (the canary
when one runs, else the active version). Configs are read from git at the commits the
pointers record (authoritative, docs/design.md section 3), so no history walk is needed:
one ``git diff --name-only`` and one ``cat-file`` batch per side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentver.agentfile import agent_config, is_agent_id
from agentver.config import load_yaml
from agentver.deploy.pointers import POINTER_DIR, parse_pointer, pointer_json
from agentver.diff import ConfigDiff, DiffSide, compute_diff
from agentver.errors import IntegrityError
from agentver.history import agent_path
from agentver.models import Pointer, percent_number
from agentver.workspace import Workspace


@dataclass(frozen=True)
class PointerChange:
    environment: str
    agent: str
    before: Pointer | None  # None: no pointer file at base
    after: Pointer | None  # None: the pointer file is deleted at head
    diff: ConfigDiff | None  # was active at base -> will serve at head; None if either is none

    @property
    def summary(self) -> str:
        """``production/support: v3 -> v5 (canary 10%)``."""
        text = f"{self.environment}/{self.agent}: {_state(self.before)} -> "
        text += _after_state(self.before, self.after)
        flags = _flag_changes(self.before, self.after)
        return text + (f"; flags {', '.join(flags)}" if flags else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "agent": self.agent,
            "summary": self.summary,
            "before": None if self.before is None else pointer_json(self.before),
            "after": None if self.after is None else pointer_json(self.after),
            "diff": None if self.diff is None else self.diff.to_json(),
        }


def pointer_changes(
    ws: Workspace, base_commit: str, head_commit: str, base_label: str, head_label: str
) -> list[PointerChange]:
    """Every pointer file that differs between the two commits, by environment and agent."""
    changes: list[PointerChange] = []
    for path in sorted(ws.repo.changed_files(base_commit, head_commit, [f"{POINTER_DIR}/"])):
        parts = path[len(POINTER_DIR) + 1 :].split("/")
        if len(parts) != 2 or not parts[1].endswith(".yaml"):
            continue
        environment, agent = parts[0], parts[1][: -len(".yaml")]
        if not is_agent_id(agent):
            continue
        before = _pointer_at(ws, base_commit, base_label, path, environment, agent)
        after = _pointer_at(ws, head_commit, head_label, path, environment, agent)
        if before == after:
            continue  # reformatted only
        changes.append(
            PointerChange(environment, agent, before, after, _serving_diff(ws, before, after))
        )
    return changes


def serving(pointer: Pointer | None) -> tuple[int, str, str] | None:
    """(version, config_hash, commit) of what the newest traffic gets: canary, else active."""
    if pointer is None:
        return None
    if pointer.canary is not None:
        return pointer.canary.version, pointer.canary.config_hash, pointer.canary.commit
    if pointer.active is not None:
        return pointer.active.version, pointer.active.config_hash, pointer.active.commit
    return None


def _pointer_at(
    ws: Workspace, commit: str, label: str, path: str, environment: str, agent: str
) -> Pointer | None:
    blob = ws.repo.blob_at(commit, path)
    if blob is None:
        return None
    raw = ws.repo.read_blobs([blob])[blob]
    return parse_pointer(raw, f"{path} at {label}", environment, agent)


def _serving_diff(
    ws: Workspace, before: Pointer | None, after: Pointer | None
) -> ConfigDiff | None:
    was = None if before is None or before.active is None else before.active
    will = serving(after)
    if was is None or will is None or after is None:
        return None
    old = _side(ws, after.agent, f"v{was.version}", was.version, was.commit)
    new = _side(ws, after.agent, f"v{will[0]}", will[0], will[2])
    return compute_diff(after.agent, old, new)


def _side(ws: Workspace, agent: str, label: str, version: int, commit: str) -> DiffSide:
    path = agent_path(ws.settings, agent)
    blob = ws.repo.blob_at(commit, path)
    if blob is None:
        raise IntegrityError(
            f"a pointer names v{version} of {agent} at commit {commit[:12]}, which has no {path}",
            "run `agentver verify`",
        )
    raw = ws.repo.read_blobs([blob])[blob]
    return DiffSide.of(label, version, agent_config(load_yaml(raw, f"{path} at {commit[:12]}")))


def _percent(bp: int) -> str:
    return f"{percent_number(bp)}%"


def _state(pointer: Pointer | None) -> str:
    if pointer is None or (pointer.active is None and pointer.canary is None):
        return "nothing"
    text = "nothing" if pointer.active is None else f"v{pointer.active.version}"
    if pointer.canary is not None:
        text += f" + v{pointer.canary.version} (canary {_percent(pointer.canary.percent_bp)})"
    return text


def _after_state(before: Pointer | None, after: Pointer | None) -> str:
    if after is None:
        return "removed"
    if after.canary is None:
        return _state(after)
    canary = f"v{after.canary.version} (canary {_percent(after.canary.percent_bp)})"
    active_before = None if before is None else before.active
    if after.active == active_before:  # the usual case: a canary on top of what ran
        return canary
    return f"{_state(Pointer(after.agent, after.environment, after.active))} + {canary}"


def _flag_changes(before: Pointer | None, after: Pointer | None) -> list[str]:
    old = {} if before is None else dict(before.flags)
    new = {} if after is None else dict(after.flags)
    out = [f"+{name}" for name in sorted(set(new) - set(old))]
    out += [f"-{name}" for name in sorted(set(old) - set(new))]
    out += [f"~{name}" for name in sorted(set(old) & set(new)) if old[name] != new[name]]
    return out
