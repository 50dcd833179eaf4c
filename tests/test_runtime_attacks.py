"""The runtime client against what happens to store files and servers in production
(an adversarial pass): a store file replaced by an atomic rename, deleted and recreated,
truncated; real SQLite files and real processes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver import runtime
from agentver.errors import StoreError
from agentver.store import open_store


def synced(path: Path, head: str, versions: int) -> None:
    store = open_store(f"sqlite:///{path}")
    store.sync(fx.make_snapshot(2, versions, head), force=True)
    store.close()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_store_file_replaced_by_a_rename_is_noticed_at_once(tmp_path: Path) -> None:
    """Build the store elsewhere, then ``mv`` it into place (an atomic deploy). Before:
    the data_version feed kept polling the old file's inode and never saw it; the
    client served the old state until its TTL."""
    path = tmp_path / "runtime.db"
    synced(path, "A", 3)
    with runtime.RuntimeClient(f"sqlite:///{path}", ttl=3600) as client:
        assert client.health().mode == "data_version"
        assert client.resolve("agent-000", "u").version == 2
        synced(tmp_path / "next.db", "B", 4)
        os.replace(tmp_path / "next.db", path)
        assert wait_until(lambda: client.head_commit == fx._hex("B"), 2.0)
        assert client.resolve("agent-000", "u").version == 3


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_store_deleted_under_a_running_client_then_recreated(tmp_path: Path) -> None:
    path = tmp_path / "runtime.db"
    synced(path, "A", 3)
    with runtime.RuntimeClient(f"sqlite:///{path}", ttl=3600) as client:
        before = client.resolve("agent-000", "u")
        remove_store(path)
        assert not client.refresh()  # last known good, and it says why
        health = client.health()
        assert health.serving_last_known_good
        assert "has not been synced yet" in (health.last_refresh_error or "")
        assert client.resolve("agent-000", "u") == before
        assert not path.exists()  # a reader never creates the file
        synced(path, "B", 4)
        assert wait_until(lambda: client.head_commit == fx._hex("B"), 2.0)
        assert not client.health().serving_last_known_good


def test_a_truncated_store_file_keeps_the_last_known_good(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "runtime.db"
    synced(path, "A", 3)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with runtime.RuntimeClient(f"sqlite:///{path}", ttl=3600) as client:
        before = client.resolve("agent-000", "u")
        os.truncate(path, path.stat().st_size // 2)  # a disk full, a half-copied file
        assert not client.refresh()
        assert "not a valid SQLite database" in (client.health().last_refresh_error or "")
        assert client.resolve("agent-000", "u") == before
        client.record_outcome(before, ok=True)
        with pytest.raises(StoreError, match="not a valid SQLite database"):
            client.flush()  # the outcome stays queued for a repaired store
    with pytest.raises(runtime.RuntimeStoreError, match="not a valid SQLite database") as info:
        runtime.RuntimeClient(f"sqlite:///{path}")
    assert "the file is damaged" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"ttl": float("nan")}, ValueError, "ttl must be"),
        ({"ttl": float("inf")}, ValueError, "ttl must be"),
        ({"ttl": "30"}, TypeError, "ttl must be"),
        ({"ttl": True}, TypeError, "ttl must be"),
        ({"poll_interval": 0.0}, ValueError, "poll_interval must be"),  # a busy loop
        ({"poll_interval": -1.0}, ValueError, "poll_interval must be"),
        ({"flush_interval": 0}, ValueError, "flush_interval must be"),  # a busy loop
        ({"connect_timeout": -1}, ValueError, "connect_timeout must be"),
        ({"statement_timeout": 0}, ValueError, "statement_timeout must be"),
        ({"batch_size": 0}, ValueError, "batch_size must be"),  # flush() spun forever
        ({"batch_size": 2.5}, TypeError, "batch_size must be"),
        ({"max_queue": 0}, ValueError, "max_queue must be"),  # IndexError in the caller
        ({"environment": ""}, ValueError, "environment must be"),  # served every environment
        ({"environment": None}, TypeError, "environment must be"),
        ({"url": None}, TypeError, "url must be"),
    ],
)
def test_bad_constructor_arguments_are_refused_before_any_thread_starts(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    import threading

    path = tmp_path / "runtime.db"
    synced(path, "A", 3)
    arguments: dict[str, object] = {"url": f"sqlite:///{path}", **kwargs}
    threads = threading.active_count()
    with pytest.raises(error, match=message):
        runtime.RuntimeClient(**arguments)  # type: ignore[arg-type]
    assert threading.active_count() == threads


def test_an_unexpected_error_while_writing_outcomes_loses_nothing(tmp_path: Path) -> None:
    """Before: only a StoreError put a failed batch back, and anything else (a driver's
    own exception, a failpoint) lost the batch and ended the writer thread for good."""
    from agentver import failpoints

    path = tmp_path / "runtime.db"
    synced(path, "A", 3)
    with runtime.RuntimeClient(
        f"sqlite:///{path}", mode="ttl", ttl=3600, flush_interval=0.05
    ) as client:
        resolved = client.resolve("agent-000", "u")
        failpoints.configure("outcomes.before_insert=raise")
        try:
            for _ in range(3):
                client.record_outcome(resolved, ok=True)
            time.sleep(0.3)  # the writer thread meets the error several times
        finally:
            failpoints.configure(None)
        assert wait_until(lambda: stored_outcomes(path) == 3, 3.0)  # the thread lives on
        client.record_outcome(resolved, ok=False)
        assert wait_until(lambda: stored_outcomes(path) == 4, 3.0)


def stored_outcomes(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM agent_outcomes").fetchone()[0])


@pytest.mark.postgres
def test_a_closed_client_opens_nothing_and_says_what_it_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: refresh() after close() opened a PostgreSQL connection nobody closed, and
    an outcome recorded after close() was queued for a writer that no longer ran."""
    import logging

    for url in fx.pg_schema_url():
        store = open_store(url)
        store.sync(fx.make_snapshot(2, 3, "A"), force=True)
        store.close()
        client = runtime.RuntimeClient(url)
        assert client.health().mode == "listen"
        resolved = client.resolve("agent-000", "u")
        client.close()
        assert client.refresh() is False
        assert client._reader.open_connection() is None  # type: ignore[attr-defined]
        caplog.set_level(logging.WARNING, logger="agentver.runtime")
        for _ in range(3):
            client.record_outcome(resolved, ok=True)
        dropped = [r for r in caplog.records if "after close()" in r.getMessage()]
        assert len(dropped) == 1  # once, not once per outcome
        assert client.resolve("agent-000", "u") == resolved  # memory still answers


