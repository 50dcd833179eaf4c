"""config_hash against the original reference formula, and its invariances."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.agentfile import agent_config
from agentver.config import load_yaml
from agentver.hashing import config_hash


def reference_hash(data: dict[str, Any]) -> str:
    """The original design's formula, written out independently of agentver."""
    obj = {
        "system_prompt": data["system_prompt"],
        "model": data["model"],
        "temperature": float(data.get("temperature", 0.7)),
        "max_tokens": data.get("max_tokens", 4096),
        "tools": sorted(data.get("tools", [])),
        "guardrails": data.get("guardrails", {}),
    }
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def hash_of(raw: str | bytes) -> str:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return config_hash(agent_config(load_yaml(data, "agents/a.yaml")))


def test_known_value() -> None:
    # Pinned: a change here silently renumbers every user's history.
    text = "model: gpt-4o\nsystem_prompt: You are helpful.\n"
    assert hash_of(text) == reference_hash({"model": "gpt-4o", "system_prompt": "You are helpful."})
    assert hash_of(text) == "88d51db629c22fa9"


def test_matches_reference_with_every_field() -> None:
    data = {
        "model": "claude-3",
        "system_prompt": "Ünïcode prompt — with “quotes”\nand lines\n",
        "temperature": 1,
        "max_tokens": 512,
        "tools": ["search", "create_ticket", "alpha"],
        "guardrails": {"pii_redaction": True, "nested": {"b": 1, "a": [1, 2]}},
    }
    text = (
        "model: claude-3\n"
        'system_prompt: "Ünïcode prompt — with “quotes”\\nand lines\\n"\n'
        "temperature: 1\n"
        "max_tokens: 512\n"
        "tools: [search, create_ticket, alpha]\n"
        "guardrails: {pii_redaction: true, nested: {b: 1, a: [1, 2]}}\n"
    )
    digest = hash_of(text)
    assert digest == reference_hash(data)
    assert len(digest) == 16 and int(digest, 16) >= 0


def test_temperature_int_and_float_hash_the_same() -> None:
    base = "model: m\nsystem_prompt: p\n"
    assert hash_of(base + "temperature: 1\n") == hash_of(base + "temperature: 1.0\n")
    assert hash_of(base + "temperature: 0.7\n") == hash_of(base)
    assert hash_of(base + "temperature: 0.8\n") != hash_of(base)


def test_params_change_the_hash_only_when_non_empty() -> None:
    base = "model: m\nsystem_prompt: p\n"
    assert hash_of(base + "params: {}\n") == hash_of(base)
    assert hash_of(base + "params: {top_p: 0.9}\n") != hash_of(base)


def test_every_hashed_field_matters() -> None:
    base = {"model": "m", "system_prompt": "p"}
    seen = {reference_hash(base)}
    for key, value in [
        ("model", "m2"),
        ("system_prompt", "p2"),
        ("temperature", 0.2),
        ("max_tokens", 10),
        ("tools", ["t"]),
        ("guardrails", {"x": True}),
    ]:
        changed = {**base, key: value}
        text = json.dumps(changed)  # JSON is YAML (ASCII here, so no surrogate escapes)
        assert hash_of(text) == reference_hash(changed)
        seen.add(hash_of(text))
    assert len(seen) == 7


# --- properties -------------------------------------------------------------------------

safe_text = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\u2028\u2029\x85"
    ),
    min_size=1,
    max_size=40,
)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
configs = st.fixed_dictionaries(
    {"model": safe_text, "system_prompt": safe_text},
    optional={
        "temperature": st.one_of(
            st.integers(0, 2), st.floats(0, 2, allow_nan=False, allow_infinity=False)
        ),
        "max_tokens": st.integers(1, 100_000),
        "tools": st.lists(identifiers, unique=True, max_size=5),
        "guardrails": st.dictionaries(identifiers, st.booleans() | st.integers(), max_size=4),
    },
)


def quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def yaml_float(value: float) -> str:
    # YAML 1.1 (PyYAML) reads 1e-05 as a string: its floats need a dot before the exponent.
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def render(
    data: dict[str, Any], order: list[str], style: str, comments: bool, description: str | None
) -> str:
    lines: list[str] = ["# header comment"] if comments else []
    if description is not None:
        lines.append(f"description: {quoted(description)}")
    for key in order:
        value = data[key]
        if isinstance(value, str):
            rendered = single_quoted(value) if style == "single" else quoted(value)
        elif isinstance(value, float):
            rendered = yaml_float(value)
        else:
            rendered = json.dumps(value, ensure_ascii=False)
        lines.append(f"{key}: {rendered}" + ("  # trailing comment" if comments else ""))
        if comments:
            lines.append("# between keys")
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None)
@given(
    configs,
    st.randoms(use_true_random=False),
    st.sampled_from(["single", "double"]),
    st.booleans(),
    st.one_of(st.none(), safe_text),
)
def test_formatting_does_not_change_the_hash(
    data: dict[str, Any], rng: Any, style: str, comments: bool, description: str | None
) -> None:
    order = list(data)
    canonical_text = render(data, order, "double", False, None)
    rng.shuffle(order)
    variant = render(data, order, style, comments, description)
    assert hash_of(variant) == hash_of(canonical_text) == reference_hash(data)


prompt_lines = st.lists(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,.!?()-]{0,30}[A-Za-z0-9.!?]", fullmatch=True),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(prompt_lines, st.sampled_from(["\n", "\r\n"]))
def test_block_and_quoted_prompt_hash_the_same(lines: list[str], newline: str) -> None:
    prompt = "\n".join(lines) + "\n"
    block = "model: m\nsystem_prompt: |\n" + "".join(f"  {line}\n" for line in lines)
    double = f"model: m\nsystem_prompt: {quoted(prompt)}\n"
    assert hash_of(block.replace("\n", newline)) == hash_of(double)
    assert hash_of(double) == reference_hash({"model": "m", "system_prompt": prompt})


@settings(max_examples=100, deadline=None)
@given(configs, st.permutations(["a", "b", "c", "d"]))
def test_tool_order_does_not_change_the_hash(data: dict[str, Any], tools: list[str]) -> None:
    with_tools = {**data, "tools": tools}
    as_yaml = render(with_tools, list(with_tools), "double", False, None)
    sorted_tools = {**data, "tools": sorted(tools)}
    sorted_yaml = render(sorted_tools, list(sorted_tools), "double", False, None)
    assert hash_of(as_yaml) == hash_of(sorted_yaml) == reference_hash(with_tools)
