"""The runtime client agents import: resolve configs from the store, record outcomes.

    from agentver.runtime import RuntimeClient

    with RuntimeClient("postgresql://agents@db/agentver", environment="production") as client:
        resolved = client.resolve("support", user_id)
        ...
        client.record_outcome(resolved, ok=True, latency_ms=812)

The client reads the store (never git) into memory and answers from there. A background
thread keeps that copy fresh: it reloads when the store announces a sync (LISTEN on
PostgreSQL, ``PRAGMA data_version`` on SQLite, or a cheap head-row poll) and every
``ttl`` seconds in any case, each reload bounded by a connect and a statement timeout. If
the store is unreachable, the last known good state keeps being served, a warning is
logged and ``health()`` says so; a stored config that does not hash to its
``config_hash`` is never served. Outcomes are queued and written in batches by another
background thread, so neither ``resolve`` nor ``record_outcome`` waits for the store.

This package stays light: it imports no CLI, git or diff libraries (docs/runtime.md).
"""

from __future__ import annotations

from agentver.runtime.client import (
    Health,
    RuntimeClient,
    RuntimeStoreError,
    StoreNotSynced,
    UnknownEnvironment,
)

__all__ = [
    "Health",
    "RuntimeClient",
    "RuntimeStoreError",
    "StoreNotSynced",
    "UnknownEnvironment",
]
