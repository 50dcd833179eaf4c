"""Simulate canary evaluation: agentver's rule versus the plain ratio rule.

    python -m bench.canary_sim [--runs N] [--seed S] [--cap C]

Synthetic traffic: stable fails 2% of requests, the canary 2%, 3% or 6%; the canary gets
5% or 25% of the traffic. After every 100 canary requests (and the matching stable
requests) both rules are evaluated on the counts so far; a run ends for a rule at its
first verdict other than ``continue``, or at the cap of canary requests. Deterministic
for a given seed. Standard library only.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass

from agentver.canary_rule import ArmStats, CanaryRule, evaluate, worse_test

STABLE_RATE = 0.02
CANARY_RATES = (0.02, 0.03, 0.06)
SHARES = (0.05, 0.25)
STEP = 100  # canary requests between evaluations
DETECT_WITHIN = 2_000  # the target: catch a 3x regression within this many canary requests


def binomial(n: int, p: float, rng: random.Random) -> int:
    """Exact binomial draw by geometric waiting times (about n*p + 1 iterations)."""
    if p <= 0 or n <= 0:
        return 0
    if p >= 1:
        return n
    log_q = math.log1p(-p)
    count, position = 0, 0
    while True:
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position > n:
            return count
        count += 1


def plain_rule(stable: ArmStats, canary: ArmStats) -> str:
    """The original design's rule: no minimum, no test. 0 stable errors: any canary error
    counts as an infinite ratio, none as equal."""
    if stable.errors == 0:
        ratio = math.inf if canary.errors else 1.0
    else:
        ratio = canary.error_rate / stable.error_rate
    if ratio > 1.5:
        return "rollback"
    if ratio <= 1.1:
        return "promote"
    return "continue"


def fixed_z_rule(stable: ArmStats, canary: ArmStats, rule: CanaryRule) -> str:
    """agentver's rule with its rollback test swapped for a fixed-sample one-sided z-test
    at 0.05 applied at every look: shows why the sequential test is needed."""
    result = evaluate(stable, canary, rule)
    if result.rule == "ratio-not-significant":
        z, _ = worse_test(stable, canary, tau=1.0)
        if z is not None and z >= FIXED_Z:
            return "rollback"
    return result.verdict


FIXED_Z = 1.6448536269514722  # one-sided 5% critical value of the standard normal
RULES = ("agentver", "ratio + z-test each look (alpha 0.05)", "plain ratio")


@dataclass
class Outcome:
    verdict: str  # promote / rollback / continue (= reached the cap)
    at: int  # canary requests when the verdict came (the cap for continue)


def run_once(
    rng: random.Random, canary_rate: float, share: float, rule: CanaryRule, cap: int, step: int
) -> list[Outcome]:
    """One synthetic canary; the outcome of each rule in RULES, in that order."""
    stable_step = round(step * (1 - share) / share)
    s_req = s_err = c_req = c_err = 0
    outcomes: list[Outcome | None] = [None] * len(RULES)
    while c_req < cap and any(o is None for o in outcomes):
        s_req += stable_step
        s_err += binomial(stable_step, STABLE_RATE, rng)
        c_req += step
        c_err += binomial(step, canary_rate, rng)
        stable, canary = ArmStats(s_req, s_err), ArmStats(c_req, c_err)
        for index, outcome in enumerate(outcomes):
            if outcome is not None:
                continue
            verdict: str
            if index == 0:
                verdict = evaluate(stable, canary, rule).verdict
            elif index == 1:
                verdict = fixed_z_rule(stable, canary, rule)
            else:
                verdict = plain_rule(stable, canary)
            if verdict != "continue":
                outcomes[index] = Outcome(verdict, c_req)
    return [o or Outcome("continue", cap) for o in outcomes]


@dataclass
class CellSummary:
    canary_rate: float
    share: float
    rule: str
    runs: int
    rollback: float
    promote: float
    undecided: float
    rollback_within: float  # share of runs rolled back within DETECT_WITHIN canary requests
    rollback_median: float | None  # canary requests to a rollback, over rolled-back runs
    rollback_p95: float | None
    promote_median: float | None


def _quantile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)])


def summarize(canary_rate: float, share: float, name: str, outcomes: list[Outcome]) -> CellSummary:
    runs = len(outcomes)
    rolled = [o.at for o in outcomes if o.verdict == "rollback"]
    promoted = [o.at for o in outcomes if o.verdict == "promote"]
    return CellSummary(
        canary_rate=canary_rate,
        share=share,
        rule=name,
        runs=runs,
        rollback=len(rolled) / runs,
        promote=len(promoted) / runs,
        undecided=(runs - len(rolled) - len(promoted)) / runs,
        rollback_within=sum(1 for at in rolled if at <= DETECT_WITHIN) / runs,
        rollback_median=float(statistics.median(rolled)) if rolled else None,
        rollback_p95=_quantile(rolled, 0.95),
        promote_median=float(statistics.median(promoted)) if promoted else None,
    )


def simulate(
    runs: int, seed: int, cap: int = 10_000, step: int = STEP, rule: CanaryRule | None = None
) -> list[CellSummary]:
    """Every cell (canary rate x share) for every rule, ``runs`` seeded runs each."""
    rule = rule or CanaryRule()
    summaries: list[CellSummary] = []
    cells = [(rate, share) for rate in CANARY_RATES for share in SHARES]
    for cell, (canary_rate, share) in enumerate(cells):
        per_rule: list[list[Outcome]] = [[] for _ in RULES]
        for run in range(runs):
            rng = random.Random(f"{seed}:{cell}:{run}")
            for outcomes, outcome in zip(
                per_rule, run_once(rng, canary_rate, share, rule, cap, step), strict=True
            ):
                outcomes.append(outcome)
        for name, outcomes in zip(RULES, per_rule, strict=True):
            summaries.append(summarize(canary_rate, share, name, outcomes))
    return summaries


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(summaries: list[CellSummary]) -> str:
    lines = [
        "| canary rate | canary share | rule | rollback | promote | undecided at cap "
        f"| rollback within {DETECT_WITHIN:,} | median / p95 to rollback | median to promote |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.canary_rate:.0%} | {s.share:.0%} | {s.rule} | {s.rollback:.1%} "
            f"| {s.promote:.1%} | {s.undecided:.1%} | {s.rollback_within:.1%} "
            f"| {_num(s.rollback_median)} / {_num(s.rollback_p95)} "
            f"| {_num(s.promote_median)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=2000, help="seeded runs per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cap", type=int, default=10_000, help="canary requests per run")
    parser.add_argument("--step", type=int, default=STEP, help="canary requests between looks")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summaries = simulate(args.runs, args.seed, args.cap, args.step)
    elapsed = time.perf_counter() - started
    print(table(summaries))
    print(
        f"\n{args.runs} runs per cell, seed {args.seed}, cap {args.cap:,} canary requests, "
        f"stable rate {STABLE_RATE:.0%}, evaluated every {args.step} canary requests; "
        f"{elapsed:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
