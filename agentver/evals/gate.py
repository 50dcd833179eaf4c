"""The evaluation gate: may this exact config become active or canary?

It only reads stored results (it never calls a model): a version passes when the result
stored for its exact ``config_hash``, under the current suite and provider settings,
meets ``min_score`` and, with ``not_worse_than``, scores at least the baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentver.evals.results import ResultStore, SuiteResult
from agentver.evals.runner import eval_key
from agentver.evals.settings import EvalSettings
from agentver.evals.suite import Suite


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    message: str
    hint: str | None = None
    candidate: SuiteResult | None = None
    baseline: SuiteResult | None = None


def gate_check(
    agent: str,
    candidate_hash: str,
    baseline_hash: str | None,
    settings: EvalSettings,
    results: ResultStore,
    suite: Suite | None,
    *,
    candidate_ref: str | None = None,
    baseline_ref: str | None = None,
) -> GateDecision:
    """Decide from stored results. ``baseline_hash`` is the resolved ``not_worse_than``
    reference (None when there is none yet, e.g. nothing active: that criterion is then
    skipped). ``*_ref`` are what the user would type (``v5``, ``active``), for messages.
    """
    gate = settings.gate_for(agent)
    if gate is None:
        return GateDecision(True, f"no evaluation gate configured for {agent}")
    candidate_name = candidate_ref or candidate_hash
    if suite is None:
        return GateDecision(
            False,
            f"the evaluation gate for {agent} needs a suite, and evals/{agent}.yaml does not exist",
            hint=f"write evals/{agent}.yaml (see docs/evals.md) or deploy with --skip-gate",
        )
    candidate = results.get(eval_key(agent, candidate_hash, suite, settings))
    if candidate is None:
        return GateDecision(
            False,
            f"no stored evaluation of {agent} {candidate_name} (config_hash {candidate_hash}) "
            f"for the current suite and provider settings",
            hint=_run_hint(agent, candidate_ref, candidate_hash, results),
        )
    min_score = gate.effective_min_score
    if min_score is not None and candidate.score < min_score:
        return GateDecision(
            False,
            f"evaluation of {agent} {candidate_name} scored {candidate.score:.3f}, "
            f"below the gate's min_score {min_score:g}{_failing(candidate)}",
            candidate=candidate,
        )
    if gate.not_worse_than is None or baseline_hash is None:
        return GateDecision(
            True,
            f"evaluation of {agent} {candidate_name} scored {candidate.score:.3f}"
            + (f" (min_score {min_score:g})" if min_score is not None else ""),
            candidate=candidate,
        )
    baseline_name = baseline_ref or gate.not_worse_than
    baseline = results.get(eval_key(agent, baseline_hash, suite, settings))
    if baseline is None:
        return GateDecision(
            False,
            f"no stored evaluation of the baseline {agent} {baseline_name} "
            f"(config_hash {baseline_hash}) to compare {candidate_name} with",
            hint=_run_hint(agent, baseline_ref or gate.not_worse_than, baseline_hash, results),
            candidate=candidate,
        )
    if candidate.score < baseline.score:
        return GateDecision(
            False,
            f"evaluation of {agent} {candidate_name} scored {candidate.score:.3f}, worse than "
            f"{baseline_name} ({baseline.score:.3f}){_failing(candidate)}",
            candidate=candidate,
            baseline=baseline,
        )
    return GateDecision(
        True,
        f"evaluation of {agent} {candidate_name} scored {candidate.score:.3f}, "
        f"not worse than {baseline_name} ({baseline.score:.3f})",
        candidate=candidate,
        baseline=baseline,
    )


def _run_hint(agent: str, ref: str | None, config_hash: str, results: ResultStore) -> str:
    command = f"run `agentver eval {agent} {ref}`" if ref else f"run `agentver eval {agent}`"
    if results.for_config(agent, config_hash):
        return f"{command}: stored results exist for an older suite or other provider settings"
    return command


def _failing(result: SuiteResult) -> str:
    failing = [case.id for case in result.cases if not case.passed]
    if not failing:
        return ""
    more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
    return f"; failing: {', '.join(failing[:3])}{more}"
