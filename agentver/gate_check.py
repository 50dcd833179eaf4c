"""The evaluation gate as ``deploy`` and ``canary start`` apply it (issue 9)."""

from __future__ import annotations

from agentver.errors import CheckFailed, UsageError
from agentver.models import Version
from agentver.refs import resolve_version
from agentver.workspace import Workspace


def enforce_gate(
    ws: Workspace, agent: str, version: Version, environment: str, *, skip: bool, reason: str | None
) -> str:
    """Raise CheckFailed (exit 1) unless a stored passing evaluation exists for the exact
    config_hash; returns a note for the pointer commit message (empty when none)."""
    if skip:
        if not reason or not reason.strip():
            raise UsageError(
                '--skip-gate needs --reason "..."', "the reason is recorded in the pointer commit"
            )
        return f" (evaluation gate skipped: {reason.strip()})"
    if reason is not None:
        raise UsageError("--reason is only used with --skip-gate")
    if not ws.settings.raw.get("gate"):
        return ""
    from agentver.evals.gate import gate_check
    from agentver.evals.results import ResultStore
    from agentver.evals.settings import parse_eval_settings
    from agentver.evals.suite import load_suite

    settings = parse_eval_settings(ws.settings.raw, root=ws.root)
    gate = settings.gate_for(agent)
    if gate is None:
        return ""
    suite_file = ws.root / "evals" / f"{agent}.yaml"
    suite = load_suite(suite_file) if suite_file.is_file() else None
    baseline_hash = None
    if gate.not_worse_than:
        pointer = ws.pointer(environment, agent)
        if gate.not_worse_than != "active" or pointer.active is not None:
            baseline = resolve_version(ws, agent, gate.not_worse_than, environment)
            if baseline.config_hash != version.config_hash:
                baseline_hash = baseline.config_hash
    decision = gate_check(
        agent,
        version.config_hash,
        baseline_hash,
        settings,
        ResultStore(ws.root / ".agentver" / "evals"),
        suite,
        candidate_ref=f"v{version.version}",
        baseline_ref=gate.not_worse_than,
    )
    if not decision.passed:
        raise CheckFailed(
            f"evaluation gate: {decision.message}",
            decision.hint
            or f'run `agentver eval {agent} {version.version}`, or deploy with --skip-gate --reason "..."',
        )
    return ""
