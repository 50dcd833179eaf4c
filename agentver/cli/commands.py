"""Imports every command module so each registers itself on ``app``."""

from __future__ import annotations

from agentver.cli import (  # noqa: F401
    deploy_cmds,
    diff_cmd,
    eval_cmd,
    history_cmds,
    init_cmd,
    store_cmds,
    validate_cmd,
)
