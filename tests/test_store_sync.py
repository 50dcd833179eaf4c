"""Sync into real SQLite files and a real PostgreSQL schema: round trip, idempotency,
insert-only versions, pointer replacement, migrations, outcomes."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver.errors import IntegrityError, StoreError
from agentver.hashing import config_hash
from agentver.models import ActiveVersion, Flag, Pointer
from agentver.store import (
    Outcome,
    Snapshot,
    Store,
    StoreNotInitialized,
    migrations,
    open_store,
)
from agentver.store.rows import normalize_pointer

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ALL_MIGRATIONS = tuple(m.version for m in migrations.MIGRATIONS)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(store_url, tmp_path)
    yield opened
    opened.close()


def sorted_versions(snapshot: Snapshot) -> list[fx.StoredVersion]:
    return sorted(snapshot.versions, key=lambda s: (s.version.agent, s.version.version))


def sorted_pointers(pointers: list[Pointer]) -> list[Pointer]:
    return sorted((normalize_pointer(p) for p in pointers), key=lambda p: (p.environment, p.agent))


def test_round_trip(store: Store) -> None:
    snapshot = fx.make_snapshot(3, 4, "A")
    plan = store.sync(snapshot)
    assert plan.applied and not plan.nothing_to_do
    assert len(plan.new_versions) == 12
    assert plan.migrations == ALL_MIGRATIONS
    assert store.versions() == sorted_versions(snapshot)
    assert sorted_pointers(store.pointers()) == sorted_pointers(list(snapshot.pointers))
    assert [p.agent for p in store.pointers("staging")] == ["agent-000", "agent-001", "agent-002"]
    for stored in store.versions():  # content complete enough to recompute the hash
        assert config_hash(stored.config) == stored.version.config_hash
    record = store.last_sync()
    assert record is not None and record.head_commit == snapshot.head_commit
    assert (record.seq, record.versions_added, record.pointers_changed) == (1, 12, 6)


def test_runtime_state_is_one_environment_with_its_versions(store: Store) -> None:
    snapshot = fx.make_snapshot(2, 3, "A")
    store.sync(snapshot)
    state = store.load_runtime_state("production")
    assert set(state.pointers) == {"agent-000", "agent-001"}
    assert state.head_commit == snapshot.head_commit
    for agent, pointer in state.pointers.items():
        assert pointer.active is not None
        assert (agent, pointer.active.version) in state.versions
        if pointer.canary:
            assert state.versions[(agent, pointer.canary.version)].version.version == 3
    assert store.load_runtime_state("nowhere").pointers == {}


def test_second_sync_writes_nothing(store: Store, store_url: str) -> None:
    snapshot = fx.make_snapshot(2, 3, "A")
    store.sync(snapshot)
    db = Path(store_url[len("sqlite:///") :]) if store_url.startswith("sqlite") else None
    before = _files(db)
    again = store.sync(snapshot)
    assert again.nothing_to_do and not again.applied
    assert store.plan(snapshot).nothing_to_do
    record = store.last_sync()
    assert record is not None and record.seq == 1
    assert _files(db) == before  # not a byte changed (database and WAL)


def _files(db: Path | None) -> dict[str, bytes]:
    if db is None:
        return {}
    return {p.name: p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file()}


def test_new_head_with_same_content_only_records_head(store: Store) -> None:
    store.sync(fx.make_snapshot(2, 3, "A"))
    moved = dataclasses.replace(fx.make_snapshot(2, 3, "A"), head_commit="f" * 40)
    plan = store.sync(moved)
    assert plan.applied and not plan.new_versions and not plan.pointer_changes
    record = store.last_sync()
    assert record is not None and (record.seq, record.head_commit) == (2, "f" * 40)


def test_new_versions_and_moved_pointers(store: Store) -> None:
    store.sync(fx.make_snapshot(2, 3, "A"))
    newer = fx.make_snapshot(2, 5, "B")
    plan = store.plan(newer)
    assert not plan.applied
    assert [(v.agent, v.version) for v in plan.new_versions] == [
        ("agent-000", 4),
        ("agent-000", 5),
        ("agent-001", 4),
        ("agent-001", 5),
    ]
    assert {(c.environment, c.agent) for c in plan.pointer_changes} == {
        (env, agent) for env in fx.ENVIRONMENTS for agent in ("agent-000", "agent-001")
    }
    done = store.sync(newer)
    assert done.applied and done.new_versions == plan.new_versions
    assert store.versions() == sorted_versions(newer)
    assert sorted_pointers(store.pointers()) == sorted_pointers(list(newer.pointers))


def test_rewritten_history_is_refused_then_forced(store: Store) -> None:
    old = fx.make_snapshot(2, 3, "A")
    store.sync(old)
    rewritten_v1 = fx.make_version("agent-001", 1, salt="-rewritten")
    versions = [
        rewritten_v1 if (s.version.agent, s.version.version) == ("agent-001", 1) else s
        for s in old.versions
        if (s.version.agent, s.version.version) != ("agent-000", 3)
    ]
    # agent-000 lost v3 in the rewrite: its pointers must not name it any more.
    pointers = [
        dataclasses.replace(p, canary=None, flags={}) if p.agent == "agent-000" else p
        for p in old.pointers
    ]
    pointers = [
        dataclasses.replace(p, active=ActiveVersion(1, _hash(old, "agent-000", 1), _commit(old)))
        if p.agent == "agent-000"
        else p
        for p in pointers
    ]
    snapshot = Snapshot("b" * 40, versions, pointers, fx.ENVIRONMENTS)
    plan = store.plan(snapshot)
    assert {(c.agent, c.version) for c in plan.changed_versions} == {
        ("agent-000", 3),
        ("agent-001", 1),
    }
    with pytest.raises(IntegrityError) as info:
        store.sync(snapshot)
    assert info.value.exit_code == 2 and "disagree with git" in str(info.value)
    assert store.versions() == sorted_versions(old)  # nothing written
    forced = store.sync(snapshot, force=True)
    assert {(c.agent, c.version, c.git is None) for c in forced.replaced} == {
        ("agent-000", 3, True),
        ("agent-001", 1, False),
    }
    changed = next(c for c in forced.replaced if c.agent == "agent-001")
    assert "config_hash" in changed.fields and "system_prompt" in changed.fields
    assert store.versions() == sorted_versions(snapshot)
    record = store.last_sync()
    assert record is not None and record.forced and record.versions_replaced == 2


def _hash(snapshot: Snapshot, agent: str, number: int) -> str:
    return next(
        s.version.config_hash
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == (agent, number)
    )


def _commit(snapshot: Snapshot) -> str:
    return next(
        s.version.commit
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == ("agent-000", 1)
    )


def test_only_validity_changed_is_updated_without_force(store: Store) -> None:
    old = fx.make_snapshot(1, 2, "A")
    store.sync(old)
    versions = [
        dataclasses.replace(s, version=dataclasses.replace(s.version, valid=False))
        if s.version.version == 1
        else s
        for s in old.versions
    ]
    plan = store.sync(dataclasses.replace(old, versions=versions))
    assert [(v.agent, v.version) for v in plan.revalidated] == [("agent-000", 1)]
    assert not plan.changed_versions
    assert [s.version.valid for s in store.versions()] == [False, True]


def test_pointer_state_is_replaced_as_a_whole(store: Store) -> None:
    snapshot = fx.make_snapshot(2, 3, "A")  # agent-001 has canary and flags
    store.sync(snapshot)
    new_flags = {"other": Flag(name="other", enabled=False)}
    pointers = []
    for p in snapshot.pointers:
        if (p.environment, p.agent) == ("production", "agent-001"):
            pointers.append(dataclasses.replace(p, canary=None, flags=new_flags))
        elif (p.environment, p.agent) == ("staging", "agent-000"):
            continue  # pointer file deleted
        else:
            pointers.append(p)
    store.sync(Snapshot("c" * 40, snapshot.versions, pointers, fx.ENVIRONMENTS))
    production = {p.agent: p for p in store.pointers("production")}
    assert production["agent-001"].canary is None
    assert dict(production["agent-001"].flags) == new_flags
    assert [p.agent for p in store.pointers("staging")] == ["agent-001"]


def test_environments_not_in_snapshot_are_left_alone(store: Store) -> None:
    snapshot = fx.make_snapshot(1, 2, "A")
    store.sync(snapshot)
    only_staging = [p for p in snapshot.pointers if p.environment == "staging"]
    store.sync(Snapshot("d" * 40, snapshot.versions, only_staging, ("staging",)))
    assert [p.agent for p in store.pointers("production")] == ["agent-000"]


def test_pointer_naming_an_unknown_version_is_refused_for_its_agent_alone(store: Store) -> None:
    old = fx.make_snapshot(2, 2, "A")
    store.sync(old)
    before = {(p.environment, p.agent): p for p in store.pointers()}
    new = fx.make_snapshot(2, 3, "B")
    bad = Pointer("agent-000", "production", ActiveVersion(9, "0" * 16, "1" * 40))
    pointers = [p for p in new.pointers if (p.environment, p.agent) != ("production", "agent-000")]
    plan = store.sync(dataclasses.replace(new, pointers=[*pointers, bad]))
    assert [(r.environment, r.agent) for r in plan.refused_pointers] == [
        ("production", "agent-000")
    ]
    assert "v9 does not exist" in plan.refused_pointers[0].reason
    after = {(p.environment, p.agent): p for p in store.pointers()}
    assert after[("production", "agent-000")] == before[("production", "agent-000")]
    assert after[("production", "agent-001")] != before[("production", "agent-001")]
    assert len(store.versions()) == 6  # every version of every agent was published


def test_pointer_naming_a_schema_invalid_version_is_refused(store: Store) -> None:
    """Finding #6: a hand-edited committed pointer to an invalid version is not served."""
    snapshot = fx.make_snapshot(1, 2, "A")
    versions = [
        dataclasses.replace(s, version=dataclasses.replace(s.version, valid=False))
        if s.version.version == 2
        else s
        for s in snapshot.versions
    ]
    invalid = versions[1].version
    pointer = Pointer(
        "agent-000", "production", ActiveVersion(2, invalid.config_hash, invalid.commit)
    )
    plan = store.sync(Snapshot("e" * 40, versions, [pointer], ("production",)))
    assert [r.agent for r in plan.refused_pointers] == ["agent-000"]
    assert "not a valid version" in plan.refused_pointers[0].reason
    assert store.pointers("production") == []
    assert store.load_runtime_state("production").pointers == {}


