"""Corrupt rows are contained, orphans are repairable, status and verify agree, and a
sync to PostgreSQL notifies listeners (issue 12 findings #4 and #8, issue 18 NOTIFY).

Real git repositories, the real CLI, real SQLite files and the real PostgreSQL server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx
from conftest import Repo, RunCli

from agentver.store import open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
GOOD = {"model": "gpt-4o", "system_prompt": "You help with billing."}


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def execute(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            conn.execute(sql)
        return
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}", autocommit=True) as conn:
        conn.execute(sql)


def two_agents(repo: Repo, run_cli: RunCli, url: str) -> None:
    repo.commit_agent("billing", GOOD, "billing v1")
    repo.commit_agent("support", {**GOOD, "system_prompt": "You help."}, "support v1")
    for agent in ("billing", "support"):
        assert run_cli("deploy", agent, "1", cwd=repo.path).exit_code == 0
    code, _, err = run_cli("sync", "--store", url, cwd=repo.path)
    assert code == 0, err


@pytest.mark.parametrize(
    "corruption",
    [
        "UPDATE agent_versions SET guardrails = 'not json' WHERE agent_id = 'support'",
        "UPDATE agent_versions SET tools = '{\"a\": 1}' WHERE agent_id = 'support'",
    ],
    ids=["undecodable-json", "wrong-json-shape"],
)
def test_a_corrupt_row_is_named_contained_and_repaired(
    repo: Repo, run_cli: RunCli, store_url: str, corruption: str
) -> None:
    """Finding #4: verify and `sync --force` crashed, status said "in sync"."""
    two_agents(repo, run_cli, store_url)
    execute(store_url, corruption)
    code, out, err = run_cli("verify", "--store", store_url, cwd=repo.path)
    assert code == 1 and "Traceback" not in err
    assert "corrupt: support: stored v1 cannot be decoded" in out
    code, out, err = run_cli("status", "--store", store_url, cwd=repo.path)
    assert code == 1, out + err
    assert "corrupt: support" in out
    # The runtime store API serves the other agent and names the bad row.
    store = open_store(store_url, repo.path)
    try:
        state = store.load_runtime_state("production")
    finally:
        store.close()
    assert set(state.versions) == {("billing", 1)}
    assert [(c.agent, c.version) for c in state.corrupt] == [("support", 1)]
    # A plain sync of the same HEAD does no per-version work (the store knows its head):
    # it writes nothing; checking rows is verify's and status's job.
    code, _, err = run_cli("sync", "--store", store_url, cwd=repo.path)
    assert code == 0 and "nothing written" in err and "Traceback" not in err
    repo.commit_agent("billing", {**GOOD, "temperature": 0.2}, "billing v2")
    code, _, err = run_cli("sync", "--store", store_url, cwd=repo.path)
    assert code == 2 and "--force" in err and "Traceback" not in err  # a new HEAD compares
    code, _, err = run_cli("sync", "--force", "--store", store_url, cwd=repo.path)
    assert code == 0, err
    assert run_cli("verify", "--store", store_url, cwd=repo.path).exit_code == 0
    assert run_cli("status", "--exit-code", "--store", store_url, cwd=repo.path).exit_code == 0


def test_a_non_numeric_column_is_corrupt_not_a_crash(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    """SQLite stores text in an INTEGER column; PostgreSQL cannot, so SQLite only."""
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    two_agents(repo, run_cli, url)
    execute(url, "UPDATE agent_versions SET max_tokens = 'lots' WHERE agent_id = 'support'")
    code, out, _ = run_cli("verify", "--store", url, cwd=repo.path)
    assert code == 1 and "corrupt: support" in out
    assert run_cli("sync", "--force", "--store", url, cwd=repo.path).exit_code == 0
    assert run_cli("verify", "--store", url, cwd=repo.path).exit_code == 0


def test_rows_orphaned_by_a_force_push_are_reported_and_removed_by_force(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    """Finding #8: verify failed forever and `sync --force` could not repair it."""
    base = repo.commit_agent("billing", GOOD, "billing v1")
    repo.commit_agent("experiment", {**GOOD, "system_prompt": "Try things."}, "experiment v1")
    assert run_cli("sync", "--store", store_url, cwd=repo.path).exit_code == 0
    repo.git("reset", "-q", "--hard", base)  # the force-push: experiment never existed
    repo.commit_agent("billing", {**GOOD, "temperature": 0.3}, "billing v2")
    code, out, err = run_cli("verify", "--store", store_url, cwd=repo.path)
    assert code == 1
    assert "orphaned: experiment: store has v1 of an agent no commit of HEAD's history has" in out
    assert "tampered" not in out and "corrupt" not in out
    code, _, err = run_cli("sync", "--store", store_url, cwd=repo.path)
    assert code == 1 and "does not descend from" in err  # CAS: the store is not rewound
    code, out, err = run_cli("sync", "--force", "--store", store_url, cwd=repo.path)
    assert code == 0, err
    assert "experiment v1: orphaned" in out
    assert run_cli("verify", "--store", store_url, cwd=repo.path).exit_code == 0
    store = open_store(store_url, repo.path)
    try:
        assert {s.version.agent for s in store.versions()} == {"billing"}
    finally:
        store.close()


def test_status_says_not_synced_when_git_has_versions_the_store_lacks(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    """status and verify agree: a new version in git is drift (docs/design.md section 8)."""
    two_agents(repo, run_cli, store_url)
    assert run_cli("status", "--exit-code", "--store", store_url, cwd=repo.path).exit_code == 0
    repo.commit_agent("billing", {**GOOD, "temperature": 0.9}, "billing v2")
    code, out, _ = run_cli("status", "--store", store_url, cwd=repo.path)
    assert code == 0  # without --exit-code, drift is reported, not an error
    assert "not synced" in out and "1 version(s) in git not in the store" in out
    assert run_cli("status", "--exit-code", "--store", store_url, cwd=repo.path).exit_code == 1
    assert run_cli("verify", "--store", store_url, cwd=repo.path).exit_code == 1
    assert run_cli("sync", "--store", store_url, cwd=repo.path).exit_code == 0
    assert run_cli("status", "--exit-code", "--store", store_url, cwd=repo.path).exit_code == 0


@pytest.mark.postgres
def test_sync_notifies_listeners_after_its_commit_only(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    """Issue 18: NOTIFY agentver_sync with the published commit; a stale sync sends none."""
    import psycopg

    gen = fx.pg_schema_url()
    url = next(gen)
    listener = psycopg.connect(fx.PG_BASE, autocommit=True)
    try:
        listener.execute("LISTEN agentver_sync")
        # The channel is shared by the whole database (other tests sync too): only this
        # repository's commits count.
        first = repo.commit_agent("billing", GOOD, "billing v1")
        assert run_cli("sync", "--store", url, cwd=repo.path).exit_code == 0
        second = repo.commit_agent("billing", {**GOOD, "temperature": 0.4}, "billing v2")
        assert run_cli("sync", "--store", url, cwd=repo.path).exit_code == 0
        repo.git("checkout", "-q", "-b", "old", first)  # an older job finishing late
        assert run_cli("sync", "--store", url, cwd=repo.path).exit_code == 1
        ours = {first, second}
        heard = [n.payload for n in listener.notifies(timeout=2) if n.payload in ours]
        assert heard == [first, second]
    finally:
        listener.close()
        gen.close()
