"""The canary verdict: promote, continue or rollback, from two arms' counts.

``decide(stable, canary, rule)`` is a pure, deterministic function of the counts (no
state between evaluations, so it can be run as often as anyone likes: the tests are
anytime-valid). In order:

1. **Catastrophe guard**: a canary failing at least half of >= 20 requests while stable
   fails under 5% of >= 20 is rolled back, whatever ``min_requests`` says.
2. ``continue`` until each arm has ``min_requests`` requests.
3. **rollback** when any guarded metric (errors; "slow" requests when
   ``latency_threshold_ms`` is set; mean score when ``quality_tolerance`` is set) shows,
   with anytime-valid evidence at ``alpha`` (split evenly among the guarded metrics),
   that the canary is worse than the tolerance: error/slow rate above ``rollback_ratio``
   x stable's, mean score below stable's minus ``quality_tolerance``.
4. **promote** when every guarded metric shows, at ``promote_alpha``, that the canary is
   within tolerance: rate at most ``promote_ratio`` x stable's, or its own rate below
   ``zero_error_floor`` (each way at ``promote_alpha / 2``); mean score at least
   stable's minus ``quality_tolerance``.
5. Otherwise ``continue``.

The e-values come from ``agentver.canary.stats``; docs/canary.md has the mathematics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from agentver.canary import stats
from agentver.canary.settings import CanaryRule

VerdictName = Literal["promote", "continue", "rollback"]

# The catastrophe guard (see the module docstring); docs/canary.md bounds its false rollbacks.
GUARD_MIN_REQUESTS = 20
GUARD_CANARY_RATE = 0.5
GUARD_STABLE_RATE = 0.05

# Each test's mixture is centred on a design alternative, with the prior's standard
# deviation (in rate-ratio terms) equal to the distance from the alternative to the null
# boundary: the rollback test expects "twice the tolerated ratio" (3x for 1.5), the
# promotion test "as good as stable" (1x against 1.1), the floor test "half the floor".
ROLLBACK_DESIGN_FACTOR = 2.0
# The rollback test mixes three such priors, all centred on the design alternative (a
# discrete mixture of e-values is an e-value): (weight, concentration as a multiple of
# the pseudo errors above). 70% on one 8x as concentrated (sd of the ratio
# (r1 - r0) / sqrt(8), 0.53x for 1.5: near the growth of a test told the regression),
# 15% on the broad one (reach toward 2x), 15% on a quarter of it (a = 1 for 1.5: gross
# regressions shown by a handful of errors). Measured in bench/RESULTS-canary.md (side
# table: 2x, 3x, 10x), derived in docs/canary.md ("The mixture").
ROLLBACK_MIXTURE = ((0.7, 8.0), (0.15, 1.0), (0.15, 0.25))


def _pseudo_errors(alternative: float, null: float) -> float:
    return (alternative / (alternative - null)) ** 2


def rollback_mixture(rollback_ratio: float, n_c: int, n_s: int) -> stats.Mixture:
    """The rollback test's prior on the canary's share of errors, for these exposures."""
    design = ROLLBACK_DESIGN_FACTOR * rollback_ratio
    mean = stats.share_null(design, n_c, n_s)
    pseudo = _pseudo_errors(design, rollback_ratio)
    return tuple(
        (weight, stats.beta_prior(mean, pseudo * concentration))
        for weight, concentration in ROLLBACK_MIXTURE
    )


@dataclass(frozen=True)
class ArmStats:
    """One arm's totals. ``slow`` counts requests over the latency threshold among
    ``timed`` (None: latency not measured; ``timed`` None means all requests);
    ``score_sum`` is the sum of ``scored`` quality scores in [0, 1]."""

    requests: int
    errors: int
    slow: int | None = None
    timed: int | None = None
    scored: int = 0
    score_sum: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.errors <= self.requests:
            raise ValueError(f"need 0 <= errors <= requests, got {self.errors}/{self.requests}")
        if self.timed is not None and not 0 <= self.timed <= self.requests:
            raise ValueError(f"need 0 <= timed <= requests, got {self.timed}/{self.requests}")
        if self.slow is not None and not 0 <= self.slow <= self.latency_requests:
            raise ValueError(f"need 0 <= slow <= {self.latency_requests}, got {self.slow}")
        if not 0 <= self.scored <= self.requests:
            raise ValueError(f"need 0 <= scored <= requests, got {self.scored}/{self.requests}")
        if not (math.isfinite(self.score_sum) and 0 <= self.score_sum <= self.scored):
            raise ValueError(f"need 0 <= score_sum <= scored, got {self.score_sum}/{self.scored}")

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def latency_requests(self) -> int:
        return self.requests if self.timed is None else self.timed

    @property
    def score_mean(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "slow": self.slow,
            "scored": self.scored,
            "score_mean": self.score_mean,
        }


@dataclass(frozen=True)
class Evidence:
    """One anytime-valid test on one metric: it rejects ``null`` when p <= ``alpha``.

    ``e_value`` is None for the quality tests (confidence sequences, reported as p).
    """

    metric: str  # errors | latency | quality
    kind: str  # rollback | promote | promote-floor
    null: str  # the hypothesis the evidence is against, in words
    p_value: float
    alpha: float
    e_value: float | None = None

    @property
    def rejected(self) -> bool:
        return self.p_value <= self.alpha

    @property
    def threshold(self) -> str:
        return (
            f"e >= {1 / self.alpha:.4g}" if self.e_value is not None else f"p <= {self.alpha:.4g}"
        )

    def measured(self) -> str:
        """The evidence and what it needs, e.g. ``e = 312, p = 0.0032 (needs e >= 100)``."""
        value = f"p = {self.p_value:.3g}"
        if self.e_value is not None:
            value = f"e = {_num(self.e_value)}, {value}"
        return f"{value} (needs {self.threshold})"

    def describe(self) -> str:
        return f"{self.metric} {self.kind} against '{self.null}': {self.measured()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "test": self.kind,
            "null": self.null,
            "e_value": self.e_value,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "threshold": self.threshold,
            "rejected": self.rejected,
        }


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    stable: ArmStats
    canary: ArmStats
    ratio: float | None  # canary / stable error rate (None: stable has no errors)
    statistic: float | None  # the e-value of the deciding test
    p_value: float | None  # its always-valid p-value
    rule: str  # what decided: catastrophe-guard, min-requests, <metric>, all-metrics, ...
    reason: str
    metric: str | None = None  # the metric that decided
    tests: tuple[Evidence, ...] = field(default=())
    decisive: Evidence | None = None

    def to_json(self) -> dict[str, Any]:
        decisive = self.decisive
        return {
            "verdict": self.verdict,
            "stable": self.stable.to_json(),
            "canary": self.canary.to_json(),
            "reason": self.reason,
            "ratio": self.ratio,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "rule": self.rule,
            "evidence": {
                "metric": self.metric,
                "test": decisive.kind if decisive else None,
                "null": decisive.null if decisive else None,
                "e_value": decisive.e_value if decisive else None,
                "p_value": decisive.p_value if decisive else None,
                "threshold": decisive.threshold if decisive else None,
                "tests": [test.to_json() for test in self.tests],
            },
        }


# -- the tests of one metric -----------------------------------------------------------


def _e_test(metric: str, kind: str, null: str, log_e: float, alpha: float) -> Evidence:
    return Evidence(metric, kind, null, stats.p_value(log_e), alpha, stats.e_value(log_e))


def rate_tests(
    metric: str,
    noun: str,
    counts: tuple[int, int, int, int],
    rule: CanaryRule,
    rollback_alpha: float,
) -> list[Evidence]:
    """Rollback and promotion tests for a binary metric: (x_c, n_c, x_s, n_s)."""
    x_c, n_c, x_s, n_s = counts
    if n_c <= 0 or n_s <= 0:
        return []
    total = x_c + x_s
    r_back, r_prom = rule.rollback_ratio, rule.promote_ratio
    back = stats.log_mixture_e(
        x_c,
        total,
        stats.share_null(r_back, n_c, n_s),
        rollback_mixture(r_back, n_c, n_s),
        upper=True,
    )
    prom = stats.log_binomial_mixture_e(
        x_c,
        total,
        stats.share_null(r_prom, n_c, n_s),
        stats.beta_prior(stats.share_null(1.0, n_c, n_s), _pseudo_errors(1.0, r_prom)),
        upper=False,
    )
    floor = rule.zero_error_floor
    below = stats.log_one_sample_e(
        x_c, n_c, floor, stats.beta_prior(floor / 2, _pseudo_errors(floor / 2, floor))
    )
    half = rule.promote_alpha / 2  # two ways to promote: a union bound
    return [
        _e_test(metric, "rollback", f"canary {noun} <= {r_back:g}x stable's", back, rollback_alpha),
        _e_test(metric, "promote", f"canary {noun} > {r_prom:g}x stable's", prom, half),
        _e_test(metric, "promote-floor", f"canary {noun} >= {floor:.3%}", below, half),
    ]


def quality_tests(
    stable: ArmStats, canary: ArmStats, tolerance: float, rollback_alpha: float, rule: CanaryRule
) -> list[Evidence]:
    """Mean score: rollback when the canary's upper confidence bound is below stable's
    lower bound minus ``tolerance`` (each bound at half the level), promotion the mirror."""
    if not (stable.scored and canary.scored):
        return []

    def worse(alpha: float) -> bool:
        upper_c = stats.mean_bound(canary.score_sum, canary.scored, alpha / 2, upper=True)
        lower_s = stats.mean_bound(stable.score_sum, stable.scored, alpha / 2, upper=False)
        return upper_c < lower_s - tolerance

    def within(alpha: float) -> bool:
        lower_c = stats.mean_bound(canary.score_sum, canary.scored, alpha / 2, upper=False)
        upper_s = stats.mean_bound(stable.score_sum, stable.scored, alpha / 2, upper=True)
        return lower_c >= upper_s - tolerance

    return [
        Evidence(
            "quality",
            "rollback",
            f"canary mean score >= stable's - {tolerance:g}",
            _smallest_level(worse),
            rollback_alpha,
        ),
        Evidence(
            "quality",
            "promote",
            f"canary mean score < stable's - {tolerance:g}",
            _smallest_level(within),
            rule.promote_alpha,
        ),
    ]


def _smallest_level(rejects: Any) -> float:
    """The always-valid p-value: the smallest level at which ``rejects(level)`` holds
    (bounds only widen as the level falls, so bisect on log level)."""
    if not rejects(0.999):
        return 1.0
    low, high = math.log(1e-300), math.log(0.999)
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (low, mid) if rejects(math.exp(mid)) else (mid, high)
    return math.exp(high)


# -- the verdict -----------------------------------------------------------------------


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def catastrophe(stable: ArmStats, canary: ArmStats) -> bool:
    return (
        canary.requests >= GUARD_MIN_REQUESTS
        and stable.requests >= GUARD_MIN_REQUESTS
        and canary.errors >= GUARD_CANARY_RATE * canary.requests
        and stable.errors < GUARD_STABLE_RATE * stable.requests
    )


def all_tests(stable: ArmStats, canary: ArmStats, rule: CanaryRule) -> list[Evidence]:
    """Every test of every guarded metric, rollback tests at ``alpha`` / #metrics."""
    metrics = rule.guarded_metrics
    rollback_alpha = rule.alpha / len(metrics)
    tests = rate_tests(
        "errors",
        "error rate",
        (canary.errors, canary.requests, stable.errors, stable.requests),
        rule,
        rollback_alpha,
    )
    if "latency" in metrics and canary.slow is not None and stable.slow is not None:
        slow_counts = (canary.slow, canary.latency_requests, stable.slow, stable.latency_requests)
        tests += rate_tests(
            "latency",
            f"rate of requests over {rule.latency_threshold_ms:g} ms",
            slow_counts,
            rule,
            rollback_alpha,
        )
    if rule.quality_tolerance is not None:
        tests += quality_tests(stable, canary, rule.quality_tolerance, rollback_alpha, rule)
    return tests


