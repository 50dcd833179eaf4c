"""The compiled schema check answers exactly as jsonschema does on the same schema."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.agentfile import _validator, is_valid

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 2, 0.0, 1.0, 2.0, 2.5, -1, 4096, "", "x", "gpt-4o"]),
    st.text(max_size=5),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = {
    "model": JSON,
    "system_prompt": JSON,
    "temperature": JSON,
    "max_tokens": JSON,
    "tools": st.one_of(JSON, st.lists(st.sampled_from(["a", "b", "", 1]), max_size=3)),
    "guardrails": JSON,
    "params": JSON,
    "description": JSON,
    "temprature": JSON,
}


@st.composite
def agent_like(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, strategy in FIELDS.items():
        if draw(st.integers(0, 9)) < (8 if key in {"model", "system_prompt"} else 3):
            out[key] = draw(strategy)
    if "model" in out and draw(st.booleans()):
        out["model"] = draw(st.sampled_from(["gpt-4o", "x"]))
    if "system_prompt" in out and draw(st.booleans()):
        out["system_prompt"] = "You are helpful."
    return out


@settings(max_examples=600, deadline=None)
@given(agent_like())
def test_compiled_check_equals_jsonschema(data: dict[str, Any]) -> None:
    assert is_valid(data) == _validator().is_valid(data)


def test_boundaries() -> None:
    base = {"model": "m", "system_prompt": "p"}
    cases = [
        {},
        {"temperature": 2},
        {"temperature": 2.0000001},
        {"temperature": True},
        {"max_tokens": 1.0},
        {"max_tokens": 0},
        {"max_tokens": True},
        {"tools": ["a", "a"]},
        {"tools": [""]},
        {"model": ""},
        {"guardrails": []},
        {"unknown": 1},
    ]
    for extra in cases:
        data = {**base, **extra}
        assert is_valid(data) == _validator().is_valid(data), extra
