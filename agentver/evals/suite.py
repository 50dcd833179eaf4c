"""Evaluation suites (``evals/<agent>.yaml``): load, validate against the schema, hash.

The JSON Schema in ``schemas/eval.schema.json`` is the source of truth for the shape;
this module adds the checks a schema cannot express (unique case ids, regexes that
compile, ``json_schema`` values that are schemas, variables that are defined).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from agentver.agentfile import read_worktree_file
from agentver.config import Loaded, load_yaml, read_file
from agentver.errors import ConfigError, NotFound, UsageError
from agentver.hashing import hash_canonical
from agentver.models import Finding

ASSERTION_KINDS = (
    "contains",
    "not_contains",
    "regex",
    "equals",
    "json_schema",
    "max_latency_ms",
    "judge",
)
_CASE_FOLDING = ("contains", "not_contains", "equals")  # kinds that accept ignore_case
DEFAULT_JUDGE_THRESHOLD = 0.7
_VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Assertion:
    kind: str  # one of ASSERTION_KINDS
    text: str = ""  # contains / not_contains / regex / equals
    ignore_case: bool = False
    schema: Mapping[str, Any] = field(default_factory=dict)  # json_schema
    limit_ms: float = 0.0  # max_latency_ms
    rubric: str = ""  # judge
    threshold: float = DEFAULT_JUDGE_THRESHOLD  # judge


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Case:
    id: str
    messages: tuple[Message, ...]
    assertions: tuple[Assertion, ...]
    golden: str | None = None
    weight: float = 1.0
    repeat: int = 1
    variables: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None

    @property
    def uses_judge(self) -> bool:
        return any(a.kind == "judge" for a in self.assertions)


@dataclass(frozen=True)
class Suite:
    agent: str
    path: str
    cases: tuple[Case, ...]
    hash: str  # see suite_hash

    @property
    def uses_judge(self) -> bool:
        return any(case.uses_judge for case in self.cases)


def suite_hash(suite: Suite) -> str:
    return suite.hash


def substitute(text: str, variables: Mapping[str, str], *, strict: bool = True) -> str:
    """Replace ``{{ name }}``; an unknown name is a KeyError when strict, else left as is."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return variables[name]
        if strict:
            raise KeyError(name)
        return match.group(0)

    return _VARIABLE_RE.sub(one, text)


def load_suite_file(path: Path, root: Path | None = None) -> Loaded:
    """Parse one suite with the hardened loader every agentver file goes through.

    With ``root`` (the repository), a suite that a symlink leads outside the work tree
    or into ``.git`` is refused before it is read: its content would be echoed in
    messages (the same rule as for agent files).
    """
    try:
        if root is not None:
            raw = read_worktree_file(root, os.path.relpath(path, root))
        else:
            raw = read_file(path, str(path))
    except NotFound as exc:
        raise ConfigError(f"cannot read suite: {exc.message}", str(path)) from None
    except UsageError as exc:
        raise ConfigError(exc.message, str(path), hint=exc.hint) from None
    return load_yaml(raw, str(path))


def load_suite(path: Path, root: Path | None = None) -> Suite:
    """Load and validate one suite; the first problem is raised as ConfigError."""
    loaded = load_suite_file(path, root)
    data = loaded.data
    problems = suite_problems(data, path)
    if problems:
        where, message = problems[0]
        line, col = loaded.locate(where)
        raise ConfigError(message, str(path), line, col)
    assert isinstance(data, dict)  # suite_problems guarantees it
    return _build(data, path)


def suite_findings(path: Path, root: Path | None = None) -> list[Finding]:
    """Every problem of a suite file as ``validate`` findings (empty when it is valid)."""
    try:
        loaded = load_suite_file(path, root)
    except ConfigError as exc:
        return [Finding(exc.path, exc.line, exc.col, exc.reason)]
    return loaded_suite_findings(loaded, path)


def loaded_suite_findings(loaded: Loaded, path: Path) -> list[Finding]:
    """The findings of an already parsed suite: exactly what ``load_suite`` refuses."""
    found = []
    for where, message in suite_problems(loaded.data, path):
        line, col = loaded.locate(where)
        found.append(Finding(loaded.path, line, col, message))
    return found


