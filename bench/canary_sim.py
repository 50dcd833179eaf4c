"""Simulate canary verdicts: false rollbacks, time to catch a 3x regression, time to promote.

    python -m bench.canary_sim [--runs 2000] [--seed 0] [--out bench/RESULTS-canary.md]

Synthetic traffic: stable and canary fail at the same base rate (the null) or the canary
at 3x it; the canary gets a fixed share of the requests. After every 100 canary requests
(and the matching stable requests) the verdict is taken on the cumulative counts; a run
ends at its first verdict other than ``continue``, or at 50,000 canary requests.

How it stays fast (numpy across runs): with a fixed share the null shares ``p0`` of the
tests are constants of a cell, so each test is a threshold on the canary's errors given
the total errors (its rejection region is an interval end, docs/canary.md). The script
computes those thresholds with a vectorised copy of ``agentver.canary.stats``, checks them
against ``agentver.canary.decide`` itself at sampled points (it stops if one differs), and
then a verdict at a look is two table look-ups. Deterministic for a seed.

Beside agentver's rule: (a) the original design's plain ratio rule (rollback if the
canary's rate is > 1.5x stable's, promote if <= 1.1x, at every look) and (b) the oracle:
the smallest fixed number of canary requests at which a one-sided exact test at the
same alpha has 80% power against the 3x regression, for Fisher's exact test of equal rates
and for the exact conditional binomial test of the rule's own null (rate <= 1.5x).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from agentver.canary import ArmStats, CanaryRule, decide, stats
from agentver.canary.rule import (
    GUARD_CANARY_RATE,
    GUARD_STABLE_RATE,
    ROLLBACK_DESIGN_FACTOR,
    rollback_mixture,
)

BASE_RATES = (0.0, 0.0001, 0.001, 0.005, 0.02, 0.10, 0.30)
SHARES = (0.01, 0.05, 0.25, 0.50)
STEP = 100  # canary requests between looks
CAP = 50_000  # canary requests per run
REGRESSION = 3.0
SIDE_REGRESSIONS = (2.0, 10.0)  # the side table: is the tuning tuned to 3x only?
QUICK_BASE_RATES = (0.001, 0.005, 0.02)
DETECT_WITHIN = 2_000
POWER = 0.8

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


# -- vectorised copies of agentver.canary.stats -----------------------------------------


def lgamma(x: Floats) -> Floats:
    """log Gamma for x > 0: shift to x >= 8, then Stirling's series (error < 1e-13)."""
    x = np.asarray(x, dtype=np.float64)
    shift = np.zeros_like(x)
    y = x.copy()
    for _ in range(8):
        small = y < 8
        shift = np.where(small, shift + np.log(np.where(small, y, 1.0)), shift)
        y = np.where(small, y + 1, y)
    inv = 1.0 / y
    inv2 = inv * inv
    series = inv * (
        1 / 12
        - inv2
        * (
            1 / 360
            - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 * (1 / 1188 - inv2 * 691 / 360360)))
        )
    )
    result: Floats = (y - 0.5) * np.log(y) - y + 0.5 * math.log(2 * math.pi) + series - shift
    return result


def log_beta(a: Floats, b: Floats) -> Floats:
    result: Floats = lgamma(a) + lgamma(b) - lgamma(a + b)
    return result


def log_beta_lr(x: Floats, total: Floats, p0: float, prior: stats.Prior) -> Floats:
    """``stats.log_beta_lr``, vectorised (no one-sided cut: callers apply it)."""
    a, b = prior
    result: Floats = (
        log_beta(a + x, b + (total - x))
        - stats.log_beta(a, b)
        - x * math.log(p0)
        - (total - x) * math.log1p(-p0)
    )
    return result


def log_mixture_lr(x: Floats, total: Floats, p0: float, mixture: stats.Mixture) -> Floats:
    """``stats.log_mixture_lr``, vectorised."""
    terms = [math.log(w) + log_beta_lr(x, total, p0, prior) for w, prior in mixture]
    top = np.maximum.reduce(terms)
    result: Floats = top + np.log(sum(np.exp(t - top) for t in terms))
    return result


