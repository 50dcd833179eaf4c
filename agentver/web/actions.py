"""Pointer changes from the dashboard: previewed, then applied by the CLI's library.

``agentver.deploy.actions`` resolves each action into a checked change function
(``deploy_change`` with the evaluation gate, ``rollback_change`` that only goes back,
``canary_promote_change``, ``canary_abort_change``): the functions behind the CLI
commands, so the checks and the commit message are the CLI's. A change function is
pure, so the confirmation page runs it on the current pointer to show exactly what would
be written; the write runs it through ``apply_change`` (lock, atomic write, one commit
of one file), guarded so that it writes nothing when the pointer differs from what the
confirmation page showed (someone ran the CLI meanwhile).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from agentver.compare import diff_refs
from agentver.deploy import actions as library
from agentver.deploy.pointers import serialize_pointer
from agentver.deploy.transaction import NoChange, Outcome
from agentver.diff import ConfigDiff
from agentver.errors import PointerError, UsageError
from agentver.models import Pointer
from agentver.web.views import group_changes
from agentver.web.worddiff import Row, side_by_side
from agentver.workspace import Workspace

ACTIONS = {
    "deploy": "Deploy",
    "rollback": "Roll back",
    "promote": "Promote canary",
    "abort": "Abort canary",
}


def fingerprint(pointer: Pointer) -> str:
    """Identifies the pointer state a confirmation page was computed from."""
    return hashlib.sha256(serialize_pointer(pointer)).hexdigest()[:16]


def build_change(ws: Workspace, action: str, agent: str, env: str, ref: str) -> library.Change:
    """The library's checked change for ``action``: what the CLI command runs."""
    if action == "deploy":
        return library.deploy_change(ws, agent, ref, environment=env)
    if action == "rollback":
        return library.rollback_change(ws, agent, ref or "previous", environment=env)
    if action == "promote":
        return library.canary_promote_change(ws, agent, environment=env)
    if action == "abort":
        return library.canary_abort_change(ws, agent, environment=env)
    raise UsageError(f"unknown action {action!r}", f"one of: {', '.join(ACTIONS)}")


@dataclass
class Transition:
    """Who gets a different version after the change, and the diff they get."""

    who: str
    old: int
    new: int
    diff: ConfigDiff
    prompt_rows: list[Row]
    sections: list[tuple[str, list[dict[str, Any]]]]


@dataclass
class Plan:
    action: str
    agent: str
    environment: str
    ref: str
    before: Pointer
    expect: str
    after: Pointer | None = None
    message: str | None = None
    nothing: str | None = None  # the command would change nothing (and why)
    pointer_rows: list[Row] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


def preview(ws: Workspace, action: str, agent: str, env: str, ref: str) -> Plan:
    """What the action would write; AgentverError when the CLI would refuse it."""
    before = ws.pointer(env, agent)
    plan = Plan(action, agent, env, ref, before, fingerprint(before))
    change = build_change(ws, action, agent, env, ref)
    try:
        after, message = change.compute(before)
    except NoChange as exc:
        plan.nothing = exc.message
        return plan
    plan.after, plan.message = after, message
    plan.pointer_rows = side_by_side(
        serialize_pointer(before).decode("utf-8"), serialize_pointer(after).decode("utf-8")
    )
    plan.transitions = _transitions(ws, agent, env, before, after)
    return plan


def _transitions(
    ws: Workspace, agent: str, env: str, before: Pointer, after: Pointer
) -> list[Transition]:
    moves: list[tuple[str, int, int]] = []
    if before.active and after.active and before.active.version != after.active.version:
        moves.append(("users of the stable version", before.active.version, after.active.version))
    if (
        before.canary
        and after.canary is None
        and after.active
        and before.canary.version != after.active.version
    ):
        moves.append(("users in the canary", before.canary.version, after.active.version))
    out = []
    for who, old, new in moves:
        diff, _ = diff_refs(ws, agent, str(old), str(new), env)
        rows = side_by_side(diff.from_side.config.system_prompt, diff.to_side.config.system_prompt)
        out.append(Transition(who, old, new, diff, rows, group_changes(diff.changes)))
    return out


def apply(ws: Workspace, action: str, agent: str, env: str, ref: str, expect: str) -> Outcome:
    """Run the action as the CLI does, refusing (under the library's pointer lock) when
    the pointer is not the one the confirmation page showed."""
    change = build_change(ws, action, agent, env, ref)

    def guarded(before: Pointer) -> tuple[Pointer, str]:
        if fingerprint(before) != expect:
            raise PointerError(
                f"the {env} pointer of {agent} changed since the confirmation page was shown; "
                "nothing written",
                "review the change again",
            )
        return change.compute(before)

    return library.apply_change(ws, replace(change, compute=guarded))


def describe(outcome: Outcome) -> dict[str, Any]:
    return {
        "changed": outcome.changed,
        "message": outcome.message.split("\n", 1)[0],
        "commit": outcome.commit,
    }
