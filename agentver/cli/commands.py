"""Imports every command module so each registers itself on ``app``."""

from __future__ import annotations

from agentver.cli import deploy_cmds, diff_cmd, history_cmds, store_cmds  # noqa: F401
