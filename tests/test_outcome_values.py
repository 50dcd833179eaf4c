"""record_outcome refuses values canary evaluation cannot use; rows older versions stored
anyway are skipped and counted by ``canary evaluate`` (docs/runtime.md).

Before: latency_ms=-5, inf or NaN, ok="yes", latency_ms=True were queued and written (a
string ``ok`` counted as a success, NaN turned a PostgreSQL arm's latency figures into
NaN). Real SQLite files, the real PostgreSQL server and the real CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentver.models import ResolvedConfig
from agentver.runtime import RuntimeClient
from agentver.store import Outcome, open_store
from tests import store_kill_driver as fx
from tests.conftest import Repo, RunCli
from tests.test_canary_evaluate import ok, setup_canary

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
INF, NAN = float("inf"), float("nan")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def canary_store(repo: Repo, run_cli: RunCli, url: str) -> None:
    setup_canary(repo, run_cli, {"canary": {"latency_threshold_ms": 3000}})
    ok(run_cli("sync", "--store", url, cwd=repo.path))


def stored_outcomes(url: str, root: Path) -> int:
    store = open_store(url, root)
    try:
        counts = store.outcome_counts("support", "production", "", slow_ms=None)
        total = sum(arm.requests for arm in counts.values())
        salted = [p.canary.salt for p in store.pointers("production") if p.canary]
        for salt in salted:
            total += sum(
                a.requests for a in store.outcome_counts("support", "production", salt).values()
            )
        return total
    finally:
        store.close()


REFUSED: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"ok": "yes"}, TypeError, "ok must be True or False"),
    ({"ok": 1}, TypeError, "ok must be True or False"),
    ({"ok": None}, TypeError, "ok must be True or False"),
    ({"ok": True, "latency_ms": -5}, ValueError, "latency_ms must be"),
    ({"ok": True, "latency_ms": INF}, ValueError, "latency_ms must be"),
    ({"ok": True, "latency_ms": -INF}, ValueError, "latency_ms must be"),
    ({"ok": True, "latency_ms": NAN}, ValueError, "latency_ms must be"),
    ({"ok": True, "latency_ms": 10**400}, ValueError, "latency_ms must be"),
    ({"ok": True, "latency_ms": True}, TypeError, "latency_ms must be a number"),
    ({"ok": True, "latency_ms": "12"}, TypeError, "latency_ms must be a number"),
    ({"ok": True, "score": 1.5}, ValueError, r"score must be a number in \[0, 1\]"),
    ({"ok": True, "score": -0.1}, ValueError, r"score must be a number in \[0, 1\]"),
    ({"ok": True, "score": NAN}, ValueError, r"score must be a number in \[0, 1\]"),
    ({"ok": True, "score": True}, TypeError, r"score must be a number in \[0, 1\]"),
    ({"ok": True, "score": "0.5"}, TypeError, r"score must be a number in \[0, 1\]"),
]


def test_bad_values_are_refused_in_the_caller_and_never_stored(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    canary_store(repo, run_cli, store_url)
    with RuntimeClient(store_url, repo_root=repo.path, mode="ttl") as client:
        resolved = client.resolve("support", "user-1")
        for kwargs, error, message in REFUSED:
            with pytest.raises(error, match=message):
                client.record_outcome(resolved, **kwargs)
        with pytest.raises(TypeError, match="resolved must be the ResolvedConfig"):
            client.record_outcome({"agent": "support"}, ok=True)  # type: ignore[arg-type]
        for field, value in (
            ("variant", "blue"),
            ("agent", "support\x00"),  # PostgreSQL refused it: every batch with it failed
            ("agent", "support\ud800"),  # not encodable: the writer thread died
            ("environment", ""),
            ("config_hash", None),
            ("version", "2"),
            ("version", 2**40),
        ):
            forged = ResolvedConfig(**{**resolved.__dict__, field: value})
            with pytest.raises(ValueError, match=f"resolved.{field}"):
                client.record_outcome(forged, ok=True)
        assert client.flush() == 0
        # What is accepted: bools, ints and floats in range, numpy-like reals.
        client.record_outcome(resolved, ok=False)
        client.record_outcome(resolved, ok=True, latency_ms=0, score=0)
        client.record_outcome(resolved, ok=True, latency_ms=12.5, score=1.0)
        assert client.flush() == 3
    assert stored_outcomes(store_url, repo.path) == 3


def old_outcome(resolved: ResolvedConfig, salt: str, **values: Any) -> Outcome:
    fields = {"ok": True, "latency_ms": None, "score": None, **values}
    return Outcome(
        resolved.agent,
        resolved.environment,
        resolved.variant,
        resolved.version,
        resolved.config_hash,
        salt,
        **fields,
    )


def test_rows_stored_badly_by_older_versions_are_skipped_and_counted(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    canary_store(repo, run_cli, store_url)
    with RuntimeClient(store_url, repo_root=repo.path, mode="ttl") as client:
        arms = {}
        for index in range(200):
            resolved = client.resolve("support", f"user-{index}")
            arms.setdefault(resolved.variant, resolved)
            client.record_outcome(resolved, ok=True, latency_ms=100.0, score=0.9)
        salt = client.agents()["support"].canary.salt  # type: ignore[union-attr]
    # What an older agentver's record_outcome (or Store.record_outcomes) let through:
    # today's store refuses it, so it is written unchecked as they wrote it.
    bad = [
        old_outcome(arms["canary"], salt, latency_ms=-5.0),
        old_outcome(arms["canary"], salt, latency_ms=INF),
        old_outcome(arms["canary"], salt, latency_ms=NAN),
        old_outcome(arms["stable"], salt, score=7.0),
        old_outcome(arms["stable"], salt, score=NAN),
    ]
    store = open_store(store_url, repo.path)
    try:
        store._insert_outcomes(bad)  # type: ignore[attr-defined]
    finally:
        store.close()
    result = ok(
        run_cli("canary", "evaluate", "support", "--store", store_url, "--json", cwd=repo.path)
    )
    doc = json.loads(result.stdout)
    # SQLite stores NaN as NULL: that row is a valid outcome without a latency or score.
    nan_is_null = store_url.startswith("sqlite")
    assert doc["canary"]["ignored"] == (2 if nan_is_null else 3)
    assert doc["stable"]["ignored"] == (1 if nan_is_null else 2)
    assert doc["canary"]["requests"] + doc["stable"]["requests"] == 200 + (2 if nan_is_null else 0)
    assert doc["canary"]["slow"] == 0
    assert "ignored" in result.stderr and "outcome(s) with invalid values" in result.stderr
    text = ok(run_cli("canary", "evaluate", "support", "--store", store_url, cwd=repo.path))
    assert "outcome(s) with invalid values" in text.stderr


def test_the_store_refuses_what_record_outcome_refuses_and_writes_nothing(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    """Store.record_outcomes (the API under RuntimeClient) checked nothing: NaN, -5 ms,
    ok="yes", a NUL in the agent id went into the table (or failed the whole batch)."""
    canary_store(repo, run_cli, store_url)
    with RuntimeClient(store_url, repo_root=repo.path, mode="ttl") as client:
        resolved = client.resolve("support", "user-1")
    good = old_outcome(resolved, "")
    store = open_store(store_url, repo.path)
    try:
        for kwargs, error, message in REFUSED:
            with pytest.raises(error, match=message):
                store.record_outcomes([good, old_outcome(resolved, "", **kwargs)])
        for field, value in (
            ("variant", "blue"),
            ("agent", "support\x00"),
            ("environment", ""),
            ("config_hash", None),
            ("version", 2**40),
        ):
            forged = Outcome(**{**good.__dict__, field: value})
            with pytest.raises(ValueError, match=f"outcome.{field}"):
                store.record_outcomes([good, forged])
        assert store.record_outcomes([good, old_outcome(resolved, "", latency_ms=3, score=1)]) == 2
    finally:
        store.close()
    assert stored_outcomes(store_url, repo.path) == 2  # nothing of the refused batches
