"""Shell completion of agent names, versions, environments and flag names.

Attached by parameter name (``agent``, ``ref``, ``baseline``, ``env``, ``name`` of the
flag commands, ``diff``'s free arguments) to every command when the app is built, so a
new command that names its parameters like the others completes without extra code.
Completion must never fail or print: any error completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

_SYMBOLIC_REFS = ("latest", "active", "canary", "previous", "worktree")
Completer = Callable[[Any, Any, str], list[str]]


def _cwd(ctx: Any) -> Path:
    """The directory -C names (callbacks do not run while completing), else the cwd."""
    root = ctx.find_root()
    directory = root.params.get("directory") if root.params else None
    return (Path.cwd() / directory).resolve() if directory else Path.cwd()


def _workspace(ctx: Any) -> Any:
    from agentver.workspace import Workspace

    return Workspace.open(_cwd(ctx))


def _agents(ctx: Any) -> list[str]:
    ws = _workspace(ctx)
    return sorted(name for name, summary in ws.agent_summaries().items() if summary.present)


def _refs(ctx: Any, agent: str | None) -> list[str]:
    if not agent:
        return []
    history = _workspace(ctx).history(agent)
    numbers = [f"v{version.version}" for version in reversed(history.versions)]
    return [*numbers, *_SYMBOLIC_REFS]


def _environments(ctx: Any) -> list[str]:
    return list(_workspace(ctx).settings.environments)


def _flags(ctx: Any) -> list[str]:
    agent = ctx.params.get("agent")
    if not agent:
        return []
    ws = _workspace(ctx)
    env = ws.environment(ctx.params.get("env"))
    return sorted(ws.pointer(env, agent).flags)


def _diff_args(ctx: Any) -> list[str]:
    given = [arg for arg in (ctx.params.get("args") or []) if arg]
    agents = _agents(ctx)
    if not given:
        return agents + (_refs(ctx, agents[0]) if len(agents) == 1 else [])
    agent = given[0] if given[0] in agents else (agents[0] if len(agents) == 1 else None)
    return _refs(ctx, agent)


_BY_NAME: dict[str, Callable[[Any], list[str]]] = {
    "agent": _agents,
    "ref": lambda ctx: _refs(ctx, ctx.params.get("agent")),
    "baseline": lambda ctx: _refs(ctx, ctx.params.get("agent")),
    "env": _environments,
    "envs": _environments,
}


def _safe(source: Callable[[Any], list[str]]) -> Completer:
    def complete(ctx: Any, param: Any, incomplete: str) -> list[str]:
        try:
            values = source(ctx)
        except Exception:  # not a repository, a broken file...: offer nothing
            return []
        return [value for value in values if value.startswith(incomplete)]

    return complete


def add_completion(command: Any, path: str = "") -> None:
    """Attach completers to ``command``'s parameters and its subcommands'."""
    for param in getattr(command, "params", []):
        if getattr(param, "_custom_shell_complete", None) is not None:
            continue  # the command brought its own
        source = _BY_NAME.get(param.name or "")
        if path == "diff" and param.name == "args":
            source = _diff_args
        elif path.startswith("flag ") and param.name == "name":
            source = _flags
        if source is not None:
            param._custom_shell_complete = _safe(source)
    for name, child in getattr(command, "commands", {}).items():
        add_completion(child, f"{path} {name}".strip())
