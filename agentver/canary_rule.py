"""The canary verdict rule (docs/design.md section 7): promote, continue or rollback.

Pure statistics on two arms' request and error counts, standard library only.

The rule
--------
1. ``continue`` until each arm has ``min_requests`` requests.
2. ``rollback`` when the canary's error rate exceeds ``rollback_ratio`` x the stable rate
   AND a one-sided test says the canary is worse than stable at level ``alpha``.
3. ``promote`` when the canary's rate is at most ``promote_ratio`` x the stable rate AND a
   non-inferiority test shows, at level ``promote_alpha``, that the canary is better than
   the rollback line (stable rate + margin, margin = (rollback_ratio - 1) x stable rate),
   so a handful of lucky requests cannot promote.
4. Otherwise ``continue``.

When the stable arm has no errors the ratio is undefined (reported as null): the ratio
conditions then use ``zero_error_floor`` (default 0.5%) in place of the stable rate, the
tests themselves still use the real counts. So a canary that starts failing against an
error-free stable arm is rolled back once its rate is clearly above 0.75%, and one that
stays error-free is promoted once enough traffic shows its rate below 0.25%.

Why an always-valid (sequential) test
--------------------------------------
``canary evaluate`` is run again and again on growing counts (by CI, by a cron, by the
``--apply`` loop). A fixed-sample test at alpha = 0.05 repeated every 100 requests rejects
a true null far more often than 5% of the time (bench/RESULTS-canary.md measures it).
So both tests are mixture sequential probability ratio tests (mSPRT; Robbins 1970,
Johari et al. 2017 "Always valid inference") on the normal approximation of the
difference of the two rates: with z the usual two-proportion statistic, V its variance
and tau the scale of the mixing distribution,

    Lambda = sqrt(V / (V + tau^2)) * exp(z^2 * tau^2 / (2 * (V + tau^2)))

and the always-valid p-value is min(1, 1 / Lambda). By Ville's inequality the chance that
Lambda ever reaches 1 / alpha under the null is at most alpha, however often and whenever
the rule is evaluated, and the verdict stays a pure function of the current counts (no
state to keep between evaluations). ``alpha`` defaults to 0.01 so that this bound is
itself the target of fewer than 1% false rollbacks (measured: 0.1-0.3%). The price is a
somewhat later decision than a single fixed-sample test, which the simulation shows is
small (a 3x regression is caught within a few hundred canary requests).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from agentver.errors import UsageError

VerdictName = Literal["promote", "continue", "rollback"]


@dataclass(frozen=True)
class ArmStats:
    requests: int
    errors: int

    def __post_init__(self) -> None:
        if not 0 <= self.errors <= self.requests:
            raise ValueError(f"need 0 <= errors <= requests, got {self.errors}/{self.requests}")

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "error_rate": self.error_rate}


@dataclass(frozen=True)
class CanaryRule:
    rollback_ratio: float = 1.5
    promote_ratio: float = 1.1
    min_requests: int = 100  # per arm
    alpha: float = 0.01  # rollback: one-sided, always-valid (anytime) level
    promote_alpha: float = 0.05  # promote: non-inferiority, always-valid level
    zero_error_floor: float = 0.005  # stands in for the stable rate when it is 0
    # Optional latency guard (None: off): rollback when the canary's mean latency_ms is
    # above this multiple of stable's. See agentver.canary_eval.latency_check.
    latency_ratio: float | None = None

    def __post_init__(self) -> None:
        problems = _rule_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_settings(
        cls, raw: Mapping[str, object], where: str, base: CanaryRule | None = None
    ) -> CanaryRule:
        """Parse a ``canary:`` mapping of agentver.yaml; ``base`` supplies unset keys.

        ``where`` names the place in messages, e.g. ``agentver.yaml: canary.support``.
        """
        if not isinstance(raw, Mapping):
            raise UsageError(
                f"{where}: must be a mapping of canary settings, got {type(raw).__name__}",
                hint=f"valid keys: {', '.join(_KEYS)}",
            )
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = str(key)
            if name not in _KEYS:
                close = difflib.get_close_matches(name, _KEYS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(_KEYS)}"
                raise UsageError(f"{where}: unknown canary setting {name!r}", hint=hint)
            values[name] = _setting_value(name, value, where)
        try:  # only the cross-key check can fail here: promote_ratio <= rollback_ratio
            return replace(base or cls(), **values)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}", hint="see docs/canary.md") from exc


_KEYS = tuple(f.name for f in fields(CanaryRule))
_INT_KEYS = ("min_requests",)
_OPTIONAL_KEYS = ("latency_ratio",)  # null in agentver.yaml turns the check off


_CHECKS: dict[str, tuple[Any, str]] = {
    "rollback_ratio": (lambda v: v > 1, "must be greater than 1"),
    "promote_ratio": (lambda v: v > 0, "must be greater than 0"),
    "min_requests": (lambda v: v >= 1, "must be at least 1"),
    "alpha": (lambda v: 0 < v < 0.5, "must be between 0 and 0.5"),
    "promote_alpha": (lambda v: 0 < v < 0.5, "must be between 0 and 0.5"),
    "zero_error_floor": (lambda v: 0 < v < 1, "must be between 0 and 1"),
    "latency_ratio": (lambda v: v > 1, "must be greater than 1 (or null for no latency check)"),
}


def _setting_value(name: str, value: object, where: str) -> int | float | None:
    if value is None and name in _OPTIONAL_KEYS:
        return None
    wanted = "an integer" if name in _INT_KEYS else "a number"
    ok_type = (int,) if name in _INT_KEYS else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise UsageError(f"{where}: canary setting {name!r} must be {wanted}, got {value!r}")
    assert isinstance(value, (int, float))
    good, message = _CHECKS[name]
    if not math.isfinite(value) or not good(value):
        raise UsageError(f"{where}: canary setting {name!r} {message}, got {value!r}")
    return value


def _rule_problems(rule: CanaryRule) -> list[str]:
    problems = [
        f"{name!r} {message}, got {getattr(rule, name)!r}"
        for name, (good, message) in _CHECKS.items()
        if not (getattr(rule, name) is None and name in _OPTIONAL_KEYS)
        and (getattr(rule, name) is None or not good(getattr(rule, name)))
    ]
    if not problems and rule.promote_ratio > rule.rollback_ratio:
        problems.append(
            f"'promote_ratio' ({rule.promote_ratio}) must not exceed "
            f"'rollback_ratio' ({rule.rollback_ratio})"
        )
    return problems


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    stable: ArmStats
    canary: ArmStats
    ratio: float | None
    statistic: float | None  # z of the test that decided (or of the rollback test)
    p_value: float | None  # always-valid p-value of that test
    rule: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "stable": self.stable.to_json(),
            "canary": self.canary.to_json(),
            "reason": self.reason,
            "ratio": self.ratio,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "rule": self.rule,
        }


def msprt_p_value(z: float, variance: float, tau: float) -> float:
    """Always-valid one-sided p-value for a normal statistic ``z`` (positive = evidence)."""
    if z <= 0 or variance <= 0:
        return 1.0
    tau2 = tau * tau
    log_lambda = 0.5 * math.log(variance / (variance + tau2)) + z * z * tau2 / (
        2 * (variance + tau2)
    )
    return 1.0 if log_lambda <= 0 else math.exp(-log_lambda)


def worse_test(stable: ArmStats, canary: ArmStats, tau: float) -> tuple[float | None, float]:
    """Is the canary's error rate higher than stable's? Pooled two-proportion z, mSPRT p."""
    pooled = (stable.errors + canary.errors) / (stable.requests + canary.requests)
    variance = pooled * (1 - pooled) * (1 / stable.requests + 1 / canary.requests)
    if variance <= 0:
        return None, 1.0
    z = (canary.error_rate - stable.error_rate) / math.sqrt(variance)
    return z, msprt_p_value(z, variance, tau)


def not_worse_test(
    stable: ArmStats, canary: ArmStats, margin: float, tau: float
) -> tuple[float | None, float]:
    """Is the canary's rate below stable's + ``margin``? Variance taken at that boundary,
    so an error-free canary on a small sample does not look infinitely certain."""
    p_stable = stable.error_rate
    # Capped at 0.5, the largest p(1-p): conservative, and never 0 when the line is >= 100%.
    p_boundary = min(0.5, p_stable + margin)
    variance = (
        p_boundary * (1 - p_boundary) / canary.requests
        + p_stable * (1 - p_stable) / stable.requests
    )
    if variance <= 0:
        return None, 1.0
    z = (p_stable + margin - canary.error_rate) / math.sqrt(variance)
    return z, msprt_p_value(z, variance, tau)


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def evaluate(stable: ArmStats, canary: ArmStats, rule: CanaryRule) -> Verdict:
    """The verdict for the counts so far under ``rule`` (see the module docstring)."""

    def verdict(
        name: VerdictName, which: str, reason: str, stat: float | None, p: float | None
    ) -> Verdict:
        return Verdict(name, stable, canary, ratio, stat, p, which, reason)

    p_s, p_c = stable.error_rate, canary.error_rate
    ratio = p_c / p_s if stable.errors and stable.requests else None
    rates = f"canary {_pct(p_c)} vs stable {_pct(p_s)}"
    if stable.requests < rule.min_requests or canary.requests < rule.min_requests:
        return verdict(
            "continue",
            "min-requests",
            f"not enough traffic yet: {canary.requests} canary and {stable.requests} stable "
            f"requests, need {rule.min_requests} in each arm",
            None,
            None,
        )

    zero = stable.errors == 0
    reference = rule.zero_error_floor if zero else p_s
    compared = (
        f"stable has no errors, so compared with the {_pct(reference)} floor"
        if zero
        else f"ratio {ratio:.2f}"
    )
    margin = (rule.rollback_ratio - 1) * reference
    # The mixing scale: alternatives of the size the rule cares about (one margin). A
    # mixture over larger scales too catches gross regressions a little sooner but, with
    # the normal approximation on few errors, doubled false rollbacks in bench/: not used.
    tau = margin

    z, p_worse = worse_test(stable, canary, tau)
    if p_c > rule.rollback_ratio * reference:
        prefix = "zero-stable" if zero else "ratio"
        if p_worse <= rule.alpha:
            return verdict(
                "rollback",
                f"{prefix}+significance",
                f"{rates} ({compared}, above {rule.rollback_ratio}x) and significantly worse "
                f"(z={z:.2f}, always-valid p={p_worse:.2g} <= {rule.alpha})",
                z,
                p_worse,
            )
        return verdict(
            "continue",
            f"{prefix}-not-significant",
            f"{rates} ({compared}, above {rule.rollback_ratio}x) but not yet significant "
            f"(always-valid p={p_worse:.2g} > {rule.alpha})",
            z,
            p_worse,
        )

    if p_c <= rule.promote_ratio * reference:
        z_ni, p_ni = not_worse_test(stable, canary, margin, tau)
        prefix = "zero-stable" if zero else "ratio"
        if p_ni <= rule.promote_alpha:
            return verdict(
                "promote",
                f"{prefix}+non-inferiority",
                f"{rates} ({compared}, at most {rule.promote_ratio}x) and shown below the "
                f"rollback line of {_pct(p_s + margin)} "
                f"(always-valid p={p_ni:.2g} <= {rule.promote_alpha})",
                z_ni,
                p_ni,
            )
        return verdict(
            "continue",
            f"{prefix}-not-shown-non-inferior",
            f"{rates} ({compared}, at most {rule.promote_ratio}x) but not enough traffic yet "
            f"to show it below {_pct(p_s + margin)} (always-valid p={p_ni:.2g})",
            z_ni,
            p_ni,
        )

    return verdict(
        "continue",
        "between-thresholds",
        f"{rates} ({compared}): between {rule.promote_ratio}x and {rule.rollback_ratio}x",
        z,
        p_worse,
    )


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(
            f"{where} must be a non-negative integer, got {json.dumps(value)}",
            hint='expected {"stable": {"requests": 1000, "errors": 12}, "canary": {...}}',
        )
    if value < 0:
        raise UsageError(f"{where} must be a non-negative integer, got {value}")
    return value


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_metrics(text: str, source: str) -> tuple[ArmStats, ArmStats]:
    """The ``--metrics FILE`` JSON: ``{"stable": {"requests", "errors"}, "canary": {...}}``.

    Extra keys are ignored; anything else wrong is a UsageError naming ``source``.
    """
    hint = 'expected {"stable": {"requests": 1000, "errors": 12}, "canary": {...}}'
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}", hint=hint
        ) from exc
    except ValueError as exc:  # duplicate key from the hook
        raise UsageError(f"{source}: not valid metrics: {exc}", hint=hint) from exc
    if not isinstance(data, dict):
        raise UsageError(f"{source}: metrics must be a JSON object", hint=hint)
    arms: list[ArmStats] = []
    for arm in ("stable", "canary"):
        if arm not in data:
            raise UsageError(f"{source}: missing {arm!r}", hint=hint)
        counts = data[arm]
        if not isinstance(counts, dict):
            raise UsageError(f"{source}: {arm!r} must be an object", hint=hint)
        found: dict[str, int] = {}
        for key in ("requests", "errors"):
            if key not in counts:
                raise UsageError(f"{source}: missing {arm}.{key}", hint=hint)
            found[key] = _count(counts[key], f"{source}: {arm}.{key}")
        if found["errors"] > found["requests"]:
            raise UsageError(
                f"{source}: {arm}.errors ({found['errors']}) exceeds "
                f"{arm}.requests ({found['requests']})"
            )
        arms.append(ArmStats(found["requests"], found["errors"]))
    return arms[0], arms[1]
