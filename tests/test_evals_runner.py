"""Whole suites through the fake server, judge included; repeats; stored result reuse."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import JUDGE_MARKER, FakeLLMServer

from agentver.errors import UsageError
from agentver.evals import (
    EvalResultError,
    ProviderError,
    ResultStore,
    SuiteResult,
    evaluate_cached,
    load_suite,
    parse_eval_settings,
    run_suite,
)
from agentver.evals.settings import EvalSettings
from agentver.hashing import config_hash
from agentver.models import AgentConfig

KEY = "sk-runner-SECRET"
ENV = {"FAKE_KEY": KEY}
WITH_BILLING = AgentConfig(
    model="gpt-4o",
    system_prompt="You are the support agent for {{company}}. You have billing access: "
    "you may issue refunds.",
)
WITHOUT_BILLING = AgentConfig(model="gpt-4o", system_prompt="You are the support agent.")

BILLING_SUITE = """\
agent: support
variables: {company: Acme}
cases:
  - id: refund
    weight: 3
    input: "I was charged twice on my bill. Can I get a refund?"
    golden: "I have issued a refund of the duplicate charge to your card."
    assert:
      - contains: refund
      - not_contains: "can't help"
      - judge: {rubric: "Resolves the double charge with a refund", threshold: 0.8}
      - max_latency_ms: 5000
  - id: greeting
    input: "Hello there"
    assert:
      - equals: "You said: Hello there"
      - regex: "^You said"