def upper_threshold(tmax: int, p0: float, mixture: stats.Mixture, log_level: float) -> Ints:
    """k[T]: the fewest canary errors of T that reject "share <= p0" (T + 1: none do)."""
    total = np.arange(tmax + 1, dtype=np.float64)
    low = np.floor(p0 * total)  # never rejects (not above p0 * T)
    high = total + 1  # sentinel: rejects by definition
    while True:
        open_ = high - low > 1
        if not open_.any():
            break
        mid = np.floor((low + high) / 2)
        ok = (mid > p0 * total) & (log_mixture_lr(mid, total, p0, mixture) >= log_level)
        high = np.where(open_ & ok, mid, high)
        low = np.where(open_ & ~ok, mid, low)
    return high.astype(np.int64)


def lower_threshold(sizes: Floats, p0: float, prior: tuple[float, float], log_level: float) -> Ints:
    """k[i]: the most canary errors of sizes[i] that reject "share >= p0" (-1: none do)."""
    low = np.full_like(sizes, -1.0)  # sentinel: rejects by definition
    high = np.ceil(p0 * sizes)  # never rejects (not below p0 * T)
    while True:
        open_ = high - low > 1
        if not open_.any():
            break
        mid = np.floor((low + high) / 2)
        # (closed entries may hold mid = -1; evaluate them at 0 and discard the result)
        evidence = log_beta_lr(np.maximum(mid, 0), sizes, p0, prior)
        ok = (mid < p0 * sizes) & (evidence >= log_level)
        low = np.where(open_ & ok, mid, low)
        high = np.where(open_ & ~ok, mid, high)
    return low.astype(np.int64)


@dataclass
class Tables:
    rollback: Ints  # by total errors
    promote: Ints  # by total errors
    floor: Ints  # by look


def tables(share: float, tmax: int, looks: int, rule: CanaryRule) -> Tables:
    """The thresholds of agentver's tests for one canary share (see the module docstring)."""
    floor = rule.zero_error_floor
    prior_floor = stats.beta_prior(floor / 2, ((floor / 2) / (floor / 2 - floor)) ** 2)
    canary_sizes = np.arange(1, looks + 1, dtype=np.float64) * STEP
    return Tables(
        rollback_table(share, tmax, rule),
        promote_table(share, tmax, rule),
        lower_threshold(canary_sizes, floor, prior_floor, math.log(2 / rule.promote_alpha)),
    )


def rollback_table(
    share: float, tmax: int, rule: CanaryRule, mixture: stats.Mixture | None = None
) -> Ints:
    """k[T] of the rollback test; ``mixture`` None: the rule's own (``rollback_mixture``)."""
    n_c, n_s = STEP, stable_step(share)
    p_back = stats.share_null(rule.rollback_ratio, n_c, n_s)
    mixture = mixture or rollback_mixture(rule.rollback_ratio, n_c, n_s)
    return upper_threshold(tmax, p_back, mixture, math.log(1 / rule.alpha))


def broad_mixture(share: float, rule: CanaryRule) -> stats.Mixture:
    """The single broad prior the rollback test used before the two-prior mixture
    (a = 4 pseudo errors at the design alternative): the side table's comparison."""
    design = ROLLBACK_DESIGN_FACTOR * rule.rollback_ratio
    mean = stats.share_null(design, STEP, stable_step(share))
    return ((1.0, stats.beta_prior(mean, (design / (design - rule.rollback_ratio)) ** 2)),)


def known_alternative_table(share: float, tmax: int, rule: CanaryRule, ratio: float) -> Ints:
    """k[T] of Wald's sequential probability ratio test told the regression: the
    likelihood ratio of the point alternative ``ratio`` against the null boundary,
    rejecting at 1/alpha (valid at every look; the best growth at exactly ``ratio``,
    powerless well below it)."""
    n_c, n_s = STEP, stable_step(share)
    p0 = stats.share_null(rule.rollback_ratio, n_c, n_s)
    p1 = stats.share_null(ratio, n_c, n_s)
    up, down = math.log(p1 / p0), math.log1p(-p1) - math.log1p(-p0)
    total = np.arange(tmax + 1, dtype=np.float64)
    need = np.ceil((math.log(1 / rule.alpha) - total * down) / (up - down) - 1e-9)
    need = np.maximum(need, np.floor(p0 * total) + 1)
    return np.minimum(need, total + 1).astype(np.int64)


