"""The hardened loader for JSON files (the ``canary evaluate --metrics`` file).

Same rules as ``config.load_yaml``, so a JSON file is held to what every YAML file
agentver reads is held to: ``config.decode`` first (size limit, NUL bytes, merge
conflict markers, UTF-8), then strict JSON (Python's ``json`` reads the document, so
every valid JSON file means exactly what the standard says, surrogate escapes included)
with duplicate keys, ``NaN``/``Infinity``, numbers that overflow to infinity, integers
too long to read, depth beyond ``MAX_DEPTH`` and more than ``MAX_NODES`` values all
refused as one located ``ConfigError``. JSON has no aliases, so no alias bomb.

Locations come from ``load_yaml`` (JSON is YAML's flow style): when it reads the same
data, its line and column of every value are kept for later messages; when it does not
(rare spellings such as ``1e5``), messages fall back to the top of the file.
"""

from __future__ import annotations

import json
from typing import Any

from agentver.config import MAX_DEPTH, MAX_NODES, Loaded, decode, load_yaml
from agentver.errors import ConfigError


class _Refused(Exception):
    """Raised from inside ``json.loads``: ``literal`` is the offending source text."""

    def __init__(self, message: str, literal: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.literal = literal
        self.hint = hint


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(
                f"duplicate key {key!r}",
                hint="remove one of the two; JSON readers disagree on which one wins",
            )
        out[key] = value
    return out


def _constant(literal: str) -> Any:  # NaN, Infinity, -Infinity: not JSON, though Python reads them
    raise _Refused(f"{literal} is not a finite number", literal)


def _float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):  # 1e400 overflows to infinity
        raise _Refused(f"{literal} is not a finite number (too large)", literal)
    return value


def _int(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        shown = literal if len(literal) <= 20 else f"{literal[:17]}..."
        raise _Refused(f"integer {shown} is too large to read", literal) from None


def load_json(raw: bytes, path: str) -> Loaded:
    """Parse one JSON document safely; every failure is a located ``ConfigError``."""
    text = decode(raw, path)
    try:
        data = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg}", path, exc.lineno, exc.colno) from None
    except _Refused as exc:
        line, col, where = _locate_refusal(raw, path, exc)
        message = f"{where}: {exc.message}" if where else exc.message
        raise ConfigError(message, path, line, col, exc.hint) from None
    except RecursionError:  # "[[[[..." a hundred thousand deep
        raise ConfigError(f"document nests deeper than {MAX_DEPTH} levels", path) from None
    _check_size(data, path)
    try:
        located = load_yaml(raw, path)
    except ConfigError:
        return Loaded(path, data, text)
    if located.data != data:  # e.g. 1e5: a float in JSON, a string in YAML 1.1
        return Loaded(path, data, text)
    return located


def _check_size(data: Any, path: str) -> None:
    """The located loader's depth and node limits, on the parsed value."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError(f"document has more than {MAX_NODES:,} values", path)
        if depth > MAX_DEPTH:
            raise ConfigError(f"document nests deeper than {MAX_DEPTH} levels", path)
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)


def _locate_refusal(raw: bytes, path: str, refused: _Refused) -> tuple[int, int, str]:
    """Line, column and dotted key path of the refused key or literal, from the located
    loader (else 1:1 and no key path)."""
    try:
        located = load_yaml(raw, path)
    except ConfigError as exc:
        # the YAML loader refuses the same document for its own located reason: a
        # duplicate key, or a number that overflows to infinity
        if "duplicate key" in exc.reason or "not a finite number" in exc.reason:
            return exc.line, exc.col, ""
        return 1, 1, ""
    if refused.literal is not None:
        for key_path, source in located.plain_scalars.items():  # unquoted: never a string
            if source == refused.literal:
                line, col = located.values.get(key_path, (1, 1))
                return line, col, ".".join(str(part) for part in key_path)
    return 1, 1, ""
