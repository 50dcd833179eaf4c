"""``canary evaluate``: gather per-arm metrics, pick the agent's rule, judge, act.

The library half of the command (the CLI only parses options and renders):

- ``rule_for(settings, agent)``: the ``canary:`` section of agentver.yaml, global keys
  layered with ``canary.agents.<agent>`` over the defaults of ``CanaryRule``;
- ``metrics_from_store`` / ``metrics_from_file``: per-arm counts, from the outcomes the
  runtime recorded under the running canary's salt, or from a ``--metrics`` JSON file;
- ``evaluate_canary``: the verdict of ``canary_rule.evaluate`` plus the optional latency
  guard, with everything the output and the commit message need;
- ``apply_verdict``: promote -> ``canary promote``, rollback -> ``canary abort`` (the same
  ``deploy.canary_end`` compute, one pointer commit recording the verdict), continue ->
  nothing; ``sync_store`` then publishes HEAD like ``agentver sync``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentver.agentfile import check_agent_id, is_agent_id
from agentver.canary_rule import ArmStats, CanaryRule, Verdict, evaluate, parse_metrics
from agentver.deploy.changes import canary_end
from agentver.deploy.transaction import Outcome, transact
from agentver.errors import PointerError, UsageError
from agentver.models import Canary, Pointer
from agentver.settings import SETTINGS_FILE, Settings
from agentver.store import Store, SyncPlan
from agentver.workspace import Workspace

AGENTS_KEY = "agents"  # canary.agents.<agent_id>: per-agent overrides


@dataclass(frozen=True)
class ArmMetrics:
    """One arm's counts plus its mean latency when known (``latency_count`` samples)."""

    stats: ArmStats
    latency_count: int = 0
    latency_mean_ms: float | None = None


@dataclass(frozen=True)
class Metrics:
    stable: ArmMetrics
    canary: ArmMetrics
    source: str  # "store sqlite:///..." or "file metrics.json"


@dataclass(frozen=True)
class LatencyCheck:
    """The latency guard's finding; ``ratio`` is canary mean / stable mean."""

    stable_mean_ms: float | None
    canary_mean_ms: float | None
    ratio: float | None
    limit: float
    regressed: bool
    measured: bool  # both arms have min_requests latency samples and stable mean > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "stable_mean_ms": self.stable_mean_ms,
            "canary_mean_ms": self.canary_mean_ms,
            "ratio": self.ratio,
            "limit": self.limit,
            "measured": self.measured,
            "regressed": self.regressed,
        }


@dataclass(frozen=True)
class Evaluation:
    agent: str
    environment: str
    stable_version: int
    canary: Canary
    metrics: Metrics
    rule: CanaryRule
    verdict: Verdict
    latency: LatencyCheck | None = None

    def to_json(self) -> dict[str, Any]:
        """docs/design.md's ``canary evaluate --json`` shape, plus the numbers behind it."""
        verdict = self.verdict
        stable = {"version": self.stable_version, **verdict.stable.to_json()}
        canary = {"version": self.canary.version, **verdict.canary.to_json()}
        return {
            "agent": self.agent,
            "environment": self.environment,
            "verdict": verdict.verdict,
            "stable": stable,
            "canary": canary,
            "reason": verdict.reason,
            "ratio": verdict.ratio,
            "statistic": verdict.statistic,
            "p_value": verdict.p_value,
            "rule": verdict.rule,
            "percent": self.canary.percent,
            "source": self.metrics.source,
            "settings": {
                "rollback_ratio": self.rule.rollback_ratio,
                "promote_ratio": self.rule.promote_ratio,
                "min_requests": self.rule.min_requests,
                "alpha": self.rule.alpha,
                "promote_alpha": self.rule.promote_alpha,
                "zero_error_floor": self.rule.zero_error_floor,
                "latency_ratio": self.rule.latency_ratio,
            },
            "latency": self.latency.to_json() if self.latency else None,
        }

    def commit_note(self) -> str:
        """Appended to the pointer commit message: the verdict (subject) and its numbers."""
        v = self.verdict
        lines = [
            f" (canary evaluate: {v.verdict})",
            "",
            f"verdict: {v.verdict} ({v.rule})",
            f"reason: {v.reason}",
            _arm_line("stable", self.stable_version, v.stable),
            _arm_line("canary", self.canary.version, v.canary),
            f"ratio: {_fmt(v.ratio)}  statistic: {_fmt(v.statistic)}  p-value: {_fmt(v.p_value, '.3g')}",
        ]
        if self.latency is not None:
            lines.append(
                f"latency: canary {_fmt(self.latency.canary_mean_ms, '.1f')} ms vs stable "
                f"{_fmt(self.latency.stable_mean_ms, '.1f')} ms mean, limit "
                f"{self.latency.limit}x"
            )
        lines.append(f"metrics: {self.metrics.source}, canary salt {self.canary.salt}")
        return "\n".join(lines)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def _arm_line(name: str, version: int, arm: ArmStats) -> str:
    return (
        f"{name} v{version}: {arm.requests} requests, {arm.errors} errors, "
        f"error rate {arm.error_rate * 100:.2f}%"
    )