def promote_table(share: float, tmax: int, rule: CanaryRule) -> Ints:
    n_c, n_s = STEP, stable_step(share)
    r_prom = rule.promote_ratio
    p_prom = stats.share_null(r_prom, n_c, n_s)
    prior_prom = stats.beta_prior(stats.share_null(1.0, n_c, n_s), (1.0 / (1.0 - r_prom)) ** 2)
    sizes = np.arange(tmax + 1, dtype=np.float64)
    return lower_threshold(sizes, p_prom, prior_prom, math.log(2 / rule.promote_alpha))


def stable_step(share: float) -> int:
    return round(STEP * (1 - share) / share)


# -- one cell ---------------------------------------------------------------------------


@dataclass
class Runs:
    verdict: NDArray[np.str_]  # per run: rollback / promote / continue (undecided at cap)
    at: Ints  # canary requests at the verdict (CAP + STEP when undecided)
    guard: NDArray[np.bool_]  # the rollback came from the catastrophe guard


def draw(
    rng: np.random.Generator, runs: int, looks: int, share: float, q_s: float, q_c: float
) -> tuple[Ints, Ints]:
    """Cumulative (canary errors, stable errors) per run and look."""
    canary = rng.binomial(STEP, q_c, size=(runs, looks)).cumsum(axis=1)
    stable = rng.binomial(stable_step(share), q_s, size=(runs, looks)).cumsum(axis=1)
    return canary.astype(np.int64), stable.astype(np.int64)


def first_verdict(rollback: NDArray[np.bool_], promote: NDArray[np.bool_]) -> tuple[Ints, Ints]:
    """(look index of the first decision or -1, 1 rollback / 0 promote / -1 none) per run."""
    decided = rollback | promote
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), -1)
    rows = np.arange(len(first))
    kind = np.where(first < 0, -1, np.where(rollback[rows, np.maximum(first, 0)], 1, 0))
    return first.astype(np.int64), kind.astype(np.int64)


def as_runs(first: Ints, kind: Ints, guard: NDArray[np.bool_] | None = None) -> Runs:
    verdict = np.where(kind == 1, "rollback", np.where(kind == 0, "promote", "continue"))
    at = np.where(first < 0, CAP + STEP, (first + 1) * STEP)
    rows = np.arange(len(first))
    used = guard[rows, np.maximum(first, 0)] & (kind == 1) if guard is not None else kind < -1
    return Runs(verdict, at.astype(np.int64), used)


def agentver_runs(canary: Ints, stable: Ints, share: float, table: Tables) -> Runs:
    looks = canary.shape[1]
    n_c = np.arange(1, looks + 1) * STEP
    n_s = np.arange(1, looks + 1) * stable_step(share)
    total = canary + stable
    guard = (canary >= GUARD_CANARY_RATE * n_c) & (stable < GUARD_STABLE_RATE * n_s)
    rollback = (canary >= table.rollback[total]) | guard
    promote = (canary <= table.promote[total]) | (canary <= table.floor[np.newaxis, :])
    first, kind = first_verdict(rollback, promote & ~rollback)
    return as_runs(first, kind, guard & ~(canary >= table.rollback[total]))


def plain_runs(canary: Ints, stable: Ints, share: float, rule: CanaryRule) -> Runs:
    """The original design's rule: no minimum, no test; 0 stable errors: any canary error
    is an infinite ratio, none is equal."""
    s_step = stable_step(share)
    # ratio = (x_c / n_c) / (x_s / n_s); at look k both n scale with k, so compare
    # x_c * s_step against r * x_s * STEP.
    lhs = canary * s_step
    rollback = lhs > rule.rollback_ratio * stable * STEP
    promote = (lhs <= rule.promote_ratio * stable * STEP) & ~((stable == 0) & (canary > 0))
    promote |= (stable == 0) & (canary == 0)
    first, kind = first_verdict(rollback, promote & ~rollback)
    return as_runs(first, kind)