def decide(stable: ArmStats, canary: ArmStats, rule: CanaryRule) -> Verdict:
    """The verdict for the counts so far under ``rule`` (see the module docstring)."""
    ratio = canary.error_rate / stable.error_rate if stable.errors else None
    rates = f"canary {_pct(canary.error_rate)} vs stable {_pct(stable.error_rate)} errors"
    if ratio is not None:
        rates += f" (ratio {ratio:.2f})"

    def verdict(
        name: VerdictName,
        rule_name: str,
        reason: str,
        decisive: Evidence | None = None,
        tests: tuple[Evidence, ...] = (),
        metric: str | None = None,
    ) -> Verdict:
        return Verdict(
            name,
            stable,
            canary,
            ratio,
            decisive.e_value if decisive else None,
            decisive.p_value if decisive else None,
            rule_name,
            reason,
            metric if metric or decisive is None else decisive.metric,
            tests,
            decisive,
        )

    def guard(tests: tuple[Evidence, ...]) -> Verdict:
        return verdict(
            "rollback",
            "catastrophe-guard",
            f"{rates}: the canary fails at least {GUARD_CANARY_RATE:.0%} of its requests "
            f"while stable fails under {GUARD_STABLE_RATE:.0%} (catastrophe guard, "
            f"from {GUARD_MIN_REQUESTS} requests per arm, whatever min_requests)",
            tests=tests,
            metric="errors",
        )

    if stable.requests < rule.min_requests or canary.requests < rule.min_requests:
        if catastrophe(stable, canary):
            return guard(())
        return verdict(
            "continue",
            "min-requests",
            f"not enough traffic yet: {canary.requests} canary and {stable.requests} stable "
            f"requests, need {rule.min_requests} in each arm",
        )
    tests = tuple(all_tests(stable, canary, rule))
    rollbacks = [t for t in tests if t.kind == "rollback" and t.rejected]
    if catastrophe(stable, canary) and not rollbacks:
        return guard(tests)
    if rollbacks:
        decisive = min(rollbacks, key=lambda t: t.p_value)
        return verdict(
            "rollback",
            decisive.metric,
            f"{rates}; the evidence rejects '{decisive.null}': {decisive.measured()}",
            decisive,
            tests,
        )
    best: dict[str, Evidence] = {}  # per metric, its strongest promotion test
    for test in tests:
        if test.kind.startswith("promote"):
            held = best.get(test.metric)
            if held is None or test.p_value / test.alpha < held.p_value / held.alpha:
                best[test.metric] = test
    missing = [m for m in rule.guarded_metrics if m not in best]
    if not missing and all(test.rejected for test in best.values()):
        weakest = max(best.values(), key=lambda t: t.p_value / t.alpha)
        shown = "; ".join(f"the evidence rejects '{t.null}': {t.measured()}" for t in best.values())
        return verdict("promote", "all-metrics", f"{rates}; {shown}", weakest, tests, "all")
    pending = [t for t in tests if not t.rejected and t.kind in ("rollback", "promote")]
    closest = min(pending, key=lambda t: t.p_value / t.alpha) if pending else None
    why = [f"not enough evidence yet: {rates}"]
    if missing:
        why.append(f"not measured yet: {', '.join(missing)}")
    why += [t.describe() for t in tests if t.kind in ("rollback", "promote")]
    return verdict("continue", "insufficient-evidence", "; ".join(why), closest, tests)
