"""Readers see the old or the new state, never a mix; a sync SIGKILLed at any point
leaves the store exactly at the old state (or, once committed, the new one)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver.store import Snapshot, Store, open_store
from agentver.store.rows import normalize_pointer

DRIVER = Path(__file__).parent / "store_kill_driver.py"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
KILLS = 20
# The snapshots of the kill tests: old = 30 agents x 8 versions, new = 30 x 12.
OLD_ARGS = ("30", "8", "A", "1500")
NEW_ARGS = ("30", "12", "B", "1500")


def snapshot_of(args: tuple[str, str, str, str]) -> Snapshot:
    return fx.make_snapshot(int(args[0]), int(args[1]), args[2], int(args[3]))


def fingerprint(store: Store) -> tuple[Any, ...]:
    """Everything a sync writes, in a comparable form."""
    record = store.last_sync()
    versions = tuple(
        (s.version.agent, s.version.version, s.version.config_hash, s.config.system_prompt)
        for s in store.versions()
    )
    pointers = tuple(
        sorted(
            (repr(normalize_pointer(p)) for p in store.pointers()),
        )
    )
    return (record.head_commit if record else None, versions, pointers)


def expected(snapshot: Snapshot) -> tuple[Any, ...]:
    versions = tuple(
        sorted(
            (s.version.agent, s.version.version, s.version.config_hash, s.config.system_prompt)
            for s in snapshot.versions
        )
    )
    pointers = tuple(sorted(repr(normalize_pointer(p)) for p in snapshot.pointers))
    return (snapshot.head_commit, versions, pointers)


def state_key(store: Store) -> tuple[Any, ...]:
    state = store.load_runtime_state("production")
    return (
        state.head_commit,
        tuple(sorted((a, repr(normalize_pointer(p))) for a, p in state.pointers.items())),
        tuple(sorted((k, v.version.config_hash) for k, v in state.versions.items())),
    )


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def test_concurrent_readers_never_see_a_mix(store_url: str, tmp_path: Path) -> None:
    """Three readers loop while a sync replaces the state; each sees old or new, never a mix.

    Ordered by events, not sleeps: the sync starts only once every reader has read the
    old state, and the readers stop only once each has read the new one. (It used to
    sleep 50 ms before the sync and 100 ms after: on a loaded machine a PostgreSQL reader
    still connecting missed the old state, or one still in a read missed the new one.)
    """
    old, new = fx.make_snapshot(30, 8, "A", 1000), fx.make_snapshot(30, 12, "B", 1000)
    writer = open_store(store_url, tmp_path)
    writer.sync(old)
    old_key = state_key(writer)
    seen: list[list[tuple[Any, ...]]] = [[] for _ in range(3)]
    counts: set[int] = set()
    read_old = [threading.Event() for _ in range(3)]
    synced = threading.Event()
    read_new = [threading.Event() for _ in range(3)]
    errors: list[BaseException] = []

    def read(index: int) -> None:
        reader = open_store(store_url, tmp_path)
        try:
            while not read_new[index].is_set():
                after_sync = synced.is_set()
                key = state_key(reader)
                seen[index].append(key)
                counts.add(len(reader.versions()))
                read_old[index].set()
                if after_sync:  # this read began after the sync committed
                    read_new[index].set()
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
            read_old[index].set()
            read_new[index].set()
        finally:
            reader.close()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for event in read_old:
        assert event.wait(60)
    writer.sync(new)
    synced.set()
    for thread in threads:
        thread.join(60)
    new_key = state_key(writer)
    writer.close()
    assert not errors, errors
    assert old_key != new_key
    for keys in seen:
        assert set(keys) <= {old_key, new_key}
        assert keys[0] == old_key and keys[-1] == new_key
        # Once a reader has seen the new state it never sees the old one again.
        assert keys == sorted(keys, key=lambda key: key == new_key)
    assert counts <= {30 * 8, 30 * 12}


def _run_driver(url: str, cwd: Path, delay: float) -> str:
    """Start a sync of the new snapshot, SIGKILL it ``delay`` s after it starts syncing."""
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), url, *NEW_ARGS],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "start"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    tail = proc.stdout.read()
    proc.stdout.close()
    return "done" if "done" in tail else "killed"


def _delays(total: float, seed: int) -> list[float]:
    """KILLS jittered delays spread over the sync (and a little past it), plus two anchors
    that hold on a loaded machine too: at once (old state) and long after (new state)."""
    rng = random.Random(seed)
    step = total * 1.3 / KILLS
    return [0.0] + [step * i + rng.uniform(0, step) for i in range(KILLS)] + [total * 3 + 1.0]


def _sync_time(url: str, cwd: Path) -> float:
    """How long the driver's sync itself takes (startup excluded), measured once."""
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), url, *NEW_ARGS],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "start"
    started = time.perf_counter()
    assert proc.stdout.readline().strip() == "done"
    elapsed = time.perf_counter() - started
    proc.wait()
    proc.stdout.close()
    return elapsed


def test_sqlite_sync_killed_at_random_points(tmp_path: Path) -> None:
    old = snapshot_of(OLD_ARGS)
    new_expected = expected(snapshot_of(NEW_ARGS))
    old_expected = expected(old)
    base = tmp_path / "base.db"
    open_store(f"sqlite:///{base}").sync(old)
    with sqlite3.connect(base) as conn:  # fold the WAL in, so one file is the old state
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def fresh(name: str) -> str:
        target = tmp_path / name
        target.mkdir()
        shutil.copy(base, target / "runtime.db")
        return f"sqlite:///{target / 'runtime.db'}"

    total = _sync_time(fresh("measure"), tmp_path)
    seed = int.from_bytes(os.urandom(4), "big")
    outcomes = []
    for i, delay in enumerate(_delays(total, seed)):
        url = fresh(f"kill{i}")
        driver = _run_driver(url, tmp_path, delay)
        state = fingerprint(open_store(url))
        which = "old" if state == old_expected else "new" if state == new_expected else "MIXED"
        assert which != "MIXED", f"seed={seed} delay={delay:.4f}: store is neither state"
        if driver == "done":
            assert which == "new", f"seed={seed}: a finished sync must leave the new state"
        outcomes.append(which)
    assert len(outcomes) >= KILLS
    assert "old" in outcomes and "new" in outcomes, (seed, total, outcomes)


@pytest.mark.postgres
def test_postgres_sync_killed_at_random_points(tmp_path: Path) -> None:
    old = snapshot_of(OLD_ARGS)
    new_expected = expected(snapshot_of(NEW_ARGS))
    old_expected = expected(old)
    urls: list[Iterator[str]] = []

    def fresh() -> str:
        gen = fx.pg_schema_url()
        urls.append(gen)
        url = next(gen)
        store = open_store(url)
        store.sync(old)
        store.close()
        return url

    try:
        total = _sync_time(fresh(), tmp_path)
        seed = int.from_bytes(os.urandom(4), "big")
        outcomes = []
        for delay in _delays(total, seed):
            url = fresh()
            driver = _run_driver(url, tmp_path, delay)
            store = open_store(url)
            state = fingerprint(store)
            store.close()
            which = "old" if state == old_expected else "new" if state == new_expected else "MIXED"
            assert which != "MIXED", f"seed={seed} delay={delay:.4f}: store is neither state"
            if driver == "done":
                assert which == "new"
            outcomes.append(which)
        assert "old" in outcomes and "new" in outcomes, (seed, total, outcomes)
    finally:
        for gen in urls:
            gen.close()  # drops the schema
