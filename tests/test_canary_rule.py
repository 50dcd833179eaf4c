"""The canary verdict on counts: the issue's cases, the metrics, settings and the file format."""

from __future__ import annotations

import json

import pytest

from agentver.canary import ArmStats, CanaryRule, Verdict, decide
from agentver.canary.metrics import parse_metrics
from agentver.errors import AgentverError, UsageError

RULE = CanaryRule()


def verdict(stable: tuple[int, int], canary: tuple[int, int], rule: CanaryRule = RULE) -> Verdict:
    return decide(ArmStats(*stable), ArmStats(*canary), rule)


def errors_test(result: Verdict, kind: str) -> tuple[float, bool]:
    (test,) = [t for t in result.tests if t.metric == "errors" and t.kind == kind]
    assert test.e_value is not None
    return test.e_value, test.rejected


# --- the cases ------------------------------------------------------------------


def test_defaults_follow_the_design() -> None:
    assert (RULE.rollback_ratio, RULE.promote_ratio, RULE.min_requests) == (1.5, 1.1, 100)
    assert RULE.alpha == 0.01


def test_a_broken_canary_is_rolled_back_against_a_few_stable_errors() -> None:
    result = verdict((5000, 2), (5000, 5000))
    assert result.verdict == "rollback"
    # Not only by the catastrophe guard: the error-rate test itself has the evidence.
    e_value, rejected = errors_test(result, "rollback")
    assert rejected and e_value > 1e100
    assert result.rule == "errors" and result.metric == "errors"


@pytest.mark.parametrize("stable_errors", [1, 2, 3])
@pytest.mark.parametrize("requests", [1000, 10_000_000])
def test_a_fully_failing_canary_is_rolled_back_at_any_scale(
    stable_errors: int, requests: int
) -> None:
    result = verdict((requests, stable_errors), (requests, requests))
    assert (result.verdict, result.rule) == ("rollback", "errors")
    assert errors_test(result, "rollback")[1]


@pytest.mark.parametrize("stable", [(20_000, 0), (1900, 0)])
def test_one_canary_error_is_not_a_rollback(stable: tuple[int, int]) -> None:
    result = verdict(stable, (100, 1))
    assert result.verdict == "continue"
    e_value, rejected = errors_test(result, "rollback")
    assert not rejected and e_value < 3  # one error is hardly any evidence at all


def test_a_handful_of_canary_errors_against_none_is_a_rollback() -> None:
    # 5 of 100 canary requests against 0 of 20,000: Fisher's exact p ~ 3e-12.
    result = verdict((20_000, 0), (100, 5))
    assert (result.verdict, result.rule) == ("rollback", "errors")
    assert result.ratio is None


def test_continue_before_min_requests_unless_catastrophe() -> None:
    assert verdict((99, 1), (5000, 40)).rule == "min-requests"
    result = verdict((0, 0), (0, 0))
    assert (result.verdict, result.rule) == ("continue", "min-requests")
    assert result.statistic is None and result.p_value is None and result.tests == ()
    assert "need 100 in each arm" in result.reason


@pytest.mark.parametrize("min_requests", [100, 1000, 10**6])
def test_catastrophe_guard_within_20_canary_requests_whatever_min_requests(
    min_requests: int,
) -> None:
    rule = CanaryRule(min_requests=min_requests)
    result = verdict((20, 0), (20, 10), rule)
    assert (result.verdict, result.rule, result.metric) == (
        "rollback",
        "catastrophe-guard",
        "errors",
    )
    assert "at least 50%" in result.reason and "under 5%" in result.reason
    assert verdict((2000, 99), (20, 10), rule).verdict == "rollback"  # stable 4.95%
    # Not a catastrophe: under half failing, stable at 5%, or fewer than 20 requests.
    assert verdict((2000, 10), (20, 9), rule).verdict == "continue"
    assert verdict((2000, 100), (20, 20), rule).verdict == "continue"
    assert verdict((2000, 10), (19, 19), rule).verdict == "continue"
    assert verdict((19, 0), (20, 20), rule).verdict == "continue"


def test_rollback_needs_evidence_of_more_than_the_tolerated_ratio() -> None:
    assert verdict((10_000, 200), (1000, 60)).verdict == "rollback"  # 3x on 60 errors
    assert verdict((1000, 20), (100, 4)).verdict == "continue"  # 2x on 4 errors: noise
    # 1.3x on a million requests: clearly worse than stable, but within the 1.5x tolerance.
    result = verdict((1_000_000, 20_000), (1_000_000, 26_000))
    assert result.verdict == "continue"
    assert errors_test(result, "rollback") == (1.0, False)
    # 1.6x on the same: shown above 1.5x.
    assert verdict((1_000_000, 20_000), (1_000_000, 32_000)).verdict == "rollback"


