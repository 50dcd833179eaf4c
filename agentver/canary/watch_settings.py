"""Settings of ``canary watch``: the ``watch:`` section of agentver.yaml and durations.

The bot identity comes from ``--author``, else AGENTVER_WATCH_AUTHOR, else
``watch.author``, else ``agentver-watch <agentver-watch@localhost>``
(docs/auto-rollback.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from agentver.canary.watch_git import DEFAULT_IDENTITY, Identity, parse_identity
from agentver.errors import UsageError
from agentver.settings import SETTINGS_FILE, Settings

AUTHOR_ENV = "AGENTVER_WATCH_AUTHOR"
DEFAULT_REMOTE = "origin"
DEFAULT_PUSH_ATTEMPTS = 5
DEFAULT_LEASE_SECONDS = 300.0
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``500ms``, ``1h`` or plain seconds; must be positive."""
    match = _DURATION.match(text)
    seconds = float(match.group("number")) * _UNITS[match.group("unit") or "s"] if match else 0
    if seconds <= 0:
        raise UsageError(
            f"invalid duration {text!r}", hint="a positive number with a unit: 500ms, 30s, 2m, 1h"
        )
    return seconds


# -- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchSettings:
    """``watch:`` of agentver.yaml; flags and AGENTVER_WATCH_AUTHOR override it."""

    author: Identity = DEFAULT_IDENTITY
    remote: str = DEFAULT_REMOTE
    push_attempts: int = DEFAULT_PUSH_ATTEMPTS
    lease_seconds: float = DEFAULT_LEASE_SECONDS


def watch_settings(settings: Settings, author: str | None = None) -> WatchSettings:
    where = f"{SETTINGS_FILE}: watch"
    raw = settings.raw.get("watch") or {}
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where}: must be a mapping such as {{author: 'Bot <bot@example.com>'}}")
    known = ("author", "remote", "push_attempts", "lease_seconds")
    for key in raw:
        if key not in known:
            raise UsageError(f"{where}: unknown setting {key!r}", hint=f"known: {', '.join(known)}")
    result = WatchSettings()
    chosen = author or os.environ.get(AUTHOR_ENV) or raw.get("author")
    if chosen is not None:
        if not isinstance(chosen, str):
            raise UsageError(f"{where}.author must be a string 'Name <email>'")
        source = "--author" if author else (AUTHOR_ENV if os.environ.get(AUTHOR_ENV) else where)
        result = WatchSettings(parse_identity(chosen, source))
    remote = raw.get("remote", DEFAULT_REMOTE)
    attempts = raw.get("push_attempts", DEFAULT_PUSH_ATTEMPTS)
    lease = raw.get("lease_seconds", DEFAULT_LEASE_SECONDS)
    if not isinstance(remote, str) or not remote or remote.startswith("-"):
        raise UsageError(f"{where}.remote must be the name of a git remote")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise UsageError(f"{where}.push_attempts must be an integer from 1 to 100")
    if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not lease > 0:
        raise UsageError(f"{where}.lease_seconds must be a positive number")
    return WatchSettings(result.author, remote, attempts, float(lease))
