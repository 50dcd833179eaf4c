"""``status`` and ``verify`` against a PostgreSQL store another session has locked.

Before: both waited for as long as the lock was held (forever, for a stuck migration).
Now each read is bounded by the statement timeout the runtime client uses too
(docs/cli.md): one ``error:`` line and exit 2 (the store cannot be read) within
``READ_STATEMENT_TIMEOUT`` plus the client-side margin. Real PostgreSQL, the real CLI in
a subprocess (a hang cannot take the test runner with it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx
from conftest import Repo, RunCli

from agentver.store import READ_STATEMENT_TIMEOUT
from agentver.store.postgres import CLIENT_DEADLINE_MARGIN

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fx.pg_schema_url()


def synced(repo: Repo, run_cli: RunCli, url: str) -> None:
    repo.commit_agent("billing", {"model": "gpt-4o", "system_prompt": "Billing."}, "v1")
    for argv in (("deploy", "billing", "1"), ("sync", "--store", url)):
        code, _, err = run_cli(*argv, cwd=repo.path)
        assert code == 0, err


@pytest.mark.parametrize("table", ["agent_deployments", "schema_version"])
def test_status_and_verify_give_up_on_a_locked_store(
    repo: Repo, run_cli: RunCli, pg_url: str, table: str
) -> None:
    import psycopg

    synced(repo, run_cli, pg_url)
    schema = pg_url.rsplit("schema=", 1)[1]
    with psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}") as locker:
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # held until exit
        for command in ("status", "verify"):
            started = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "agentver", command, "--store", pg_url],
                cwd=repo.path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            took = time.monotonic() - started
            assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
            errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, proc.stderr
            assert "did not answer within" in errors[0], errors[0]
            assert "Traceback" not in proc.stderr
            # The bound, plus start-up and a loaded machine's slack.
            assert took < READ_STATEMENT_TIMEOUT + CLIENT_DEADLINE_MARGIN + 4, took


def test_the_documented_bound_is_the_one_used() -> None:
    cli = " ".join((Path(__file__).parent.parent / "docs" / "cli.md").read_text().split())
    # status, verify, canary evaluate and canary watch
    assert cli.count(f"within {READ_STATEMENT_TIMEOUT:g} s") == 4
