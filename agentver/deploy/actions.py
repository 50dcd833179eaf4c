"""One library function per pointer action: what the CLI, ``canary watch`` and the
dashboard call, so every client gets the same checks and the same commit message.

Each function resolves its arguments, applies the checks that guard the action and runs
one ``transact`` (one commit of one pointer file). ``author`` names who acted (a bot, a
dashboard user); without it the commit is git's own identity's, as typed by hand.
Nothing here prints: warnings travel in ``Outcome.warnings``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from agentver.agentfile import agent_config
from agentver.config import load_yaml
from agentver.deploy import changes
from agentver.deploy.changes import FlagChange
from agentver.deploy.gate import enforce_gate
from agentver.deploy.pointers import is_flag_name
from agentver.deploy.transaction import Author, Outcome, transact
from agentver.errors import AgentverError, UsageError
from agentver.history import agent_path
from agentver.refs import resolve_version
from agentver.routing import parse_percent

if TYPE_CHECKING:
    from agentver.workspace import Workspace

Percent = str | int | float


def _percent_bp(percent: Percent) -> int:
    """``--percent`` as typed (``"12.5"``) or as a number, to basis points (exit 2 if bad)."""
    return parse_percent(percent if isinstance(percent, str) else str(percent))


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
    """Make ``ref`` active now (ends a running canary), through the evaluation gate."""
    env = ws.environment(environment)
    version = resolve_version(ws, agent, ref, env)
    current = ws.pointer(env, agent)
    already = current.active is not None and current.active.config_hash == version.config_hash
    # Deploying what already runs is a no-op; the gate is for what would change.
    note = (
        ""
        if already and current.canary is None
        else enforce_gate(ws, agent, version, env, skip=skip_gate, reason=reason)
    )
    compute = changes.deploy(version, env, "deploy", note)
    return transact(ws, env, agent, compute, no_commit=no_commit, action="deploy", author=author)


def rollback(
    ws: Workspace,
    agent: str,
    ref: str = "previous",
    *,
    environment: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Make an earlier version active again (default: the one active before)."""
    env = ws.environment(environment)
    version = resolve_version(ws, agent, ref, env)
    compute = changes.deploy(version, env, "rollback")
    return transact(ws, env, agent, compute, no_commit=no_commit, action="rollback", author=author)


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
    """Send ``percent`` of users to ``ref`` (a fresh random cohort), through the gate."""
    percent_bp = _percent_bp(percent)
    env = ws.environment(environment)
    version = resolve_version(ws, agent, ref, env)
    note = enforce_gate(ws, agent, version, env, skip=skip_gate, reason=reason)
    compute = changes.canary_start(version, env, percent_bp, note=note)
    return transact(
        ws, env, agent, compute, no_commit=no_commit, action="canary start", author=author
    )


def canary_set(
    ws: Workspace,
    agent: str,
    percent: Percent,
    *,
    environment: str | None = None,
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Change the running canary's share (same cohort: raising it only adds users)."""
    percent_bp = _percent_bp(percent)
    env = ws.environment(environment)
    compute = changes.canary_set(env, percent_bp)
    return transact(
        ws, env, agent, compute, no_commit=no_commit, action="canary set", author=author
    )


def canary_promote(
    ws: Workspace,
    agent: str,
    *,
    environment: str | None = None,
    note: str = "",
    author: Author | None = None,
    no_commit: bool = False,
) -> Outcome:
    """Make the canary version active for everyone; ``note`` ends the commit subject."""
    env = ws.environment(environment)
    compute = changes.canary_end(env, "promote", note)
    return transact(
        ws, env, agent, compute, no_commit=no_commit, action="canary promote", author=author
    )


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
    env = ws.environment(environment)
    compute = changes.canary_end(env, "abort", note)
    return transact(
        ws, env, agent, compute, no_commit=no_commit, action="canary abort", author=author
    )


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
    if not is_flag_name(name):
        raise UsageError(f"invalid flag name {name!r}", "use letters, digits, '.', '_' and '-'")
    env = ws.environment(environment)
    compute = changes.flag_set(env, name, change, create=create)
    outcome = transact(
        ws, env, agent, compute, no_commit=no_commit, action="flag set", author=author
    )
    warnings = _unknown_tool_warnings(ws, agent, name, change.add_tools or ())
    return replace(outcome, warnings=outcome.warnings + warnings) if warnings else outcome


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
            continue  # an invalid version has no tools to speak of
    return tools


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
    env = ws.environment(environment)
    compute = changes.flag_rm(env, name)
    return transact(ws, env, agent, compute, no_commit=no_commit, action="flag rm", author=author)
