"""Small pieces every command module shares: opening the repo, options, warnings."""

from __future__ import annotations

import typer

from agentver.cli import output
from agentver.cli.core import cwd_of
from agentver.history import AgentHistory
from agentver.models import Pointer
from agentver.workspace import Workspace

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
ENV_OPTION = typer.Option(
    None, "--env", "-e", help="Environment (default: default_environment in agentver.yaml)."
)
NO_COMMIT_OPTION = typer.Option(
    False, "--no-commit", help="Write the pointer file but do not commit it."
)


def open_workspace(ctx: typer.Context) -> Workspace:
    return Workspace.open(cwd_of(ctx), notify=output.note)


def warn_history(history: AgentHistory) -> None:
    for message in history.warnings:
        output.warn(message)


def pointers_by_env(ws: Workspace, agent: str) -> dict[str, Pointer]:
    return {env: ws.pointer(env, agent) for env in ws.settings.environments}


def deployed_markers(pointers: dict[str, Pointer]) -> dict[int, dict[str, str]]:
    """version number -> {environment: "active"|"canary"}."""
    markers: dict[int, dict[str, str]] = {}
    for env, pointer in pointers.items():
        if pointer.active:
            markers.setdefault(pointer.active.version, {})[env] = "active"
        if pointer.canary:
            markers.setdefault(pointer.canary.version, {})[env] = "canary"
    return markers
