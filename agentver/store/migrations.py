"""Versioned schema migrations, applied by sync inside its own transaction.

The DDL is written once for both backends: SQLite accepts PostgreSQL's type names
(BIGINT, DOUBLE PRECISION, BOOLEAN). ``commit`` is a keyword, hence always quoted.
Migrations are append-only: never edit a released one, add the next number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentver.errors import StoreError
from agentver.store.sqltx import Tx


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "versions, deployments, flags, outcomes, sync log",
        (
            """
            CREATE TABLE agent_versions (
                version_id TEXT PRIMARY KEY,
                agent_id TEXT NOT NULL,
                version_number INTEGER NOT NULL,
                system_prompt TEXT NOT NULL,
                model TEXT NOT NULL,
                temperature DOUBLE PRECISION NOT NULL,
                max_tokens BIGINT NOT NULL,
                tools TEXT NOT NULL,
                guardrails TEXT NOT NULL,
                params TEXT NOT NULL,
                description TEXT,
                created_by TEXT NOT NULL,
                created_at TEXT NOT NULL,
                change_description TEXT NOT NULL,
                config_hash TEXT NOT NULL,
                "commit" TEXT NOT NULL,
                blob TEXT NOT NULL,
                valid BOOLEAN NOT NULL,
                UNIQUE (agent_id, version_number)
            )""",
            """
            CREATE TABLE agent_deployments (
                agent_id TEXT NOT NULL,
                environment TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('active', 'canary')),
                version_id TEXT NOT NULL,
                version_number INTEGER NOT NULL,
                config_hash TEXT NOT NULL,
                "commit" TEXT NOT NULL,
                traffic_pct DOUBLE PRECISION NOT NULL,
                traffic_bp INTEGER NOT NULL,
                salt TEXT,
                started_at TEXT,
                is_active BOOLEAN NOT NULL,
                deployed_at TEXT NOT NULL,
                deployed_by TEXT NOT NULL,
                PRIMARY KEY (environment, agent_id, role)
            )""",
            """
            CREATE TABLE agent_flags (
                agent_id TEXT NOT NULL,
                environment TEXT NOT NULL,
                name TEXT NOT NULL,
                enabled BOOLEAN NOT NULL,
                percent_bp INTEGER,
                users TEXT NOT NULL,
                add_tools TEXT NOT NULL,
                remove_tools TEXT NOT NULL,
                PRIMARY KEY (environment, agent_id, name)
            )""",
            """
            CREATE TABLE agent_outcomes (
                agent_id TEXT NOT NULL,
                environment TEXT NOT NULL,
                variant TEXT NOT NULL CHECK (variant IN ('stable', 'canary')),
                version_number INTEGER NOT NULL,
                config_hash TEXT NOT NULL,
                salt TEXT NOT NULL,
                ok BOOLEAN NOT NULL,
                latency_ms DOUBLE PRECISION,
                recorded_at TEXT NOT NULL
            )""",
            """
            CREATE INDEX agent_outcomes_arm
                ON agent_outcomes (agent_id, environment, salt, variant)""",
            """
            CREATE TABLE sync_log (
                seq INTEGER PRIMARY KEY,
                head_commit TEXT NOT NULL,
                synced_at TEXT NOT NULL,
                versions_added INTEGER NOT NULL,
                versions_replaced INTEGER NOT NULL,
                pointers_changed INTEGER NOT NULL,
                forced BOOLEAN NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "outcome quality score",
        # A score in [0, 1] per outcome (RuntimeClient.record_outcome(score=...)); NULL
        # for outcomes without one, and for every outcome recorded before this migration.
        ("ALTER TABLE agent_outcomes ADD COLUMN score DOUBLE PRECISION",),
    ),
    Migration(
        3,
        "watch claims: at most one watcher acts on a canary",
        (
            """
            CREATE TABLE watch_claims (
                environment TEXT NOT NULL,
                agent_id TEXT NOT NULL,
                salt TEXT NOT NULL,
                verdict TEXT NOT NULL,
                holder TEXT NOT NULL,
                claimed_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                done_commit TEXT,
                PRIMARY KEY (environment, agent_id, salt)
            )""",
        ),
    ),
    Migration(
        4,
        "store_head: the published commit in one row (sync's compare-and-swap)",
        (
            # One row (id = 1) that every sync locks first (SELECT ... FOR UPDATE on
            # PostgreSQL; BEGIN IMMEDIATE on SQLite) and updates last: the ancestry check
            # and all writes happen while it is held. Clients in poll mode read it with
            # one primary-key lookup (docs/runtime.md).
            """
            CREATE TABLE store_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                head_commit TEXT,
                seq INTEGER NOT NULL,
                synced_at TEXT
            )""",
            "INSERT INTO store_head (id, head_commit, seq, synced_at) VALUES (1, NULL, 0, NULL)",
            """
            UPDATE store_head SET
                head_commit = (SELECT head_commit FROM sync_log ORDER BY seq DESC LIMIT 1),
                seq = COALESCE((SELECT MAX(seq) FROM sync_log), 0),
                synced_at = (SELECT synced_at FROM sync_log ORDER BY seq DESC LIMIT 1)
            WHERE id = 1""",
        ),
    ),
)

# The first schema version whose agent_outcomes has the score column.
OUTCOME_SCORE_VERSION = 2
# The first schema version with the store_head row (before it: the sync log's last row).
STORE_HEAD_VERSION = 4

LATEST = MIGRATIONS[-1].version

TableExists = Callable[[Tx, str], bool]


def current_version(tx: Tx, table_exists: TableExists) -> int:
    """The store's schema version: 0 before the first sync. Refuses a newer schema."""
    if not table_exists(tx, "schema_version"):
        return 0
    rows = tx.query("SELECT MAX(version) FROM schema_version")
    version = int(rows[0][0] or 0)
    if version > LATEST:
        raise StoreError(
            f"store schema version {version} is newer than this agentver supports ({LATEST})",
            hint="upgrade agentver on this machine",
        )
    return version


def pending(version: int) -> tuple[int, ...]:
    return tuple(m.version for m in MIGRATIONS if m.version > version)


def apply(tx: Tx, version: int, now: str) -> tuple[int, ...]:
    """Apply every migration after ``version`` in the caller's transaction."""
    tx.execute(SCHEMA_VERSION_TABLE)
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        for statement in migration.statements:
            tx.execute(statement)
        tx.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, now),
        )
        applied.append(migration.version)
    return tuple(applied)