@cache
def eval_schema() -> dict[str, Any]:
    text = resources.files("agentver").joinpath("schemas/eval.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


Where = tuple[str | int, ...]


def suite_problems(data: object, path: Path) -> list[tuple[Where, str]]:
    """``(key path, message)`` for each problem of parsed suite data: schema errors (sorted
    by position) or, when the shape is valid, the checks a schema cannot express. The key
    path locates the node (for example ``("cases", 0, "assert", 1)``)."""
    import jsonschema

    if not isinstance(data, dict):
        return [((), "a suite is a mapping with a `cases:` list")]
    validator = jsonschema.Draft202012Validator(eval_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    if errors:
        return [(tuple(e.path), _explain(e)) for e in errors]
    found: list[tuple[Where, str]] = []
    agent = data.get("agent")
    if agent is not None and agent != path.stem:
        found.append((("agent",), f"agent {agent!r} does not match the file name {path.name!r}"))
    suite_vars = _variables(data.get("variables"))
    seen: set[str] = set()
    for index, case in enumerate(data["cases"]):
        at: Where = ("cases", index)
        if case["id"] in seen:
            found.append(((*at, "id"), f"duplicate case id {case['id']!r}"))
        seen.add(case["id"])
        variables = {**suite_vars, **_variables(case.get("variables"))}
        texts: list[tuple[Where, str]] = [((*at, "input"), case.get("input", ""))]
        for m_index, message in enumerate(case.get("messages", [])):
            content = message if isinstance(message, str) else message["content"]
            texts.append(((*at, "messages", m_index), content))
        texts.append(((*at, "golden"), case.get("golden", "")))
        for where, text in texts:
            try:
                substitute(text, variables)
            except KeyError as exc:
                found.append((where, f"undefined variable {exc.args[0]!r}"))
        for a_index, spec in enumerate(case["assert"]):
            found.extend(_assertion_problems(spec, (*at, "assert", a_index)))
    return found


def _assertion_problems(spec: Mapping[str, Any], at: Where) -> list[tuple[Where, str]]:
    import jsonschema

    kind = next(k for k in ASSERTION_KINDS if k in spec)
    if "ignore_case" in spec and kind not in _CASE_FOLDING:
        return [((*at, "ignore_case"), f"ignore_case does not apply to {kind}")]
    if kind == "regex":
        try:
            re.compile(spec["regex"])
        except re.error as exc:
            return [((*at, "regex"), f"invalid regular expression: {exc}")]
    if kind == "json_schema":
        try:
            jsonschema.Draft202012Validator.check_schema(spec["json_schema"])
        except jsonschema.SchemaError as exc:
            return [((*at, "json_schema"), f"invalid JSON Schema: {exc.message}")]
    return []


def _explain(error: Any) -> str:
    where = ".".join(str(p) for p in error.path) or "suite"
    if error.validator == "oneOf" and error.path and "assert" in list(error.path)[:-1]:
        return f"{where}: an assertion has exactly one of: {', '.join(ASSERTION_KINDS)}"
    if error.validator == "oneOf" and "required" in json.dumps(error.validator_value):
        return f"{where}: a case has exactly one of `input` or `messages`"
    return f"{where}: {error.message}"


def _variables(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    # YAML booleans and numbers become the text a user would expect in a prompt.
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in raw.items()}


def _build(data: Mapping[str, Any], path: Path) -> Suite:
    defaults = data.get("defaults", {})
    suite_vars = _variables(data.get("variables"))
    cases = []
    for case in data["cases"]:
        variables = {**suite_vars, **_variables(case.get("variables"))}
        raw_messages: Sequence[Any] = case.get("messages") or [case["input"]]
        messages = tuple(
            Message("user", substitute(m, variables))
            if isinstance(m, str)
            else Message(m["role"], substitute(m["content"], variables))
            for m in raw_messages
        )
        golden = case.get("golden")
        cases.append(
            Case(
                id=case["id"],
                messages=messages,
                assertions=tuple(_assertion(spec) for spec in case["assert"]),
                golden=None if golden is None else substitute(golden, variables),
                weight=float(case.get("weight", defaults.get("weight", 1.0))),
                repeat=int(case.get("repeat", defaults.get("repeat", 1))),
                variables=variables,
                description=case.get("description"),
            )
        )
    return Suite(
        agent=data.get("agent", path.stem),
        path=str(path),
        cases=tuple(cases),
        hash=_hash(data),
    )


def _assertion(spec: Mapping[str, Any]) -> Assertion:
    kind = next(k for k in ASSERTION_KINDS if k in spec)
    value = spec[kind]
    ignore_case = bool(spec.get("ignore_case", False))
    if kind == "json_schema":
        return Assertion(kind, schema=value)
    if kind == "max_latency_ms":
        return Assertion(kind, limit_ms=float(value))
    if kind == "judge":
        threshold = float(value.get("threshold", DEFAULT_JUDGE_THRESHOLD))
        return Assertion(kind, rubric=value["rubric"], threshold=threshold)
    return Assertion(kind, text=value, ignore_case=ignore_case)


def _hash(data: Mapping[str, Any]) -> str:
    """Hash of what can change results: comments, formatting and descriptions do not."""
    content = {k: v for k, v in data.items() if k != "description"}
    content["cases"] = [
        {k: v for k, v in case.items() if k != "description"} for case in data["cases"]
    ]
    return hash_canonical(content)