def check_against_decide(
    canary: Ints, stable: Ints, share: float, runs: Runs, rule: CanaryRule, rng: np.random.Generator
) -> None:
    """The tables must give exactly ``agentver.canary.decide``'s verdicts: sampled runs,
    at their verdict look and the look before it."""
    for run in rng.choice(len(runs.at), size=min(40, len(runs.at)), replace=False):
        last = min(runs.at[run], CAP) // STEP - 1
        for look in {last, max(last - 1, 0)}:
            got = decide(
                ArmStats(int((look + 1) * stable_step(share)), int(stable[run, look])),
                ArmStats(int((look + 1) * STEP), int(canary[run, look])),
                rule,
            ).verdict
            expected = runs.verdict[run] if look == last and runs.at[run] <= CAP else "continue"
            if got != expected:
                raise AssertionError(
                    f"share {share}, run {run}, look {look}: decide() says {got}, "
                    f"the tables {expected}"
                )


# -- the oracle: fixed-n exact tests --------------------------------------------------------


def log_binom_pmf(k: Floats, n: int, q: float) -> Floats:
    if q <= 0:
        return np.where(k == 0, 0.0, -np.inf)
    result: Floats = (
        lgamma(np.full_like(k, n + 1.0))
        - lgamma(k + 1)
        - lgamma(n - k + 1)
        + k * math.log(q)
        + (n - k) * math.log1p(-q)
    )
    return result


def support(n: int, q: float) -> Floats:
    mean, sd = n * q, math.sqrt(n * q * (1 - q)) + 1
    return np.arange(
        max(0, math.floor(mean - 9 * sd)), min(n, math.ceil(mean + 9 * sd)) + 1, dtype=np.float64
    )


def window(t: int, p: float, low: int, high: int) -> Floats:
    """The canary errors of T worth summing over: 12 sd around the mean (the rest of
    the distribution holds less than 1e-30 of its mass)."""
    mean, sd = t * p, math.sqrt(t * p * (1 - p)) + 2
    return np.arange(
        max(low, math.floor(mean - 12 * sd)),
        min(high, math.ceil(mean + 12 * sd)) + 1,
        dtype=np.float64,
    )


def critical(
    totals: Floats, log_tail: Callable[[int], tuple[Floats, Floats]], alpha: float
) -> dict[int, float]:
    """For each total T, the fewest canary errors with one-sided exact p <= alpha."""
    out: dict[int, float] = {}
    for t in totals.astype(int):
        xs, log_pmf = log_tail(int(t))
        pmf = np.exp(log_pmf - log_pmf.max())
        pmf /= pmf.sum()
        tail = np.cumsum(pmf[::-1])[::-1]  # P(X >= x)
        ok = np.nonzero(tail <= alpha)[0]
        out[int(t)] = float(xs[ok[0]]) if len(ok) else math.inf
    return out


def power(
    n_c: int, share: float, q_s: float, q_c: float, test: str, alpha: float, ratio: float
) -> float:
    n_s = round(n_c * (1 - share) / share)
    xc, xs = support(n_c, q_c), support(n_s, q_s)
    pc, ps = np.exp(log_binom_pmf(xc, n_c, q_c)), np.exp(log_binom_pmf(xs, n_s, q_s))
    totals = np.unique((xc[:, None] + xs[None, :]).ravel())
    if test == "fisher":  # hypergeometric: equal rates, margins fixed

        def log_tail(t: int) -> tuple[Floats, Floats]:
            x = window(t, n_c / (n_c + n_s), max(0, t - n_s), min(t, n_c))
            return x, (
                -lgamma(x + 1) - lgamma(n_c - x + 1) - lgamma(t - x + 1) - lgamma(n_s - t + x + 1)
            )

    else:  # conditional binomial at the rule's null share p0(ratio)
        p0 = stats.share_null(ratio, n_c, n_s)

        def log_tail(t: int) -> tuple[Floats, Floats]:
            x = window(t, p0, 0, t)
            return x, log_binom_pmf(x, t, p0)

    crit = critical(totals, log_tail, alpha)
    cut = np.vectorize(crit.__getitem__)((xc[:, None] + xs[None, :]).astype(int))
    return float((pc[:, None] * ps[None, :] * (xc[:, None] >= cut)).sum())


