"""The canary verdict rule, its settings, the metrics file and the simulation targets."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentver.canary_rule import (
    ArmStats,
    CanaryRule,
    Verdict,
    evaluate,
    msprt_p_value,
    parse_metrics,
)
from agentver.errors import UsageError

# bench/ is not an installed package; until pytest's ``pythonpath = ["."]`` is configured,
# make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.canary_sim import binomial, plain_rule, simulate

RULE = CanaryRule()


def verdict(stable: tuple[int, int], canary: tuple[int, int], rule: CanaryRule = RULE) -> Verdict:
    return evaluate(ArmStats(*stable), ArmStats(*canary), rule)


# --- verdicts ---------------------------------------------------------------------------


def test_defaults_follow_the_design() -> None:
    assert (RULE.rollback_ratio, RULE.promote_ratio, RULE.min_requests) == (1.5, 1.1, 100)
    assert RULE.alpha <= 0.05


@pytest.mark.parametrize(
    ("stable", "canary"),
    [((99, 50), (5000, 5000)), ((5000, 0), (99, 99)), ((0, 0), (0, 0))],
)
def test_continue_before_min_requests_whatever_the_rates(
    stable: tuple[int, int], canary: tuple[int, int]
) -> None:
    result = verdict(stable, canary)
    assert result.verdict == "continue"
    assert result.rule == "min-requests"
    assert result.statistic is None and result.p_value is None
    assert "need 100 in each arm" in result.reason


def test_min_requests_is_configurable() -> None:
    assert verdict((1000, 20), (100, 30)).verdict == "rollback"
    assert verdict((1000, 20), (100, 30), CanaryRule(min_requests=500)).rule == "min-requests"


def test_rollback_needs_ratio_and_significance() -> None:
    result = verdict((10_000, 200), (1000, 60))
    assert result.verdict == "rollback"
    assert result.rule == "ratio+significance"
    assert result.ratio == pytest.approx(3.0)
    assert result.p_value is not None and result.p_value <= RULE.alpha
    assert result.statistic is not None and result.statistic > 5
    assert "6.00%" in result.reason and "2.00%" in result.reason


def test_ratio_above_threshold_on_a_small_sample_is_not_a_rollback() -> None:
    # 4 errors in 100 is twice stable's 2%, but that is well within noise.
    result = verdict((1000, 20), (100, 4))
    assert result.ratio == pytest.approx(2.0)
    assert result.verdict == "continue"
    assert result.rule == "ratio-not-significant"
    assert result.p_value is not None and result.p_value > RULE.alpha


def test_significant_but_below_rollback_ratio_is_not_a_rollback() -> None:
    # 2.6% vs 2% on large samples: significant, but only 1.3x.
    result = verdict((200_000, 4000), (100_000, 2600))
    assert result.verdict == "continue"
    assert result.rule == "between-thresholds"
    assert result.statistic is not None and result.statistic > 5


def test_ratio_exactly_at_rollback_ratio_is_not_a_rollback() -> None:
    result = verdict((100_000, 2000), (100_000, 3000))
    assert result.ratio == pytest.approx(1.5)
    assert result.verdict == "continue"


def test_promote_needs_ratio_and_non_inferiority() -> None:
    result = verdict((20_000, 400), (5000, 95))
    assert result.verdict == "promote"
    assert result.rule == "ratio+non-inferiority"
    assert result.p_value is not None and result.p_value <= RULE.promote_alpha


def test_a_few_lucky_requests_do_not_promote() -> None:
    result = verdict((1000, 20), (100, 1))
    assert result.ratio == pytest.approx(0.5)
    assert result.verdict == "continue"
    assert result.rule == "ratio-not-shown-non-inferior"


def test_promote_ratio_is_inclusive() -> None:
    assert verdict((200_000, 4000), (100_000, 2200)).verdict == "promote"  # exactly 1.1x
    assert verdict((200_000, 4000), (100_000, 2201)).verdict == "continue"


def test_zero_error_stable_arm_rollback() -> None:
    result = verdict((2000, 0), (500, 20))
    assert result.ratio is None
    assert result.verdict == "rollback"
    assert result.rule == "zero-stable+significance"
    assert "no errors" in result.reason


def test_zero_error_stable_arm_small_canary_error_rate_is_not_a_rollback() -> None:
    result = verdict((2000, 0), (1000, 3))  # 0.3%, below the 0.5% floor
    assert result.ratio is None
    assert result.verdict == "continue"


def test_zero_errors_everywhere_promotes_only_with_enough_traffic() -> None:
    assert verdict((2000, 0), (100, 0)).verdict == "continue"
    result = verdict((20_000, 0), (10_000, 0))
    assert result.verdict == "promote"
    assert result.rule == "zero-stable+non-inferiority"
    assert result.ratio is None


def test_error_free_canary_against_failing_stable() -> None:
    result = verdict((20_000, 400), (2000, 0))
    assert result.ratio == 0.0
    assert result.verdict == "promote"


def test_to_json_shape() -> None:
    data = verdict((10_000, 200), (1000, 60)).to_json()
    assert set(data) == {
        "verdict",
        "stable",
        "canary",
        "reason",
        "ratio",
        "statistic",
        "p_value",
        "rule",
    }
    assert data["stable"] == {"requests": 10_000, "errors": 200, "error_rate": 0.02}
    assert data["canary"] == {"requests": 1000, "errors": 60, "error_rate": 0.06}
    json.dumps(data, allow_nan=False)


arms = st.integers(0, 50_000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n)).map(lambda t: ArmStats(*t))
)


@given(arms, arms)
def test_verdicts_always_respect_their_preconditions(stable: ArmStats, canary: ArmStats) -> None:
    result = evaluate(stable, canary, RULE)
    json.dumps(result.to_json(), allow_nan=False)
    reference = stable.error_rate if stable.errors else RULE.zero_error_floor
    if result.verdict != "continue":
        assert min(stable.requests, canary.requests) >= RULE.min_requests
    if result.verdict == "rollback":
        assert canary.error_rate > RULE.rollback_ratio * reference
        assert canary.error_rate > stable.error_rate
        assert result.p_value is not None and result.p_value <= RULE.alpha
    if result.verdict == "promote":
        assert canary.error_rate <= RULE.promote_ratio * reference
        assert result.p_value is not None and result.p_value <= RULE.promote_alpha


@given(st.floats(0, 50), st.floats(1e-8, 1), st.floats(1e-4, 1))
def test_msprt_p_value_is_a_probability_and_falls_with_evidence(
    z: float, variance: float, tau: float
) -> None:
    p = msprt_p_value(z, variance, tau)
    assert 0 <= p <= 1
    assert msprt_p_value(z + 1, variance, tau) <= p
    assert msprt_p_value(-z, variance, tau) == 1.0


def test_arm_stats_refuse_impossible_counts() -> None:
    with pytest.raises(ValueError):
        ArmStats(10, 11)
    with pytest.raises(ValueError):
        ArmStats(10, -1)
    assert ArmStats(0, 0).error_rate == 0.0


# --- settings ---------------------------------------------------------------------------

WHERE = "agentver.yaml: canary"


def test_settings_empty_gives_defaults_and_keys_override() -> None:
    assert CanaryRule.from_settings({}, WHERE) == CanaryRule()
    rule = CanaryRule.from_settings(
        {"alpha": 0.001, "min_requests": 250, "rollback_ratio": 2}, WHERE
    )
    assert (rule.alpha, rule.min_requests, rule.rollback_ratio) == (0.001, 250, 2)
    assert rule.promote_ratio == 1.1


def test_settings_layer_on_a_base_rule() -> None:
    base = CanaryRule.from_settings({"min_requests": 500}, WHERE)
    agent = CanaryRule.from_settings({"alpha": 0.005}, f"{WHERE}.support", base=base)
    assert (agent.min_requests, agent.alpha) == (500, 0.005)


def test_unknown_setting_names_where_and_key_with_did_you_mean() -> None:
    with pytest.raises(UsageError) as caught:
        CanaryRule.from_settings({"rollback_ration": 2}, WHERE)
    assert WHERE in caught.value.message and "'rollback_ration'" in caught.value.message
    assert caught.value.hint == "did you mean 'rollback_ratio'?"
    with pytest.raises(UsageError) as caught:
        CanaryRule.from_settings({"zzz": 2}, WHERE)
    assert caught.value.hint is not None and "min_requests" in caught.value.hint


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"min_requests": True}, ["'min_requests'", "integer"]),
        ({"min_requests": 100.0}, ["'min_requests'", "integer"]),
        ({"min_requests": 0}, ["'min_requests'", "at least 1"]),
        ({"alpha": "0.01"}, ["'alpha'", "number"]),
        ({"alpha": 0}, ["'alpha'", "between"]),
        ({"alpha": float("nan")}, ["'alpha'"]),
        ({"alpha": None}, ["'alpha'", "number"]),
        ({"rollback_ratio": 1}, ["'rollback_ratio'", "greater than 1"]),
        ({"promote_ratio": 2.0}, ["'promote_ratio'", "must not exceed"]),
        ({"zero_error_floor": 1.5}, ["'zero_error_floor'"]),
    ],
)
def test_bad_setting_values(raw: dict[str, object], words: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        CanaryRule.from_settings(raw, WHERE)
    assert caught.value.message.startswith(WHERE)
    for word in words:
        assert word in caught.value.message


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(UsageError, match="must be a mapping"):
        CanaryRule.from_settings([1, 2], WHERE)  # type: ignore[arg-type]


# --- metrics file -----------------------------------------------------------------------

SOURCE = "metrics.json"
GOOD = {"stable": {"requests": 1000, "errors": 20}, "canary": {"requests": 100, "errors": 4}}


def test_metrics_parse_and_ignore_extra_keys() -> None:
    data = {
        "stable": {"requests": 1000, "errors": 20, "p50_ms": 12.5},
        "canary": {"requests": 100, "errors": 4},
        "window": "1h",
    }
    assert parse_metrics(json.dumps(data), SOURCE) == (ArmStats(1000, 20), ArmStats(100, 4))


def with_arm(arm: str, key: str, value: object) -> str:
    data = json.loads(json.dumps(GOOD))
    data[arm][key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", ["not valid JSON", "metrics.json:1:"]),
        ("", ["not valid JSON"]),
        ("[1, 2]", ["must be a JSON object"]),
        (json.dumps({"stable": GOOD["stable"]}), ["missing 'canary'"]),
        (json.dumps({"canary": GOOD["canary"]}), ["missing 'stable'"]),
        (json.dumps({"stable": 5, "canary": GOOD["canary"]}), ["'stable' must be an object"]),
        (json.dumps({"stable": {"requests": 5}, "canary": GOOD["canary"]}), ["stable.errors"]),
        (with_arm("stable", "requests", -1), ["stable.requests", "non-negative", "-1"]),
        (with_arm("canary", "errors", -3), ["canary.errors", "-3"]),
        (with_arm("canary", "errors", 101), ["canary.errors (101) exceeds canary.requests (100)"]),
        (with_arm("canary", "requests", 100.0), ["canary.requests", "100.0"]),
        (with_arm("stable", "errors", 1.5), ["stable.errors", "1.5"]),
        (with_arm("stable", "errors", True), ["stable.errors", "true"]),
        (with_arm("canary", "requests", "100"), ["canary.requests", '"100"']),
        (with_arm("canary", "requests", None), ["canary.requests", "null"]),
        (with_arm("canary", "requests", float("nan")), ["canary.requests"]),
        ('{"stable": {"requests": 1, "errors": 0}, "stable": {}}', ["duplicate key 'stable'"]),
    ],
)
def test_malformed_metrics_are_usage_errors(text: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        parse_metrics(text, SOURCE)
    assert caught.value.exit_code == 2
    assert SOURCE in caught.value.message
    for word in words:
        assert word in caught.value.message


# --- simulation -------------------------------------------------------------------------


def test_binomial_sampler_mean_and_variance() -> None:
    import random

    rng = random.Random(3)
    draws = [binomial(1900, 0.02, rng) for _ in range(4000)]
    mean = sum(draws) / len(draws)
    variance = sum((d - mean) ** 2 for d in draws) / (len(draws) - 1)
    assert abs(mean - 38) < 4 * math.sqrt(37.24 / len(draws))
    assert 33 < variance < 42
    assert binomial(0, 0.5, rng) == 0 and binomial(10, 1.0, rng) == 10


def test_plain_rule_is_the_original_design() -> None:
    assert plain_rule(ArmStats(100, 2), ArmStats(100, 4)) == "rollback"
    assert plain_rule(ArmStats(100, 2), ArmStats(100, 2)) == "promote"
    assert plain_rule(ArmStats(100, 10), ArmStats(100, 12)) == "continue"


def test_simulation_meets_the_targets() -> None:
    started = time.perf_counter()
    summaries = simulate(runs=400, seed=11)
    assert time.perf_counter() - started < 20
    cells = {(s.canary_rate, s.share, s.rule): s for s in summaries}
    for share in (0.05, 0.25):
        ours_null = cells[(0.02, share, "agentver")]
        assert ours_null.rollback < 0.01  # false rollbacks
        assert ours_null.promote > 0.9
        ours_3x = cells[(0.06, share, "agentver")]
        assert ours_3x.rollback_within >= 0.95  # within 2,000 canary requests
        assert ours_3x.promote == 0.0
        # the comparison the rule exists for: both simpler rules roll back good canaries
        assert cells[(0.02, share, "plain ratio")].rollback > 0.1
        assert cells[(0.02, share, "ratio + z-test each look (alpha 0.05)")].rollback > 0.05


def test_simulation_is_deterministic_for_a_seed() -> None:
    assert simulate(runs=30, seed=5) == simulate(runs=30, seed=5)
