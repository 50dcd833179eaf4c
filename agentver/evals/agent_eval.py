"""Evaluate an agent of a repository: references, suite, stored results and the gate.

The workspace-aware layer over the evaluation library, shared by ``agentver eval`` and
the deploy gate (``agentver.deploy.gate``) so both resolve references, find the suite and
name stored results the same way. Kept out of ``agentver.evals.__init__``: it imports the
git layer, which the rest of the package does not need.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentver.agentfile import check_agent_id
from agentver.errors import NotFound
from agentver.evals.gate import GateDecision, gate_check
from agentver.evals.results import ResultStore, SuiteResult
from agentver.evals.runner import eval_key, evaluate_cached
from agentver.evals.settings import EvalSettings, GateSettings, parse_eval_settings
from agentver.evals.suite import Suite, load_suite
from agentver.history import agent_path
from agentver.refs import Target, resolve_target, resolve_version
from agentver.workspace import Workspace

EVALS_DIR = "evals"
RESULTS_DIR = Path(".agentver") / "evals"
_POINTER_REFS = ("active", "canary", "previous")  # may name nothing yet: no baseline then
NO_BASELINE = "none"

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Evaluated:
    """One side of an evaluation: what was asked for, what it resolved to, the result."""

    ref: str  # as typed (or defaulted): "latest", "active", "worktree", "3"...
    target: Target
    result: SuiteResult
    path: Path  # the stored result file
    relpath: str  # the same, relative to the repository root (for messages and JSON)

    def to_json(self) -> dict[str, Any]:
        """``SuiteResult.to_json()`` plus where it came from (the ``eval --json`` shape)."""
        return {
            **self.result.to_json(),
            "ref": self.ref,
            "version": self.target.version.version if self.target.version else None,
            "reused": self.result.reused,
            "path": self.relpath,
        }


@dataclass(frozen=True)
class EvalReport:
    agent: str
    candidate: Evaluated
    baseline: Evaluated | None
    gate: GateDecision | None  # None when no gate is configured for the agent

    def to_json(self) -> dict[str, Any]:
        gate = None
        if self.gate is not None:
            gate = {"passed": self.gate.passed, "message": self.gate.message}
            gate["hint"] = self.gate.hint
        return {
            "agent": self.agent,
            "candidate": self.candidate.to_json(),
            "baseline": None if self.baseline is None else self.baseline.to_json(),
            "gate": gate,
        }


def eval_settings(ws: Workspace) -> EvalSettings:
    return parse_eval_settings(ws.settings.raw, root=ws.root)


def result_store(ws: Workspace) -> ResultStore:
    return ResultStore(ws.root / RESULTS_DIR)


def suite_file(ws: Workspace, agent: str) -> Path:
    return ws.root / EVALS_DIR / f"{check_agent_id(agent)}.yaml"


def find_suite(ws: Workspace, agent: str) -> Suite | None:
    path = suite_file(ws, agent)
    return load_suite(path, ws.root) if path.is_file() else None


def require_suite(ws: Workspace, agent: str) -> Suite:
    suite = find_suite(ws, agent)
    if suite is None:
        raise NotFound(
            f"no evaluation suite for {agent}: {EVALS_DIR}/{agent}.yaml does not exist",
            "write one (see docs/evals.md)",
        )
    return suite


def default_candidate(ws: Workspace, agent: str) -> str:
    """``worktree`` when the agent's file on disk differs from the latest version (or the
    agent has no version yet), else ``latest``."""
    on_disk = ws.root / agent_path(ws.settings, check_agent_id(agent))
    try:
        latest = ws.history(agent).latest
    except NotFound:
        if on_disk.is_file():
            return "worktree"
        raise
    if latest is None or not on_disk.is_file():
        return "worktree" if on_disk.is_file() else "latest"
    worktree = resolve_target(ws, agent, "worktree")
    return "latest" if worktree.config_hash == latest.config_hash else "worktree"


def optional_target(ws: Workspace, agent: str, ref: str, environment: str) -> Target | None:
    """A reference that may legitimately name nothing yet (``active`` before the first
    deploy, ``canary`` without one): None then. Other references must resolve."""
    try:
        return resolve_target(ws, agent, ref, environment)
    except NotFound:
        if ref.strip() in _POINTER_REFS:
            return None
        raise


def gate_baseline_hash(
    ws: Workspace, agent: str, gate: GateSettings, environment: str, candidate_hash: str
) -> str | None:
    """The config_hash the candidate must not be worse than; None when there is nothing to
    compare with (nothing active yet) or it is the candidate's own config."""
    if not gate.not_worse_than:
        return None
    ref = gate.not_worse_than.strip()
    if ref in _POINTER_REFS:
        try:
            version = resolve_version(ws, agent, ref, environment)
        except NotFound:
            return None
        baseline_hash = version.config_hash
    else:
        baseline_hash = resolve_target(ws, agent, ref, environment).config_hash
    return None if baseline_hash == candidate_hash else baseline_hash


