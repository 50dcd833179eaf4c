"""The evaluation gate as ``deploy`` and ``canary start`` apply it (docs/evals.md).

The gate's settings (``gate:``, ``providers:``, ``eval:``) are those of the
``agentver.yaml`` committed at HEAD, never the work tree's: deleting the gate locally
must not let a failing version out (docs/design.md section 8).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentver.errors import CheckFailed
from agentver.models import Version

if TYPE_CHECKING:
    from agentver.workspace import Workspace


def gate_applies(ws: Workspace, agent: str, settings: Mapping[str, Any]) -> bool:
    """Whether ``settings`` (HEAD's committed ``agentver.yaml``) gate ``agent``."""
    if not settings.get("gate"):
        return False  # no gate: do not even parse the provider settings
    from agentver.evals.settings import parse_eval_settings

    return parse_eval_settings(settings, root=ws.root).gate_for(agent) is not None


def enforce_gate(
    ws: Workspace, agent: str, version: Version, environment: str, settings: Mapping[str, Any]
) -> None:
    """Raise CheckFailed (exit 1) unless the gate of ``settings`` (HEAD's committed
    ``agentver.yaml`` as a mapping) passes for the exact config_hash being deployed.

    Without a ``gate:`` for the agent this does nothing. The gate reads stored results
    only; it never calls a model.
    """
    if not settings.get("gate"):
        return  # no gate: do not even parse the provider settings
    from agentver.evals.agent_eval import decide_gate, find_suite, suite_file
    from agentver.evals.settings import parse_eval_settings

    eval_settings = parse_eval_settings(settings, root=ws.root)
    if eval_settings.gate_for(agent) is None:
        return
    _require_committed_suite(ws, suite_file(ws, agent))
    decision = decide_gate(
        ws,
        agent,
        version.config_hash,
        f"v{version.version}",
        environment,
        eval_settings,
        find_suite(ws, agent),
    )
    if decision is not None and not decision.passed:
        raise CheckFailed(
            f"evaluation gate: {decision.message}",
            decision.hint or 'fix the failing cases, or deploy with --skip-gate --reason "..."',
        )


def _require_committed_suite(ws: Workspace, path: Path) -> None:
    """The suite is part of the gate: results stored for a locally edited suite (a
    failing case deleted, then `agentver eval`) must not open it."""
    rel = path.relative_to(ws.root).as_posix()
    blob = ws.repo.blob_at(ws.index.head, rel)
    committed = ws.repo.read_blobs([blob]).get(blob) if blob else None
    on_disk = path.read_bytes() if path.is_file() else None
    if on_disk is not None and on_disk != committed:
        raise CheckFailed(
            f"evaluation gate: {rel} has uncommitted changes; the gate judges the committed suite",
            f"commit the suite change (it is reviewed like the gate), or set it aside: "
            f"git stash push -- {rel}",
        )
