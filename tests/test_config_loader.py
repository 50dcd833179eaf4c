"""The hardened YAML loader (agentver.config) and agent schema findings (agentver.agentfile)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.agentfile import agent_config, schema_findings
from agentver.config import MAX_BYTES, load_yaml
from agentver.errors import AgentverError, ConfigError

GOOD = b"model: gpt-4o\nsystem_prompt: You help.\n"


def load_error(raw: bytes) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_yaml(raw, "agents/x.yaml")
    return info.value


def messages(raw: bytes) -> list[str]:
    return [str(finding) for finding in schema_findings(load_yaml(raw, "agents/x.yaml"))]


def test_good_file_loads_with_locations() -> None:
    loaded = load_yaml(b"model: gpt-4o\nsystem_prompt: |\n  line one\n", "agents/x.yaml")
    assert loaded.data == {"model": "gpt-4o", "system_prompt": "line one\n"}
    assert loaded.locate(("system_prompt",)) == (2, 16)
    assert loaded.locate(("system_prompt",), key=True) == (2, 1)
    assert schema_findings(loaded) == []


def test_every_error_is_located() -> None:
    error = load_error(b"model: a\nsystem_prompt: [unclosed\n")
    assert error.path == "agents/x.yaml"
    assert error.line >= 2 and error.col >= 1
    assert str(error).startswith(f"agents/x.yaml:{error.line}:{error.col}: invalid YAML")


@pytest.mark.parametrize(
    "raw",
    [
        b"model: !!python/object/apply:os.system ['echo hacked']\n",
        b"model: !!python/name:os.system\n",
        b"model: !custom thing\n",
        b"tools: !!set {a, b}\n",
    ],
)
def test_python_and_custom_tags_are_refused(raw: bytes) -> None:
    error = load_error(raw)
    assert "unsupported tag" in error.reason
    assert (error.line, error.col) == (1, 8)


def test_duplicate_keys_name_both_lines() -> None:
    error = load_error(b"model: a\nsystem_prompt: x\nmodel: b\n")
    assert (error.line, error.col) == (3, 1)
    assert "duplicate key 'model'" in error.reason
    assert "line 1" in error.reason


def test_duplicate_nested_keys() -> None:
    error = load_error(b"model: a\nguardrails:\n  pii: true\n  pii: false\n")
    assert (error.line, error.col) == (4, 3)
    assert "line 3" in error.reason


def test_alias_bomb_is_refused_quickly() -> None:
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    error = load_error(("\n".join(rows) + "\n").encode())
    assert time.perf_counter() - started < 5
    assert "alias bomb" in error.reason
    assert error.hint is not None


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused(depth: int) -> None:
    started = time.perf_counter()
    error = load_error(b"a: " + b"[" * depth + b"]" * depth + b"\n")
    assert time.perf_counter() - started < 5
    assert "nest" in error.reason


def test_huge_file_is_refused_before_parsing() -> None:
    started = time.perf_counter()
    error = load_error(b"system_prompt: " + b"x" * (MAX_BYTES + 1) + b"\n")
    assert time.perf_counter() - started < 1
    assert "limit" in error.reason
    assert error.hint


def test_non_string_key_says_quote_it() -> None:
    error = load_error(b"model: m\n1: a\n")
    assert (error.line, error.col) == (2, 1)
    assert "not a string" in error.reason
    assert error.hint == 'quote it: "1"'


def test_date_says_quote_it() -> None:
    error = load_error(b"model: 2024-01-01\n")
    assert "date" in error.reason
    assert error.hint == 'quote it: "2024-01-01"'


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO"])
def test_yaml11_booleans_are_caught(word: str) -> None:
    error = load_error(f"model: m\nguardrails: {{pii: {word}}}\n".encode())
    assert error.line == 2
    assert "YAML 1.1" in error.reason
    assert error.hint is not None and f'"{word}"' in error.hint


def test_version_like_model_is_a_schema_finding_with_quote_hint() -> None:
    found = messages(b"model: 1.10\nsystem_prompt: hi\n")
    assert found == [
        "agents/x.yaml:1:8: model must be a string, got a number (1.10 was read as 1.1); "
        'quote it: "1.10"'
    ]


@pytest.mark.parametrize(
    "raw, line",
    [
        (b"model: m\n<<<<<<< HEAD\nsystem_prompt: a\n=======\nsystem_prompt: b\n>>>>>>> x\n", 2),
        (b"model: m\nsystem_prompt: |\n  a\n=======\n  b\n", 4),
        (b"model: m\nsystem_prompt: |\n  fine\n>>>>>>> theirs\n", 4),
    ],
)
def test_conflict_markers_anywhere_are_errors(raw: bytes, line: int) -> None:
    error = load_error(raw)
    assert "conflict marker" in error.reason
    assert error.line == line
    assert error.hint is not None


def test_unknown_key_suggests_the_right_one() -> None:
    assert messages(b"model: m\nsystem_prompt: hi\ntemprature: 0.5\n") == [
        "agents/x.yaml:3:1: unknown key 'temprature' (did you mean 'temperature'?)"
    ]


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    (found,) = messages(b"model: m\nsystem_prompt: hi\nzzz: 1\n")
    assert "unknown key 'zzz'" in found and "allowed keys:" in found


def test_schema_findings_are_all_reported_and_located() -> None:
    found = messages(b"model: m\ntemperature: 3\nmax_tokens: 0\ntools: [a, a]\n")
    assert any("missing required key 'system_prompt'" in f for f in found)
    assert any(f.startswith("agents/x.yaml:2:14:") and "temperature" in f for f in found)
    assert any(f.startswith("agents/x.yaml:3:13:") and "max_tokens" in f for f in found)
    assert any(f.startswith("agents/x.yaml:4:8:") and "same item twice" in f for f in found)


def test_nul_byte_is_an_error() -> None:
    error = load_error(b"model: m\nsystem_prompt: a\x00b\n")
    assert "NUL" in error.reason
    assert (error.line, error.col) == (2, 17)


def test_bom_is_accepted() -> None:
    loaded = load_yaml(b"\xef\xbb\xbf" + GOOD, "agents/x.yaml")
    assert loaded.data == load_yaml(GOOD, "agents/x.yaml").data


def test_crlf_is_accepted_with_the_same_hash() -> None:
    from agentver.hashing import config_hash

    lf = b"model: m\nsystem_prompt: |\n  one\n  two\ntools: [a]\n"
    crlf = lf.replace(b"\n", b"\r\n")
    a = agent_config(load_yaml(lf, "a.yaml"))
    b = agent_config(load_yaml(crlf, "a.yaml"))
    assert b.system_prompt == "one\ntwo\n"
    assert config_hash(a) == config_hash(b)


def test_tab_indentation_is_an_error_with_hint() -> None:
    error = load_error(b"model: m\nguardrails:\n\tpii: true\n")
    assert error.line == 3
    assert error.hint is not None and "tab" in error.hint.lower()


def test_tab_indentation_is_an_error() -> None:
    error = load_error(b"model: m\nguardrails:\n\tpii: true\n")
    assert (error.line, error.col) == (3, 1)


def test_invalid_utf8_is_an_error() -> None:
    error = load_error(b"model: m\nsystem_prompt: caf\xe9\n")
    assert "UTF-8" in error.reason
    assert error.line == 2


def test_empty_file_is_a_finding_not_a_crash() -> None:
    assert load_yaml(b"", "agents/x.yaml").data is None
    assert load_yaml(b"# just a comment\n", "agents/x.yaml").data is None
    assert messages(b"") == ["agents/x.yaml:1:1: expected a mapping of agent settings, got empty"]


def test_list_at_top_level_is_a_finding() -> None:
    assert messages(b"- model\n- prompt\n") == [
        "agents/x.yaml:1:1: expected a mapping of agent settings, got list"
    ]
    with pytest.raises(ConfigError, match="expected a mapping"):
        agent_config(load_yaml(b"- a\n", "agents/x.yaml"))


def test_multiple_documents_are_refused() -> None:
    error = load_error(b"model: a\nsystem_prompt: b\n---\nmodel: c\n")
    assert error.line == 3
    assert "document" in error.reason


def test_merge_keys_are_refused() -> None:
    error = load_error(b"base: &b {x: 1}\nguardrails:\n  <<: *b\n")
    assert "merge keys" in error.reason


def test_infinite_numbers_are_refused() -> None:
    error = load_error(b"model: m\ntemperature: .inf\n")
    assert "finite" in error.reason


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_loader_raises_only_agentver_errors_on_text(text: str) -> None:
    try:
        loaded = load_yaml(text.encode("utf-8"), "agents/x.yaml")
        schema_findings(loaded)
        agent_config(loaded)
    except AgentverError:
        pass


YAMLISH = st.lists(
    st.sampled_from(
        [
            b"model: ",
            b"system_prompt: ",
            b"\n",
            b"  ",
            b"- ",
            b"&a ",
            b"*a",
            b"{",
            b"}",
            b"[",
            b"]",
            b", ",
            b'"',
            b"'",
            b"|\n",
            b">-\n",
            b"!!python/object:os.system",
            b"!!binary ",
            b"? ",
            b"<<: ",
            b"---\n",
            b"...\n",
            b"%YAML 1.1\n",
            b"yes",
            b"1.10",
            b"2024-01-01",
            b"0x1F",
            b".nan",
            b"\t",
            b"\r\n",
            b"\xef\xbb\xbf",
            b"\xff",
            b"\x00",
            b"#",
            b"=======\n",
            b"tools",
            b"guardrails",
            b"temperature: ",
        ]
    ),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(YAMLISH.map(b"".join), st.binary(max_size=200)))
def test_loader_raises_only_agentver_errors_on_bytes(raw: bytes) -> None:
    try:
        loaded = load_yaml(raw, "agents/x.yaml")
        schema_findings(loaded)
        agent_config(loaded)
    except AgentverError:
        pass
