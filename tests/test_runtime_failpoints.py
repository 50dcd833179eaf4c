"""Failpoints in the runtime refresh (runtime.refresh.*): a refresh that fails or
stalls at each step leaves the client serving its last known good state, fast."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver import failpoints
from agentver.runtime import RuntimeClient
from agentver.store import open_store

RUNTIME_POINTS = [name for name in failpoints.NAMES if name.startswith("runtime.refresh.")]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    store = open_store(url)
    store.sync(fx.make_snapshot(2, 3, "A"), force=True)
    store.close()
    yield url
    failpoints.configure(None)


def test_every_refresh_step_has_a_failpoint() -> None:
    assert RUNTIME_POINTS == ["runtime.refresh.before_load", "runtime.refresh.after_load"]


@pytest.mark.parametrize("name", RUNTIME_POINTS)
def test_a_refresh_that_raises_keeps_the_last_known_good(
    url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with RuntimeClient(url, ttl=3600, mode="ttl") as client:
        before = client.resolve("agent-000", "u")
        caplog.set_level(logging.WARNING, logger="agentver.runtime")
        failpoints.configure(f"{name}=raise")
        assert not client.refresh()
        failpoints.configure(None)
        health = client.health()
        assert health.serving_last_known_good and name in (health.last_refresh_error or "")
        assert client.resolve("agent-000", "u") == before
        assert [r for r in caplog.records if "refresh failed" in r.getMessage()]
        assert client.refresh() and not client.health().serving_last_known_good


@pytest.mark.parametrize("name", RUNTIME_POINTS)
def test_a_slow_refresh_never_slows_resolve(url: str, name: str) -> None:
    with RuntimeClient(url, ttl=0.05, mode="ttl") as client:
        failpoints.configure(f"{name}=sleep(300)")
        durations = []
        end = time.perf_counter() + 0.8  # at least two refreshes asleep at the step
        i = 0
        while time.perf_counter() < end:
            started = time.perf_counter()
            client.resolve("agent-000", f"u{i}")
            durations.append(time.perf_counter() - started)
            i += 1
            if i % 50 == 0:
                time.sleep(0.0005)
        failpoints.configure(None)
        assert max(durations) < 0.2, f"one resolve took {max(durations) * 1000:.0f} ms"
        assert sorted(durations)[int(len(durations) * 0.99)] < 0.001
