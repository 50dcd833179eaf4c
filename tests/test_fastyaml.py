"""The fast YAML path vouches only for documents on which it agrees with load_yaml."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.config import load_yaml
from agentver.errors import ConfigError
from agentver.fastyaml import fast_load


def located(raw: bytes) -> tuple[bool, Any]:
    try:
        return True, load_yaml(raw, "x.yaml").data
    except ConfigError:
        return False, None


def check_contract(raw: bytes) -> None:
    fast_ok, fast_data = fast_load(raw)
    slow_ok, slow_data = located(raw)
    if fast_ok:
        assert slow_ok, f"fast path accepted what load_yaml refuses: {raw!r}"
        assert fast_data == slow_data
        assert type(fast_data) is type(slow_data)
        assert repr(fast_data) == repr(slow_data)  # 1 vs 1.0 vs True are different configs


PLAIN = b"""\
model: gpt-4o
system_prompt: |
  You are helpful.
  Answer billing questions!
temperature: 0.2
max_tokens: 1024
tools: [search_kb, create_ticket]
guardrails: {pii_redaction: true, max_turns: 12, nested: {a: [1, 2.5, null]}}
params: {top_p: .9, stop: ["\\n"]}
"""


def test_plain_agent_file_takes_the_fast_path() -> None:
    ok, data = fast_load(PLAIN)
    assert ok
    assert data == load_yaml(PLAIN, "x.yaml").data


@pytest.mark.parametrize(
    "raw",
    [
        b"a: yes\n",  # YAML 1.1 boolean
        b"a: 0x1F\n",  # hex
        b"a: 017\n",  # octal
        b"a: 1:30\n",  # sexagesimal
        b"a: 1_000\n",  # underscores
        b"a: 2026-01-01\n",  # date
        b"a: .inf\n",
        b"a: .nan\n",
        b"a: !!int abc\n",
        b"a: !!binary aGk=\n",
        b"a: !custom x\n",
        b"a: !!python/object:os.system x\n",
        b"a: 1\na: 2\n",  # duplicate key
        b"1: a\n",  # non-string key
        b"base: &b {x: 1}\nother:\n  <<: *b\n",  # merge key
        b"a: &x [1]\nb: *x\n",  # alias
        b"a: &x 1\nb: *x\n",  # alias of a scalar
        b"&k a: 1\nb: {*k : 2}\n",  # alias as a key
        b"=: 1\n",  # the YAML 1.1 value key
        b"a: !!str [1]\n",  # a tag that does not fit its node
        b"a: !!map [1]\n",
        b"a: !!seq {k: v}\n",
        b"a: [" * 100 + b"]" * 100 + b"\n",  # deep
        b"a: 1\n---\nb: 2\n",  # two documents
        b"<<<<<<< HEAD\na: 1\n",
        b"a: \x00\n",
        b"a: \xff\n",
        b"a:\n\t- 1\n",
    ],
)
def test_surprises_take_the_slow_path(raw: bytes) -> None:
    assert fast_load(raw) == (False, None)
    check_contract(raw)


SCALARS = st.sampled_from(
    [
        "1", "-0", "+7", "007", "0x10", "0o7", "0b1", "1_0", "1:20", "1.5", "1.", ".5",
        "1e3", "1.0e+3", "-.inf", ".NaN", "true", "True", "TRUE", "yes", "No", "on", "y",
        "null", "~", "", "2026-01-01", "2026-01-01T10:00:00Z", "'quoted'", '"x\\ty"',
        "!!str 12", "!!int '3'", "!!int x", "!!float 1", "!!bool yes", "!!null ''",
        "!!binary aGk=", "!x y", "&a 1", "*a", "hello world", "- x", "[1, 2]", "{k: v}",
        "|\n  block\n", ">\n  folded\n", "99999999999999999999", "1e400", "9.9e999",
    ]
)  # fmt: skip
KEYS = st.sampled_from(["a", "b", "model", "1", "true", "null", "<<", "'q'", "k k"])


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 5))):
        key = draw(KEYS)
        if draw(st.booleans()):
            lines.append(f"{key}: {draw(SCALARS)}")
        else:
            items = draw(st.lists(SCALARS, max_size=3))
            lines.append(f"{key}: [{', '.join(i for i in items if chr(10) not in i)}]")
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=400, deadline=None)
@given(documents())
def test_fast_path_agrees_with_load_yaml(raw: bytes) -> None:
    check_contract(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_fast_path_never_raises_on_bytes(raw: bytes) -> None:
    check_contract(raw)


@pytest.mark.parametrize("depth", [63, 64, 65, 66])
def test_depth_limit_matches(depth: int) -> None:
    check_contract(b"a: " + b"[" * depth + b"1" + b"]" * depth + b"\n")


@pytest.mark.parametrize("items", [99_998, 99_999, 100_000])
def test_node_limit_matches(items: int) -> None:
    check_contract(b"a: [" + b"1," * items + b"1]\n")


def test_float_overflow_is_not_vouched_for() -> None:
    assert fast_load(b"a: 1.0e+999\n") == (False, None)


AGENT_DOCS = st.builds(
    lambda model, temp, tokens, extra: (
        f"model: {model}\nsystem_prompt: |\n  You help.\ntemperature: {temp}\n"
        f"max_tokens: {tokens}\nguardrails: {{g: {extra}}}\n"
    ).encode(),
    st.sampled_from(["gpt-4o", "'1.10'", "1.10", "!!str x", ""]),
    SCALARS.filter(lambda s: "\n" not in s),
    st.sampled_from(["1", "0", "-3", "99999999999999999999", "0x10", "4096", "1.5", "yes"]),
    SCALARS.filter(lambda s: "\n" not in s),
)


@settings(max_examples=300, deadline=None)
@given(AGENT_DOCS)
def test_history_fast_path_gives_the_slow_paths_verdict(raw: bytes) -> None:
    """analyze_blob with the fast path equals analyze_blob with it switched off."""
    from agentver import history

    fast = history.analyze_blob(raw, "agents/a.yaml")
    original = history.fast_load
    history.fast_load = lambda raw: (False, None)
    try:
        slow = history.analyze_blob(raw, "agents/a.yaml")
    finally:
        history.fast_load = original
    assert fast == slow
