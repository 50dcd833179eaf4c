"""Each assertion type on its own (the judge is exercised for real in test_evals_runner)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.evals.assertions import check
from agentver.evals.judge import judge_request, parse_judge_reply
from agentver.evals.providers import ProviderError
from agentver.evals.suite import Assertion


def no_judge(assertion: Assertion) -> tuple[float, str]:
    raise AssertionError("the judge must not be called")


def run(assertion: Assertion, output: str, latency_ms: int = 10) -> bool:
    return check(assertion, output, latency_ms, no_judge).passed


def test_contains_and_not_contains() -> None:
    assert run(Assertion("contains", text="refund"), "We issued a refund.")
    assert not run(Assertion("contains", text="Refund"), "We issued a refund.")
    assert run(Assertion("contains", text="Refund", ignore_case=True), "We issued a REFUND.")
    assert run(Assertion("not_contains", text="can't help"), "Happy to help")
    result = check(Assertion("not_contains", text="can't"), "I can't help", 1, no_judge)
    assert not result.passed and result.message == '"can\'t" found'


def test_regex() -> None:
    assert run(Assertion("regex", text=r"(?i)\b\d+ business days"), "within 5 Business days")
    result = check(Assertion("regex", text=r"^\d+$"), "12 apples", 1, no_judge)
    assert not result.passed and "no match" in result.message


def test_equals_trims_surrounding_whitespace() -> None:
    assert run(Assertion("equals", text="yes"), "  yes\n")
    assert not run(Assertion("equals", text="yes"), "yes!")
    assert not run(Assertion("equals", text="yes"), "YES")
    assert run(Assertion("equals", text="yes", ignore_case=True), "YES")


def test_json_schema() -> None:
    schema = {
        "type": "object",
        "required": ["status"],
        "properties": {"count": {"type": "integer"}},
    }
    assertion = Assertion("json_schema", schema=schema)
    assert run(assertion, '{"status": "ok", "count": 3}')
    assert run(assertion, '```json\n{"status": "ok"}\n```')  # a fenced block is unwrapped
    wrong_type = check(assertion, '{"status": "ok", "count": "3"}', 1, no_judge)
    assert not wrong_type.passed and wrong_type.message.startswith("count:")
    missing = check(assertion, '{"count": 1}', 1, no_judge)
    assert not missing.passed and "'status' is a required property" in missing.message
    not_json = check(assertion, "Sure! Here you go", 1, no_judge)
    assert not not_json.passed and not_json.message.startswith("not JSON")


def test_max_latency_ms() -> None:
    assert run(Assertion("max_latency_ms", limit_ms=500), "x", latency_ms=500)
    result = check(Assertion("max_latency_ms", limit_ms=500), "x", 501, no_judge)
    assert not result.passed and result.message == "501 ms (limit 500 ms)"


def test_judge_threshold() -> None:
    assertion = Assertion("judge", rubric="polite", threshold=0.6)
    high = check(assertion, "x", 1, lambda a: (0.6, "ok"))
    low = check(assertion, "x", 1, lambda a: (0.59, "rude"))
    assert high.passed and high.score == 0.6
    assert not low.passed and low.message == "score 0.59 (threshold 0.6): rude"


def test_judge_reply_parsing() -> None:
    assert parse_judge_reply('{"score": 0.8, "reason": "close"}') == (0.8, "close")
    assert parse_judge_reply('Here: {"score": 1, "reason": "exact"} done') == (1.0, "exact")
    assert parse_judge_reply("Score: 0.25 because partial")[0] == 0.25
    for bad, fragment in [
        ("no idea", "no score"),
        ('{"score": 7}', "outside 0..1"),
        ('{"score": true}', "no score"),
    ]:
        with pytest.raises(ProviderError, match=fragment) as info:
            parse_judge_reply(bad)
        assert info.value.exit_code == 2
    body = judge_request("judge-model", "be right", "q?", "gold", "ans")
    assert body["model"] == "judge-model" and body["temperature"] == 0.0
    assert "<golden>\ngold\n</golden>" in body["messages"][1]["content"]


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=8), st.text(max_size=40), st.booleans())
def test_contains_and_not_contains_are_complements(needle: str, output: str, fold: bool) -> None:
    yes = run(Assertion("contains", text=needle, ignore_case=fold), output)
    no = run(Assertion("not_contains", text=needle, ignore_case=fold), output)
    assert yes != no
    assert run(Assertion("contains", text=needle, ignore_case=fold), output + needle)
