"""``canary evaluate``: gather per-arm metrics, pick the agent's rule, judge, act.

The library half of the command (the CLI only parses options and renders):

- ``rule_for(settings, agent)``: the ``canary:`` section of agentver.yaml, global keys
  layered with ``canary.agents.<agent>`` over the defaults of ``CanaryRule``;
- ``metrics_from_store`` / ``metrics_from_file``: per-arm counts (errors, slow requests,
  quality scores), from the outcomes the runtime recorded under the running canary's
  salt, or from a ``--metrics`` JSON file;
- ``evaluate_canary``: ``agentver.canary.rule.decide`` on them, with everything the
  output and the commit message need;
- ``apply_verdict``: promote -> ``canary promote``, rollback -> ``canary abort`` (the same
  ``deploy.canary_end`` compute, one pointer commit recording the verdict), continue ->
  nothing; ``sync_store`` then publishes HEAD like ``agentver sync``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentver.agentfile import check_agent_id, is_agent_id
from agentver.canary.metrics import read_metrics
from agentver.canary.rule import ArmStats, Verdict, decide
from agentver.canary.settings import CanaryRule
from agentver.deploy.changes import canary_end
from agentver.deploy.transaction import Outcome, transact
from agentver.errors import PointerError, UsageError
from agentver.models import Canary, Pointer
from agentver.settings import SETTINGS_FILE, Settings
from agentver.store import Store, SyncPlan
from agentver.workspace import Workspace

AGENTS_KEY = "agents"  # canary.agents.<agent_id>: per-agent overrides


@dataclass(frozen=True)
class Metrics:
    stable: ArmStats
    canary: ArmStats
    source: str  # "store sqlite:///..." or "file metrics.json"
    # Per arm: stored outcomes left out for invalid values (an older agentver wrote them).
    ignored: tuple[int, int] = (0, 0)

    def warnings(self) -> list[str]:
        stable, canary = self.ignored
        if not stable + canary:
            return []
        return [
            f"ignored {stable + canary} outcome(s) with invalid values ({stable} stable,"
            f" {canary} canary: a negative, infinite or NaN latency, or a score outside"
            f" [0, 1]) in {self.source}; an older agentver recorded them"
        ]


@dataclass(frozen=True)
class Evaluation:
    agent: str
    environment: str
    stable_version: int
    canary: Canary
    metrics: Metrics
    rule: CanaryRule
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        """docs/design.md's ``canary evaluate --json`` shape, plus the evidence behind it."""
        verdict = self.verdict.to_json()
        return {
            "agent": self.agent,
            "environment": self.environment,
            **verdict,
            "stable": {
                "version": self.stable_version,
                **verdict["stable"],
                "ignored": self.metrics.ignored[0],
            },
            "canary": {
                "version": self.canary.version,
                **verdict["canary"],
                "ignored": self.metrics.ignored[1],
            },
            "percent": self.canary.percent,
            "source": self.metrics.source,
            "settings": self.rule.to_json(),
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
        ]
        if v.decisive is not None:
            lines.append(f"evidence: {v.decisive.describe()}")
        lines.append(f"metrics: {self.metrics.source}, canary salt {self.canary.salt}")
        return "\n".join(lines)


def _arm_line(name: str, version: int, arm: ArmStats) -> str:
    line = (
        f"{name} v{version}: {arm.requests} requests, {arm.errors} errors, "
        f"error rate {arm.error_rate * 100:.2f}%"
    )
    if arm.slow is not None:
        line += f", {arm.slow} slow"
    if arm.score_mean is not None:
        line += f", mean score {arm.score_mean:.3f} of {arm.scored}"
    return line


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


def metrics_from_store(store: Store, pointer: Pointer, rule: CanaryRule) -> Metrics:
    """Outcomes recorded under the running canary's salt, per arm (not by clock time)."""
    canary = running_canary(pointer)
    counts = store.outcome_counts(
        pointer.agent, pointer.environment, canary.salt, slow_ms=rule.latency_threshold_ms
    )
    arms = []
    ignored = []
    for variant in ("stable", "canary"):
        arm = counts.get(variant)
        ignored.append(arm.ignored if arm is not None else 0)
        if arm is None:
            arms.append(ArmStats(0, 0))
            continue
        measured = rule.latency_threshold_ms is not None and arm.latency_count > 0
        arms.append(
            ArmStats(
                arm.requests,
                arm.errors,
                slow=arm.slow if measured else None,
                timed=arm.latency_count if measured else None,
                scored=arm.scored,
                score_sum=min(float(arm.score_sum), float(arm.scored)),
            )
        )
    return Metrics(arms[0], arms[1], f"store {store.url}", (ignored[0], ignored[1]))


def metrics_from_file(path: Path) -> Metrics:
    """The ``--metrics FILE`` JSON (docs/design.md sections 7 and 8), through the
    hardened loader; ``agentver validate`` checks a metrics file by the same rules."""
    stable, canary = read_metrics(path)
    return Metrics(stable, canary, f"file {path}")


# -- the verdict ---------------------------------------------------------------------


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
        metrics = metrics_from_store(store, pointer, rule)
    else:
        assert metrics_file is not None
        metrics = metrics_from_file(metrics_file)
    verdict = decide(metrics.stable, metrics.canary, rule)
    return Evaluation(agent, environment, pointer.active.version, canary, metrics, rule, verdict)


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
    """Publish HEAD to the store for every configured environment, as ``agentver sync``
    (the same checks: a committed layout, a HEAD that descends from the store's)."""
    from agentver.publish import publish

    return publish(ws, store, list(ws.settings.environments))


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
