"""The full application: every command registered (for tests and ``python -m``-style use).

The console script goes through ``agentver.cli.entry`` instead, which imports only the
module of the command being run, so ``agentver history`` never pays for deepdiff,
jsonschema or the store drivers.
"""

from __future__ import annotations

from agentver.cli.commands import register
from agentver.cli.core import app, cwd_of
from agentver.cli.entry import main

register(None)

__all__ = ["app", "cwd_of", "main"]


def _register() -> None:
    """Kept for callers that registered explicitly; importing this module already does."""
    register(None)
