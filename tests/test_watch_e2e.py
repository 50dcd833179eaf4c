"""Automatic rollback end to end (docs/auto-rollback.md): real agent processes serve a
failing canary from a real store, a real watcher process rolls it back through a bare
remote on disk, and every agent process ends up serving stable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import store_kill_driver as fx
from tests.conftest import RunCli
from tests.watch_world import AGENT, BOT, ENV, POINTER, events, git, make_world

DRIVER = Path(__file__).with_name("watch_client_driver.py")
CLIENTS = 2


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def _counts(url: str, salt: str) -> object:
    from agentver.store import open_store

    store = open_store(url)
    try:
        return store.outcome_counts(AGENT, ENV, salt)
    finally:
        store.close()


def _total(url: str, salt: str) -> int:
    counts = _counts(url, salt)
    assert isinstance(counts, dict)
    return sum(arm.requests for arm in counts.values())


def test_watcher_rolls_back_a_failing_canary_for_every_client(
    tmp_path: Path, run_cli: RunCli, store_url: str
) -> None:
    world = make_world(tmp_path, store_url, run_cli)
    clients = [
        subprocess.Popen(
            [
                sys.executable,
                str(DRIVER),
                store_url,
                ENV,
                AGENT,
                "300",
                "0.4",
                "0.02",
                str(seed),
                "60",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(CLIENTS)
    ]
    try:
        recorded_counts: list[str] = []
        for client in clients:
            assert client.stdout is not None
            recorded = client.stdout.readline().split()
            recorded_counts += recorded[1:]
            assert recorded[0] == "recorded", client.stderr.read() if client.stderr else ""
            assert int(recorded[2]) > 100  # about half of 300 users are in the 50% canary
        # Every outcome the clients flushed is in the store before the watcher looks.
        total = sum(int(n) for n in recorded_counts)
        deadline = time.monotonic() + 30
        while _total(store_url, world.salt()) < total and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _total(store_url, world.salt()) == total, _counts(store_url, world.salt())
        # The watcher runs in its own clone, with no git identity but the bot's.
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))
        }
        watcher = subprocess.run(
            [
                sys.executable,
                "-m",
                "agentver",
                "-C",
                str(world.watcher),
                "canary",
                "watch",
                "--once",
                "--apply",
                "--push",
                "--sync",
                "--json",
                "--store",
                store_url,
                "--author",
                BOT,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert watcher.returncode == 0, watcher.stderr
        log = events(watcher.stdout)
        assert [e["event"] for e in log] == ["verdict", "commit", "push", "sync"], (
            log[0],
            _counts(store_url, world.salt()),
        )
        assert log[0]["verdict"] == "rollback"
        assert log[0]["canary"]["requests"] + log[0]["stable"]["requests"] == 300 * CLIENTS
        # The remote has the bot's pointer commit, and nothing else changed.
        author, subject = git(world.remote, "log", "-1", "--format=%an <%ae>%x09%s", "main").split(
            "\t"
        )
        assert author == BOT and "canary abort support v2" in subject
        assert git(world.remote, "rev-parse", "main").strip() == log[1]["commit"]
        assert git(world.remote, "show", "--name-only", "--format=", "main").split() == [POINTER]
        # Every client now serves stable, from the commit the watcher synced.
        for client in clients:
            out, err = client.communicate(timeout=60)
            assert client.returncode == 0, (out, err)
            assert out.split() == ["stable", log[3]["head"]]
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