def test_resolve_names_a_bad_argument(tmp_path: Path) -> None:
    """Before: "can only concatenate str (not "NoneType") to str" from inside routing,
    and only for agents with a canary or a percent flag (others answered for None)."""
    path = tmp_path / "runtime.db"
    synced(path, "A", 3)  # agent-001 has a canary and a flag, agent-000 neither
    with runtime.RuntimeClient(f"sqlite:///{path}", mode="ttl") as client:
        for agent in ("agent-000", "agent-001"):
            for user in (None, 42, b"alice"):
                with pytest.raises(TypeError, match="user_id must be text"):
                    client.resolve(agent, user)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"user_id .* cannot be encoded as UTF-8"):
            client.resolve("agent-001", "alice\ud800")
        with pytest.raises(TypeError, match="agent_id must be text"):
            client.resolve(["agent-000"], "alice")  # type: ignore[arg-type]
        assert client.resolve("agent-001", "").user == ""


def _in_child(check: Callable[[], bool]) -> int:
    """Fork; run ``check`` in the child; its exit status is 0 when it returned True."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = 0 if check() else 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_forked_child_keeps_refreshing_and_writing(tmp_path: Path, backend: str) -> None:
    """gunicorn --preload: the client is created, then workers are forked. Before: a
    child had no refresh thread (it served its start-up state for ever) and shared the
    parent's PostgreSQL connection."""
    for url in fx.store_url_for(backend, tmp_path):
        store = open_store(url)
        store.sync(fx.make_snapshot(2, 3, "A"), force=True)
        with runtime.RuntimeClient(url, ttl=3600, flush_interval=0.05) as client:
            resolved = client.resolve("agent-000", "u")
            client.record_outcome(resolved, ok=True)  # the parent's writer thread runs
            client.flush()

            def child(url: str = url) -> bool:
                mine = open_store(url)  # the test's own store is the parent's connection
                mine.sync(fx.make_snapshot(2, 4, "B"), force=True)
                mine.close()
                if not wait_until(lambda: client.head_commit == fx._hex("B"), 5.0):
                    return False
                client.record_outcome(client.resolve("agent-000", "u"), ok=False)
                client.close()  # flushes through the child's own connection
                return client.resolve("agent-000", "u").version == 3

            assert _in_child(child) == 0
            # The parent's connections and threads are untouched by the child.
            store.sync(fx.make_snapshot(2, 3, "C"), force=True)
            assert wait_until(lambda: client.head_commit == fx._hex("C"), 5.0)
            client.record_outcome(client.resolve("agent-000", "u"), ok=True)
            client.flush()
        parents = store.outcome_counts("agent-000", "production", "")
        # Under B agent-000 runs a canary (store_kill_driver.make_pointer): its salt.
        childs = store.outcome_counts(
            "agent-000", "production", fx._hex("salt:production:agent-000:4", 16)
        )
        store.close()
        assert (parents["stable"].requests, parents["stable"].errors) == (2, 0)
        assert (childs["stable"].requests, childs["stable"].errors) == (1, 1)
