"""The storable rule (agentver.storable): one definition used by validate, history, sync.

Issue 12 finding 2 (a file that passes ``validate`` then breaks ``sync``) and finding 7
(a 504 KB file that becomes a 500 MB store row), reproduced through the loader, the
rule and the ``validate`` command.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.config import MAX_EXPANDED_CHARS, load_yaml
from agentver.errors import ConfigError
from agentver.storable import (
    INT64_MAX,
    INT64_MIN,
    MAX_EXPANDED_BYTES,
    MAX_FILE_BYTES,
    _plainly_storable,
    _value_problems,
    storable_problems,
    value_problems,
)

AGENT = "model: gpt-4o\nsystem_prompt: You help with billing.\n"


def problems(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    return [str(p) for p in storable_problems(load_yaml(raw, "agents/a.yaml"))]


def test_a_plain_agent_is_storable() -> None:
    text = (
        AGENT + "temperature: 0.5\nmax_tokens: 4096\ntools: [a, b]\nguardrails: {x: -3, y: 1.5e3}\n"
    )
    assert problems(text) == []


@pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN])
def test_64_bit_limits_are_storable(value: int) -> None:
    assert problems(AGENT + f"guardrails: {{n: {value}}}\n") == []


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 99999999999999999999])
def test_integers_beyond_64_bits_are_not_storable(value: int) -> None:
    found = problems(AGENT + f"max_tokens: {value}\n")
    assert len(found) == 1
    assert "max_tokens: integer" in found[0] and "outside the 64-bit range" in found[0]
    assert found[0].startswith("line 3, col 13:")


@pytest.mark.parametrize(
    ("source", "form", "read_as"),
    [
        ("0x1F", "hexadecimal", "31"),
        ("017", "octal", "15"),
        ("0b101", "binary", "5"),
        ("1_000", "number with underscores", "1000"),
        ("1:30", "sexagesimal", "90"),
        ("1:30.5", "sexagesimal", "90.5"),
        ("1_000.5", "number with underscores", "1000.5"),
        ("-0x10", "hexadecimal", "-16"),
    ],
)
def test_yaml11_number_forms_are_refused_with_a_hint(source: str, form: str, read_as: str) -> None:
    found = problems(AGENT + f"guardrails: {{limit: {source}}}\n")
    assert len(found) == 1
    assert found[0].startswith(f"line 3, col 21: storable: guardrails.limit: {source} is a {form}")
    assert found[0].endswith(
        f'in YAML 1.1, read as {read_as}; write {read_as} or quote it: "{source}"'
    )


@pytest.mark.parametrize("source", ['"0x1F"', "'1:30'", "12", "-7", "+3", "0", "1.5", ".5", "1e3"])
def test_quoted_and_decimal_forms_are_fine(source: str) -> None:
    assert problems(AGENT + f"guardrails: {{limit: {source}}}\n") == []


@pytest.mark.parametrize(
    "tagged", ["!!str 12", '!!int "7"', "!!float 1", "!!int 12", "!!map {a: 1}"]
)
def test_explicit_tags_are_not_storable(tagged: str) -> None:
    found = problems(AGENT + f"guardrails: {{x: {tagged}}}\n")
    assert len(found) == 1 and "explicit tag !!" in found[0]


def test_an_exclamation_mark_in_text_is_not_a_tag() -> None:
    assert problems(AGENT + 'description: "Hi! Watch out!"\ntools: [wow!]\n') == []


@pytest.mark.parametrize(
    "raw",
    [b"max_tokens: !!int abc\n", b"x: !!bool maybe\n", b"x: !!float abc\n", b"x: !!int 0x\n"],
)
def test_tags_that_cannot_convert_are_located_errors_not_crashes(raw: bytes) -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml(raw, "a.yaml")
    assert (caught.value.line, caught.value.col) == (1, raw.index(b"!") + 1)
    assert "cannot be read as a YAML" in caught.value.reason


@pytest.mark.parametrize("raw", [b"x: " + b"9" * 5000 + b"\n", b"x: 0x" + b"F" * 5000 + b"\n"])
def test_integers_too_long_for_python_are_errors_not_crashes(raw: bytes) -> None:
    with pytest.raises(ConfigError):
        load_yaml(raw, "a.yaml")


def test_a_nul_character_is_not_storable() -> None:
    """PostgreSQL text cannot hold NUL; a double-quoted YAML "\\0" makes one."""
    found = problems(AGENT + 'description: "a\\0b"\n')
    assert found == ["line 3, col 14: storable: description: value contains a NUL character"]
    assert [p.key for p in value_problems({"k": ["\ud800"]})] == ["k[0]"]


def test_file_size_limit() -> None:
    body = "x" * (MAX_FILE_BYTES + 1)
    found = problems(f"model: m\nsystem_prompt: {body}\n")
    assert any(f"the limit is {MAX_FILE_BYTES:,}" in p for p in found)
    assert problems(f"model: m\nsystem_prompt: {'x' * (MAX_FILE_BYTES - 100)}\n") == []


def alias_file(chunk: int, copies: int) -> bytes:
    """``chunk`` bytes written once and referenced ``copies`` times through aliases."""
    head = f"model: m\nsystem_prompt: hi\nparams:\n  a: &big {'y' * chunk}\n  b: ["
    return (head + ", ".join(["*big"] * copies) + "]\n").encode()


def test_a_504kb_alias_file_is_refused_by_the_loader_quickly() -> None:
    """Issue 12 finding 7: 504 KB of YAML used to expand to a 500 MB store row."""
    raw = alias_file(500_000, 1000)
    assert 500_000 < len(raw) < 510_000
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_yaml(raw, "agents/a.yaml")
    assert time.perf_counter() - started < 2.0
    assert f"more than {MAX_EXPANDED_CHARS:,} characters through aliases" in caught.value.reason


def test_aliases_expanding_past_the_stored_limit_are_not_storable() -> None:
    raw = alias_file(100_000, 12)  # 100 KB of file, 1.3 MB of content
    loaded = load_yaml(raw, "agents/a.yaml")
    found = [str(p) for p in storable_problems(loaded)]
    assert len(found) == 1
    assert f"the limit is {MAX_EXPANDED_BYTES:,}" in found[0]


def test_value_problems_for_plain_data() -> None:
    assert value_problems({"a": [1, 2.5, "x", None, True]}) == []
    found = value_problems({"a": {"b": 2**64}, "c": float("nan")})
    assert [p.key for p in found] == ["a.b", "c"]


def test_validate_reports_each_storable_problem(repo: Any, run_cli: Any) -> None:
    repo.write(
        "agents/support.yaml",
        AGENT + "max_tokens: 99999999999999999999\nguardrails: {limit: 0x1F}\n",
    )
    code, out, _ = run_cli("validate", cwd=repo.path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("agents/support.yaml:3:13: storable: max_tokens: integer")
    assert lines[1].startswith("agents/support.yaml:4:21: storable: guardrails.limit: 0x1F")
    assert len(lines) == 2


def test_validate_reports_a_bad_tag_instead_of_crashing(repo: Any, run_cli: Any) -> None:
    """Issue 12 finding 2: ``!!int abc`` crashed ``validate`` itself."""
    repo.write("agents/support.yaml", AGENT + "max_tokens: !!int abc\n")
    code, out, err = run_cli("validate", cwd=repo.path)
    assert code == 1
    assert out.startswith("agents/support.yaml:3:13: 'abc' cannot be read as a YAML int")
    assert "Traceback" not in err


def test_pointer_files_follow_the_same_rule(repo: Any, run_cli: Any) -> None:
    repo.commit_agent("support", AGENT, "add")
    repo.write(
        ".agentver/deployments/production/support.yaml",
        "agent: support\nenvironment: production\nflags:\n  beta: {enabled: true, percent: 0x10}\n",
    )
    code, out, _ = run_cli(
        "validate", ".agentver/deployments/production/support.yaml", cwd=repo.path
    )
    assert code == 1
    assert "storable: flags.beta.percent: 0x10 is a hexadecimal number" in out


PLAIN_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None), max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(PLAIN_VALUES)
def test_the_quick_walk_only_passes_what_the_full_rule_passes(data: Any) -> None:
    """value_problems skips the located walk when the quick one passes (issue 16): the
    quick walk must never pass a value the full rule refuses."""
    if _plainly_storable(data):
        assert _value_problems(data, (), None) == []


@pytest.mark.parametrize("text", ["\U0001f600" * 1000, "\x01" * 1000, "é" * 1000, "a" * 1000])
def test_the_quick_walk_bounds_the_json_size(text: str, monkeypatch: Any) -> None:
    """Its size bound is an upper bound of json.dumps's length, even for escapes."""
    import agentver.storable

    data = {"k": [text, 2**63 - 1, -1.2345678901234567e-300, None, False, {"x": []}]}
    exact = len(json.dumps(data))
    monkeypatch.setattr(agentver.storable, "MAX_EXPANDED_BYTES", exact - 1)
    assert not _plainly_storable(data)  # over by one: the quick walk must not vouch
    assert value_problems(data)  # and the full rule refuses it


@settings(max_examples=300, deadline=None)
@given(PLAIN_VALUES, st.text(max_size=40), st.integers(min_value=-(2**70), max_value=2**70))
def test_the_storable_rule_implies_the_stores_own_bound(
    data: Any, prompt: str, tokens: int
) -> None:
    """History skips the store's bound for a file that kept the storable rule (issue 16):
    the rule must imply it."""
    from agentver.agentfile import agent_config
    from agentver.config import Loaded
    from agentver.store.limits import unstorable_reason

    doc = {"model": "m", "system_prompt": prompt, "max_tokens": tokens, "guardrails": {"g": data}}
    if not value_problems(doc):
        assert unstorable_reason(agent_config(Loaded("a.yaml", doc, ""))) is None
