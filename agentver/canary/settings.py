"""The canary settings of agentver.yaml (``canary:``, docs/design.md section 7).

Every key is optional; docs/canary.md explains what each one means for the test.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from agentver.errors import UsageError


@dataclass(frozen=True)
class CanaryRule:
    rollback_ratio: float = 1.5  # rollback: shown worse than this x stable's rate
    promote_ratio: float = 1.1  # promote: shown no worse than this x stable's rate ...
    min_requests: int = 100  # per arm, before any verdict but the catastrophe guard
    alpha: float = 0.01  # bound on false rollbacks, however often evaluated
    promote_alpha: float = 0.05  # bound on promoting a canary worse than promote_ratio
    zero_error_floor: float = 0.001  # ... or its own rate shown below this (absolute)
    # "Slower than this" is a second binary metric, tested like errors (None: off).
    latency_threshold_ms: float | None = None
    # Mean score (0..1) lower than stable's by more than this, shown: rollback (None: off).
    quality_tolerance: float | None = None

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
            if name in _REPLACED:
                raise UsageError(f"{where}: canary setting {name!r} was removed", _REPLACED[name])
            if name not in _KEYS:
                close = difflib.get_close_matches(name, _KEYS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(_KEYS)}"
                raise UsageError(f"{where}: unknown canary setting {name!r}", hint=hint)
            values[name] = _setting_value(name, value, where)
        try:  # only the cross-key check can fail here: promote_ratio <= rollback_ratio
            return replace(base or cls(), **values)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}", hint="see docs/canary.md") from exc

    @property
    def guarded_metrics(self) -> tuple[str, ...]:
        """The metrics this rule tests: errors always, latency and quality when set."""
        metrics = ["errors"]
        if self.latency_threshold_ms is not None:
            metrics.append("latency")
        if self.quality_tolerance is not None:
            metrics.append("quality")
        return tuple(metrics)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _KEYS}


_KEYS = tuple(f.name for f in fields(CanaryRule))
_INT_KEYS = ("min_requests",)
_OPTIONAL_KEYS = ("latency_threshold_ms", "quality_tolerance")  # null turns the check off
_REPLACED = {
    "latency_ratio": "a ratio of mean latencies is not a test; set latency_threshold_ms "
    "(e.g. 3000) and requests slower than it are tested like errors (docs/canary.md)",
}


_CHECKS: dict[str, tuple[Any, str]] = {
    "rollback_ratio": (lambda v: v > 1, "must be greater than 1"),
    "promote_ratio": (lambda v: v > 1, "must be greater than 1"),
    "min_requests": (lambda v: v >= 1, "must be at least 1"),
    "alpha": (lambda v: 0 < v < 0.5, "must be between 0 and 0.5"),
    "promote_alpha": (lambda v: 0 < v < 0.5, "must be between 0 and 0.5"),
    "zero_error_floor": (lambda v: 0 < v < 1, "must be between 0 and 1"),
    "latency_threshold_ms": (lambda v: v > 0, "must be a number of ms > 0 (or null: off)"),
    "quality_tolerance": (lambda v: 0 <= v < 1, "must be between 0 and 1 (or null: off)"),
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
