"""Evaluation suites, model providers, stored results and the deploy gate (issue 9)."""

from __future__ import annotations

from agentver.evals.gate import GateDecision, gate_check
from agentver.evals.providers import ProviderError, build_request
from agentver.evals.results import (
    CaseResult,
    EvalKey,
    EvalResultError,
    ResultStore,
    RunResult,
    SuiteResult,
)
from agentver.evals.runner import eval_key, evaluate_cached, run_suite, settings_identity
from agentver.evals.settings import (
    EvalSettings,
    GateSettings,
    ProviderSettings,
    parse_eval_settings,
)
from agentver.evals.suite import Suite, load_suite, suite_findings, suite_hash, suite_problems

__all__ = [
    "CaseResult",
    "EvalKey",
    "EvalResultError",
    "EvalSettings",
    "GateDecision",
    "GateSettings",
    "ProviderError",
    "ProviderSettings",
    "ResultStore",
    "RunResult",
    "Suite",
    "SuiteResult",
    "build_request",
    "eval_key",
    "evaluate_cached",
    "gate_check",
    "load_suite",
    "parse_eval_settings",
    "run_suite",
    "settings_identity",
    "suite_findings",
    "suite_hash",
    "suite_problems",
]
