"""One library function per pointer action: what the CLI, ``canary watch`` and the
dashboard call, so every client gets the same checks and the same commit message.

Each action comes in two halves. ``<action>_change(...)`` resolves the arguments and
returns a ``Change``: the environment and the change function that ``transact`` runs on
the pointer it replaces, under the pointer lock; the checks of ``checks.guard`` are part
of that function, so a preview (the dashboard's confirmation page) that runs it on the
current pointer refuses exactly what the command would. ``<action>(...)`` applies it:
one commit of one pointer file. ``author`` names who acted (a bot, a dashboard user);
without it the commit is git's own identity's. Nothing here prints: warnings travel in
``Outcome.warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from agentver.agentfile import agent_config
from agentver.config import load_yaml
from agentver.deploy import changes
from agentver.deploy.changes import FlagChange
from agentver.deploy.checks import committed_settings, guard, require_going_back, skip_reason
from agentver.deploy.pointers import is_flag_name
from agentver.deploy.transaction import Author, Compute, Outcome, transact
from agentver.errors import AgentverError, UsageError
from agentver.history import agent_path
from agentver.models import Pointer, Version
from agentver.refs import checked_version, resolve_version
from agentver.routing import parse_percent

if TYPE_CHECKING:
    from agentver.workspace import Workspace

Percent = str | int | float


@dataclass(frozen=True)
class Change:
    """A resolved pointer action, ready for ``apply_change`` (or a preview)."""

    agent: str
    environment: str
    action: str  # "deploy", "canary start"...: the Outcome's and --json's "action"
    compute: Compute
    warnings: tuple[str, ...] = ()


def apply_change(
    ws: Workspace, change: Change, *, author: Author | None = None, no_commit: bool = False
) -> Outcome:
    """Run ``change`` as one pointer commit (or a written file with ``no_commit``)."""
    outcome = transact(
        ws,
        change.environment,
        change.agent,
        change.compute,
        no_commit=no_commit,
        action=change.action,
        author=author,
    )
    return replace(outcome, warnings=outcome.warnings + change.warnings)


def _percent_bp(percent: Percent) -> int:
    """``--percent`` as typed (``"12.5"``) or as a number, to basis points (exit 2 if bad)."""
    return parse_percent(percent if isinstance(percent, str) else str(percent))


# -- deploy and rollback ----------------------------------------------------------------


def deploy_change(
    ws: Workspace,
    agent: str,
    ref: str,
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
) -> Change:
    why = skip_reason(skip_gate, reason)
    env = ws.environment(environment)
    version = resolve_version(ws, agent, ref, env)
    committed = committed_settings(ws)

    def compute(before: Pointer) -> tuple[Pointer, str]:
        # Deploying what already runs is a no-op (NoChange): nothing to check then.
        after, message = changes.deploy(version, env, "deploy")(before)
        return after, message + guard(ws, version, env, committed, gate=True, skip_reason=why)

    return Change(agent, env, "deploy", compute, committed.warnings)


def deploy(
    ws: Workspace,
    agent: str,
    ref: str,
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Make ``ref`` active now (ends a running canary): it must be valid and pass the
    evaluation gate, unless ``skip_gate`` with a ``reason`` (recorded in the commit)."""
    change = deploy_change(
        ws, agent, ref, environment=environment, skip_gate=skip_gate, reason=reason
    )
    return apply_change(ws, change, author=author, no_commit=no_commit)


def rollback_change(
    ws: Workspace,
    agent: str,
    ref: str = "previous",
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
) -> Change:
    why = skip_reason(skip_gate, reason)
    env = ws.environment(environment)
    version = resolve_version(ws, agent, ref, env)
    committed = committed_settings(ws)

    def compute(before: Pointer) -> tuple[Pointer, str]:
        after, message = changes.deploy(version, env, "rollback")(before)  # no-op first
        require_going_back(ws, version, env, before)
        return after, message + guard(ws, version, env, committed, gate=False, skip_reason=why)

    return Change(agent, env, "rollback", compute, committed.warnings)


