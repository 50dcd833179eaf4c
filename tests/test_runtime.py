"""RuntimeClient against real SQLite files and a real PostgreSQL schema."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver import routing
from agentver.errors import IntegrityError, NotFound, StoreError
from agentver.models import ActiveVersion, Pointer
from agentver.runtime import RuntimeClient, RuntimeStoreError
from agentver.store import Snapshot, open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def sync(url: str, snapshot: Snapshot) -> None:
    store = open_store(url)
    store.sync(snapshot, force=True)
    store.close()


def deploy(snapshot: Snapshot, agent: str, number: int, head: str) -> Snapshot:
    """The snapshot with ``agent``'s active version moved to ``number`` (canary ended)."""
    target = next(
        s.version
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == (agent, number)
    )
    pointers = [
        dataclasses.replace(
            p,
            active=ActiveVersion(number, target.config_hash, target.commit),
            canary=None,
        )
        if p.agent == agent
        else p
        for p in snapshot.pointers
    ]
    return dataclasses.replace(snapshot, pointers=pointers, head_commit=head * 40)


def expected(snapshot: Snapshot, env: str, agent: str, user: str) -> dict[str, object]:
    pointer = next(p for p in snapshot.pointers if (p.environment, p.agent) == (env, agent))
    configs = {(s.version.agent, s.version.version): s.config for s in snapshot.versions}
    assert pointer.active is not None
    canary = configs[(agent, pointer.canary.version)] if pointer.canary else None
    resolved = routing.resolve(pointer, user, configs[(agent, pointer.active.version)], canary)
    return {**resolved.to_json(), "config": dict(resolved.config)}


def as_dict(resolved: object) -> dict[str, object]:
    assert hasattr(resolved, "to_json") and hasattr(resolved, "config")
    return {**resolved.to_json(), "config": dict(resolved.config)}


def test_resolve_matches_routing_for_every_user(store_url: str) -> None:
    snapshot = fx.make_snapshot(3, 4, "A")  # agents 000 and 002 have a canary and a flag
    sync(store_url, snapshot)
    with RuntimeClient(store_url, environment="production") as client:
        assert client.head_commit == snapshot.head_commit
        variants = {"stable": 0, "canary": 0}
        for agent in ("agent-000", "agent-001", "agent-002"):
            for i in range(400):
                user = f"user-{i}"
                got = client.resolve(agent, user)
                assert as_dict(got) == expected(snapshot, "production", agent, user)
                variants[got.variant] += 1
                assert client.resolve(agent, user) == got  # sticky
        assert variants["canary"] > 0 and variants["stable"] > variants["canary"]
        with pytest.raises(NotFound):
            client.resolve("nobody", "u")
    with RuntimeClient(store_url, environment="staging") as staging:
        assert as_dict(staging.resolve("agent-001", "alice")) == expected(
            snapshot, "staging", "agent-001", "alice"
        )


def test_returned_config_is_read_only_and_plain_compatible(store_url: str) -> None:
    # The config is shared by every user of a template (no per-call copy, docs/runtime.md),
    # so no caller may change it for the others, at any depth.
    sync(store_url, fx.make_snapshot(1, 2, "A"))
    with RuntimeClient(store_url) as client:
        first = client.resolve("agent-000", "u1")
        config = first.config
        with pytest.raises(TypeError, match="read-only"):
            config["system_prompt"] = "changed by the caller"  # type: ignore[index]
        with pytest.raises(TypeError, match="read-only"):
            config["guardrails"]["max_turns"] = 99
        with pytest.raises(TypeError, match="read-only"):
            config["tools"].append("rm_rf")
        with pytest.raises(TypeError, match="read-only"):
            config.update({"model": "other"})  # type: ignore[attr-defined]
        again = client.resolve("agent-000", "u1")
        assert again.config is config  # shared, not copied
        assert config["tools"] == list(first.tools) and config["system_prompt"].startswith("You")
        # Still a plain mapping for callers: JSON, dict(), deepcopy give ordinary objects.
        assert json.loads(json.dumps(config)) == config
        mine = copy.deepcopy(config)
        mine["guardrails"]["max_turns"] = 99
        assert type(mine) is dict and type(mine["guardrails"]) is dict
        assert client.resolve("agent-000", "u1").config["guardrails"]["max_turns"] != 99


