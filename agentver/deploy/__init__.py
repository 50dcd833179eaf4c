"""Deployments: pointer files and the actions that move them (docs/design.md section 4).

Modules, one job each:

- ``pointers``: the pointer file format (path, strict reader, deterministic writer).
- ``transaction``: one pointer change as one commit of one file, under a lock.
- ``changes``: the changes as pure functions, old pointer to new pointer and message.
- ``gate``: the evaluation gate as deploy and canary start apply it.
- ``checks``: validity, the evaluation gate from HEAD's settings, rollback goes back.
- ``actions``: one library function per action (what the CLI, watch and dashboard call),
  and ``<action>_change`` for a preview that runs the same checks.
- ``audit``: forensics from the pointer's git history.

The library API is importable from here (``from agentver.deploy import rollback``). It
is loaded on first use (PEP 562), so reading a pointer file (``agentver.deploy.pointers``,
imported by the workspace) does not import the git and evaluation layers, and the
workspace can import the pointer format without an import cycle through ``actions``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentver.deploy.actions import (
        Change,
        apply_change,
        canary_abort,
        canary_promote,
        canary_set,
        canary_start,
        deploy,
        flag_rm,
        flag_set,
        rollback,
    )
    from agentver.deploy.changes import FlagChange
    from agentver.deploy.transaction import Author, Outcome, transact

_EXPORTS = {
    "Change": "agentver.deploy.actions",
    "apply_change": "agentver.deploy.actions",
    "canary_abort": "agentver.deploy.actions",
    "canary_promote": "agentver.deploy.actions",
    "canary_set": "agentver.deploy.actions",
    "canary_start": "agentver.deploy.actions",
    "deploy": "agentver.deploy.actions",
    "flag_rm": "agentver.deploy.actions",
    "flag_set": "agentver.deploy.actions",
    "rollback": "agentver.deploy.actions",
    "FlagChange": "agentver.deploy.changes",
    "Author": "agentver.deploy.transaction",
    "Outcome": "agentver.deploy.transaction",
    "transact": "agentver.deploy.transaction",
}

__all__ = [
    "Author",
    "Change",
    "FlagChange",
    "Outcome",
    "apply_change",
    "canary_abort",
    "canary_promote",
    "canary_set",
    "canary_start",
    "deploy",
    "flag_rm",
    "flag_set",
    "rollback",
    "transact",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentver.deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
