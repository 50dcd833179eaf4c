"""The evaluation gate as ``deploy`` and ``canary start`` apply it (docs/evals.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentver.errors import CheckFailed, UsageError
from agentver.models import Version

if TYPE_CHECKING:
    from agentver.workspace import Workspace


def skip_note(reason: str | None) -> str:
    """The commit-message note for ``--skip-gate --reason``; exit 2 without a reason."""
    text = " ".join((reason or "").split())  # one line: it goes into the commit subject
    if not text:
        raise UsageError(
            '--skip-gate needs --reason "..."', "the reason is recorded in the pointer commit"
        )
    return f" (evaluation gate skipped: {text})"


def enforce_gate(
    ws: Workspace, agent: str, version: Version, environment: str, *, skip: bool, reason: str | None
) -> str:
    """Raise CheckFailed (exit 1) unless the gate passes for the exact config_hash being
    deployed; returns a note for the pointer commit message (empty when none).

    Without a ``gate:`` for the agent this does nothing. The gate reads stored results
    only; it never calls a model.
    """
    if skip:
        return skip_note(reason)
    if reason is not None:
        raise UsageError("--reason is only used with --skip-gate")
    if not ws.settings.raw.get("gate"):
        return ""  # no gate: do not even parse the provider settings
    from agentver.evals.agent_eval import decide_gate, eval_settings, find_suite

    settings = eval_settings(ws)
    if settings.gate_for(agent) is None:
        return ""
    decision = decide_gate(
        ws,
        agent,
        version.config_hash,
        f"v{version.version}",
        environment,
        settings,
        find_suite(ws, agent),
    )
    if decision is not None and not decision.passed:
        raise CheckFailed(
            f"evaluation gate: {decision.message}",
            decision.hint or 'fix the failing cases, or deploy with --skip-gate --reason "..."',
        )
    return ""
