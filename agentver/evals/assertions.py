"""Check one assertion against one answer. Pure functions, except the judge callback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from agentver.evals.results import AssertionResult
from agentver.evals.suite import Assertion

# judge(rubric, threshold) -> (score 0..1, reason); the runner binds it to a provider.
Judge = Callable[[Assertion], tuple[float, str]]

_FENCE_RE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n```$", re.DOTALL)


def check(assertion: Assertion, output: str, latency_ms: int, judge: Judge) -> AssertionResult:
    kind = assertion.kind
    if kind in ("contains", "not_contains"):
        haystack, needle = output, assertion.text
        if assertion.ignore_case:
            haystack, needle = haystack.casefold(), needle.casefold()
        found = needle in haystack
        passed = found if kind == "contains" else not found
        verb = "found" if found else "not found"
        return AssertionResult(kind, passed, f"{assertion.text!r} {verb}")
    if kind == "regex":
        match = re.search(assertion.text, output)
        message = (
            f"matched {match.group(0)[:60]!r}" if match else f"no match for /{assertion.text}/"
        )
        return AssertionResult(kind, match is not None, message)
    if kind == "equals":
        left, right = output.strip(), assertion.text.strip()
        if assertion.ignore_case:
            left, right = left.casefold(), right.casefold()
        passed = left == right
        return AssertionResult(kind, passed, "equal" if passed else f"got {_short(output)}")
    if kind == "json_schema":
        return _json_schema(assertion, output)
    if kind == "max_latency_ms":
        passed = latency_ms <= assertion.limit_ms
        return AssertionResult(kind, passed, f"{latency_ms} ms (limit {assertion.limit_ms:g} ms)")
    if kind == "judge":
        score, reason = judge(assertion)
        passed = score >= assertion.threshold
        message = f"score {score:g} (threshold {assertion.threshold:g})"
        return AssertionResult(kind, passed, f"{message}: {reason}" if reason else message, score)
    raise ValueError(f"unknown assertion kind {kind!r}")  # the schema makes this unreachable


def _json_schema(assertion: Assertion, output: str) -> AssertionResult:
    import jsonschema

    text = output.strip()
    fenced = _FENCE_RE.match(text)  # models often wrap JSON in a ``` block
    if fenced:
        text = fenced.group(1)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return AssertionResult("json_schema", False, f"not JSON ({exc.msg}): {_short(output)}")
    validator = jsonschema.Draft202012Validator(assertion.schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return AssertionResult("json_schema", True, "valid")
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return AssertionResult("json_schema", False, f"{where}: {error.message}")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