ORACLE_STEP = 10  # finer than the looks: the oracle is not held to them


def oracle_n(
    share: float, base: float, test: str, rule: CanaryRule, target: float = POWER
) -> int | None:
    """The smallest multiple of 10 canary requests with ``target`` power against the 3x
    regression (None: above 10^7)."""
    q_c = min(1.0, REGRESSION * base)
    if base <= 0:
        return None

    def enough(n: int) -> bool:
        return power(n, share, base, q_c, test, rule.alpha, rule.rollback_ratio) >= target

    high = ORACLE_STEP
    while not enough(high):
        high *= 2
        if high > 10**7:
            return None
    low = high // 2 if high > ORACLE_STEP else 0
    while high - low > ORACLE_STEP:
        mid = (low + high) // 2 // ORACLE_STEP * ORACLE_STEP
        if mid <= low:
            break
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


# -- the whole simulation ------------------------------------------------------------------


@dataclass
class Cell:
    base: float
    share: float
    false_rollback: float
    false_rollback_ci: tuple[float, float]
    guard_false: int
    promoted: float
    promote_median: float | None
    promote_median_wide: float | None  # with promote_ratio = rollback_ratio
    plain_false_rollback: float
    caught: float  # 3x: share of runs rolled back by CAP
    median: float | None
    p95: float | None
    within: float  # 3x: share rolled back within DETECT_WITHIN
    plain_median: float | None
    plain_p95: float | None
    oracle_fisher: int | None
    oracle_same: int | None
    floor_same: int | None  # n at which the exact test of the same null has 50% power
    ceiling_within: float | None  # its power at n = DETECT_WITHIN
    known_median: float | None  # Wald's SPRT told the regression is exactly 3x
    # per regression (2x, 3x, 10x): (median with the rule, with the single broad prior)
    side: dict[float, tuple[float | None, float | None]] = field(default_factory=dict)


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def quantile(at: Ints, q: float) -> float | None:
    """Quantile of canary requests to the verdict over all runs; None when the runs
    without that verdict by the cap (counted as infinite) reach the quantile."""
    value = float(np.quantile(at, q, method="inverted_cdf"))
    return None if value > CAP else value


def rollback_at(runs: Runs) -> Ints:
    """Canary requests to the rollback per run (CAP + STEP: never rolled back)."""
    return np.where(runs.verdict == "rollback", runs.at, CAP + STEP).astype(np.int64)


