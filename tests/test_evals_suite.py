"""Suite files: schema, semantic checks with line numbers, hashing, variables."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.errors import ConfigError
from agentver.evals.suite import eval_schema, load_suite, substitute, suite_findings, suite_hash

ROOT = Path(__file__).resolve().parent.parent

SUITE = """\
# yaml-language-server: $schema=../schemas/eval.schema.json
agent: support
description: Billing must keep working
variables: {company: Acme}
defaults: {repeat: 2}
cases:
  - id: refund
    input: "Hi, I am {{ name }} from {{company}}. Can I get a refund for a double charge?"
    variables: {name: Alice}
    golden: "We refunded the duplicate charge, {{ name }}."
    weight: 3
    assert:
      - contains: refund
        ignore_case: true
      - not_contains: "can't help"
      - regex: "(?i)business days"
      - judge: {rubric: "Offers the refund", threshold: 0.5}
  - id: greeting
    repeat: 1
    messages:
      - "Hello"
      - {role: assistant, content: "Hi! How can I help?"}
      - {role: user, content: "Reply with [json]"}
    assert:
      - json_schema: {type: object, required: [status]}
      - max_latency_ms: 5000
      - equals: "x"
"""


def write(tmp_path: Path, text: str, name: str = "support.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_schema_copies_are_identical() -> None:
    packaged = (ROOT / "agentver" / "schemas" / "eval.schema.json").read_bytes()
    assert packaged == (ROOT / "schemas" / "eval.schema.json").read_bytes()
    assert eval_schema()["title"].startswith("agentver evaluation suite")


def test_load_full_suite(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, SUITE))
    assert suite.agent == "support"
    refund, greeting = suite.cases
    assert refund.messages[0].content == (
        "Hi, I am Alice from Acme. Can I get a refund for a double charge?"
    )
    assert refund.golden == "We refunded the duplicate charge, Alice."
    assert (refund.weight, refund.repeat, greeting.repeat) == (3.0, 2, 1)
    assert [a.kind for a in refund.assertions] == ["contains", "not_contains", "regex", "judge"]
    assert refund.assertions[0].ignore_case
    assert refund.assertions[3].threshold == 0.5 and refund.uses_judge
    assert [m.role for m in greeting.messages] == ["user", "assistant", "user"]
    assert greeting.assertions[0].schema == {"type": "object", "required": ["status"]}
    assert greeting.assertions[1].limit_ms == 5000
    assert suite.uses_judge and not greeting.uses_judge
    assert suite_findings(tmp_path / "support.yaml") == []


def test_hash_ignores_comments_formatting_and_descriptions(tmp_path: Path) -> None:
    original = load_suite(write(tmp_path, SUITE))
    data = yaml.safe_load(SUITE)
    data["description"] = "something else"
    data["cases"][0]["description"] = "added"
    (tmp_path / "json").mkdir()
    reformatted = write(tmp_path / "json", json.dumps(data, indent=4))
    assert suite_hash(load_suite(reformatted)) == suite_hash(original)
    data["cases"][0]["weight"] = 4
    changed = write(tmp_path, yaml.safe_dump(data), "support.yaml")
    assert suite_hash(load_suite(changed)) != suite_hash(original)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("cases: []\n", 1, "should be non-empty"),
        ("cases:\n  - id: a\n    assert: [{contains: x}]\n", 2, "exactly one of `input`"),
        (
            "cases:\n  - id: a\n    input: hi\n    assert:\n      - {contains: x, regex: y}\n",
            5,
            "exactly one of: contains",
        ),
        ("cases:\n  - id: a\n    input: hi\n    assert:\n      - {contain: x}\n", 5, "assert"),
        (
            "cases:\n  - id: a\n    input: hi\n    repeat: 0\n    assert: [{contains: x}]\n",
            4,
            "repeat",
        ),
        (
            "cases:\n  - id: a\n    input: hi\n    assert:\n      - regex: '(unclosed'\n",
            5,
            "invalid regular expression",
        ),
        (
            "cases:\n  - id: a\n    input: hi\n    assert:\n      - json_schema: {type: nope}\n",
            5,
            "invalid JSON Schema",
        ),
        (
            "cases:\n  - id: a\n    input: 'hi {{who}}'\n    assert: [{contains: x}]\n",
            3,
            "undefined variable 'who'",
        ),
        (
            "cases:\n  - id: a\n    input: hi\n    assert: [{contains: x}]\n"
            "  - id: a\n    input: hi\n    assert: [{contains: x}]\n",
            5,
            "duplicate case id",
        ),
        (
            "cases:\n  - id: a\n    input: hi\n    assert:\n"
            "      - {regex: x, ignore_case: true}\n",
            5,
            "ignore_case does not apply",
        ),
        (
            "agent: billing\ncases:\n  - id: a\n    input: hi\n    assert: [{contains: x}]\n",
            1,
            "does not match the file name",
        ),
        (
            "cases:\n  - id: a\n    input: hi\n    assert:\n      - judge: {threshold: 2}\n",
            5,
            "judge",
        ),
        ("cases: [\n", 2, "invalid YAML"),
        ("- just a list\n", 1, "a suite is a mapping"),
    ],
)
def test_bad_suites_name_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert info.value.exit_code == 2
    assert fragment in info.value.message
    assert info.value.path == str(path)
    assert info.value.line == line, info.value.message
    findings = suite_findings(path)
    assert findings and findings[0].line == line and fragment in findings[0].message


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read suite"):
        load_suite(tmp_path / "nope.yaml")


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(names, st.text(max_size=10), max_size=4), st.text(max_size=40))
def test_substitute_is_identity_without_placeholders(vars_: dict[str, str], text: str) -> None:
    plain = text.replace("{", "(")
    assert substitute(plain, vars_) == plain


@settings(max_examples=60, deadline=None)
@given(names, st.text(max_size=20).filter(lambda v: "{{" not in v))
def test_substitute_fills_every_spacing(name: str, value: str) -> None:
    for template in ("{{%s}}", "{{ %s }}", "{{  %s}}"):
        assert substitute(f"a {template % name} b", {name: value}) == f"a {value} b"
    assert substitute("{{ missing }}", {}, strict=False) == "{{ missing }}"
    with pytest.raises(KeyError):
        substitute("{{ missing }}", {})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["cases", "id", "input", "assert", "contains", "judge", "repeat", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(json_values.map(lambda v: yaml.safe_dump(v)), st.text(max_size=60)))
def test_loading_any_text_raises_only_config_error(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "support.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        suite = load_suite(path)
    except ConfigError as exc:
        assert exc.line >= 1 and exc.col >= 1
        assert all(f.line >= 1 for f in suite_findings(path))
    else:
        assert suite.cases and suite_findings(path) == []
