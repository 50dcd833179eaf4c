"""``agentver canary evaluate`` end to end: real git repositories and real SQLite stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentver.cli.app
import agentver.cli.evaluate_cmd  # noqa: F401  (registers `canary evaluate`)
from agentver.canary import CanaryRule
from agentver.canary.evaluate import rule_for
from agentver.errors import UsageError
from agentver.runtime import RuntimeClient
from agentver.settings import Settings
from agentver.store import Outcome, open_store
from tests.conftest import Repo, RunCli

V1 = {"model": "gpt-4o", "system_prompt": "You are the support agent. Billing is in scope."}
V2 = {**V1, "system_prompt": "You are the support agent."}
JSON_KEYS = {"agent", "environment", "verdict", "stable", "canary", "reason"}


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def setup_canary(
    repo: Repo, run_cli: RunCli, settings: dict[str, Any] | None = None, agent: str = "support"
) -> None:
    """v1 active, v2 canary at 50% in production, all committed."""
    if settings is not None:
        repo.write("agentver.yaml", yaml.safe_dump(settings))
        repo.commit("settings", "agentver.yaml")
    repo.commit_agent(agent, V1, "v1")
    repo.commit_agent(agent, V2, "v2: shorter prompt")
    ok(run_cli("deploy", agent, "1", cwd=repo.path))
    ok(run_cli("canary", "start", agent, "2", "--percent", "50", cwd=repo.path))


def metrics_file(tmp_path: Path, stable: tuple[int, int], canary: tuple[int, int]) -> str:
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps(
            {
                "stable": {"requests": stable[0], "errors": stable[1]},
                "canary": {"requests": canary[0], "errors": canary[1], "note": "extra ignored"},
                "window": "ignored too",
            }
        )
    )
    return str(path)


def evaluate_json(
    repo: Repo, run_cli: RunCli, path: str, *extra: str, agent: str = "support"
) -> dict[str, Any]:
    result = ok(
        run_cli("canary", "evaluate", agent, "--metrics", path, "--json", *extra, cwd=repo.path)
    )
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# --- each verdict from a metrics file ---------------------------------------------------


def test_rollback_verdict_with_its_numbers(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (2000, 40), (2000, 120)))
    assert set(doc) >= JSON_KEYS
    assert doc["agent"] == "support" and doc["environment"] == "production"
    assert doc["verdict"] == "rollback"
    counts = {"slow": None, "scored": 0, "score_mean": None, "ignored": 0}
    assert doc["stable"] == {
        **{"version": 1, "requests": 2000, "errors": 40, "error_rate": 0.02},
        **counts,
    }
    assert doc["canary"] == {
        **{"version": 2, "requests": 2000, "errors": 120, "error_rate": 0.06},
        **counts,
    }
    assert doc["ratio"] == pytest.approx(3.0)
    assert doc["statistic"] >= 100 and doc["p_value"] == pytest.approx(1 / doc["statistic"])
    assert doc["rule"] == "errors"
    evidence = doc["evidence"]
    assert (evidence["metric"], evidence["test"]) == ("errors", "rollback")
    assert evidence["null"] == "canary error rate <= 1.5x stable's"
    assert evidence["e_value"] == doc["statistic"] and evidence["threshold"] == "e >= 100"
    assert {t["test"] for t in evidence["tests"]} == {"rollback", "promote", "promote-floor"}
    assert doc["applied"] is None  # no --apply: nothing changed
    assert "canary" in repo.git("show", "HEAD:.agentver/deployments/production/support.yaml")


def test_promote_verdict(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (200_000, 4000), (200_000, 3800)))
    assert doc["verdict"] == "promote"
    assert doc["rule"] == "all-metrics"
    assert doc["evidence"]["null"] == "canary error rate > 1.1x stable's"
    assert doc["p_value"] <= 0.025
    # 5% fewer errors on 5,000 requests is no evidence of being within 1.1x.
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (5000, 100), (5000, 95)))
    assert doc["verdict"] == "continue"


def test_continue_between_thresholds(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (20000, 400), (20000, 520)))
    assert doc["verdict"] == "continue"
    assert doc["rule"] == "insufficient-evidence"
    assert doc["ratio"] == pytest.approx(1.3)


def test_text_output_shows_the_numbers(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    path = metrics_file(tmp_path, (2000, 40), (2000, 120))
    result = ok(run_cli("canary", "evaluate", "support", "--metrics", path, cwd=repo.path))
    out = result.stdout
    assert "verdict: rollback (rule: errors, metric: errors)" in out
    assert "requests     2000" in out and "errors    120" in out
    assert "6.00%" in out and "2.00%" in out
    assert "ratio 3.00" in out and "always-valid p=" in out
    assert "needs e >= 100  [rejected]  (against: canary error rate <= 1.5x stable's)" in out


# --- minimum sample, zero-error stable arm ----------------------------------------------


def test_min_requests_holds_back_all_but_a_catastrophe(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    setup_canary(repo, run_cli)
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (5000, 50), (99, 40)))
    assert doc["verdict"] == "continue"
    assert doc["rule"] == "min-requests"
    assert "need 100 in each arm" in doc["reason"]
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (5000, 50), (20, 10)))
    assert (doc["verdict"], doc["rule"]) == ("rollback", "catastrophe-guard")
    assert doc["evidence"]["metric"] == "errors"


def test_min_requests_from_settings(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli, {"canary": {"min_requests": 500}})
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (5000, 50), (400, 40)))
    assert (doc["verdict"], doc["rule"]) == ("continue", "min-requests")
    assert "need 500" in doc["reason"]


def test_zero_error_stable_arm(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    doc = evaluate_json(repo, run_cli, metrics_file(tmp_path, (3000, 0), (3000, 60)))
    assert doc["verdict"] == "rollback"
    assert doc["ratio"] is None
    assert doc["rule"] == "errors"
    # Both arms error-free with plenty of traffic: promote; with little: continue.
    assert (
        evaluate_json(repo, run_cli, metrics_file(tmp_path, (20000, 0), (20000, 0)))["verdict"]
        == "promote"
    )
    assert (
        evaluate_json(repo, run_cli, metrics_file(tmp_path, (200, 0), (200, 0)))["verdict"]
        == "continue"
    )
    # Two canary errors against none are not evidence enough.
    assert (
        evaluate_json(repo, run_cli, metrics_file(tmp_path, (3000, 0), (400, 2)))["verdict"]
        == "continue"
    )
    text = ok(
        run_cli(
            "canary",
            "evaluate",
            "support",
            "--metrics",
            metrics_file(tmp_path, (3000, 0), (3000, 60)),
            cwd=repo.path,
        )
    ).stdout
    assert "ratio n/a (stable has no errors)" in text


# --- malformed metrics and refusals -------------------------------------------------------


MALFORMED = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"canary": {"requests": 10, "errors": 1}}', "missing 'stable'"),
    ('{"stable": 5, "canary": {"requests": 10, "errors": 1}}', "'stable' must be an object"),
    ('{"stable": {"requests": 10}, "canary": {"requests": 10, "errors": 1}}', "stable.errors"),
    (
        '{"stable": {"requests": 10, "errors": -1}, "canary": {"requests": 10, "errors": 1}}',
        "non-negative",
    ),
    (
        '{"stable": {"requests": 10.5, "errors": 1}, "canary": {"requests": 10, "errors": 1}}',
        "integer",
    ),
    (
        '{"stable": {"requests": true, "errors": 1}, "canary": {"requests": 10, "errors": 1}}',
        "integer",
    ),
    (
        '{"stable": {"requests": "10", "errors": 1}, "canary": {"requests": 10, "errors": 1}}',
        "integer",
    ),
    (
        '{"stable": {"requests": 10, "errors": 11}, "canary": {"requests": 10, "errors": 1}}',
        "exceeds",
    ),
    (
        '{"stable": {"requests": 10, "errors": 1}, "stable": {"requests": 10, "errors": 1}}',
        "duplicate",
    ),
    (
        '{"stable": {"requests": 10, "errors": 1, "slow": "many"},'
        ' "canary": {"requests": 10, "errors": 1}}',
        "stable.slow must be a non-negative integer",
    ),
    (
        '{"stable": {"requests": 10, "errors": 1, "slow": 11},'
        ' "canary": {"requests": 10, "errors": 1}}',
        "stable.slow (11) exceeds stable.requests (10)",
    ),
    (
        '{"stable": {"requests": 10, "errors": 1},'
        ' "canary": {"requests": 10, "errors": 1, "score_sum": 3.5, "scored": 3}}',
        "canary.score_sum must be a number from 0 to canary.scored (3)",
    ),
    (
        '{"stable": {"requests": 10, "errors": 1},'
        ' "canary": {"requests": 10, "errors": 1, "score_sum": 3.5}}',
        "needs both score_sum and scored",
    ),
    (
        '{"stable": {"requests": 10, "errors": 1, "score_sum": 1, "scored": 11},'
        ' "canary": {"requests": 10, "errors": 1}}',
        "stable.scored (11) exceeds stable.requests (10)",
    ),
    ("[" * 100_000, "nests deeper than 64 levels"),
]


@pytest.mark.parametrize(("text", "words"), MALFORMED)
def test_malformed_metrics_exit_2(
    repo: Repo, run_cli: RunCli, tmp_path: Path, text: str, words: str
) -> None:
    setup_canary(repo, run_cli)
    path = tmp_path / "bad.json"
    path.write_text(text)
    result = run_cli("canary", "evaluate", "support", "--metrics", str(path), cwd=repo.path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and str(path) in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_metrics_file_exit_2(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    missing = tmp_path / "nope.json"
    result = run_cli("canary", "evaluate", "support", "--metrics", str(missing), cwd=repo.path)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_no_canary_running_exit_2(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    repo.commit_agent("support", V1, "v1")
    ok(run_cli("deploy", "support", "1", cwd=repo.path))
    path = metrics_file(tmp_path, (2000, 40), (2000, 120))
    result = run_cli("canary", "evaluate", "support", "--metrics", path, cwd=repo.path)
    assert result.exit_code == 2
    assert "error: support has no canary running in production" in result.stderr
    assert "hint: start one" in result.stderr
    result = run_cli("canary", "evaluate", "support", "--json", cwd=repo.path)  # store source
    assert result.exit_code == 2 and result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--sync"],
        ["--no-commit"],
        ["--apply", "--sync", "--no-commit"],
        ["--store", "sqlite:///x.db", "--metrics", "m.json"],
    ],
)
def test_contradictory_options_exit_2(repo: Repo, run_cli: RunCli, args: list[str]) -> None:
    setup_canary(repo, run_cli)
    result = run_cli("canary", "evaluate", "support", *args, cwd=repo.path)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_exit_code_on_rollback_only(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    bad = metrics_file(tmp_path, (2000, 40), (2000, 120))
    result = run_cli(
        "canary", "evaluate", "support", "--metrics", bad, "--exit-code", "--json", cwd=repo.path
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["verdict"] == "rollback"  # printed before failing
    assert "error: canary verdict for support in production is rollback" in result.stderr
    good = metrics_file(tmp_path, (20000, 0), (20000, 0))
    result = run_cli(
        "canary", "evaluate", "support", "--metrics", good, "--exit-code", cwd=repo.path
    )
    assert result.exit_code == 0
    assert "verdict: promote" in result.stdout


# --- settings --------------------------------------------------------------------------


def test_per_agent_settings_override(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    settings = {"canary": {"promote_ratio": 1.05, "agents": {"support": {"rollback_ratio": 1.2}}}}
    setup_canary(repo, run_cli, settings)
    setup_canary(repo, run_cli, agent="billing")
    path = metrics_file(tmp_path, (1_000_000, 20_000), (1_000_000, 26_000))  # ratio 1.3
    support = evaluate_json(repo, run_cli, path)
    assert support["verdict"] == "rollback"
    assert support["settings"]["rollback_ratio"] == 1.2
    assert support["settings"]["promote_ratio"] == 1.05  # global key still applies
    billing = evaluate_json(repo, run_cli, path, agent="billing")
    assert billing["verdict"] == "continue"
    assert billing["settings"]["rollback_ratio"] == 1.5
    assert billing["settings"]["promote_ratio"] == 1.05


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"agents": {"support": {"rollback_ratoi": 1.2}}}, "did you mean 'rollback_ratio'"),
        ({"agents": {"support": {"promote_ratio": 2.0}}}, "canary.agents.support"),
        ({"agents": ["support"]}, "must map agent ids"),
        ({"agents": {"Bad Id": {}}}, "not a valid agent id"),
        ({"alpha": 0.9}, "'alpha' must be between 0 and 0.5"),
        ({"latency_ratio": 0.5}, "latency_ratio"),
    ],
)
def test_bad_canary_settings_exit_2(
    repo: Repo, run_cli: RunCli, tmp_path: Path, section: dict[str, Any], words: str
) -> None:
    setup_canary(repo, run_cli, {"canary": section})
    path = metrics_file(tmp_path, (2000, 40), (2000, 120))
    result = run_cli("canary", "evaluate", "support", "--metrics", path, cwd=repo.path)
    assert result.exit_code == 2
    assert "agentver.yaml: canary" in result.stderr and words in result.stderr


def test_rule_for_layers_defaults_global_and_agent() -> None:
    raw = {
        "canary": {
            "min_requests": 200,
            "latency_threshold_ms": None,
            "agents": {"a": {"alpha": 0.001}},
        }
    }
    settings = Settings(raw=raw)
    assert rule_for(settings, "a") == CanaryRule(min_requests=200, alpha=0.001)
    assert rule_for(settings, "b") == CanaryRule(min_requests=200)
    assert rule_for(Settings(), "a") == CanaryRule()
    with pytest.raises(UsageError):
        rule_for(Settings(raw={"canary": 3}), "a")


# --- latency and quality from the metrics file ------------------------------------------


def test_latency_slo_from_metrics_file(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli, {"canary": {"latency_threshold_ms": 3000}})
    path = tmp_path / "m.json"
    path.write_text(
        json.dumps(
            {
                "stable": {"requests": 5000, "errors": 100, "slow": 50},
                "canary": {"requests": 5000, "errors": 95, "slow": 400},
            }
        )
    )
    doc = evaluate_json(repo, run_cli, str(path))
    assert (doc["verdict"], doc["rule"]) == ("rollback", "latency")
    assert doc["evidence"]["null"] == "canary rate of requests over 3000 ms <= 1.5x stable's"
    assert doc["canary"]["slow"] == 400
    # Without "slow" counts the latency metric is not measured: no promotion on errors alone.
    path.write_text(
        json.dumps(
            {"stable": {"requests": 5000, "errors": 0}, "canary": {"requests": 5000, "errors": 0}}
        )
    )
    doc = evaluate_json(repo, run_cli, str(path))
    assert doc["verdict"] == "continue" and "not measured yet: latency" in doc["reason"]


def test_quality_from_metrics_file(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli, {"canary": {"quality_tolerance": 0.05}})
    path = tmp_path / "m.json"
    path.write_text(
        json.dumps(
            {
                "stable": {"requests": 5000, "errors": 0, "score_sum": 1600.0, "scored": 2000},
                "canary": {"requests": 5000, "errors": 0, "score_sum": 1300.0, "scored": 2000},
            }
        )
    )
    doc = evaluate_json(repo, run_cli, str(path))  # mean 0.65 vs 0.80: beyond 0.05
    assert (doc["verdict"], doc["rule"]) == ("rollback", "quality")
    assert doc["evidence"]["e_value"] is None and doc["evidence"]["p_value"] <= 0.005
    assert doc["canary"]["score_mean"] == pytest.approx(0.65)


# --- --apply end to end with a SQLite store ------------------------------------------------


def record_traffic(url: str, users: int, stable_every: int, canary_every: int) -> dict[str, int]:
    """Route ``users`` users through the runtime client; every Nth request of an arm fails."""
    seen = {"stable": 0, "canary": 0}
    with RuntimeClient(url, "production") as client:
        for index in range(users):
            resolved = client.resolve("support", f"user-{index}")
            seen[resolved.variant] += 1
            every = canary_every if resolved.variant == "canary" else stable_every
            client.record_outcome(resolved, ok=seen[resolved.variant] % every != 0, latency_ms=50.0)
    return seen


def test_apply_rollback_end_to_end(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    # Outcomes of an earlier canary (another salt) must not count.
    store = open_store(url)
    try:
        store.record_outcomes(
            [Outcome("support", "production", "canary", 2, "x" * 16, "oldsalt", True)] * 500
        )
    finally:
        store.close()
    seen = record_traffic(url, 1000, stable_every=50, canary_every=4)  # 2% vs 25% errors
    assert seen["stable"] >= 200 and seen["canary"] >= 200

    result = run_cli(
        "canary",
        "evaluate",
        "support",
        "--store",
        url,
        "--apply",
        "--sync",
        "--exit-code",
        "--json",
        cwd=repo.path,
    )
    assert result.exit_code == 1, result.stderr  # --exit-code: rollback, even when applied
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "rollback"
    assert doc["canary"]["requests"] == seen["canary"]  # the old salt's 500 are not counted
    assert doc["stable"]["requests"] == seen["stable"]
    assert doc["applied"]["action"].startswith("canary abort support v2")
    assert doc["synced"]["pointer_changes"] == 1

    message = repo.git("log", "-1", "--format=%B")
    assert message.startswith(
        "agentver(production): canary abort support v2 (canary evaluate: rollback)"
    )
    assert "verdict: rollback (errors)" in message
    assert "evidence: errors rollback against 'canary error rate <= 1.5x stable's': e = " in message
    assert f"canary v2: {seen['canary']} requests" in message
    assert doc["applied"]["commit"] == repo.head()
    pointer = yaml.safe_load(
        (repo.path / ".agentver/deployments/production/support.yaml").read_text()
    )
    assert pointer.get("canary") is None and pointer["active"]["version"] == 1
    assert repo.git("status", "--porcelain") == ""

    store = open_store(url)
    try:
        served = {p.agent: p for p in store.pointers("production")}["support"]
    finally:
        store.close()
    assert served.canary is None and served.active is not None and served.active.version == 1
    with RuntimeClient(url, "production") as client:
        assert {client.resolve("support", f"user-{i}").variant for i in range(200)} == {"stable"}

    # The canary is gone: evaluating again is a clear exit 2.
    again = run_cli("canary", "evaluate", "support", "--store", url, cwd=repo.path)
    assert again.exit_code == 2 and "no canary running" in again.stderr


def test_apply_promote_end_to_end(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli, {"canary": {"zero_error_floor": 0.005}})
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    seen = record_traffic(url, 4400, stable_every=10**6, canary_every=10**6)  # no errors
    result = ok(
        run_cli("canary", "evaluate", "support", "--store", url, "--apply", "--sync", cwd=repo.path)
    )
    assert "verdict: promote" in result.stdout
    assert f"requests {seen['canary']:>8}" in result.stdout
    assert "applied: canary promote support v2" in result.stderr
    message = repo.git("log", "-1", "--format=%B")
    assert message.startswith(
        "agentver(production): canary promote support v2 (canary evaluate: promote)"
    )
    assert "verdict: promote (all-metrics)" in message
    with RuntimeClient(url, "production") as client:
        resolved = client.resolve("support", "user-1")
        assert (resolved.version, resolved.variant) == (2, "stable")
    history = json.loads(ok(run_cli("deployments", "support", "--json", cwd=repo.path)).stdout)
    assert history["events"][-1]["action"] == "canary promote"


def test_apply_continue_changes_nothing(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    head = repo.head()
    record_traffic(url, 60, stable_every=50, canary_every=4)  # under min_requests
    result = ok(
        run_cli(
            "canary",
            "evaluate",
            "support",
            "--store",
            url,
            "--apply",
            "--sync",
            "--json",
            cwd=repo.path,
        )
    )
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "continue" and doc["rule"] == "min-requests"
    assert doc["applied"] is None and doc["synced"] is None
    assert repo.head() == head


def test_store_not_serving_the_canary_warns(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    repo.commit_agent("support", V1, "v1")
    repo.commit_agent("support", V2, "v2")
    ok(run_cli("deploy", "support", "1", cwd=repo.path))
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    ok(run_cli("sync", "--store", url, cwd=repo.path))
    ok(run_cli("canary", "start", "support", "2", "--percent", "10", cwd=repo.path))
    result = ok(run_cli("canary", "evaluate", "support", "--store", url, "--json", cwd=repo.path))
    assert "does not serve the canary v2" in result.stderr and "agentver sync" in result.stderr
    doc = json.loads(result.stdout)
    assert (doc["verdict"], doc["canary"]["requests"]) == ("continue", 0)


def test_apply_refuses_uncommitted_pointer_edits(
    repo: Repo, run_cli: RunCli, tmp_path: Path
) -> None:
    setup_canary(repo, run_cli)
    rel = ".agentver/deployments/production/support.yaml"
    (repo.path / rel).write_text((repo.path / rel).read_text() + "# edited\n")
    path = metrics_file(tmp_path, (2000, 40), (2000, 120))
    head = repo.head()
    result = run_cli("canary", "evaluate", "support", "--metrics", path, "--apply", cwd=repo.path)
    assert result.exit_code == 2
    assert "verdict: rollback" in result.stdout  # the verdict is still shown
    assert "uncommitted edits" in result.stderr
    assert repo.head() == head
