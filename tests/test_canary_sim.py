"""The simulation's machinery (bench/canary_sim.py), on a tiny scale: its vectorised
mathematics equals agentver's, its verdicts are checked against ``decide``, its oracle
is the smallest n with 80% power. The full run is ``python -m bench.canary_sim``."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from agentver.canary import CanaryRule, stats
from agentver.canary.rule import rollback_mixture
from bench import canary_sim as sim


def test_vectorised_lgamma_matches_math() -> None:
    xs = np.array([1e-9, 0.5, 1.0, 3.7, 7.99, 8.0, 123.4, 1e6, 2.5e9])
    expected = [math.lgamma(x) for x in xs]
    assert sim.lgamma(xs) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_vectorised_e_value_matches_agentver() -> None:
    prior = (4.0, 50.0)
    for x, total in [(3, 10), (40, 300), (5_000, 100_000)]:
        ours = sim.log_beta_lr(np.array([float(x)]), np.array([float(total)]), 0.02, prior)[0]
        assert ours == pytest.approx(
            stats.log_binomial_mixture_e(x, total, 0.02, prior, upper=True), rel=1e-9
        )


def test_vectorised_mixture_matches_agentver() -> None:
    mixture = rollback_mixture(1.5, 100, 1_900)
    p0 = stats.share_null(1.5, 100, 1_900)
    for x, total in [(3, 10), (40, 300), (5_000, 100_000)]:
        ours = sim.log_mixture_lr(np.array([float(x)]), np.array([float(total)]), p0, mixture)
        assert ours[0] == pytest.approx(stats.log_mixture_lr(x, total, p0, mixture), rel=1e-9)


def test_thresholds_are_the_first_rejecting_counts() -> None:
    p0, level = 0.07, math.log(100)
    mixture = ((0.75, (32.0, 200.0)), (0.25, (4.0, 25.0)))
    table = sim.upper_threshold(300, p0, mixture, level)
    for total in (0, 1, 17, 120, 300):
        k = int(table[total])
        assert k == total + 1 or stats.log_mixture_e(k, total, p0, mixture, True) >= level
        if k - 1 >= 0:
            assert stats.log_mixture_e(k - 1, total, p0, mixture, True) < level


def test_known_alternative_thresholds_are_the_first_rejecting_counts() -> None:
    rule = CanaryRule()
    table = sim.known_alternative_table(0.05, 400, rule, 3.0)
    p0 = stats.share_null(1.5, sim.STEP, sim.stable_step(0.05))
    p1 = stats.share_null(3.0, sim.STEP, sim.stable_step(0.05))

    def log_lr(x: int, total: int) -> float:
        return x * math.log(p1 / p0) + (total - x) * math.log((1 - p1) / (1 - p0))

    for total in (0, 1, 50, 133, 400):
        k = int(table[total])
        assert k == total + 1 or log_lr(k, total) >= math.log(100)
        assert k - 1 < 0 or k - 1 <= p0 * total or log_lr(k - 1, total) < math.log(100)


def test_a_small_cell_is_valid_checked_against_decide_and_deterministic() -> None:
    # simulate_cell raises if a sampled verdict of its tables differs from decide().
    cell = sim.simulate_cell(0.02, 0.05, runs=60, seed=3, rule=CanaryRule(), oracle=False)
    assert cell.false_rollback <= 0.05
    assert cell.caught == 1.0 and cell.within >= 0.9  # 3x on a 2% base rate
    assert cell.median is not None and cell.median <= 2_000
    assert cell.plain_false_rollback > 0.1  # the original ratio rule rolls back good canaries
    again = sim.simulate_cell(0.02, 0.05, runs=60, seed=3, rule=CanaryRule(), oracle=False)
    assert again == cell
    # the side regressions: a 10x is caught before a 3x, a 2x (if ever) after it
    assert set(cell.side) == {2.0, 3.0, 10.0} and cell.side[3.0][0] == cell.median
    fast, slow = cell.side[10.0][0], cell.side[2.0][0]
    assert fast is not None and fast <= cell.median and (slow is None or slow >= cell.median)


def test_cells_option_parses_and_refuses_bad_cells() -> None:
    assert sim._cells("0.02:0.5,0:0.01") == [(0.02, 0.5), (0.0, 0.01)]
    for bad in ("0.02", "x:0.5", "0.02:1.5", "1:0.5"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"BASE:SHARE|need"):
            sim._cells(bad)
    with pytest.raises(SystemExit):  # a partial grid never overwrites the results file
        sim.main(["--quick", "--out", "/nonexistent/RESULTS.md"])


def test_oracle_is_the_smallest_n_with_80_percent_power() -> None:
    rule = CanaryRule()
    n = sim.oracle_n(0.05, 0.10, "same-null", rule)
    assert n is not None
    power_at = sim.power(n, 0.05, 0.10, 0.30, "same-null", rule.alpha, rule.rollback_ratio)
    before = sim.power(n - 10, 0.05, 0.10, 0.30, "same-null", rule.alpha, rule.rollback_ratio)
    assert power_at >= 0.8 > before
    fisher = sim.oracle_n(0.05, 0.10, "fisher", rule)
    assert fisher is not None and fisher < n  # "worse at all" is easier than "worse than 1.5x"