# -- settings ------------------------------------------------------------------------


def rule_for(settings: Settings, agent: str) -> CanaryRule:
    """``canary:`` of agentver.yaml: defaults <- global keys <- ``agents.<agent>`` keys."""
    section = settings.raw.get("canary")
    if section is None:
        return CanaryRule()
    where = f"{SETTINGS_FILE}: canary"
    if not isinstance(section, Mapping):
        return CanaryRule.from_settings(section, where)  # raises: must be a mapping
    overrides = section.get(AGENTS_KEY)
    global_keys = {key: value for key, value in section.items() if key != AGENTS_KEY}
    rule = CanaryRule.from_settings(global_keys, where)
    if overrides is None:
        return rule
    if not isinstance(overrides, Mapping):
        raise UsageError(
            f"{where}.{AGENTS_KEY}: must map agent ids to canary settings",
            hint="e.g. canary: {agents: {support: {rollback_ratio: 1.3}}}",
        )
    for name in overrides:
        if not is_agent_id(str(name)):  # a malformed id can never match: say so
            raise UsageError(f"{where}.{AGENTS_KEY}: {name!r} is not a valid agent id")
    own = overrides.get(agent)
    if own is None:
        return rule
    return CanaryRule.from_settings(own, f"{where}.{AGENTS_KEY}.{agent}", base=rule)


# -- metrics -------------------------------------------------------------------------


def running_canary(pointer: Pointer) -> Canary:
    if pointer.canary is None or pointer.active is None:
        raise UsageError(
            f"{pointer.agent} has no canary running in {pointer.environment}; nothing to evaluate",
            f"start one: agentver canary start {pointer.agent} <version> --percent 10 "
            f"--env {pointer.environment}",
        )
    return pointer.canary


def metrics_from_store(store: Store, pointer: Pointer) -> Metrics:
    """Outcomes recorded under the running canary's salt, per arm (not by clock time)."""
    canary = running_canary(pointer)
    counts = store.outcome_counts(pointer.agent, pointer.environment, canary.salt)
    arms = []
    for variant in ("stable", "canary"):
        arm = counts.get(variant)
        if arm is None:
            arms.append(ArmMetrics(ArmStats(0, 0)))
            continue
        arms.append(
            ArmMetrics(ArmStats(arm.requests, arm.errors), arm.latency_count, arm.latency_mean_ms)
        )
    return Metrics(arms[0], arms[1], f"store {store.url}")


