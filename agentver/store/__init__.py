"""The runtime store: versions and pointers published by ``sync``, read by agents.

``open_store(url, repo_root)`` returns a backend implementing ``Store``. Only this package
imports database drivers; psycopg is imported only when a postgresql:// URL is opened.
"""

from __future__ import annotations

from pathlib import Path

from agentver.store.base import (
    ArmCounts,
    CorruptPointer,
    CorruptRow,
    Outcome,
    PointerChange,
    PreparedVersion,
    RefusedPointer,
    RuntimeState,
    SkippedVersion,
    Snapshot,
    StaleSync,
    Store,
    StoredVersion,
    StoreNotInitialized,
    SyncPlan,
    SyncRecord,
    VersionConflict,
)
from agentver.store.url import StoreURL, mask_url, parse_store_url

DEFAULT_STORE_URL = "sqlite:///.agentver/runtime.db"
# Seconds one PostgreSQL statement of a command that must not hang (status, verify,
# canary evaluate, canary watch) may take, lock waits included: the runtime client's
# mechanism (the server's statement_timeout, then a client-side deadline a second later).
READ_STATEMENT_TIMEOUT = 5.0

__all__ = [
    "DEFAULT_STORE_URL",
    "READ_STATEMENT_TIMEOUT",
    "ArmCounts",
    "CorruptPointer",
    "CorruptRow",
    "Outcome",
    "PointerChange",
    "PreparedVersion",
    "RefusedPointer",
    "RuntimeState",
    "SkippedVersion",
    "Snapshot",
    "StaleSync",
    "Store",
    "StoreNotInitialized",
    "StoreURL",
    "StoredVersion",
    "SyncPlan",
    "SyncRecord",
    "VersionConflict",
    "mask_url",
    "open_store",
    "parse_store_url",
]


def open_store(
    url: str,
    repo_root: Path | None = None,
    *,
    timeout: float = 5.0,
    statement_timeout: float | None = None,
) -> Store:
    """Open the store at ``url``; a relative SQLite path is relative to ``repo_root``.

    ``timeout`` is SQLite's busy timeout or PostgreSQL's connect timeout, in seconds.
    ``statement_timeout`` (PostgreSQL; the runtime client sets it) bounds every statement,
    lock waits and network stalls included; SQLite's busy timeout already bounds its waits.
    Nothing is created until the first ``sync``; readers of an empty store raise
    StoreNotInitialized (a StoreError).
    """
    parsed = parse_store_url(url, repo_root if repo_root is not None else Path.cwd())
    if parsed.kind == "sqlite":
        from agentver.store.sqlite import SqliteStore

        assert parsed.path is not None
        return SqliteStore(parsed.path, parsed.masked, busy_timeout=timeout)
    from agentver.store.postgres import PostgresStore

    return PostgresStore(
        parsed, connect_timeout=max(1, round(timeout)), statement_timeout=statement_timeout
    )