def test_migrations_are_applied_once_and_recorded(store: Store, store_url: str) -> None:
    assert store.schema_version() == 0
    assert store.plan(fx.make_snapshot(1, 1, "A")).migrations == ALL_MIGRATIONS
    store.sync(fx.make_snapshot(1, 1, "A"))
    store.sync(fx.make_snapshot(1, 2, "B"))
    assert store.schema_version() == migrations.LATEST == ALL_MIGRATIONS[-1]
    assert store.plan(fx.make_snapshot(1, 2, "B")).migrations == ()
    rows = _query(store_url, "SELECT version, description FROM schema_version")
    assert tuple(row[0] for row in rows) == ALL_MIGRATIONS


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return list(conn.execute(sql))
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}") as conn:
        return list(conn.execute(sql))


def test_readers_before_first_sync(store: Store, tmp_path: Path, store_url: str) -> None:
    assert store.last_sync() is None
    with pytest.raises(StoreNotInitialized) as info:
        store.load_runtime_state("production")
    assert isinstance(info.value, StoreError) and "agentver sync" in (info.value.hint or "")
    plan = store.plan(fx.make_snapshot(1, 1, "A"))
    assert len(plan.new_versions) == 1 and plan.previous_head is None
    if store_url.startswith("sqlite"):
        assert list(tmp_path.iterdir()) == []  # a dry run creates nothing


def test_outcomes_round_trip(store: Store) -> None:
    store.sync(fx.make_snapshot(1, 2, "A"))
    rows = [
        Outcome("agent-000", "production", "stable", 1, "h1", "s1", ok=i % 10 != 0, latency_ms=i)
        for i in range(50)
    ]
    rows += [
        Outcome("agent-000", "production", "canary", 2, "h2", "s1", ok=i % 5 != 0, latency_ms=None)
        for i in range(20)
    ]
    rows += [Outcome("agent-000", "production", "canary", 2, "h2", "old-salt", ok=False)]
    assert store.record_outcomes(rows) == 71
    counts = store.outcome_counts("agent-000", "production", "s1")
    stable, canary = counts["stable"], counts["canary"]
    assert (stable.requests, stable.errors, stable.versions) == (50, 5, (1,))
    assert stable.latency_count == 50 and stable.latency_max_ms == 49.0
    assert stable.latency_mean_ms == pytest.approx(24.5)
    assert (canary.requests, canary.errors, canary.latency_count) == (20, 4, 0)
    assert canary.error_rate == pytest.approx(0.2)
    empty = store.outcome_counts("agent-000", "staging", "s1")
    assert empty["stable"].requests == 0 and empty["canary"].error_rate == 0.0