"""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=KEY) as fake:
        yield fake


def eval_settings(server: FakeLLMServer, **provider: Any) -> EvalSettings:
    spec = {"base_url": server.base_url, "api_key_env": "FAKE_KEY", "retries": 0}
    spec.update(provider)
    return parse_eval_settings({"providers": {"fake": spec}, "eval": {"judge_model": "judge-1"}})


def write_suite(tmp_path: Path, text: str, agent: str = "support") -> Path:
    path = tmp_path / "evals" / f"{agent}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(suite_path: Path, config: AgentConfig, settings: EvalSettings) -> SuiteResult:
    return run_suite(load_suite(suite_path), config, config_hash(config), settings, env=ENV)


def test_billing_story_passes_then_regresses(tmp_path: Path, server: FakeLLMServer) -> None:
    settings = eval_settings(server)
    path = write_suite(tmp_path, BILLING_SUITE)
    good = run(path, WITH_BILLING, settings)
    assert good.score == 1.0 and good.passed
    judge = good.cases[0].runs[0].assertions[2]
    assert judge.kind == "judge" and judge.passed and judge.score == 1.0
    # The prompt sent had its {{company}} filled in; the judge got the golden answer.
    agent_requests = [r for r in server.requests if r["body"]["model"] == "gpt-4o"]
    assert "support agent for Acme" in agent_requests[0]["body"]["messages"][0]["content"]
    judge_requests = [r for r in server.requests if r["body"]["model"] == "judge-1"]
    assert len(judge_requests) == 1
    assert judge_requests[0]["body"]["messages"][0]["content"].startswith(JUDGE_MARKER)

    bad = run(path, WITHOUT_BILLING, settings)
    refund, greeting = bad.cases
    assert not refund.passed and greeting.passed
    assert bad.score == pytest.approx(1 / 4)  # weights 3 and 1
    checks = {a.kind: a for a in refund.runs[0].assertions}
    assert not checks["contains"].passed and not checks["not_contains"].passed
    assert checks["judge"].score is not None and checks["judge"].score < 0.8
    assert refund.details.startswith("contains: 'refund' not found")

    document = bad.to_json()
    assert document["score"] == 0.25 and document["passed"] is False
    case = document["cases"][0]
    assert {k: case[k] for k in ("id", "passed", "pass_rate", "pass_all", "score")} == {
        "id": "refund",
        "passed": False,
        "pass_rate": 0.0,
        "pass_all": False,
        "score": 0.0,
    }
    assert document["provider"] == {
        "name": "fake",
        "type": "openai",
        "base_url": server.base_url,
        "model": None,
    }
    assert KEY not in json.dumps(document)


def test_repeat_reports_pass_rate_and_pass_all(tmp_path: Path, server: FakeLLMServer) -> None:
    path = write_suite(
        tmp_path,
        """\
        defaults: {repeat: 4}
        cases:
          - id: flaky
            input: "[alternate] ready?"
            assert: [{equals: "yes"}]
          - id: steady
            weight: 2
            input: "[json]"
            assert: [{json_schema: {type: object, required: [status, count]}}]
        """,
    )
    result = run(path, WITH_BILLING, eval_settings(server, concurrency=3))
    flaky, steady = result.cases
    assert flaky.repeat == 4 and flaky.pass_rate == 0.5 and not flaky.pass_all
    assert sum(run.output == "yes" for run in flaky.runs) == 2
    assert steady.pass_rate == 1.0 and steady.pass_all
    assert result.score == pytest.approx((0.5 * 1 + 1.0 * 2) / 3)
    assert server.count() == 8 and server.max_in_flight <= 3


def test_provider_error_stops_the_run(tmp_path: Path, server: FakeLLMServer) -> None:
    path = write_suite(
        tmp_path,
        """\
        cases:
          - {id: ok, input: "hi", assert: [{contains: hi}]}
          - {id: broken, input: "[status 503]", assert: [{contains: hi}]}
        """,
    )
    with pytest.raises(ProviderError, match="HTTP 503") as info:
        run(path, WITH_BILLING, eval_settings(server))
    assert info.value.exit_code == 2 and KEY not in str(info.value)


def test_timeout_stops_the_run(tmp_path: Path, server: FakeLLMServer) -> None:
    path = write_suite(
        tmp_path, 'cases: [{id: slow, input: "[sleep 1] hi", assert: [{contains: hi}]}]'
    )
    with pytest.raises(ProviderError, match=r"timed out after 0\.2s"):
        run(path, WITH_BILLING, eval_settings(server, timeout=0.2))


def test_wrong_config_hash_is_refused(tmp_path: Path, server: FakeLLMServer) -> None:
    suite = load_suite(write_suite(tmp_path, BILLING_SUITE))
    with pytest.raises(UsageError, match="is not the hash"):
        run_suite(suite, WITH_BILLING, "0" * 16, eval_settings(server), env=ENV)


def test_stored_results_are_reused(tmp_path: Path, server: FakeLLMServer) -> None:
    settings = eval_settings(server)
    store = ResultStore(tmp_path / ".agentver" / "evals")
    suite = load_suite(write_suite(tmp_path, BILLING_SUITE))
    chash = config_hash(WITH_BILLING)

    first = evaluate_cached(suite, WITH_BILLING, chash, settings, store, env=ENV)
    calls = server.count()
    assert not first.reused and calls == 3  # two cases + one judge call
    files = list((tmp_path / ".agentver" / "evals" / "support").glob("*.json"))
    assert [f.name for f in files] == [f"{chash}.{suite.hash}.{first.key.settings_hash}.json"]
    text = files[0].read_text(encoding="utf-8")
    assert (
        text.endswith("}\n")
        and text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    )

    again = evaluate_cached(suite, WITH_BILLING, chash, settings, store, env=ENV)
    assert again.reused and server.count() == calls
    assert again.to_json() == first.to_json()

    # Timeouts, retries and the key itself do not change results: same key.
    quieter = eval_settings(server, timeout=9, retries=3)
    assert evaluate_cached(suite, WITH_BILLING, chash, quieter, store, env=ENV).reused
    # A model override, another judge model or another suite do: evaluated again.
    other_model = eval_settings(server, model="llama3")
    assert not evaluate_cached(suite, WITH_BILLING, chash, other_model, store, env=ENV).reused
    other_judge = parse_eval_settings(
        {
            "providers": {"fake": {"base_url": server.base_url, "api_key_env": "FAKE_KEY"}},
            "eval": {"judge_model": "judge-2"},
        }
    )
    assert not evaluate_cached(suite, WITH_BILLING, chash, other_judge, store, env=ENV).reused
    edited = load_suite(write_suite(tmp_path, BILLING_SUITE.replace("weight: 3", "weight: 2")))
    assert not evaluate_cached(edited, WITH_BILLING, chash, settings, store, env=ENV).reused
    assert len(list(store.root.glob("support/*.json"))) == 4
    # force runs again even with a stored result.
    before = server.count()
    assert not evaluate_cached(
        suite, WITH_BILLING, chash, settings, store, env=ENV, force=True
    ).reused
    assert server.count() == before + 3


def test_judge_settings_do_not_key_suites_without_a_judge(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    suite = load_suite(
        write_suite(tmp_path, "cases: [{id: a, input: hi, assert: [{contains: hi}]}]")
    )
    store = ResultStore(tmp_path / "results")
    chash = config_hash(WITH_BILLING)
    evaluate_cached(suite, WITH_BILLING, chash, eval_settings(server), store, env=ENV)
    other_judge = parse_eval_settings(
        {
            "providers": {"fake": {"base_url": server.base_url, "api_key_env": "FAKE_KEY"}},
            "eval": {"judge_model": "judge-2"},
        }
    )
    assert evaluate_cached(suite, WITH_BILLING, chash, other_judge, store, env=ENV).reused


def test_round_trip_and_corrupt_store(tmp_path: Path, server: FakeLLMServer) -> None:
    store = ResultStore(tmp_path / "results")
    suite = load_suite(write_suite(tmp_path, BILLING_SUITE))
    result = run_suite(
        suite, WITH_BILLING, config_hash(WITH_BILLING), eval_settings(server), env=ENV
    )
    path = store.put(result)
    assert store.get(result.key) == result
    assert SuiteResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(EvalResultError, match="corrupt evaluation result") as info:
        store.get(result.key)
    assert info.value.exit_code == 2 and str(path) in info.value.message
