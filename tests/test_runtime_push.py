"""Push to the fleet (issue 18): clients learn of a sync at once, not after their TTL.

Each test gives the client a TTL of an hour, so only the change feed can explain a
prompt refresh. The timing sweep over 50 processes is bench/bench_propagation.py.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver.models import ActiveVersion
from agentver.runtime import RuntimeClient
from agentver.store import Snapshot, open_store

HOUR = 3600.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    # application_name lets a test count this client's connections on the server.
    for url in fx.pg_schema_url():
        yield f"{url}&application_name=agentver_{uuid.uuid4().hex[:12]}"


def moved(snapshot: Snapshot, number: int, head: str) -> Snapshot:
    """agent-000's active version moved to ``number`` in every environment."""
    target = next(
        s.version
        for s in snapshot.versions
        if (s.version.agent, s.version.version) == ("agent-000", number)
    )
    pointers = [
        dataclasses.replace(
            p, active=ActiveVersion(number, target.config_hash, target.commit), canary=None
        )
        if p.agent == "agent-000"
        else p
        for p in snapshot.pointers
    ]
    return dataclasses.replace(snapshot, pointers=pointers, head_commit=head * 40)


def publish(url: str, snapshot: Snapshot) -> None:
    """Sync (which sends NOTIFY agentver_sync after its commit on PostgreSQL)."""
    store = open_store(url)
    store.sync(snapshot, force=True)
    store.close()


def serves(client: RuntimeClient, version: int, within: float) -> float | None:
    """Seconds until ``client`` serves agent-000 at ``version`` (None: not within)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if client.resolve("agent-000", "nobody-in-particular").version == version:
            return time.monotonic() - started
        time.sleep(0.005)
    return None


def backend_count(url: str) -> int:
    app = url.rsplit("application_name=", 1)[1]
    admin = fx.pg_admin()
    try:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchone()
        return int(row[0])
    finally:
        admin.close()


def no_backend_within(url: str, seconds: float) -> bool:
    """Whether the server shows no connection of this client at some moment within
    ``seconds`` (a closed connection's backend exits a moment after the close)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if backend_count(url) == 0:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.postgres
def test_listening_clients_refresh_on_notify(pg_url: str) -> None:
    snapshot = fx.make_snapshot(2, 3, "A")
    publish(pg_url, snapshot)
    clients = [RuntimeClient(pg_url, ttl=HOUR) for _ in range(3)]
    try:
        assert all(c.health().mode == "listen" for c in clients)
        deadline = time.monotonic() + 5
        while not all(c.health().listening for c in clients) and time.monotonic() < deadline:
            time.sleep(0.01)
        # Between refreshes each client holds its listener only (docs/runtime.md); the
        # refresh that follows each LISTEN closes its connection a moment later.
        deadline = time.monotonic() + 3
        while backend_count(pg_url) != len(clients) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend_count(pg_url) == len(clients)
        publish(pg_url, moved(snapshot, 1, "b"))
        for client in clients:
            assert serves(client, 1, within=2.0) is not None
            assert client.head_commit == "b" * 40
    finally:
        for client in clients:
            client.close()


@pytest.mark.postgres
def test_listening_client_recovers_when_its_connection_is_killed(pg_url: str) -> None:
    snapshot = fx.make_snapshot(1, 3, "A")
    publish(pg_url, snapshot)
    app = pg_url.rsplit("application_name=", 1)[1]
    with RuntimeClient(pg_url, ttl=HOUR) as client:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            client.health().listening and backend_count(pg_url) == 1
        ):
            time.sleep(0.01)
        admin = fx.pg_admin()
        try:
            # Its one connection: the listener, which its reloads also read through.
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (app,),
            ).fetchall()
            assert killed == [(True,)]
            # A sync while nobody listens: no notice reaches this client.
            store = open_store(pg_url)
            store.sync(moved(snapshot, 1, "c"), force=True)
            store.close()
        finally:
            admin.close()
        # It notices the drop, reconnects (at most every 2 s) and reloads once, since it
        # may have missed notices: long before its TTL of an hour.
        assert serves(client, 1, within=6.0) is not None
        assert client.health().listening


def test_sqlite_clients_refresh_on_data_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    snapshot = fx.make_snapshot(2, 3, "A")
    publish(url, snapshot)
    with RuntimeClient(url, ttl=HOUR) as client, RuntimeClient(url, ttl=HOUR) as writer:
        assert client.health().mode == "data_version"
        time.sleep(0.2)
        settled = client.health().refreshes
        # Outcome writes change data_version too, but not the head row: no reload.
        for i in range(20):
            writer.record_outcome(writer.resolve("agent-001", f"u{i}"), ok=True)
        assert writer.flush() == 20
        time.sleep(0.3)
        assert client.health().refreshes == settled
        publish(url, moved(snapshot, 1, "b"))
        assert serves(client, 1, within=1.0) is not None
        assert client.health().refreshes == settled + 1


@pytest.mark.postgres
def test_poll_mode_holds_no_connection_between_refreshes(pg_url: str) -> None:
    snapshot = fx.make_snapshot(1, 3, "A")
    publish(pg_url, snapshot)
    with RuntimeClient(pg_url, ttl=HOUR, mode="poll", poll_interval=0.1) as client:
        assert client.health().mode == "poll" and not client.health().listening
        # Between polls (100 ms apart, each a few ms long) nothing stays connected.
        assert no_backend_within(pg_url, 3.0)
        client.record_outcome(client.resolve("agent-000", "u"), ok=True)
        assert client.flush() == 1
        assert no_backend_within(pg_url, 3.0)  # the outcome connection was closed too
        store = open_store(pg_url)
        store.sync(moved(snapshot, 1, "b"), force=True)  # no NOTIFY needed: it polls
        store.close()
        assert serves(client, 1, within=2.0) is not None


def test_poll_mode_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    snapshot = fx.make_snapshot(1, 3, "A")
    publish(url, snapshot)
    with RuntimeClient(url, ttl=HOUR, mode="poll", poll_interval=0.05) as client:
        publish(url, moved(snapshot, 1, "b"))
        assert serves(client, 1, within=1.0) is not None


def test_modes_that_do_not_fit_the_backend_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    publish(url, fx.make_snapshot(1, 2, "A"))
    with pytest.raises(ValueError, match="needs a PostgreSQL store"):
        RuntimeClient(url, mode="listen")