def decide_gate(
    ws: Workspace,
    agent: str,
    candidate_hash: str,
    candidate_label: str,
    environment: str,
    settings: EvalSettings,
    suite: Suite | None,
) -> GateDecision | None:
    """The gate's verdict from stored results (never calls a model); None without a gate."""
    gate = settings.gate_for(agent)
    if gate is None:
        return None
    baseline_hash = None
    if suite is not None:  # without a suite the gate refuses anyway
        baseline_hash = gate_baseline_hash(ws, agent, gate, environment, candidate_hash)
    return gate_check(
        agent,
        candidate_hash,
        baseline_hash,
        settings,
        result_store(ws),
        suite,
        candidate_ref=candidate_label,
        baseline_ref=gate.not_worse_than,
    )


def evaluate_agent(
    ws: Workspace,
    agent: str,
    ref: str | None = None,
    baseline_ref: str | None = None,
    environment: str | None = None,
    *,
    force: bool = False,
    env: Mapping[str, str] = os.environ,
    notify: Notify | None = None,
) -> EvalReport:
    """Evaluate a candidate (default: ``worktree`` if edited, else ``latest``) and a
    baseline (default: ``active``, none when nothing is deployed; ``none`` for none),
    reusing stored results; then the gate's verdict on the candidate.

    When the gate compares with a version that is neither side, that version is
    evaluated too, so the verdict is a verdict and not "missing evaluation".
    """
    check_agent_id(agent)
    env_name = ws.environment(environment)
    settings = eval_settings(ws)
    suite = require_suite(ws, agent)
    store = result_store(ws)
    say = notify or (lambda message: None)

    def run(ref_text: str, target: Target, role: str) -> Evaluated:
        key = eval_key(agent, target.config_hash, suite, settings)
        path = store.path_for(key)
        name = f"{role} {agent} {target.label} ({ref_text}, config_hash {target.config_hash})"
        if force or store.get(key) is None:
            runs = sum(case.repeat for case in suite.cases)
            provider = settings.agent_provider().name
            say(f"evaluating {name}: {len(suite.cases)} cases, {runs} runs via {provider}")
        result = evaluate_cached(
            suite, target.config, target.config_hash, settings, store, env=env, force=force
        )
        return Evaluated(ref_text, target, result, path, _relative(path, ws.root))

    candidate_ref = (ref or default_candidate(ws, agent)).strip()
    candidate_target = resolve_target(ws, agent, candidate_ref, env_name)
    baseline_target = None
    baseline_text = (baseline_ref or "active").strip()
    if baseline_text != NO_BASELINE:
        if baseline_ref is None:
            baseline_target = optional_target(ws, agent, baseline_text, env_name)
        else:
            baseline_target = resolve_target(ws, agent, baseline_text, env_name)

    candidate = run(candidate_ref, candidate_target, "candidate")
    baseline = None
    if baseline_target is not None:
        baseline = run(baseline_text, baseline_target, "baseline")

    gate = settings.gate_for(agent)
    if gate is not None:
        gate_hash = gate_baseline_hash(ws, agent, gate, env_name, candidate_target.config_hash)
        known = {candidate_target.config_hash} | (
            {baseline_target.config_hash} if baseline_target else set()
        )
        if gate_hash is not None and gate_hash not in known and gate.not_worse_than:
            run(
                gate.not_worse_than,
                resolve_target(ws, agent, gate.not_worse_than, env_name),
                "gate baseline",
            )
    decision = decide_gate(
        ws, agent, candidate_target.config_hash, candidate_target.label, env_name, settings, suite
    )
    return EvalReport(agent, candidate, baseline, decision)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