def simulate_cell(
    base: float, share: float, runs: int, seed: int, rule: CanaryRule, oracle: bool
) -> Cell:
    looks = CAP // STEP
    rng = np.random.default_rng([seed, int(base * 1e6), int(share * 100)])
    null_c, null_s = draw(rng, runs, looks, share, base, base)
    q_c = min(1.0, REGRESSION * base)
    bad_c, bad_s = draw(rng, runs, looks, share, base, q_c)
    # The side regressions draw from their own streams: the 3x traffic above is the
    # same as before they existed.
    side_traffic = {
        factor: draw(
            np.random.default_rng([seed, int(base * 1e6), int(share * 100), int(factor)]),
            runs,
            looks,
            share,
            base,
            min(1.0, factor * base),
        )
        for factor in SIDE_REGRESSIONS
    }
    tmax = int(
        max(
            (null_c + null_s).max(),
            (bad_c + bad_s).max(),
            *((c + s).max() for c, s in side_traffic.values()),
        )
    )
    table = tables(share, tmax, looks, rule)
    null, bad = (
        agentver_runs(null_c, null_s, share, table),
        agentver_runs(bad_c, bad_s, share, table),
    )
    check_against_decide(null_c, null_s, share, null, rule, rng)
    check_against_decide(bad_c, bad_s, share, bad, rule, rng)
    wide = replace(rule, promote_ratio=rule.rollback_ratio)
    wide_table = Tables(table.rollback, promote_table(share, tmax, wide), table.floor)
    null_wide = agentver_runs(null_c, null_s, share, wide_table)
    check_against_decide(null_c, null_s, share, null_wide, wide, rng)
    plain_null, plain_bad = (
        plain_runs(null_c, null_s, share, rule),
        plain_runs(bad_c, bad_s, share, rule),
    )
    broad = replace(table, rollback=rollback_table(share, tmax, rule, broad_mixture(share, rule)))
    known = replace(table, rollback=known_alternative_table(share, tmax, rule, REGRESSION))
    side: dict[float, tuple[float | None, float | None]] = {}
    if base > 0:
        for factor, (c, s) in [(REGRESSION, (bad_c, bad_s)), *side_traffic.items()]:
            side[factor] = (
                quantile(rollback_at(agentver_runs(c, s, share, table)), 0.5),
                quantile(rollback_at(agentver_runs(c, s, share, broad)), 0.5),
            )
    false = int((null.verdict == "rollback").sum())
    promoted = null.at[null.verdict == "promote"]
    bad_at, plain_at = rollback_at(bad), rollback_at(plain_bad)
    ceiling = (
        power(DETECT_WITHIN, share, base, q_c, "same-null", rule.alpha, rule.rollback_ratio)
        if oracle and base > 0
        else None
    )
    return Cell(
        base=base,
        share=share,
        false_rollback=false / runs,
        false_rollback_ci=wilson(false, runs),
        guard_false=int(null.guard.sum()),
        promoted=len(promoted) / runs,
        promote_median=quantile(np.where(null.verdict == "promote", null.at, CAP + STEP), 0.5),
        promote_median_wide=quantile(
            np.where(null_wide.verdict == "promote", null_wide.at, CAP + STEP), 0.5
        ),
        plain_false_rollback=float((plain_null.verdict == "rollback").mean()),
        caught=float((bad.verdict == "rollback").mean()) if base > 0 else 0.0,
        median=quantile(bad_at, 0.5) if base > 0 else None,
        p95=quantile(bad_at, 0.95) if base > 0 else None,
        within=float((bad_at <= DETECT_WITHIN).mean()) if base > 0 else 0.0,
        plain_median=quantile(plain_at, 0.5) if base > 0 else None,
        plain_p95=quantile(plain_at, 0.95) if base > 0 else None,
        oracle_fisher=oracle_n(share, base, "fisher", rule) if oracle else None,
        oracle_same=oracle_n(share, base, "same-null", rule) if oracle else None,
        floor_same=oracle_n(share, base, "same-null", rule, 0.5) if oracle else None,
        ceiling_within=ceiling,
        known_median=(
            quantile(rollback_at(agentver_runs(bad_c, bad_s, share, known)), 0.5)
            if base > 0
            else None
        ),
        side=side,
    )


def simulate(
    runs: int,
    seed: int,
    rule: CanaryRule | None = None,
    oracle: bool = True,
    base_rates: tuple[float, ...] = BASE_RATES,
    shares: tuple[float, ...] = SHARES,
    cells: list[tuple[float, float]] | None = None,
) -> list[Cell]:
    rule = rule or CanaryRule()
    grid = cells or [(base, share) for base in base_rates for share in shares]
    return [simulate_cell(base, share, runs, seed, rule, oracle) for base, share in grid]


# -- report ---------------------------------------------------------------------------------


def _n(value: float | None) -> str:
    return f">{CAP:,}" if value is None else f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{value:.2%}" if value < 0.01 else f"{value:.1%}"


def _rate(base: float) -> str:
    return f"{base:.2%}".replace(".00%", "%") if base else "0"


