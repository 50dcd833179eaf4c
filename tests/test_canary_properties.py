"""Properties of the canary verdict over the whole count space (hypothesis), and the
exact validity of its tests computed by dynamic programming over every sample path."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.canary import ArmStats, CanaryRule, decide, stats
from agentver.canary.rule import ROLLBACK_DESIGN_FACTOR, ROLLBACK_MIXTURE, rollback_mixture

RANK = {"promote": 0, "continue": 1, "rollback": 2}  # toward rollback
BIG = 10**9

sizes = st.one_of(st.integers(0, 300), st.integers(0, 100_000), st.integers(0, BIG))
rules = st.builds(
    CanaryRule,
    rollback_ratio=st.sampled_from([1.2, 1.5, 3.0]),
    promote_ratio=st.sampled_from([1.05, 1.1, 1.2]),
    min_requests=st.sampled_from([1, 100, 10_000]),
    alpha=st.sampled_from([0.001, 0.01, 0.05]),
    latency_threshold_ms=st.sampled_from([None, 3000.0]),
)


@st.composite
def arms(draw: st.DrawFn) -> ArmStats:
    requests = draw(sizes)
    errors = draw(st.one_of(st.integers(0, min(requests, 5)), st.integers(0, requests)))
    slow = draw(st.integers(0, requests))
    return ArmStats(requests, errors, slow=slow)


def rank(stable: ArmStats, canary: ArmStats, rule: CanaryRule) -> int:
    return RANK[decide(stable, canary, rule).verdict]


def with_errors(arm: ArmStats, errors: int) -> ArmStats:
    return ArmStats(arm.requests, errors, slow=arm.slow)


@settings(max_examples=400, deadline=None)
@given(arms(), arms(), rules)
def test_more_canary_errors_never_move_toward_promote(
    stable: ArmStats, canary: ArmStats, rule: CanaryRule
) -> None:
    if canary.errors == canary.requests:
        return
    more = with_errors(canary, canary.errors + 1)
    assert rank(stable, more, rule) >= rank(stable, canary, rule)


@settings(max_examples=400, deadline=None)
@given(arms(), arms(), rules)
def test_more_stable_errors_never_move_toward_rollback(
    stable: ArmStats, canary: ArmStats, rule: CanaryRule
) -> None:
    if stable.errors == stable.requests:
        return
    more = with_errors(stable, stable.errors + 1)
    assert rank(more, canary, rule) <= rank(stable, canary, rule)


@settings(max_examples=200, deadline=None)
@given(arms(), arms(), rules, st.integers(1, 1000))
def test_monotone_over_bigger_steps_and_slow_requests(
    stable: ArmStats, canary: ArmStats, rule: CanaryRule, step: int
) -> None:
    more_canary = with_errors(canary, min(canary.requests, canary.errors + step))
    assert rank(stable, more_canary, rule) >= rank(stable, canary, rule)
    more_stable = with_errors(stable, min(stable.requests, stable.errors + step))
    assert rank(more_stable, canary, rule) <= rank(stable, canary, rule)
    assert canary.slow is not None
    slower = ArmStats(canary.requests, canary.errors, slow=min(canary.requests, canary.slow + step))
    assert rank(stable, slower, rule) >= rank(stable, canary, rule)


@settings(max_examples=300, deadline=None)
@given(arms(), arms(), rules)
def test_deterministic_finite_and_serialisable(
    stable: ArmStats, canary: ArmStats, rule: CanaryRule
) -> None:
    first, second = decide(stable, canary, rule), decide(stable, canary, rule)
    assert first == second
    text = json.dumps(first.to_json(), allow_nan=False)  # no inf, no nan anywhere
    assert json.loads(text) == second.to_json()
    for test in first.tests:
        assert 0.0 <= test.p_value <= 1.0
        assert test.e_value is not None and 1.0 <= test.e_value < math.inf
    if first.verdict == "rollback" and first.rule != "catastrophe-guard":
        assert first.decisive is not None and first.decisive.rejected


@pytest.mark.parametrize(
    ("stable", "canary"),
    [
        ((0, 0), (0, 0)),
        ((BIG, 0), (BIG, 0)),
        ((BIG, BIG), (BIG, BIG)),
        ((BIG, 1), (BIG, BIG)),
        ((1, 0), (BIG, BIG)),
        ((BIG, BIG // 3), (BIG, BIG // 3)),
        ((100, 50), (100, 50)),
    ],
)
def test_zero_equal_and_huge_counts_give_a_verdict(
    stable: tuple[int, int], canary: tuple[int, int]
) -> None:
    for rule in (CanaryRule(), CanaryRule(min_requests=1, latency_threshold_ms=1.0)):
        result = decide(ArmStats(*stable, slow=stable[1]), ArmStats(*canary, slow=canary[1]), rule)
        assert result.verdict in RANK
        json.dumps(result.to_json(), allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, BIG).flatmap(
        lambda n: st.tuples(st.just(n), st.floats(0, 1).map(lambda f: f * n))
    ),
    st.integers(1, 10_000).flatmap(
        lambda n: st.tuples(st.just(n), st.floats(0, 1).map(lambda f: f * n))
    ),
    st.floats(0.01, 0.5),
)
def test_quality_monotone_in_the_canary_score(
    stable: tuple[int, float], canary: tuple[int, float], gain: float
) -> None:
    rule = CanaryRule(quality_tolerance=0.05, min_requests=1)
    n_s, sum_s = stable
    n_c, sum_c = canary

    def result(canary_sum: float) -> int:
        return rank(
            ArmStats(n_s, 0, scored=n_s, score_sum=sum_s),
            ArmStats(n_c, 0, scored=n_c, score_sum=canary_sum),
            rule,
        )

    better = min(float(n_c), sum_c + gain * n_c)
    assert result(better) <= result(sum_c)


# --- validity, exactly: the probability of ever crossing, over every path -----------------


def crossing_probability(
    p_true: float,
    p0: float,
    prior: stats.Mixture,
    alpha: float,
    steps: int,
    upper: bool = True,
) -> float:
    """P(the one-sided upper e-process ever reaches 1/alpha within ``steps`` errors)
    when each error is the canary's with probability ``p_true``: dynamic programming
    over the number of canary errors, absorbing paths at the first crossing. Paths of
    negligible probability (< 1e-13) are counted as crossing: an upper bound."""
    threshold = math.log(1 / alpha)
    alive = {0: 1.0}
    crossed = 0.0
    for total in range(1, steps + 1):
        nxt: dict[int, float] = {}
        for x, mass in alive.items():
            for x_new, weight in ((x + 1, p_true), (x, 1 - p_true)):
                nxt[x_new] = nxt.get(x_new, 0.0) + mass * weight
        alive = {}
        for x, mass in nxt.items():
            if mass < 1e-13 or stats.log_mixture_e(x, total, p0, prior, upper) >= threshold:
                crossed += mass
            else:
                alive[x] = mass
    return crossed


@pytest.mark.parametrize("share", [0.01, 0.05, 0.25, 0.5])
def test_rollback_test_is_valid_at_every_look_exactly(share: float) -> None:
    ratio = 1.5
    n_c, n_s = round(share * 10_000), round((1 - share) * 10_000)
    p0 = stats.share_null(ratio, n_c, n_s)
    p_alt = stats.share_null(ROLLBACK_DESIGN_FACTOR * ratio, n_c, n_s)
    prior = rollback_mixture(ratio, n_c, n_s)  # the rule's own two-prior mixture
    kl = p_alt * math.log(p_alt / p0) + (1 - p_alt) * math.log((1 - p_alt) / (1 - p0))
    steps = math.ceil(2.5 * math.log(100) / kl)  # 2.5x the errors an SPRT would need
    for p_true in (p0, p0 * 0.7):  # the boundary of the null, and inside it
        assert crossing_probability(p_true, p0, prior, 0.01, steps) <= 0.01
    # ... while a 3x canary crosses with high probability by then.
    assert crossing_probability(p_alt, p0, prior, 0.01, steps) > 0.9


@pytest.mark.parametrize("share", [0.05, 0.5])
def test_promotion_test_is_valid_at_every_look_exactly(share: float) -> None:
    ratio = 1.1
    n_c, n_s = round(share * 10_000), round((1 - share) * 10_000)
    p0 = stats.share_null(ratio, n_c, n_s)
    prior = ((1.0, stats.beta_prior(stats.share_null(1.0, n_c, n_s), (1 / (ratio - 1)) ** 2)),)
    for p_true in (p0, min(0.99, p0 * 1.3)):  # the boundary of "worse than 1.1x", and beyond
        assert crossing_probability(p_true, p0, prior, 0.025, 1500, upper=False) <= 0.025


def test_mean_e_process_is_valid_for_bernoulli_scores_exactly() -> None:
    """Bernoulli is the worst case of [0, 1] scores with a given mean (Hoeffding)."""
    for m in (0.1, 0.5, 0.9):
        alive = {0: 1.0}
        crossed = 0.0
        for n in range(1, 301):
            nxt: dict[int, float] = {}
            for s, mass in alive.items():
                nxt[s + 1] = nxt.get(s + 1, 0.0) + mass * m
                nxt[s] = nxt.get(s, 0.0) + mass * (1 - m)
            alive = {}
            for s, mass in nxt.items():
                if stats.log_mean_e(float(s), n, m, upper=True) >= math.log(100):
                    crossed += mass
                else:
                    alive[s] = mass
        assert crossed <= 0.01


@given(st.integers(1, 10**6), st.floats(0, 1), st.sampled_from([0.001, 0.01, 0.1]))
def test_mean_bounds_bracket_the_mean_and_widen_with_confidence(
    n: int, fraction: float, alpha: float
) -> None:
    total = fraction * n
    low = stats.mean_bound(total, n, alpha, upper=False)
    high = stats.mean_bound(total, n, alpha, upper=True)
    assert 0.0 <= low <= fraction + 1e-12 and fraction - 1e-12 <= high <= 1.0
    assert stats.mean_bound(total, n, alpha / 10, upper=False) <= low + 1e-12
    assert stats.mean_bound(total, n, alpha / 10, upper=True) >= high - 1e-12


def test_beta_mixture_matches_numerical_integration() -> None:
    x, total, p0, prior = 7, 20, 0.2, (2.0, 5.0)
    grid = 200_000
    a, b = prior
    integral = 0.0
    for i in range(grid):
        p = (i + 0.5) / grid
        density = math.exp((a - 1) * math.log(p) + (b - 1) * math.log(1 - p) - stats.log_beta(a, b))
        integral += density * (p / p0) ** x * ((1 - p) / (1 - p0)) ** (total - x) / grid
    log_e = stats.log_binomial_mixture_e(x, total, p0, prior, upper=True)
    assert log_e == pytest.approx(math.log(integral), rel=1e-6)


@pytest.mark.parametrize("share", [0.01, 0.25, 0.5])
@pytest.mark.parametrize("total", [1, 7, 60, 400])
def test_rollback_mixture_is_an_e_value_exactly(share: float, total: int) -> None:
    """Under the null boundary p0 the uncut mixture's expectation over every outcome of
    ``total`` errors is exactly 1 (each Beta term's is, and the weights sum to 1): an
    e-value, and (the same at every total) a martingale over the errors. Inside the null
    (p < p0) the one-sided cut and the coupling carry the guarantee over; the exact
    crossing probabilities above check both."""
    n_c, n_s = round(share * 10_000), round((1 - share) * 10_000)
    p0 = stats.share_null(1.5, n_c, n_s)
    mixture = rollback_mixture(1.5, n_c, n_s)
    assert len(mixture) == len(ROLLBACK_MIXTURE) > 1
    assert sum(w for w, _ in mixture) == pytest.approx(1.0, abs=1e-15)
    # every prior's mean on the alternative's side: the one-sided cut is an upper set
    assert all(a / (a + b) > p0 for _, (a, b) in mixture)

    def expectation(p: float) -> float:
        return sum(
            math.exp(
                math.lgamma(total + 1)
                - math.lgamma(x + 1)
                - math.lgamma(total - x + 1)
                + x * math.log(p)
                + (total - x) * math.log1p(-p)
                + stats.log_mixture_lr(x, total, p0, mixture)
            )
            for x in range(total + 1)
        )

    assert expectation(p0) == pytest.approx(1.0, rel=1e-9)
