"""RuntimeClient against a hung, stalled, corrupt or mistaken store (issue 12 #4, #5, #9).

Every test uses the real store: SQLite files and the PostgreSQL server on 127.0.0.1.
"""

from __future__ import annotations

import logging
import selectors
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import contextlib

import store_kill_driver as fx

from agentver import runtime
from agentver.errors import IntegrityError
from agentver.store import open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fx.pg_schema_url()


def sync(url: str, agents: int = 2, versions: int = 3) -> None:
    store = open_store(url)
    store.sync(fx.make_snapshot(agents, versions, "A"), force=True)
    store.close()


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(len(ordered) * 0.99)]


def assert_never_waited(durations: list[float]) -> None:
    """p99 under 1 ms (the issue's bound), and no single call anywhere near a store
    timeout: one blocked call hides in a p99 of thousands."""
    assert len(durations) > 1000
    assert p99(durations) < 0.001, f"p99 {p99(durations) * 1000:.2f} ms"
    assert max(durations) < 0.2, f"one resolve took {max(durations) * 1000:.0f} ms"


def resolve_for(client: runtime.RuntimeClient, seconds: float) -> list[float]:
    """Resolve continuously for ``seconds``; the duration of each call."""
    durations = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        started = time.perf_counter()
        client.resolve("agent-000", f"user-{i}")
        durations.append(time.perf_counter() - started)
        i += 1
        if i % 50 == 0:
            time.sleep(0.0005)  # like a server between requests; lets the refresher run
    return durations


def wait_until(predicate: object, timeout: float) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def refresh_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "agentver.runtime" and "refresh failed" in r.getMessage()
    ]


# -- #5: resolve never waits for the store ---------------------------------------------


