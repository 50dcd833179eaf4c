"""Pointer commands: deploy, rollback, canary, flag, resolve, deployments."""

from __future__ import annotations

from typing import Any

import typer

from agentver.cli import output
from agentver.cli.common import ENV_OPTION, JSON_OPTION, NO_COMMIT_OPTION, open_workspace
from agentver.cli.core import app
from agentver.deploy import actions
from agentver.deploy.changes import FlagChange
from agentver.deploy.transaction import Outcome
from agentver.refs import REF_FORMS

canary_app = typer.Typer(
    help="Canary releases: a share of users gets a new version.", no_args_is_help=True
)
flag_app = typer.Typer(
    help="Feature flags on a deployed agent (no new version).", no_args_is_help=True
)
app.add_typer(canary_app, name="canary")
app.add_typer(flag_app, name="flag")

PERCENT_HELP = "Share of users, a decimal in (0, 100] with at most two decimals, e.g. 10 or 12.5."
GATE_SKIP = typer.Option(
    False,
    "--skip-gate",
    help="Deploy without a passing evaluation or despite a policy violation (needs --reason).",
)
CHECKS_SKIP = typer.Option(
    False, "--skip-gate", help="Go ahead despite a policy violation (needs --reason)."
)
GATE_REASON = typer.Option(
    None, "--reason", help="Why the checks are skipped (goes into the commit message)."
)
WRITE_JSON = typer.Option(
    False, "--json", help="Print one JSON document on stdout: what changed and the commit."
)


def _report(outcome: Outcome, no_commit: bool, as_json: bool) -> None:
    for message in outcome.warnings:
        output.warn(message)
    if as_json:
        output.print_json(outcome.to_json())
        return
    if not outcome.changed:
        output.note(f"nothing to do: {outcome.message}")
        return
    summary = outcome.message.split(": ", 1)[-1]
    if no_commit:
        output.note(f"{summary} (pointer written, not committed)")
    else:
        output.note(f"{summary} [{(outcome.commit or '')[:10]}]")


@app.command("deploy")
def deploy_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    ref: str = typer.Argument(..., help=f"Version to make active: {REF_FORMS}."),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    skip_gate: bool = GATE_SKIP,
    reason: str | None = GATE_REASON,
    as_json: bool = WRITE_JSON,
) -> None:
    """Make a version active now (ends a running canary)."""
    ws = open_workspace(ctx)
    outcome = actions.deploy(
        ws,
        agent,
        ref,
        environment=env,
        skip_gate=skip_gate,
        reason=reason,
        no_commit=no_commit,
    )
    _report(outcome, no_commit, as_json)


@app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    ref: str = typer.Argument(
        "previous", help=f"Version to return to (default previous): {REF_FORMS}."
    ),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    skip_gate: bool = CHECKS_SKIP,
    reason: str | None = GATE_REASON,
    as_json: bool = WRITE_JSON,
) -> None:
    """Make an earlier version active again (default: the one active before); ends any canary.

    Only goes back: to a version older than the active one, or one that was active in
    the environment before. Skips the evaluation gate, not the validity checks.
    """
    ws = open_workspace(ctx)
    outcome = actions.rollback(
        ws,
        agent,
        ref,
        environment=env,
        skip_gate=skip_gate,
        reason=reason,
        no_commit=no_commit,
    )
    _report(outcome, no_commit, as_json)


@canary_app.command("start")
def canary_start_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    ref: str = typer.Argument(..., help=f"Version to canary: {REF_FORMS}."),
    percent: str = typer.Option(..., "--percent", "-p", help=PERCENT_HELP),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    skip_gate: bool = GATE_SKIP,
    reason: str | None = GATE_REASON,
    as_json: bool = WRITE_JSON,
) -> None:
    """Send a share of users to a new version (fresh random cohort)."""
    ws = open_workspace(ctx)
    outcome = actions.canary_start(
        ws,
        agent,
        ref,
        percent,
        environment=env,
        skip_gate=skip_gate,
        reason=reason,
        no_commit=no_commit,
    )
    _report(outcome, no_commit, as_json)


