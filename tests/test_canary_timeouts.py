"""``canary evaluate`` and ``canary watch`` against a PostgreSQL store another session has
locked (a migration, a long transaction).

Before: both waited for as long as the lock was held, so the automatic-rollback watcher
silently stopped judging. Now every statement is bounded by READ_STATEMENT_TIMEOUT (the
mechanism of ``status`` and ``verify``): ``evaluate`` prints one ``error:`` line and
exits 2; ``watch`` logs an error event for that pass and judges again at the next
interval (docs/auto-rollback.md). Real PostgreSQL, the real CLI in a subprocess (a hang
cannot take the test runner with it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentver.store import READ_STATEMENT_TIMEOUT
from agentver.store.postgres import CLIENT_DEADLINE_MARGIN
from tests import store_kill_driver as fx
from tests.conftest import RunCli
from tests.watch_world import AGENT, BOT, World, make_world

pytestmark = pytest.mark.postgres

# The bound, plus start-up and a loaded machine's slack.
BOUND = READ_STATEMENT_TIMEOUT + CLIENT_DEADLINE_MARGIN + 4
TABLES = ["agent_outcomes", "agent_deployments"]


@pytest.fixture
def world(tmp_path: Path, run_cli: RunCli) -> Any:
    for url in fx.pg_schema_url():
        world = make_world(tmp_path, url, run_cli)
        world.record()
        yield world


def locker(world: World, table: str) -> Any:
    """A session holding ACCESS EXCLUSIVE on ``table`` until it is rolled back or closed."""
    import psycopg

    schema = world.store_url.rsplit("schema=", 1)[1]
    conn = psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}")
    conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return conn


def agentver(world: World, *args: str) -> list[str]:
    return [sys.executable, "-m", "agentver", "-C", str(world.watcher), "canary", *args]


@pytest.mark.parametrize("table", TABLES)
def test_evaluate_gives_up_on_a_locked_store(world: World, table: str) -> None:
    with locker(world, table):
        started = time.monotonic()
        proc = subprocess.run(
            agentver(world, "evaluate", AGENT, "--store", world.store_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "did not answer within" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert took < BOUND, took


@pytest.mark.parametrize("table", TABLES)
def test_watch_once_on_a_locked_store_is_an_error_of_the_pass(world: World, table: str) -> None:
    with locker(world, table):
        started = time.monotonic()
        proc = subprocess.run(
            agentver(world, "watch", "--once", "--json", "--store", world.store_url),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "AGENTVER_WATCH_AUTHOR": BOT},
        )
        took = time.monotonic() - started
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["error"], events
    assert "did not answer within" in events[0]["message"]
    assert "Traceback" not in proc.stderr
    assert took < BOUND, took


def test_watch_logs_the_timed_out_pass_and_judges_at_the_next_interval(world: World) -> None:
    conn = locker(world, "agent_outcomes")
    proc = subprocess.Popen(
        agentver(world, "watch", "--interval", "500ms", "--json", "--store", world.store_url),
        env={**os.environ, "AGENTVER_WATCH_AUTHOR": BOT},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Before the fix the first pass waited forever: end it so the test fails, not hangs.
    guard = threading.Timer(60, proc.kill)
    guard.start()
    try:
        assert proc.stdout is not None
        started = time.monotonic()
        first = json.loads(proc.stdout.readline())
        assert time.monotonic() - started < BOUND
        assert first["event"] == "error" and first["agent"] == AGENT, first
        assert "did not answer within" in first["message"]
        conn.rollback()  # the lock is gone: the next pass judges
        for _ in range(20):  # passes that started while the lock was held may still fail
            event = json.loads(proc.stdout.readline())
            if event["event"] != "error":
                break
        assert event["event"] == "verdict" and event["verdict"] == "rollback", event
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    finally:
        guard.cancel()
        conn.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert json.loads(rest.splitlines()[-1])["event"] == "stopped"
    assert "Traceback" not in err
