"""Which module registers which command, so the entry point imports only what it runs."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

# top-level command -> the modules that register it (``canary evaluate`` and ``watch`` live apart)
MODULES_BY_COMMAND: dict[str, tuple[str, ...]] = {
    "init": ("init_cmd",),
    "validate": ("validate_cmd",),
    "demo": ("demo_cmd",),
    "list": ("history_cmds",),
    "history": ("history_cmds",),
    "show": ("history_cmds",),
    "diff": ("diff_cmd",),
    "deploy": ("deploy_cmds",),
    "rollback": ("deploy_cmds",),
    "canary": ("deploy_cmds", "evaluate_cmd", "watch_cmd"),
    "flag": ("deploy_cmds",),
    "resolve": ("deploy_cmds",),
    "deployments": ("deploy_cmds",),
    "eval": ("eval_cmd",),
    "sync": ("store_cmds",),
    "verify": ("store_cmds",),
    "status": ("store_cmds",),
    "serve": ("serve_cmd",),
    "report": ("serve_cmd",),
}
ALL_MODULES = tuple(dict.fromkeys(m for mods in MODULES_BY_COMMAND.values() for m in mods))


def register(commands: Iterable[str] | None) -> None:
    """Import the modules of ``commands`` (all of them for None or an unknown name)."""
    wanted: tuple[str, ...] = ALL_MODULES
    if commands is not None:
        names = list(commands)
        if names and all(name in MODULES_BY_COMMAND for name in names):
            wanted = tuple(m for name in names for m in MODULES_BY_COMMAND[name])
    for module in wanted:
        importlib.import_module(f"agentver.cli.{module}")
