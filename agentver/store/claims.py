"""Claims: at most one ``canary watch`` acts on a given canary (docs/auto-rollback.md).

Before a watcher writes a pointer commit it claims the canary in the store: one row per
(environment, agent, canary salt) in ``watch_claims``, written in a write transaction
that is serialized with every other writer (SQLite ``BEGIN IMMEDIATE``, PostgreSQL's
advisory lock), so of two watchers judging the same canary exactly one wins. A salt is
drawn fresh by every ``canary start``, so a claim can never cover another canary.

A claim is a lease: it names its holder and expires. The holder marks it done with the
commit that carried the verdict out; a done claim is never taken again. A holder that
died before finishing leaves a claim that another watcher may take once it has expired
(the lease is measured on the watchers' clocks, so keep it well above their skew).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from agentver.errors import StoreError
from agentver.store import migrations
from agentver.store.base import Store
from agentver.store.sql import SqlStore, utc_now
from agentver.store.sqltx import Tx

_KEY = "environment = ? AND agent_id = ? AND salt = ?"


@dataclass(frozen=True)
class Claim:
    """The claim row as it stands after ``claim``; ``won``: the caller holds it now."""

    environment: str
    agent: str
    salt: str
    verdict: str
    holder: str
    claimed_at: str
    expires_at: str
    done_commit: str | None
    won: bool


def _sql_store(store: Store) -> SqlStore:
    if not isinstance(store, SqlStore):
        raise StoreError(f"store {store.url} does not support watch claims")
    return store


def _ensure_schema(store: SqlStore, tx: Tx, now: str) -> None:
    """Stores synced by an older agentver lack the table: migrate, as sync would."""
    version = migrations.current_version(tx, store._table_exists)
    if version == 0:
        raise store._not_initialized()
    if version < migrations.LATEST:
        migrations.apply(tx, version, now)


def _later(now: str, seconds: float) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def claim(
    store: Store,
    environment: str,
    agent: str,
    salt: str,
    verdict: str,
    holder: str,
    lease_seconds: float,
) -> Claim:
    """Claim the canary ``salt`` of ``agent`` for ``holder``; see the module docstring."""
    sql = _sql_store(store)
    key = (environment, agent, salt)
    with sql._lock, sql._write() as tx:
        now = utc_now()
        _ensure_schema(sql, tx, now)
        expires = _later(now, lease_seconds)
        rows = tx.query(
            "SELECT verdict, holder, claimed_at, expires_at, done_commit FROM watch_claims"
            f" WHERE {_KEY}",
            key,
        )
        if not rows:
            tx.execute(
                "INSERT INTO watch_claims (environment, agent_id, salt, verdict, holder,"
                " claimed_at, expires_at, done_commit) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (*key, verdict, holder, now, expires),
            )
            return Claim(*key, verdict, holder, now, expires, None, True)
        old_verdict, old_holder, claimed_at, expires_at, done = rows[0]
        if done is None and (old_holder == holder or expires_at <= now):
            tx.execute(
                "UPDATE watch_claims SET verdict = ?, holder = ?, claimed_at = ?, expires_at = ?"
                f" WHERE {_KEY}",
                (verdict, holder, now, expires, *key),
            )
            return Claim(*key, verdict, holder, now, expires, None, True)
        return Claim(*key, old_verdict, old_holder, claimed_at, expires_at, done, False)


def finish(store: Store, held: Claim, commit: str) -> bool:
    """Mark ``held`` done with ``commit``; False when the caller no longer holds it."""
    sql = _sql_store(store)
    with sql._lock, sql._write() as tx:
        before = tx.query(
            f"SELECT holder, done_commit FROM watch_claims WHERE {_KEY}",
            (held.environment, held.agent, held.salt),
        )
        if not before or before[0][0] != held.holder or before[0][1] is not None:
            return False
        tx.execute(
            f"UPDATE watch_claims SET done_commit = ? WHERE {_KEY}",
            (commit, held.environment, held.agent, held.salt),
        )
        return True


def release(store: Store, held: Claim) -> None:
    """Give up a claim not carried out, so another watcher (or the next try) may act."""
    sql = _sql_store(store)
    with sql._lock, sql._write() as tx:
        tx.execute(
            f"DELETE FROM watch_claims WHERE {_KEY} AND holder = ? AND done_commit IS NULL",
            (held.environment, held.agent, held.salt, held.holder),
        )