@canary_app.command("set")
def canary_set_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    percent: str = typer.Option(..., "--percent", "-p", help=PERCENT_HELP),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    skip_gate: bool = CHECKS_SKIP,
    reason: str | None = GATE_REASON,
    as_json: bool = WRITE_JSON,
) -> None:
    """Change the canary's share (same cohort: raising it only adds users)."""
    ws = open_workspace(ctx)
    outcome = actions.canary_set(
        ws,
        agent,
        percent,
        environment=env,
        skip_gate=skip_gate,
        reason=reason,
        no_commit=no_commit,
    )
    _report(outcome, no_commit, as_json)


@canary_app.command("promote")
def canary_promote_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    as_json: bool = WRITE_JSON,
) -> None:
    """Make the canary version active for everyone."""
    ws = open_workspace(ctx)
    outcome = actions.canary_promote(ws, agent, environment=env, no_commit=no_commit)
    _report(outcome, no_commit, as_json)


@canary_app.command("abort")
def canary_abort_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    as_json: bool = WRITE_JSON,
) -> None:
    """End the canary; everyone gets the active version."""
    ws = open_workspace(ctx)
    outcome = actions.canary_abort(ws, agent, environment=env, no_commit=no_commit)
    _report(outcome, no_commit, as_json)


@canary_app.command("status")
def canary_status_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    env: str | None = ENV_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The active version and the running canary, if any."""
    ws = open_workspace(ctx)
    environment = ws.environment(env)
    pointer = ws.pointer(environment, agent)
    canary = pointer.canary
    document = {
        "agent": agent,
        "environment": environment,
        "active": pointer.active.version if pointer.active else None,
        "canary": (
            {"version": canary.version, "percent": canary.percent, "started_at": canary.started_at}
            if canary
            else None
        ),
    }
    if as_json:
        output.print_json(document)
        return
    active = f"v{pointer.active.version}" if pointer.active else "nothing deployed"
    line = f"{agent} in {environment}: active {active}"
    if canary:
        line += f", canary v{canary.version} at {canary.percent}% since {canary.started_at}"
    else:
        line += ", no canary"
    output.console().print(line)


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


@flag_app.command("set")
def flag_set_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    name: str = typer.Argument(..., help="Flag name."),
    percent: str | None = typer.Option(None, "--percent", "-p", help=PERCENT_HELP),
    users: str | None = typer.Option(None, "--users", help="Comma-separated user ids always on."),
    add_tools: str | None = typer.Option(None, "--add-tools", help="Comma-separated tools to add."),
    remove_tools: str | None = typer.Option(
        None, "--remove-tools", help="Comma-separated tools to remove."
    ),
    disable: bool = typer.Option(False, "--disable", help="Turn the flag off for everyone."),
    enable: bool = typer.Option(False, "--enable", help="Turn a disabled flag back on."),
    create: bool = typer.Option(
        False, "--create", help="Create the flag (without it, an unknown name is an error)."
    ),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    as_json: bool = WRITE_JSON,
) -> None:
    """Change a flag (--create for a new one); options not given keep their current value."""
    from agentver.errors import UsageError
    from agentver.routing import parse_percent

    if disable and enable:
        raise UsageError("--disable and --enable contradict each other")
    change = FlagChange(
        percent_bp=parse_percent(percent) if percent is not None else None,
        users=_names(users),
        add_tools=_names(add_tools),
        remove_tools=_names(remove_tools),
        enabled=False if disable else (True if enable else None),
    )
    ws = open_workspace(ctx)
    outcome = actions.flag_set(
        ws, agent, name, change, create=create, environment=env, no_commit=no_commit
    )
    _report(outcome, no_commit, as_json)


@flag_app.command("rm")
def flag_rm_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    name: str = typer.Argument(..., help="Flag name."),
    env: str | None = ENV_OPTION,
    no_commit: bool = NO_COMMIT_OPTION,
    as_json: bool = WRITE_JSON,
) -> None:
    """Remove a flag."""
    ws = open_workspace(ctx)
    outcome = actions.flag_rm(ws, agent, name, environment=env, no_commit=no_commit)
    _report(outcome, no_commit, as_json)


@flag_app.command("list")
def flag_list_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    env: str | None = ENV_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The flags of an agent in one environment."""
    ws = open_workspace(ctx)
    environment = ws.environment(env)
    pointer = ws.pointer(environment, agent)
    flags = {name: pointer.flags[name].to_json() for name in sorted(pointer.flags)}
    if as_json:
        output.print_json({"agent": agent, "environment": environment, "flags": flags})
        return
    if not flags:
        output.note(f"{agent} has no flags in {environment}")
        return
    for name, flag in flags.items():
        state = "on" if flag["enabled"] else "off"
        who = (
            f"{flag['percent']}% of users"
            if flag["percent"] is not None
            else ("listed users" if flag["users"] else "everyone")
        )
        extra = []
        if flag["users"]:
            extra.append("users " + ",".join(flag["users"]))
        if flag["add_tools"]:
            extra.append("+" + ",+".join(flag["add_tools"]))
        if flag["remove_tools"]:
            extra.append("-" + ",-".join(flag["remove_tools"]))
        output.console().print(
            f"{name}: {state} for {who}" + (f" ({'; '.join(extra)})" if extra else "")
        )