def test_promote_needs_evidence_of_at_most_the_promote_ratio() -> None:
    # As good as stable on 200,000 requests per arm: shown within 1.1x.
    result = verdict((200_000, 4000), (200_000, 3800))
    assert (result.verdict, result.rule, result.metric) == ("promote", "all-metrics", "all")
    assert result.p_value is not None and result.p_value <= RULE.promote_alpha / 2
    # On 5,000 it is not shown yet, and a few lucky requests never are.
    assert verdict((5000, 100), (5000, 95)).verdict == "continue"
    assert verdict((1000, 20), (100, 1)).verdict == "continue"


def test_promote_by_the_floor_when_errors_are_rare() -> None:
    result = verdict((20_000, 0), (10_000, 0))
    assert result.verdict == "promote"
    assert result.decisive is not None and result.decisive.kind == "promote-floor"
    assert verdict((2000, 0), (100, 0)).verdict == "continue"  # 100 requests show little
    assert verdict((20_000, 400), (2000, 0)).verdict == "promote"


def test_counts_up_to_a_billion() -> None:
    big = 10**9
    assert verdict((big, big // 100), (big, big // 100)).verdict == "promote"
    assert verdict((big, big // 100), (big, big // 50)).verdict == "rollback"
    assert verdict((big, 0), (big, 0)).verdict == "promote"
    # Both arms failing everything: the canary is no worse than stable, and that is shown.
    assert verdict((big, big), (big, big)).verdict == "promote"
    assert verdict((big, big), (big, big - 1)).verdict == "promote"


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
        "evidence",
    }
    assert data["stable"] == {
        "requests": 10_000,
        "errors": 200,
        "error_rate": 0.02,
        "slow": None,
        "scored": 0,
        "score_mean": None,
    }
    evidence = data["evidence"]
    assert evidence["metric"] == "errors" and evidence["test"] == "rollback"
    assert evidence["e_value"] == data["statistic"] and evidence["p_value"] == data["p_value"]
    assert [t["test"] for t in evidence["tests"]] == ["rollback", "promote", "promote-floor"]
    json.dumps(data, allow_nan=False)


def test_arm_stats_refuse_impossible_counts() -> None:
    for bad in (
        {"requests": 10, "errors": 11},
        {"requests": 10, "errors": -1},
        {"requests": 10, "errors": 0, "slow": 11},
        {"requests": 10, "errors": 0, "timed": 5, "slow": 6},
        {"requests": 10, "errors": 0, "scored": 11},
        {"requests": 10, "errors": 0, "scored": 2, "score_sum": 2.5},
        {"requests": 10, "errors": 0, "scored": 2, "score_sum": float("nan")},
    ):
        with pytest.raises(ValueError):
            ArmStats(**bad)  # type: ignore[arg-type]
    assert ArmStats(0, 0).error_rate == 0.0


# --- latency and quality -----------------------------------------------------------------


def test_latency_is_a_second_binary_metric() -> None:
    rule = CanaryRule(latency_threshold_ms=3000)
    stable = ArmStats(10_000, 0, slow=100)
    slow = decide(stable, ArmStats(10_000, 0, slow=400), rule)
    assert (slow.verdict, slow.rule) == ("rollback", "latency")
    assert slow.decisive is not None and "over 3000 ms" in slow.decisive.null
    fine = decide(stable, ArmStats(10_000, 0, slow=0), rule)
    assert fine.verdict == "promote"
    unmeasured = decide(ArmStats(10_000, 0), ArmStats(10_000, 0), rule)
    assert unmeasured.verdict == "continue" and "not measured yet: latency" in unmeasured.reason
    # Two guarded metrics share alpha: each rollback test runs at alpha / 2.
    assert {t.alpha for t in slow.tests if t.kind == "rollback"} == {RULE.alpha / 2}


def test_quality_rollback_and_promotion() -> None:
    rule = CanaryRule(quality_tolerance=0.05)

    def scored(stable_mean: float, canary_mean: float, n: int) -> Verdict:
        return decide(
            ArmStats(n, 0, scored=n, score_sum=stable_mean * n),
            ArmStats(n, 0, scored=n, score_sum=canary_mean * n),
            rule,
        )

    worse = scored(0.8, 0.6, 2000)
    assert (worse.verdict, worse.rule) == ("rollback", "quality")
    assert worse.decisive is not None and worse.decisive.e_value is None
    assert worse.p_value is not None and worse.p_value <= rule.alpha / 2
    assert scored(0.8, 0.6, 30).verdict == "continue"  # 30 scores: not enough
    assert scored(0.8, 0.77, 100_000).verdict == "promote"  # within 0.05, shown
    assert scored(0.8, 0.78, 2000).verdict == "continue"
    unscored = decide(ArmStats(10_000, 0), ArmStats(10_000, 0), rule)
    assert unscored.verdict == "continue" and "not measured yet: quality" in unscored.reason


# --- settings ---------------------------------------------------------------------------

WHERE = "agentver.yaml: canary"


def test_settings_empty_gives_defaults_and_keys_override() -> None:
    assert CanaryRule.from_settings({}, WHERE) == CanaryRule()
    rule = CanaryRule.from_settings(
        {"alpha": 0.001, "min_requests": 250, "rollback_ratio": 2, "latency_threshold_ms": 3000},
        WHERE,
    )
    assert (rule.alpha, rule.min_requests, rule.rollback_ratio) == (0.001, 250, 2)
    assert rule.promote_ratio == 1.1
    assert rule.guarded_metrics == ("errors", "latency")


def test_settings_layer_on_a_base_rule() -> None:
    base = CanaryRule.from_settings({"min_requests": 500, "quality_tolerance": 0.1}, WHERE)
    agent = CanaryRule.from_settings({"alpha": 0.005}, f"{WHERE}.support", base=base)
    assert (agent.min_requests, agent.alpha, agent.quality_tolerance) == (500, 0.005, 0.1)
    off = CanaryRule.from_settings({"quality_tolerance": None}, f"{WHERE}.x", base=base)
    assert off.quality_tolerance is None and off.guarded_metrics == ("errors",)


def test_unknown_setting_names_where_and_key_with_did_you_mean() -> None:
    with pytest.raises(UsageError) as caught:
        CanaryRule.from_settings({"rollback_ration": 2}, WHERE)
    assert WHERE in caught.value.message and "'rollback_ration'" in caught.value.message
    assert caught.value.hint == "did you mean 'rollback_ratio'?"
    with pytest.raises(UsageError) as caught:
        CanaryRule.from_settings({"zzz": 2}, WHERE)
    assert caught.value.hint is not None and "min_requests" in caught.value.hint


def test_the_removed_latency_ratio_says_what_replaced_it() -> None:
    with pytest.raises(UsageError) as caught:
        CanaryRule.from_settings({"latency_ratio": 1.5}, WHERE)
    assert "'latency_ratio' was removed" in caught.value.message
    assert caught.value.hint is not None and "latency_threshold_ms" in caught.value.hint


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
        ({"promote_ratio": 1.0}, ["'promote_ratio'", "greater than 1"]),
        ({"promote_ratio": 2.0}, ["'promote_ratio'", "must not exceed"]),
        ({"zero_error_floor": 1.5}, ["'zero_error_floor'"]),
        ({"latency_threshold_ms": 0}, ["'latency_threshold_ms'", "> 0"]),
        ({"latency_threshold_ms": "3s"}, ["'latency_threshold_ms'", "number"]),
        ({"quality_tolerance": 1.5}, ["'quality_tolerance'", "between 0 and 1"]),
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
        "stable": {"requests": 1000, "errors": 20, "p50_ms": 12.5, "slow": 7},
        "canary": {"requests": 100, "errors": 4, "score_sum": 61.5, "scored": 80},
        "window": "1h",
    }
    assert parse_metrics(json.dumps(data), SOURCE) == (
        ArmStats(1000, 20, slow=7),
        ArmStats(100, 4, scored=80, score_sum=61.5),
    )


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
        (with_arm("canary", "slow", 101), ["canary.slow (101) exceeds canary.requests (100)"]),
        (with_arm("canary", "slow", 1.5), ["canary.slow", "1.5"]),
        (with_arm("canary", "scored", 5), ["needs both score_sum and scored"]),
        ('{"stable": {"requests": 1, "errors": 0}, "stable": {}}', ["duplicate key 'stable'"]),
    ],
)
def test_malformed_metrics_are_usage_errors(text: str, words: list[str]) -> None:
    with pytest.raises(AgentverError) as caught:
        parse_metrics(text, SOURCE)
    assert caught.value.exit_code == 2
    assert SOURCE in caught.value.message
    for word in words:
        assert word in caught.value.message