@pytest.mark.postgres
def test_resolve_never_waits_behind_a_table_lock(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On main, resolve() refreshed inline and waited as long as the lock was held."""
    sync(pg_url)
    schema = pg_url.rsplit("schema=", 1)[1]
    caplog.set_level(logging.WARNING, logger="agentver.runtime")
    client = runtime.RuntimeClient(pg_url, ttl=0.2, mode="ttl", statement_timeout=0.3)
    locker = fx.pg_admin()
    try:
        before = client.resolve("agent-000", "u")
        locker.execute("BEGIN")
        # A safety net so that an implementation that waits cannot hang the suite.
        locker.execute("SET LOCAL idle_in_transaction_session_timeout = '4s'")
        locker.execute(f'LOCK TABLE "{schema}".agent_deployments IN ACCESS EXCLUSIVE MODE')
        durations = resolve_for(client, 1.5)
        assert_never_waited(durations)
        health = client.health()
        assert client.resolve("agent-000", "u") == before  # last known good
        assert health.serving_last_known_good
        assert health.failed_refreshes >= 2
        assert "statement timeout" in (health.last_refresh_error or "")
        assert health.age_seconds > 1.0
        locker.execute("ROLLBACK")
        assert wait_until(lambda: not client.health().serving_last_known_good, 3.0)
        assert client.health().last_refresh_error is None
    finally:
        client.close()
        locker.close()
    # One warning per failed refresh, no more, no less.
    assert len(refresh_warnings(caplog)) == client.health().failed_refreshes


class StallProxy:
    """A TCP proxy on 127.0.0.1 that can stop forwarding while keeping every socket open:
    a network stall as the client sees it (nothing refused, nothing answered)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ, None)
        while not self.closed.is_set():
            if not self.forwarding.is_set():
                time.sleep(0.01)  # stalled: read nothing, accept nothing
                continue
            for key, _ in selector.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if key.data is None:
                    client, _ = sock.accept()
                    server = socket.create_connection(self.upstream)
                    self.sockets += [client, server]
                    selector.register(client, selectors.EVENT_READ, server)
                    selector.register(server, selectors.EVENT_READ, client)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                peer = key.data
                if not data:
                    for end in (sock, peer):
                        with contextlib.suppress(KeyError, ValueError):
                            selector.unregister(end)
                        end.close()
                    continue
                with contextlib.suppress(OSError):
                    peer.sendall(data)
        selector.close()

    def close(self) -> None:
        self.closed.set()
        self.thread.join(2)
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.mark.postgres
def test_resolve_never_waits_during_a_network_stall(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On main, resolve() hung as long as the network did (19.8 s in the issue)."""
    sync(pg_url)
    proxy = StallProxy(("127.0.0.1", 5432))
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    caplog.set_level(logging.WARNING, logger="agentver.runtime")
    client = runtime.RuntimeClient(url, ttl=0.2, mode="ttl", statement_timeout=0.3)
    try:
        before = client.resolve("agent-000", "u")
        proxy.forwarding.clear()
        # A safety net so that an implementation that waits cannot hang the suite.
        safety = threading.Timer(6.0, proxy.forwarding.set)
        safety.daemon = True
        safety.start()
        # The server never sees the refresh's statement, so only the client-side deadline
        # (statement timeout + 1 s) or the connect timeout can end it.
        durations = resolve_for(client, 2.0)
        assert_never_waited(durations)
        assert wait_until(lambda: client.health().failed_refreshes >= 1, 3.0)
        assert client.resolve("agent-000", "u") == before
        assert client.health().serving_last_known_good
        proxy.forwarding.set()
        assert wait_until(lambda: not client.health().serving_last_known_good, 5.0)
    finally:
        safety.cancel()
        proxy.forwarding.set()
        client.close()
        proxy.close()
    assert len(refresh_warnings(caplog)) == client.health().failed_refreshes


def test_health_reports_a_fresh_state(store_url: str) -> None:
    sync(store_url)
    with runtime.RuntimeClient(store_url) as client:
        health = client.health()
        assert health.head_commit == client.head_commit is not None
        assert not health.serving_last_known_good and health.last_refresh_error is None
        assert 0 <= health.age_seconds < 5
        assert health.mode == ("data_version" if store_url.startswith("sqlite") else "listen")
        assert health.stale_agents == health.broken_agents == ()


def test_refresh_failure_on_sqlite_is_one_warning_and_last_known_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    sync(url)
    caplog.set_level(logging.WARNING, logger="agentver.runtime")
    with runtime.RuntimeClient(url, ttl=0.1, mode="ttl") as client:
        before = client.resolve("agent-000", "u")
        (tmp_path / "runtime.db").rename(tmp_path / "away.db")
        assert wait_until(lambda: client.health().failed_refreshes >= 2, 3.0)
        assert client.resolve("agent-000", "u") == before
        health = client.health()
        assert health.serving_last_known_good and "not been synced" in (
            health.last_refresh_error or ""
        )
        (tmp_path / "away.db").rename(tmp_path / "runtime.db")
        assert wait_until(lambda: not client.health().serving_last_known_good, 3.0)
    assert len(refresh_warnings(caplog)) == client.health().failed_refreshes


# -- #9: fail fast on construction -------------------------------------------------------


def test_unknown_environment_fails_on_construction(store_url: str) -> None:
    """On main, RuntimeClient(url, environment="prodution") constructed fine."""
    sync(store_url)
    with pytest.raises(runtime.UnknownEnvironment) as info:
        runtime.RuntimeClient(store_url, environment="prodution")
    message = str(info.value)
    assert "'prodution'" in message and "'production', 'staging'" in message
    assert isinstance(info.value, runtime.RuntimeStoreError)


def test_never_synced_store_fails_on_construction(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # an existing, empty SQLite file
    for url in (f"sqlite:///{tmp_path / 'absent.db'}", f"sqlite:///{empty}"):
        with pytest.raises(runtime.StoreNotSynced, match="not been synced") as info:
            runtime.RuntimeClient(url)
        assert "agentver sync" in (info.value.hint or "")


@pytest.mark.postgres
def test_never_synced_postgres_schema_fails_on_construction(pg_url: str) -> None:
    with pytest.raises(runtime.StoreNotSynced, match="not been synced"):
        runtime.RuntimeClient(pg_url)


def test_bad_constructor_arguments_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    with pytest.raises(ValueError, match="mode must be one of"):
        runtime.RuntimeClient(url, mode="push")
    with pytest.raises(ValueError, match="ttl must be a finite number of seconds > 0"):
        runtime.RuntimeClient(url, ttl=0)


# -- #4: corrupt rows are contained ------------------------------------------------------


def corrupt(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            conn.execute(sql)
        return
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}") as conn:
        conn.execute(sql)


# agent-001's active version in production is v2 (make_pointer: the second newest).
CORRUPTIONS = {
    "json": "UPDATE agent_versions SET tools = '[\"unterminated' WHERE version_id = 'agent-001:v2'",
    # Only SQLite's typeless columns can hold it; PostgreSQL's DOUBLE PRECISION cannot.
    "number": "UPDATE agent_versions SET temperature = 'warm' WHERE version_id = 'agent-001:v2'",
}
CORRUPT_CASES = [
    ("sqlite", "json"),
    ("sqlite", "number"),
    pytest.param(("postgres", "json"), marks=pytest.mark.postgres),
]


@pytest.fixture(params=CORRUPT_CASES, ids=["sqlite-json", "sqlite-number", "postgres-json"])
def corrupt_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    backend, kind = request.param
    for url in fx.store_url_for(backend, tmp_path):
        yield url, kind


def test_corrupt_row_never_breaks_a_running_client(
    corrupt_case: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """On main, a running client raised JSONDecodeError from resolve() once per TTL, for
    every agent."""
    store_url, kind = corrupt_case
    sync(store_url)
    caplog.set_level(logging.WARNING, logger="agentver.runtime")
    with runtime.RuntimeClient(store_url, ttl=0.05, mode="ttl") as client:
        good = {agent: client.resolve(agent, "u") for agent in ("agent-000", "agent-001")}
        corrupt(store_url, CORRUPTIONS[kind])
        failures_before = client.health().failed_refreshes
        assert wait_until(
            lambda: (
                client.health().refreshes + client.health().failed_refreshes > failures_before + 3
            ),
            3.0,
        )
        for _ in range(200):  # across several TTLs: never raises, still the good state
            for agent, resolved in good.items():
                assert client.resolve(agent, "u") == resolved
            time.sleep(0.001)
    assert any("corrupt" in r.getMessage() for r in caplog.records)


def test_corrupt_row_never_raises_a_decode_error_from_a_new_client(
    corrupt_case: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """On main, RuntimeClient() raised JSONDecodeError. Now it serves every other agent
    and refuses the affected one alone, naming the corrupt row."""
    store_url, kind = corrupt_case
    sync(store_url)
    corrupt(store_url, CORRUPTIONS[kind])
    caplog.set_level(logging.ERROR, logger="agentver.runtime")
    with runtime.RuntimeClient(store_url) as client:
        assert client.resolve("agent-000", "u").agent == "agent-000"
        with pytest.raises(IntegrityError, match="corrupt row"):
            client.resolve("agent-001", "u")
        assert client.health().broken_agents == ("agent-001",)
    assert any("agent-001" in r.getMessage() for r in caplog.records)


def test_corrupt_flag_row_keeps_the_last_known_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A pointer-side row (a flag's users) that cannot be decoded costs only its agent: a
    running client keeps that agent's served state (an error is logged) and updates the
    others; a new one serves the others and refuses that agent alone
    (tests/test_store_corrupt_pointers.py covers every kind of bad row)."""
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    sync(url)  # agent-001 has a canary and the flag "beta" (store_kill_driver)
    caplog.set_level(logging.WARNING, logger="agentver.runtime")
    with runtime.RuntimeClient(url, ttl=3600, mode="ttl") as client:
        before = {a: client.resolve(a, "alice") for a in ("agent-000", "agent-001")}
        corrupt(url, "UPDATE agent_flags SET users = '[' WHERE agent_id = 'agent-001'")
        assert client.refresh()
        health = client.health()
        assert health.stale_agents == ("agent-001",)
        assert {a: client.resolve(a, "alice") for a in before} == before
    assert not refresh_warnings(caplog)
    assert any(
        "agent-001" in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records
    )
    with runtime.RuntimeClient(url) as client:
        assert client.resolve("agent-000", "alice") == before["agent-000"]
        with pytest.raises(IntegrityError, match="corrupt") as info:
            client.resolve("agent-001", "alice")
    assert "sync --force" in (info.value.hint or "")