@app.command("resolve")
def resolve_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    user: str = typer.Option(..., "--user", "-u", help="User id to route."),
    at: str | None = typer.Option(None, "--at", help="Answer for a past time (ISO 8601)."),
    env: str | None = ENV_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Which version, variant, flags and tools a user gets."""
    from agentver.deploy.audit import parse_time, resolve_user

    ws = open_workspace(ctx)
    environment = ws.environment(env)
    resolved = resolve_user(ws, environment, agent, user, parse_time(at) if at else None)
    if as_json:
        output.print_json(resolved.to_json())
        return
    flags = ", ".join(resolved.flags) or "none"
    output.console().print(
        f"{user} -> {agent} v{resolved.version} ({resolved.variant}) hash {resolved.config_hash}; "
        f"flags: {flags}; tools: {', '.join(resolved.tools) or 'none'}"
    )


@app.command("deployments")
def deployments_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    at: str | None = typer.Option(
        None, "--at", help="What was active and canary at this time (ISO 8601)."
    ),
    env: str | None = ENV_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Every pointer change from git history: when, what, who, which commit."""
    from agentver.agentfile import check_agent_id
    from agentver.deploy.audit import event_json, parse_time, state_at

    ws = open_workspace(ctx)
    environment = ws.environment(env)
    events = ws.pointer_events(environment, check_agent_id(agent))
    if at is not None:
        when = parse_time(at)
        event = state_at(events, when)
        pointer = event.pointer if event else None
        canary = pointer.canary if pointer else None
        document: dict[str, Any] = {
            "agent": agent,
            "environment": environment,
            "at": when,
            "active": pointer.active.version if pointer and pointer.active else None,
            "canary": (
                {
                    "version": canary.version,
                    "percent": canary.percent,
                    "started_at": canary.started_at,
                }
                if canary
                else None
            ),
        }
        if as_json:
            output.print_json(document)
        else:
            active = f"v{document['active']}" if document["active"] else "nothing"
            line = f"at {when}: {agent} in {environment} ran {active}"
            if canary:
                line += f", canary v{canary.version} at {canary.percent}%"
            output.console().print(line)
        return
    rows = [event_json(event) for event in events]
    if as_json:
        output.print_json({"agent": agent, "environment": environment, "events": rows})
        return
    if not rows:
        output.note(f"{agent} has never been deployed in {environment}")
        return
    output.print_table(
        ("at", "action", "version", "percent", "by", "commit"),
        (
            (
                row["at"],
                row["action"],
                f"v{row['version']}" if row["version"] else "-",
                f"{row['percent']}%" if row["percent"] is not None else "",
                str(row["by"]).split(" <")[0],
                str(row["commit"])[:10],
            )
            for row in rows
        ),
    )
