"""The gate refuses, then allows; settings parsing names the bad key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import FakeLLMServer

from agentver.errors import UsageError
from agentver.evals import (
    GateSettings,
    ResultStore,
    evaluate_cached,
    gate_check,
    load_suite,
    parse_eval_settings,
)
from agentver.evals.settings import EvalSettings
from agentver.hashing import config_hash
from agentver.models import AgentConfig

ACTIVE = AgentConfig(model="gpt-4o", system_prompt="Support agent with billing access.")
REGRESSED = AgentConfig(model="gpt-4o", system_prompt="Support agent.")
FIXED = AgentConfig(model="gpt-4o", system_prompt="Support agent. Billing questions welcome.")
SUITE = """\
cases:
  - id: refund
    input: "Can I get a refund for a double charge?"
    assert: [{contains: refund}]
  - id: hello
    input: "hello"
    assert: [{contains: hello}]
"""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def settings_with(server: FakeLLMServer, gate: object) -> EvalSettings:
    return parse_eval_settings(
        {"providers": {"fake": {"base_url": server.base_url, "retries": 0}}, "gate": gate}
    )


def test_gate_refuses_then_allows(tmp_path: Path, server: FakeLLMServer) -> None:
    (tmp_path / "support.yaml").write_text(SUITE, encoding="utf-8")
    suite = load_suite(tmp_path / "support.yaml")
    settings = settings_with(server, {"min_score": 0.9, "not_worse_than": "active"})
    store = ResultStore(tmp_path / ".agentver" / "evals")
    active, regressed, fixed = (config_hash(c) for c in (ACTIVE, REGRESSED, FIXED))

    def check(candidate: str, baseline: str | None) -> Any:
        return gate_check(
            "support",
            candidate,
            baseline,
            settings,
            store,
            suite,
            candidate_ref="v5",
            baseline_ref="active",
        )

    # 1. Nothing evaluated: refused, naming the evaluation to run.
    decision = check(regressed, active)
    assert not decision.passed
    assert f"no stored evaluation of support v5 (config_hash {regressed})" in decision.message
    assert decision.hint == "run `agentver eval support v5`"

    # 2. Candidate evaluated and failing: refused with its score and failing case.
    evaluate_cached(suite, REGRESSED, regressed, settings, store, env={})
    decision = check(regressed, active)
    assert not decision.passed
    assert "scored 0.500, below the gate's min_score 0.9; failing: refund" in decision.message

    # 3. A passing candidate, but the baseline was never evaluated: refused.
    evaluate_cached(suite, FIXED, fixed, settings, store, env={})
    decision = check(fixed, active)
    assert not decision.passed and "no stored evaluation of the baseline" in decision.message
    assert decision.hint == "run `agentver eval support active`"

    # 4. Baseline evaluated: allowed.
    evaluate_cached(suite, ACTIVE, active, settings, store, env={})
    decision = check(fixed, active)
    assert decision.passed, decision.message
    assert decision.message.endswith("scored 1.000, not worse than active (1.000)")
    assert decision.candidate is not None and decision.baseline is not None

    # 5. Nothing active yet: not_worse_than has nothing to compare with, min_score decides.
    assert check(fixed, None).passed and not check(regressed, None).passed


def test_not_worse_than_alone_compares_scores(tmp_path: Path, server: FakeLLMServer) -> None:
    (tmp_path / "support.yaml").write_text(SUITE, encoding="utf-8")
    suite = load_suite(tmp_path / "support.yaml")
    settings = settings_with(server, {"support": {"not_worse_than": "active"}})
    store = ResultStore(tmp_path / "evals")
    active, regressed = config_hash(ACTIVE), config_hash(REGRESSED)
    for config, chash in ((ACTIVE, active), (REGRESSED, regressed)):
        evaluate_cached(suite, config, chash, settings, store, env={})
    worse = gate_check("support", regressed, active, settings, store, suite)
    assert not worse.passed and "worse than active (1.000)" in worse.message
    better = gate_check("support", active, regressed, settings, store, suite)
    assert better.passed
    # Another agent has no gate; and the suite changing invalidates stored results.
    assert gate_check("billing", regressed, None, settings, store, suite).passed
    (tmp_path / "support.yaml").write_text(SUITE.replace("hello}", "Hello}"), encoding="utf-8")
    edited = load_suite(tmp_path / "support.yaml")
    stale = gate_check("support", active, regressed, settings, store, edited)
    assert not stale.passed and stale.hint is not None and "older suite" in stale.hint


def test_gate_without_suite_is_refused(tmp_path: Path, server: FakeLLMServer) -> None:
    settings = settings_with(server, {"min_score": 0.5})
    decision = gate_check("support", "a" * 16, None, settings, ResultStore(tmp_path), None)
    assert not decision.passed and "evals/support.yaml does not exist" in decision.message


def test_gate_forms_and_merging() -> None:
    both = parse_eval_settings(
        {
            "gate": {
                "*": {"min_score": 0.8, "not_worse_than": "active"},
                "support": {"min_score": 0.95},
            }
        }
    )
    assert both.gate_for("support") == GateSettings(0.95, "active")
    assert both.gate_for("other") == GateSettings(0.8, "active")
    only = parse_eval_settings({"gate": {"support": {}}})
    assert only.gate_for("other") is None
    assert only.gate_for("support") == GateSettings()
    assert GateSettings().effective_min_score == 1.0  # an empty gate wants every case passing
    assert GateSettings(not_worse_than="active").effective_min_score is None


def test_settings_parse_providers(tmp_path: Path) -> None:
    settings = parse_eval_settings(
        {
            "providers": {
                "openai": {
                    "base_url": "https://api.openai.com/v1/",
                    "api_key_env": "OPENAI_API_KEY",
                    "timeout": 30,
                    "retries": 3,
                    "concurrency": 8,
                },
                "local": {"type": "command", "command": "python agent.py --fast"},
            },
            "eval": {"provider": "openai", "judge": "local", "judge_model": "gpt-4o"},
            "agents_dir": "agents",
        },
        root=tmp_path,
    )
    agent = settings.agent_provider()
    assert agent.base_url == "https://api.openai.com/v1" and agent.timeout == 30.0
    assert (agent.retries, agent.concurrency) == (3, 8)
    judge = settings.judge_provider()
    assert judge.command == ("python", "agent.py", "--fast") and judge.cwd == tmp_path
    assert agent.identity() == {
        "type": "openai",
        "base_url": "https://api.openai.com/v1",
        "model": None,
    }


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"providers": []}, "providers: expected a mapping"),
        ({"providers": {"x": {"base_url": "ftp://h"}}}, "providers.x.base_url"),
        ({"providers": {"x": {"type": "grpc"}}}, "providers.x.type"),
        ({"providers": {"x": {"base_url": "http://h", "api_key": "sk-1"}}}, "providers.x.api_key"),
        (
            {"providers": {"x": {"base_url": "http://h", "api_key_env": "sk-123-abc"}}},
            "providers.x.api_key_env",
        ),
        ({"providers": {"x": {"base_url": "http://h", "timeout": 0}}}, "providers.x.timeout"),
        ({"providers": {"x": {"base_url": "http://h", "retries": -1}}}, "providers.x.retries"),
        (
            {"providers": {"x": {"base_url": "http://h", "concurrency": True}}},
            "providers.x.concurrency",
        ),
        ({"providers": {"x": {"type": "command", "command": []}}}, "providers.x.command"),
        ({"eval": {"provider": "nope"}}, "eval.provider: unknown provider"),
        ({"eval": {"judges": "x"}}, "eval.judges: unknown key"),
        ({"gate": {"min_score": 1.5}}, "gate.min_score"),
        ({"gate": {"min_score": 0.5, "support": {}}}, "gate: mixes"),
        ({"gate": {"Bad Agent": {}}}, "gate.Bad Agent"),
        ({"gate": {"support": {"min": 1}}}, "gate.support.min: unknown key"),
    ],
)
def test_bad_settings_name_the_key(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_eval_settings(raw)
    assert fragment in info.value.message and info.value.exit_code == 2


def test_provider_choice_errors() -> None:
    with pytest.raises(UsageError, match="no evaluation provider configured"):
        parse_eval_settings({}).agent_provider()
    two = parse_eval_settings(
        {"providers": {"a": {"base_url": "http://h"}, "b": {"base_url": "http://h"}}}
    )
    with pytest.raises(UsageError, match=r"eval\.provider is not set"):
        two.agent_provider()