def test_ttl_refresh_sees_a_new_pointer(store_url: str) -> None:
    snapshot = fx.make_snapshot(1, 3, "A")
    sync(store_url, snapshot)
    ttl_only = {"mode": "ttl"}  # no change feed: the TTL alone refreshes
    with (
        RuntimeClient(store_url, ttl=0.05, **ttl_only) as client,
        RuntimeClient(store_url, ttl=60, **ttl_only) as slow,
    ):
        assert client.resolve("agent-000", "u").version == 2
        sync(store_url, deploy(snapshot, "agent-000", 1, "b"))
        assert slow.resolve("agent-000", "u").version == 2  # within its ttl: cached
        time.sleep(0.1)
        assert client.resolve("agent-000", "u").version == 1
        assert client.head_commit == "b" * 40
        assert slow.refresh() and slow.resolve("agent-000", "u").version == 1


def test_unreachable_at_first_load_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeStoreError, match="not been synced"):
        RuntimeClient(f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(RuntimeStoreError, match="does not exist"):
        RuntimeClient(f"sqlite:///{tmp_path / 'no' / 'dir.db'}")


@pytest.mark.postgres
def test_postgres_unreachable_at_first_load_masks_password() -> None:
    fx.pg_admin().close()
    with pytest.raises(RuntimeStoreError) as info:
        RuntimeClient("postgresql://postgres:topsecret@127.0.0.1:1/test")
    assert "topsecret" not in str(info.value) and "***" in str(info.value)


def test_sqlite_outage_keeps_last_good(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "runtime.db"
    url = f"sqlite:///{db}"
    snapshot = fx.make_snapshot(1, 3, "A")
    sync(url, snapshot)
    with RuntimeClient(url, ttl=0.01) as client:
        before = client.resolve("agent-000", "u")
        moved = tmp_path / "elsewhere"
        moved.mkdir()
        for path in tmp_path.glob("runtime.db*"):
            shutil.move(path, moved / path.name)
        time.sleep(0.02)
        with caplog.at_level(logging.WARNING, logger="agentver.runtime"):
            assert client.resolve("agent-000", "u") == before
            assert not client.refresh()
        assert any("last known good" in r.getMessage() for r in caplog.records)
        for path in moved.iterdir():
            shutil.move(path, tmp_path / path.name)
        sync(url, deploy(snapshot, "agent-000", 3, "c"))
        assert client.refresh() and client.resolve("agent-000", "u").version == 3


@pytest.mark.postgres
def test_postgres_outage_keeps_last_good(caplog: pytest.LogCaptureFixture) -> None:
    gen = fx.pg_schema_url()
    url = next(gen)
    schema = url.rsplit("schema=", 1)[1]
    admin = fx.pg_admin()
    try:
        sync(url, fx.make_snapshot(1, 3, "A"))
        with RuntimeClient(url) as client:
            before = client.resolve("agent-000", "u")
            admin.execute(f"ALTER SCHEMA {schema} RENAME TO {schema}_away")
            try:
                with caplog.at_level(logging.WARNING, logger="agentver.runtime"):
                    assert not client.refresh()
                assert client.resolve("agent-000", "u") == before
                assert caplog.records
            finally:
                admin.execute(f"ALTER SCHEMA {schema}_away RENAME TO {schema}")
            assert client.refresh()
    finally:
        admin.close()
        gen.close()


def _tamper(url: str, agent: str, number: int) -> None:
    sql = "UPDATE agent_versions SET system_prompt = 'Ignore billing.' WHERE agent_id = ? AND version_number = ?"
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            conn.execute(sql, (agent, number))
        return
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}") as conn:
        conn.execute(sql.replace("?", "%s"), (agent, number))


def test_tampered_row_is_never_served(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    snapshot = fx.make_snapshot(2, 3, "A")  # agent-001: active v2, no canary
    sync(store_url, snapshot)
    with RuntimeClient(store_url, ttl=3600) as client:
        good = client.resolve("agent-001", "u")
        _tamper(store_url, "agent-001", 2)
        with caplog.at_level(logging.ERROR, logger="agentver.runtime"):
            assert client.refresh()
        assert any("hashes to" in r.getMessage() for r in caplog.records)
        assert client.resolve("agent-001", "u") == good  # the last good one
        assert "Ignore billing." not in str(client.resolve("agent-001", "u").config)
    with RuntimeClient(store_url) as fresh:  # no good state to fall back on
        with pytest.raises(IntegrityError, match="hashes to"):
            fresh.resolve("agent-001", "u")
        assert fresh.resolve("agent-000", "u").agent == "agent-000"  # others still served


def test_many_threads_resolving_during_refreshes(store_url: str) -> None:
    snapshot = fx.make_snapshot(4, 5, "A")
    sync(store_url, snapshot)
    prompts = {s.version.config_hash: s.config.system_prompt for s in snapshot.versions}
    failures: list[BaseException] = []
    seen_versions: set[int] = set()
    stop = threading.Event()
    with RuntimeClient(store_url, ttl=0.005) as client:

        def work(n: int) -> None:
            try:
                i = 0
                while not stop.is_set():
                    got = client.resolve(f"agent-00{i % 4}", f"user-{n}-{i}")
                    assert got.config["system_prompt"] == prompts[got.config_hash]
                    assert got.user == f"user-{n}-{i}"
                    seen_versions.add(got.version)
                    i += 1
                    if i % 100 == 0:
                        time.sleep(0.001)  # let the syncing thread have the GIL too
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for number, head in ((1, "d"), (3, "e"), (5, "f")):
            snapshot = deploy(snapshot, "agent-000", number, head)
            sync(store_url, snapshot)
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:3]
    assert {1, 3, 5} <= seen_versions


def test_outcomes_round_trip(store_url: str) -> None:
    snapshot = fx.make_snapshot(1, 4, "A")  # agent-000: v3 active, v4 canary at 12.5%
    sync(store_url, snapshot)
    canary = next(p.canary for p in snapshot.pointers if p.environment == "production")
    assert canary is not None
    with RuntimeClient(store_url, flush_interval=0.05) as client:
        recorded = {"stable": [0, 0], "canary": [0, 0]}
        for i in range(600):
            resolved = client.resolve("agent-000", f"user-{i}")
            ok = i % 7 != 0
            client.record_outcome(resolved, ok=ok, latency_ms=10 + i % 5)
            recorded[resolved.variant][0] += 1
            recorded[resolved.variant][1] += 0 if ok else 1
        deadline = time.monotonic() + 5
        store = open_store(store_url)
        while time.monotonic() < deadline:  # the background thread writes without flush()
            counts = store.outcome_counts("agent-000", "production", canary.salt)
            if counts["stable"].requests + counts["canary"].requests == 600:
                break
            time.sleep(0.02)
        for variant, (requests, errors) in recorded.items():
            assert (counts[variant].requests, counts[variant].errors) == (requests, errors)
        assert counts["canary"].versions == (4,) and counts["stable"].versions == (3,)
        client.record_outcome(client.resolve("agent-000", "last"), ok=False)
    # close() flushed the last one
    counts = store.outcome_counts("agent-000", "production", canary.salt)
    assert counts["stable"].requests + counts["canary"].requests == 601
    store.close()


def test_flush_raises_and_keeps_outcomes_when_store_is_gone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    sync(url, fx.make_snapshot(1, 2, "A"))
    client = RuntimeClient(url, flush_interval=3600)
    resolved = client.resolve("agent-000", "u")
    client.record_outcome(resolved, ok=True)
    (tmp_path / "runtime.db").rename(tmp_path / "away.db")
    with pytest.raises(StoreError, match="has not been synced"):
        client.flush()
    assert not (tmp_path / "runtime.db").exists()  # a writer of outcomes creates nothing
    (tmp_path / "away.db").rename(tmp_path / "runtime.db")
    assert client.flush() == 1
    client.close()


def test_import_stays_light() -> None:
    code = (
        "import sys, agentver.runtime\n"
        "heavy = {'typer', 'rich', 'git', 'deepdiff', 'click', 'psycopg'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_agent_without_active_version_is_not_served(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    snapshot = fx.make_snapshot(1, 2, "A")
    flags_only = [Pointer("agent-000", "production", flags={"x": fx.Flag(name="x")})]
    sync(url, dataclasses.replace(snapshot, pointers=flags_only))
    with RuntimeClient(url) as client, pytest.raises(IntegrityError, match="no active"):
        client.resolve("agent-000", "u")
