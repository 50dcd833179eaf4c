"""A real `agentver sync` killed (SIGKILL) while it streams thousands of versions into the
store a batch at a time (issue 16): the store is the old state or the new, never a mix.

The failpoint matrix kills at named steps; this kills at moments spread over the whole
sync, between and inside the batches of the streamed inserts, on both backends."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx
from test_store_atomicity import fingerprint
from test_store_cas import linear_history

from agentver.store import open_store
from agentver.store.plan import BATCH

VERSIONS = BATCH * 2 + 500  # three batches


def cli(repo: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentver", "-C", str(repo), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def state(url: str) -> tuple[Any, ...]:
    store = open_store(url)
    try:
        return fingerprint(store)
    finally:
        store.close()


def killed_states(repo: Path, fresh: Any, old: tuple[Any, ...], new: tuple[Any, ...]) -> list[str]:
    started = time.perf_counter()
    proc = cli(repo, "sync", "--store", fresh())
    assert proc.wait(timeout=300) == 0
    total = time.perf_counter() - started
    outcomes = []
    for fraction in (0.0, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 3.0):
        url = fresh()
        proc = cli(repo, "sync", "--store", url)
        time.sleep(total * fraction)
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=300)
        found = state(url)
        which = "old" if found == old else "new" if found == new else "MIXED"
        assert which != "MIXED", f"killed at {fraction:.2f} of {total:.2f}s: neither state"
        if code == 0:
            assert which == "new"
        outcomes.append(which)
    return outcomes


@pytest.fixture
def history(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    commits = linear_history(tmp_path / "repo", VERSIONS)
    yield tmp_path / "repo", commits


def at(repo: Path, commit: str) -> None:
    subprocess.run(["git", "update-ref", "refs/heads/main", commit], cwd=repo, check=True)


def test_sqlite_streamed_sync_killed_anywhere(
    history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    repo, commits = history
    base = tmp_path / "base.db"
    at(repo, commits[0])
    assert cli(repo, "sync", "--store", f"sqlite:///{base}").wait(timeout=300) == 0
    at(repo, commits[-1])
    old = state(f"sqlite:///{base}")
    count = [0]

    def fresh() -> str:
        count[0] += 1
        target = tmp_path / f"s{count[0]}.db"
        shutil.copy(base, target)
        for suffix in ("-wal", "-shm"):
            if Path(f"{base}{suffix}").exists():
                shutil.copy(f"{base}{suffix}", f"{target}{suffix}")
        return f"sqlite:///{target}"

    first = fresh()
    assert cli(repo, "sync", "--store", first).wait(timeout=300) == 0  # warms the caches
    new = state(first)
    assert len(new[1]) == VERSIONS and old[1] != new[1]
    outcomes = killed_states(repo, fresh, old, new)
    assert "old" in outcomes and "new" in outcomes, outcomes


@pytest.mark.postgres
def test_postgres_streamed_sync_killed_anywhere(history: tuple[Path, list[str]]) -> None:
    repo, commits = history
    schemas: list[Iterator[str]] = []

    def fresh() -> str:
        gen = fx.pg_schema_url()
        schemas.append(gen)
        url = next(gen)
        at(repo, commits[0])
        assert cli(repo, "sync", "--store", url).wait(timeout=300) == 0
        at(repo, commits[-1])
        return url

    try:
        old_url = fresh()
        old = state(old_url)
        first = fresh()
        assert cli(repo, "sync", "--store", first).wait(timeout=300) == 0
        new = state(first)
        assert len(new[1]) == VERSIONS and old[1] != new[1]
        outcomes = killed_states(repo, fresh, old, new)
        assert "old" in outcomes and "new" in outcomes, outcomes
    finally:
        for gen in schemas:
            gen.close()