def table_false(cells: list[Cell]) -> str:
    lines = [
        "| base rate | share | false rollback (95% CI) | by the guard | plain ratio rule "
        "| promoted by 50,000 | median to promote | ... with promote_ratio 1.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        low, high = c.false_rollback_ci
        lines.append(
            f"| {_rate(c.base)} | {c.share:.0%} | {_pct(c.false_rollback)} ({_pct(low)}-{_pct(high)}) "
            f"| {c.guard_false} | {_pct(c.plain_false_rollback)} | {_pct(c.promoted)} "
            f"| {_n(c.promote_median)} | {_n(c.promote_median_wide)} |"
        )
    return "\n".join(lines)


def _ratio(value: float | None, oracle: int | None) -> str:
    return f"{value / oracle:.2f}" if value is not None and oracle else "-"


def table_detect(cells: list[Cell]) -> str:
    lines = [
        "| base rate | share | caught by 50,000 | within 2,000 (ceiling) | median / p95 to rollback "
        "| plain ratio median / p95 | oracle n: Fisher (rates equal) | oracle n: same null (<= 1.5x) "
        "| median / oracle: Fisher, same null | floor: same null at 50% power "
        "| SPRT told 3x: median |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        if c.base <= 0:
            continue
        ceiling = "-" if c.ceiling_within is None else _pct(c.ceiling_within)
        lines.append(
            f"| {_rate(c.base)} | {c.share:.0%} | {_pct(c.caught)} | {_pct(c.within)} ({ceiling}) "
            f"| {_n(c.median)} / {_n(c.p95)} | {_n(c.plain_median)} / {_n(c.plain_p95)} "
            f"| {_n(c.oracle_fisher)} | {_n(c.oracle_same)} "
            f"| {_ratio(c.median, c.oracle_fisher)} / {_ratio(c.median, c.oracle_same)} "
            f"| {_n(c.floor_same)} | {_n(c.known_median)} |"
        )
    return "\n".join(lines)


def table_side(cells: list[Cell]) -> str:
    factors = sorted({REGRESSION, *SIDE_REGRESSIONS})
    head = " | ".join(f"{f:g}x: median (single broad prior)" for f in factors)
    lines = [f"| base rate | share | {head} |", "|---|---|" + "---|" * len(factors)]
    for c in cells:
        if c.base <= 0:
            continue
        row = " | ".join(
            f"{_n(c.side[f][0])} ({_n(c.side[f][1])})" if f in c.side else "-" for f in factors
        )
        lines.append(f"| {_rate(c.base)} | {c.share:.0%} | {row} |")
    return "\n".join(lines)


HEADER = """# Canary verdicts: simulation results

Written by `bench/canary_sim.py` (do not edit by hand); the command:

```
python -m bench.canary_sim --runs 2000 --seed 0 --out bench/RESULTS-canary.md
```

Set-up: stable and canary fail at the same base rate (the null: every rollback is a false
one), or the canary at 3x it (a regression); the canary gets a fixed share of the traffic.
The verdict of `agentver.canary.decide` with the default settings (`CanaryRule()`:
rollback at alpha 1% against "canary <= 1.5x stable", promote at 5% against "canary >
1.1x stable" or "canary >= 0.1%", catastrophe guard, min 100 requests per arm) is taken
after every 100 canary requests (and the matching stable requests) on the cumulative
counts, until the first verdict other than `continue` or 50,000 canary requests. 2,000
seeded runs per cell, the same traffic for every rule. The script checks its verdict
tables against `decide` itself at sampled looks and stops if one differs.

- **false rollback**: share of null runs rolled back, with a 95% Wilson interval; "by
  the guard": how many of them the catastrophe guard made (the rest are the e-process).
- **plain ratio rule**: the original design's rule (rollback if the canary's rate is >
  1.5x stable's, promote if <= 1.1x, at every look, no minimum, no test).
- **median / p95 to rollback**: canary requests until the rollback over *all* 3x runs
  (a run not rolled back by 50,000 counts as never: `>50,000`).
- **oracle n**: the smallest multiple of 10 canary requests at which a one-sided exact
  test at the same alpha (1%), run once at that fixed n, has 80% power against the 3x
  regression; exact power by summing over the binomial outcomes of both arms. Two
  oracles: Fisher's exact test of *equal* rates (the question "is the canary worse at
  all?"), and the exact conditional binomial test of agentver's own null "canary <=
  1.5x stable" (the question the rollback answers). The oracle is not held to the looks
  every 100 requests; agentver is.
- **What the mathematics allows** (the limits agentver is measured against, not only
  the goals): *ceiling*, in brackets beside "within 2,000": the power of the exact test
  of the same null run once at n = 2,000. A rule that rolls back within 2,000 requests
  with probability P is itself a level-1% test at n = 2,000, so P cannot much exceed that
  power. *floor*: the n at which that exact test reaches 50% power; by the same argument
  no valid rule of the same null has a median much below it. *SPRT told 3x*: Wald's
  sequential probability ratio test of the null boundary against exactly 3x, valid at
  every look and the fastest growth of evidence when the regression is exactly 3x (and
  powerless at 2x): what knowing the regression in advance would buy.
- **The looks bound the high base rates**: no verdict but the catastrophe guard's comes
  before `min_requests` (100 per arm), and the simulation looks every 100 canary
  requests, so no median here is below 100. At 10% and 30% the oracles need 10-260
  requests; the ratios in those rows measure the look schedule and `min_requests`, not
  the test.
- **Side table (2x, 10x)**: the median to rollback of a 2x, 3x and 10x regression with
  the rule's two-prior mixture, and in brackets with the single broad prior the rule
  used before (a = 4 pseudo errors at 3x): the tuning is not tuned to 3x only. The 2x and
  10x traffic comes from its own seeded streams.
- **... with promote_ratio 1.5**: the same null runs with `promote_ratio: 1.5`, i.e.
  promote once the canary is shown no worse than the rollback line.
"""


def _cells(text: str) -> list[tuple[float, float]]:
    cells = []
    for item in text.split(","):
        try:
            base, share = (float(part) for part in item.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not BASE:SHARE: {item!r}") from None
        if not (0 <= base < 1 and 0 < share < 1):
            raise argparse.ArgumentTypeError(f"need 0 <= base < 1, 0 < share < 1: {item!r}")
        cells.append((base, share))
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=2000, help="seeded runs per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the results file here")
    parser.add_argument(
        "--cells",
        type=_cells,
        default=None,
        help="only these cells, as BASE:SHARE fractions, e.g. 0.02:0.5,0.001:0.01",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"only the base rates {', '.join(_rate(b) for b in QUICK_BASE_RATES)} (every share)",
    )
    parser.add_argument("--no-oracle", action="store_true", help="skip the exact-test oracles")
    args = parser.parse_args(argv)
    grid = args.cells or (
        [(base, share) for base in QUICK_BASE_RATES for share in SHARES] if args.quick else None
    )
    if grid is not None and args.out is not None:
        parser.error("--out writes the full grid only (drop --cells / --quick)")
    started = time.perf_counter()
    cells = simulate(args.runs, args.seed, oracle=not args.no_oracle, cells=grid)
    elapsed = time.perf_counter() - started
    worst = max(cells, key=lambda c: c.false_rollback)
    report = "\n\n".join(
        [
            "## False rollbacks (canary = stable) and promotion of a good canary",
            table_false(cells),
            "## A 3x regression: canary requests to rollback",
            table_detect(cells),
            "## Other regressions: 2x and 10x beside 3x",
            table_side(cells),
            f"{args.runs} runs per cell, seed {args.seed}, a look every {STEP} canary "
            f"requests up to {CAP:,}, alpha {CanaryRule().alpha}; worst false-rollback "
            f"cell {_pct(worst.false_rollback)} ({_rate(worst.base)} base rate, "
            f"{worst.share:.0%} share); {elapsed:.0f} s on {platform.machine()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}.",
        ]
    )
    print(report)
    if args.out is not None:
        args.out.write_text(f"{HEADER}\n{report}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
