"""Scores and slow requests in the runtime store: the migration of existing stores, the
counts per arm, and RuntimeClient.record_outcome(score=...) end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentver.runtime import RuntimeClient
from agentver.store import Outcome, Store, migrations, open_store
from tests import store_kill_driver as fx
from tests.conftest import Repo, RunCli
from tests.test_canary_evaluate import ok, setup_canary

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def outcome(variant: str, ok: bool, salt: str = "s1", **extra: object) -> Outcome:
    version = 1 if variant == "stable" else 2
    return Outcome("agent-000", "production", variant, version, "h", salt, ok, **extra)  # type: ignore[arg-type]


def open_v1_store(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    """A store created and synced by today's schema (migration 1 only), as users have."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        patch.setattr(migrations, "LATEST", 1)
        store = open_store(url, tmp_path)
        store.sync(fx.make_snapshot(1, 2, "A"))
        assert store.schema_version() == 1
    return store


def test_a_store_of_todays_schema_is_migrated_and_keeps_its_outcomes(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = open_v1_store(store_url, monkeypatch, tmp_path)
    try:
        # Before the migration: outcomes are still recorded (scores dropped), counts work.
        store.record_outcomes([outcome("stable", True, latency_ms=10.0)] * 30)
        store.record_outcomes([outcome("canary", False, latency_ms=5000.0, score=0.2)] * 10)
        counts = store.outcome_counts("agent-000", "production", "s1", slow_ms=3000)
        assert (counts["canary"].requests, counts["canary"].slow, counts["canary"].scored) == (
            10,
            10,
            0,
        )
        # The next sync migrates (score column and any later), recorded, old rows kept.
        plan = store.sync(fx.make_snapshot(1, 2, "B"))
        assert plan.migrations == tuple(
            range(migrations.OUTCOME_SCORE_VERSION, migrations.LATEST + 1)
        )
        assert store.schema_version() == migrations.LATEST
        store.record_outcomes(
            [
                outcome("canary", True, score=0.9),
                outcome("canary", True, score=0.5),
                outcome("stable", True, latency_ms=4000.0, score=1.0),
            ]
        )
        counts = store.outcome_counts("agent-000", "production", "s1", slow_ms=3000)
    finally:
        store.close()
    stable, canary = counts["stable"], counts["canary"]
    assert (stable.requests, stable.slow, stable.scored, stable.score_sum) == (31, 1, 1, 1.0)
    assert (canary.requests, canary.errors, canary.slow) == (12, 10, 10)
    assert canary.scored == 2 and canary.score_sum == pytest.approx(1.4)


def test_slow_counts_follow_the_threshold_asked_for(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url, tmp_path)
    try:
        store.sync(fx.make_snapshot(1, 2, "A"))
        store.record_outcomes(
            [outcome("canary", True, latency_ms=float(ms)) for ms in (100, 2999, 3000, 3001)]
            + [outcome("canary", True), outcome("canary", True, salt="other", latency_ms=9e9)]
        )
        at = {
            slow_ms: store.outcome_counts("agent-000", "production", "s1", slow_ms=slow_ms)
            for slow_ms in (None, 50.0, 3000.0)
        }
    finally:
        store.close()
    assert [at[ms]["canary"].slow for ms in (None, 50.0, 3000.0)] == [0, 4, 1]
    assert at[None]["canary"].requests == 5 and at[None]["stable"].requests == 0


def test_record_outcome_refuses_a_score_outside_0_1(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    setup_canary(repo, run_cli)
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    with RuntimeClient(url, "production") as client:
        resolved = client.resolve("support", "user-1")
        for bad, error in ((1.5, ValueError), (-0.1, ValueError), (float("nan"), ValueError)):
            with pytest.raises(error, match=r"score must be a number in \[0, 1\]"):
                client.record_outcome(resolved, ok=True, score=bad)
        for wrong in ("0.5", True):  # a wrong type (tests/test_outcome_values.py)
            with pytest.raises(TypeError, match=r"score must be a number in \[0, 1\]"):
                client.record_outcome(resolved, ok=True, score=wrong)  # type: ignore[arg-type]
        client.record_outcome(resolved, ok=True, score=0)
        client.record_outcome(resolved, ok=True, score=1.0)


def test_quality_regression_recorded_by_the_runtime_is_rolled_back(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    setup_canary(
        repo, run_cli, {"canary": {"quality_tolerance": 0.05, "latency_threshold_ms": 3000}}
    )
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    with RuntimeClient(url, "production") as client:
        for index in range(1200):
            resolved = client.resolve("support", f"user-{index}")
            good = resolved.variant == "stable"
            # Same errors and latency; the canary's answers are rated 0.5 against 0.9.
            client.record_outcome(resolved, ok=True, latency_ms=800.0, score=0.9 if good else 0.5)
    result = ok(run_cli("canary", "evaluate", "support", "--store", url, "--json", cwd=repo.path))
    doc = json.loads(result.stdout)
    assert (doc["verdict"], doc["rule"]) == ("rollback", "quality")
    assert doc["canary"]["score_mean"] == pytest.approx(0.5)
    assert doc["stable"]["score_mean"] == pytest.approx(0.9)
    assert doc["canary"]["slow"] == 0 and doc["stable"]["slow"] == 0
    assert doc["evidence"]["null"] == "canary mean score >= stable's - 0.05"
