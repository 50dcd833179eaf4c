"""A corrupt deployment or flag row costs only its own agent (docs/runtime.md).

Before: one undecodable ``agent_flags`` or ``agent_deployments`` row made every new
RuntimeClient refuse to start, stopped a running client's updates for every agent, and
crashed ``status``, ``verify`` and ``sync`` (the repair) with an internal error.

Real SQLite files and the real PostgreSQL server; the CLI runs on a real git repository.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx
from conftest import Repo, RunCli
from test_store_repair import execute

from agentver import runtime
from agentver.errors import IntegrityError
from agentver.store import open_store

# agent-001 has a canary (v3) and the flag "beta"; agent-000 and agent-002 serve v2 alone.
FLAG = "UPDATE agent_flags SET {} WHERE agent_id = 'agent-001'"
CANARY = "UPDATE agent_deployments SET {} WHERE agent_id = 'agent-001' AND role = 'canary'"
ACTIVE = "UPDATE agent_deployments SET {} WHERE agent_id = 'agent-001' AND role = 'active'"
BOTH = {
    "flag-bad-json": FLAG.format("users = '['"),
    "flag-users-not-names": FLAG.format("users = '[1, 2]'"),
    "flag-tools-not-a-list": FLAG.format("add_tools = '{\"web\": 1}'"),
    "flag-percent-out-of-range": FLAG.format("percent_bp = 20000"),
    "canary-percent-out-of-range": CANARY.format("traffic_bp = -5"),
    "canary-without-salt": CANARY.format("salt = NULL"),
    "active-version-not-positive": ACTIVE.format("version_number = 0"),
}
SQLITE_ONLY = {  # SQLite's typeless columns hold what PostgreSQL's types refuse
    "active-version-not-a-number": ACTIVE.format("version_number = 'two'"),
    "flag-enabled-not-a-bool": FLAG.format("enabled = 'maybe'"),
    "canary-hash-not-text": CANARY.format("config_hash = x'00ff'"),
}
CASES = [pytest.param(("sqlite", sql), id=f"sqlite-{name}") for name, sql in BOTH.items()]
CASES += [pytest.param(("sqlite", sql), id=f"sqlite-{name}") for name, sql in SQLITE_ONLY.items()]
CASES += [
    pytest.param(("postgres", sql), id=f"postgres-{name}", marks=pytest.mark.postgres)
    for name, sql in BOTH.items()
]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    backend, sql = request.param
    for url in fx.store_url_for(backend, tmp_path):
        store = open_store(url)
        store.sync(fx.make_snapshot(3, 3, "A"), force=True)
        store.close()
        yield url, sql


def test_a_new_client_serves_every_other_agent(
    case: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, sql = case
    execute(url, sql)
    caplog.set_level(logging.ERROR, logger="agentver.runtime")
    with runtime.RuntimeClient(url, mode="ttl", ttl=3600) as client:
        assert client.resolve("agent-000", "alice").version == 2
        assert client.resolve("agent-002", "alice").version == 2
        with pytest.raises(IntegrityError, match=r"agent-001.*pointer row in the store is corrupt"):
            client.resolve("agent-001", "alice")
        assert client.health().broken_agents == ("agent-001",)
    assert any("agent-001" in r.getMessage() for r in caplog.records)


def test_a_running_client_keeps_that_agent_and_updates_the_others(
    case: tuple[str, str],
) -> None:
    url, sql = case
    newer = fx.make_version("agent-000", 3)
    with runtime.RuntimeClient(url, mode="ttl", ttl=3600) as client:
        before = client.resolve("agent-001", "alice")
        execute(url, sql)
        execute(  # agent-000 moves on to v3 meanwhile
            url,
            f"UPDATE agent_deployments SET version_number = 3, version_id = 'agent-000:v3',"
            f" config_hash = '{newer.version.config_hash}'"
            " WHERE agent_id = 'agent-000' AND environment = 'production'",
        )
        assert client.refresh()
        assert client.resolve("agent-000", "alice").version == 3
        assert client.resolve("agent-001", "alice") == before
        health = client.health()
        assert health.stale_agents == ("agent-001",)
        assert not health.serving_last_known_good
        assert health.broken_agents == ()


def two_agents(repo: Repo, run_cli: RunCli, url: str) -> None:
    repo.commit_agent("billing", {"model": "gpt-4o", "system_prompt": "Billing."}, "billing v1")
    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Support."}, "support v1")
    for argv in (
        ("deploy", "billing", "1"),
        ("deploy", "support", "1"),
        ("flag", "set", "support", "beta", "--users", "alice", "--create"),
        ("sync", "--store", url),
    ):
        code, _, err = run_cli(*argv, cwd=repo.path)
        assert code == 0, err


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE agent_flags SET users = '[' WHERE agent_id = 'support'",
        "UPDATE agent_deployments SET traffic_bp = 99999 WHERE agent_id = 'support'",
    ],
    ids=["flag-json", "deployment-percent"],
)
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_status_and_verify_name_it_and_sync_repairs_it(
    repo: Repo, run_cli: RunCli, tmp_path: Path, backend: str, sql: str
) -> None:
    for url in fx.store_url_for(backend, tmp_path):
        two_agents(repo, run_cli, url)
        execute(url, sql)
        for command in ("status", "verify"):
            code, out, err = run_cli(command, "--store", url, cwd=repo.path)
            assert code == 1, (command, out, err)
            assert "internal error" not in err
            line = next(x for x in (out + err).splitlines() if x.startswith("corrupt:"))
            assert "support: pointer row in production cannot be decoded" in line, line
            assert "corrupt: billing" not in out + err
        code, out, err = run_cli("sync", "--store", url, cwd=repo.path)
        assert code == 0, err
        code, out, err = run_cli("verify", "--store", url, cwd=repo.path)
        assert code == 0, out + err
        with runtime.RuntimeClient(url) as client:
            assert client.resolve("support", "alice").flags == ("beta",)
