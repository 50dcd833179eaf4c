"""``list``, ``history`` and ``show``: reading versions."""

from __future__ import annotations

from typing import Any

import typer

from agentver.cli import output
from agentver.cli.common import (
    ENV_OPTION,
    JSON_OPTION,
    deployed_markers,
    open_workspace,
    pointers_by_env,
    warn_history,
)
from agentver.cli.core import app
from agentver.errors import UsageError
from agentver.refs import REF_FORMS, resolve_target


@app.command("list")
def list_agents(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every agent: versions, latest, and active/canary per environment."""
    ws = open_workspace(ctx)
    rows: list[dict[str, Any]] = []
    for agent, summary in sorted(ws.agent_summaries().items()):
        if not summary.present:
            continue  # retired: its history is still there for `history`
        for message in summary.warnings:
            output.warn(message)
        environments: dict[str, Any] = {}
        for env, pointer in pointers_by_env(ws, agent).items():
            canary = pointer.canary
            environments[env] = {
                "active": pointer.active.version if pointer.active else None,
                "canary": {"version": canary.version, "percent": canary.percent}
                if canary
                else None,
            }
        rows.append(
            {
                "agent": agent,
                "versions": summary.versions,
                "latest": summary.latest,
                "invalid": summary.invalid,  # versions that cannot be deployed
                "environments": environments,
            }
        )
    if as_json:
        output.print_json({"agents": rows})
        return
    if not rows:
        output.note(f"no agents committed yet under {ws.settings.agents_dir}/")
        return
    names = ws.settings.environments
    output.print_table(
        ("agent", "versions", "latest", *names),
        (
            [
                row["agent"],
                str(row["versions"]),
                _v(row["latest"]) + (" (invalid)" if row["latest"] in row["invalid"] else ""),
            ]
            + [_deployed(row["environments"][env]) for env in names]
            for row in rows
        ),
    )


def _deployed(state: dict[str, Any]) -> str:
    cell = _v(state["active"]) if state["active"] else "-"
    if state["canary"]:
        cell += f" (canary {_v(state['canary']['version'])} at {state['canary']['percent']}%)"
    return cell


def _v(number: int | None) -> str:
    return f"v{number}" if number else "-"


@app.command("history")
def history(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id (the file name under agents/)."),
    # Bounds checked here, not with Typer's min=: a bounded int costs a pydantic adapter.
    limit: int | None = typer.Option(None, "--limit", "-n", help="Show at most N versions."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Versions of an agent, newest first, with active/canary markers."""
    ws = open_workspace(ctx)
    agent_history = ws.history(agent)
    warn_history(agent_history)
    markers = deployed_markers(pointers_by_env(ws, agent))
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    versions = list(reversed(agent_history.versions))[:limit]
    if as_json:
        output.print_json(
            {
                "agent": agent,
                "versions": [
                    {**v.to_json(), "deployed": markers.get(v.version, {})} for v in versions
                ],
            }
        )
        return
    if not versions:
        output.note(f"{agent} has no versions yet")
        return
    rows = []
    for v in versions:
        marks = [f"{env}:{role}" for env, role in sorted(markers.get(v.version, {}).items())]
        if not v.valid:
            marks.append("invalid")
        rows.append(
            (
                f"v{v.version}",
                v.config_hash[:8],
                v.created_at.replace("T", " ")[:16],
                v.created_by.split(" <")[0],
                v.change_description,
                " ".join(marks),
            )
        )
    output.print_table(("version", "hash", "date", "author", "message", ""), rows)


@app.command("show")
def show(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    ref: str = typer.Argument("latest", help=f"Which version: {REF_FORMS}."),
    env: str | None = ENV_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One version's normalized config and metadata (default: latest)."""
    ws = open_workspace(ctx)
    target = resolve_target(ws, agent, ref, env)
    config = target.config.to_dict()
    if target.version is not None:
        meta: dict[str, Any] = target.version.to_json()
    else:
        meta = {"version": None, "config_hash": target.config_hash, "commit": None, "valid": None}
    if as_json:
        output.print_json({"agent": agent, **meta, "config": config})
        return
    out = output.console()
    title = f"{agent} {target.label}" + ("" if target.version else " (uncommitted file on disk)")
    out.print(title, style="bold")
    out.print(f"config_hash: {target.config_hash}")
    if target.version:
        v = target.version
        out.print(f"commit:      {v.commit}")
        out.print(f"created:     {v.created_at} by {v.created_by}")
        out.print(f"message:     {v.change_description}")
        if not v.valid:
            out.print("valid:       no (cannot be deployed without --skip-gate --reason):")
            for problem in v.problems:
                out.print(f"  {problem}", markup=False)
    out.print()
    out.print(_as_yaml(config), markup=False)


def _as_yaml(config: dict[str, Any]) -> str:
    """The config as YAML, multi-line strings as readable ``|`` blocks."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    dumped: str = yaml.dump(config, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)
    return dumped.rstrip()