def rollback(
    ws: Workspace,
    agent: str,
    ref: str = "previous",
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Make an earlier version active again (default: the one active before).

    Only goes back: to a version older than the active one, or one that was active in
    the environment before. Never waits on the evaluation gate (the emergency path),
    but refuses an invalid version unless ``skip_gate`` with a ``reason``.
    """
    change = rollback_change(
        ws, agent, ref, environment=environment, skip_gate=skip_gate, reason=reason
    )
    return apply_change(ws, change, author=author, no_commit=no_commit)


# -- canary -----------------------------------------------------------------------------


def canary_start_change(
    ws: Workspace,
    agent: str,
    ref: str,
    percent: Percent,
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
) -> Change:
    percent_bp = _percent_bp(percent)
    why = skip_reason(skip_gate, reason)
    env = ws.environment(environment)
    version = resolve_version(ws, agent, ref, env)
    committed = committed_settings(ws)

    def compute(before: Pointer) -> tuple[Pointer, str]:
        # The canary rules first (one at a time, something active), then the checks.
        after, message = changes.canary_start(version, env, percent_bp)(before)
        return after, message + guard(ws, version, env, committed, gate=True, skip_reason=why)

    return Change(agent, env, "canary start", compute, committed.warnings)


def canary_start(
    ws: Workspace,
    agent: str,
    ref: str,
    percent: Percent,
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Send ``percent`` of users to ``ref`` (a fresh random cohort); the version must be
    valid and pass the evaluation gate, unless ``skip_gate`` with a ``reason``."""
    change = canary_start_change(
        ws, agent, ref, percent, environment=environment, skip_gate=skip_gate, reason=reason
    )
    return apply_change(ws, change, author=author, no_commit=no_commit)


def _canary_version(ws: Workspace, before: Pointer, environment: str) -> Version | None:
    canary = before.canary
    if canary is None:
        return None
    return checked_version(ws, before.agent, canary.version, canary.config_hash, environment)


def canary_set_change(
    ws: Workspace,
    agent: str,
    percent: Percent,
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
) -> Change:
    percent_bp = _percent_bp(percent)
    why = skip_reason(skip_gate, reason)
    env = ws.environment(environment)
    committed = committed_settings(ws)

    def compute(before: Pointer) -> tuple[Pointer, str]:
        after, message = changes.canary_set(env, percent_bp)(before)
        version = _canary_version(ws, before, env)
        if version is not None:
            message += guard(ws, version, env, committed, gate=False, skip_reason=why)
        return after, message

    return Change(agent, env, "canary set", compute, committed.warnings)


def canary_set(
    ws: Workspace,
    agent: str,
    percent: Percent,
    *,
    environment: str | None = None,
    skip_gate: bool = False,
    reason: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Change the running canary's share (same cohort: raising it only adds users).

    The canary passed the gate when it started; an invalid one (started with
    ``--skip-gate``, or hand-edited in) is refused unless ``skip_gate`` with a ``reason``.
    """
    change = canary_set_change(
        ws, agent, percent, environment=environment, skip_gate=skip_gate, reason=reason
    )
    return apply_change(ws, change, author=author, no_commit=no_commit)


def canary_promote_change(
    ws: Workspace, agent: str, *, environment: str | None = None, note: str = ""
) -> Change:
    env = ws.environment(environment)
    return Change(agent, env, "canary promote", changes.canary_end(env, "promote", _note(note)))


def canary_promote(
    ws: Workspace,
    agent: str,
    *,
    environment: str | None = None,
    note: str = "",
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Make the canary version active for everyone; ``note`` ends the commit subject.

    Not checked again: the canary passed the checks (or was let through with a recorded
    reason) when it started and at every ``canary set``, as ``canary evaluate --apply``.
    """
    change = canary_promote_change(ws, agent, environment=environment, note=note)
    return apply_change(ws, change, author=author, no_commit=no_commit)


def canary_abort_change(
    ws: Workspace, agent: str, *, environment: str | None = None, note: str = ""
) -> Change:
    env = ws.environment(environment)
    return Change(agent, env, "canary abort", changes.canary_end(env, "abort", _note(note)))


def canary_abort(
    ws: Workspace,
    agent: str,
    *,
    environment: str | None = None,
    note: str = "",
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """End the canary: everyone gets the active version. Never checked: the way out."""
    change = canary_abort_change(ws, agent, environment=environment, note=note)
    return apply_change(ws, change, author=author, no_commit=no_commit)


def _note(note: str) -> str:
    """A caller's note for the commit subject: one line of printable text."""
    text = " ".join(note.split())
    if text and not text.isprintable():
        raise UsageError(f"note {text!a} is not printable text")
    return f" {text}" if text else ""


# -- flags ------------------------------------------------------------------------------


def flag_set_change(
    ws: Workspace,
    agent: str,
    name: str,
    change: FlagChange,
    *,
    create: bool = False,
    environment: str | None = None,
) -> Change:
    if not is_flag_name(name):
        raise UsageError(f"invalid flag name {name!a}", "use letters, digits, '.', '_' and '-'")
    env = ws.environment(environment)
    compute = changes.flag_set(env, name, change, create=create)
    warnings = _unknown_tool_warnings(ws, agent, name, change.add_tools or ())
    return Change(agent, env, "flag set", compute, warnings)


def flag_set(
    ws: Workspace,
    agent: str,
    name: str,
    change: FlagChange,
    *,
    create: bool = False,
    environment: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Change a flag, or create one with ``create``; fields of ``change`` left None keep
    their value. Adding a tool no version of the agent ever had is a warning (a typo?)."""
    planned = flag_set_change(ws, agent, name, change, create=create, environment=environment)
    return apply_change(ws, planned, author=author, no_commit=no_commit)


def _unknown_tool_warnings(
    ws: Workspace, agent: str, flag: str, add_tools: tuple[str, ...]
) -> tuple[str, ...]:
    if not add_tools:
        return ()
    known = tools_ever_had(ws, agent)
    return tuple(
        f"flag {flag} adds tool {tool!r}, which no version of {agent} has ever had"
        for tool in add_tools
        if tool not in known
    )


def tools_ever_had(ws: Workspace, agent: str) -> set[str]:
    """Every tool named by any version of ``agent`` (one blob read for all versions)."""
    versions = ws.history(agent).versions
    blobs = ws.repo.read_blobs({version.blob for version in versions})
    path = agent_path(ws.settings, agent)
    tools: set[str] = set()
    for raw in blobs.values():
        try:
            tools.update(agent_config(load_yaml(raw, path)).tools)
        except AgentverError:
            continue  # an unreadable version has no tools to speak of
    return tools


def flag_rm_change(
    ws: Workspace, agent: str, name: str, *, environment: str | None = None
) -> Change:
    env = ws.environment(environment)
    return Change(agent, env, "flag rm", changes.flag_rm(env, name))


def flag_rm(
    ws: Workspace,
    agent: str,
    name: str,
    *,
    environment: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Remove a flag."""
    change = flag_rm_change(ws, agent, name, environment=environment)
    return apply_change(ws, change, author=author, no_commit=no_commit)