def metrics_from_file(path: Path) -> Metrics:
    """The ``--metrics FILE`` JSON (docs/design.md section 7); an arm may also carry an
    optional ``latency_mean_ms`` (a number >= 0, taken over all its requests)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"metrics file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read metrics file {path}: {exc}") from None
    source = str(path)
    stable, canary = parse_metrics(text, source)
    data = json.loads(text)  # valid: parse_metrics accepted it
    arms = []
    for name, stats in (("stable", stable), ("canary", canary)):
        mean = data[name].get("latency_mean_ms")
        if mean is not None and (
            isinstance(mean, bool)
            or not isinstance(mean, (int, float))
            or not math.isfinite(mean)
            or mean < 0
        ):
            raise UsageError(
                f"{source}: {name}.latency_mean_ms must be a number >= 0, got {json.dumps(mean)}"
            )
        count = stats.requests if mean is not None else 0
        arms.append(ArmMetrics(stats, count, None if mean is None else float(mean)))
    return Metrics(arms[0], arms[1], f"file {source}")


# -- the verdict ---------------------------------------------------------------------


def latency_check(metrics: Metrics, rule: CanaryRule) -> LatencyCheck | None:
    """Mean latency of the canary versus ``latency_ratio`` x stable's (None when off).

    The store keeps count, mean and max per arm (no variance), so this is a threshold on
    means once each arm has ``min_requests`` samples, meant for gross regressions.
    """
    if rule.latency_ratio is None:
        return None
    stable, canary = metrics.stable, metrics.canary
    measured = (
        stable.latency_count >= rule.min_requests
        and canary.latency_count >= rule.min_requests
        and stable.latency_mean_ms is not None
        and canary.latency_mean_ms is not None
        and stable.latency_mean_ms > 0
    )
    ratio = None
    if measured:
        assert stable.latency_mean_ms is not None and canary.latency_mean_ms is not None
        ratio = canary.latency_mean_ms / stable.latency_mean_ms
    return LatencyCheck(
        stable.latency_mean_ms,
        canary.latency_mean_ms,
        ratio,
        rule.latency_ratio,
        regressed=ratio is not None and ratio > rule.latency_ratio,
        measured=measured,
    )


def judge(metrics: Metrics, rule: CanaryRule) -> tuple[Verdict, LatencyCheck | None]:
    """The error-rate verdict, overridden by the latency guard when it is on:
    a latency regression rolls back; without latency data a promote waits (continue)."""
    verdict = evaluate(metrics.stable.stats, metrics.canary.stats, rule)
    latency = latency_check(metrics, rule)
    if latency is None or verdict.rule == "min-requests":
        return verdict, latency
    if latency.regressed and verdict.verdict != "rollback":
        assert latency.ratio is not None
        reason = (
            f"canary mean latency {latency.canary_mean_ms:.1f} ms is {latency.ratio:.2f}x "
            f"stable's {latency.stable_mean_ms:.1f} ms, above {latency.limit}x "
            f"(error rates: {verdict.reason})"
        )
        return replace(verdict, verdict="rollback", rule="latency", reason=reason), latency
    if not latency.measured and verdict.verdict == "promote":
        reason = (
            f"{verdict.reason}; but latency is not measured yet (need {rule.min_requests} "
            "latency_ms samples in each arm for the latency check)"
        )
        return replace(verdict, verdict="continue", rule="latency-not-measured", reason=reason), (
            latency
        )
    return verdict, latency


def evaluate_canary(
    ws: Workspace,
    environment: str,
    agent: str,
    *,
    store: Store | None = None,
    metrics_file: Path | None = None,
) -> Evaluation:
    """Judge the canary of ``agent`` in ``environment`` from exactly one metrics source."""
    if (store is None) == (metrics_file is None):
        raise UsageError("give exactly one metrics source: a store or a metrics file")
    pointer = ws.pointer(environment, check_agent_id(agent))
    canary = running_canary(pointer)
    assert pointer.active is not None
    rule = rule_for(ws.settings, agent)
    if store is not None:
        metrics = metrics_from_store(store, pointer)
    else:
        assert metrics_file is not None
        metrics = metrics_from_file(metrics_file)
    verdict, latency = judge(metrics, rule)
    return Evaluation(
        agent, environment, pointer.active.version, canary, metrics, rule, verdict, latency
    )


# -- acting on it --------------------------------------------------------------------


def apply_verdict(
    ws: Workspace, evaluation: Evaluation, *, no_commit: bool = False
) -> Outcome | None:
    """promote -> ``canary promote``, rollback -> ``canary abort``, continue -> None.

    The pointer must still hold the canary that was judged (same salt), else nothing is
    written: a verdict about one canary never ends another.
    """
    action = {"promote": "promote", "rollback": "abort"}.get(evaluation.verdict.verdict)
    if action is None:
        return None
    end = canary_end(evaluation.environment, action, note=evaluation.commit_note())

    def compute(before: Pointer) -> tuple[Pointer, str]:
        if before.canary is None or before.canary.salt != evaluation.canary.salt:
            raise PointerError(
                f"the canary of {evaluation.agent} in {evaluation.environment} changed while "
                "it was being evaluated; nothing written",
                "run `agentver canary evaluate` again",
            )
        return end(before)

    return transact(ws, evaluation.environment, evaluation.agent, compute, no_commit=no_commit)


def sync_store(ws: Workspace, store: Store) -> SyncPlan:
    """Publish HEAD to the store for every configured environment, as ``agentver sync``."""
    from agentver.publish import build_snapshot, check_not_stale

    check_not_stale(ws, store, force=False)
    return store.sync(build_snapshot(ws, list(ws.settings.environments), store))


def store_warnings(store: Store, pointer: Pointer) -> list[str]:
    """Why the store's outcomes may not reflect the canary in git (not synced yet)."""
    served = {p.agent: p for p in store.pointers(pointer.environment)}.get(pointer.agent)
    canary = pointer.canary
    if canary is None:
        return []
    if served is None or served.canary is None or served.canary.salt != canary.salt:
        return [
            f"{store.url} does not serve the canary v{canary.version} of {pointer.agent} "
            f"(salt {canary.salt}) yet, so no outcomes are recorded for it; run `agentver sync`"
        ]
    return []
