"""What the runtime store can hold: the one "storable" rule (docs/design.md section 8).

``validate``, history (a version that breaks the rule is ``valid: false`` with the
reason), ``sync`` (skips such a version with a warning) and pointer reads all call
:func:`storable_problems`, so "validate passed" means the store will accept the file.

The rule, and why each part exists:

- **Integers are 64-bit** (``-2**63 .. 2**63-1``): PostgreSQL's ``bigint`` and SQLite's
  INTEGER refuse anything wider; ``max_tokens: 99999999999999999999`` used to pass
  ``validate`` and then break every ``sync``.
- **Floats are finite** (the loader already refuses ``.inf`` and ``.nan``): JSON has no
  spelling for them.
- **Numbers are written in plain decimal.** YAML 1.1 reads ``0x1F``, ``017``,
  ``0b101``, ``1_000`` and ``1:30`` (sexagesimal: 90) as numbers, while YAML 1.2 tools,
  editors and reviewers read most of them as text. Rather than silently pick one
  meaning, such a value is refused with a hint to write the decimal number or to
  quote it. (The loader still gives them their YAML 1.1 value, so an old commit keeps
  its hash and its version number: numbering never depends on this rule, section 3.)
- **Scalars are plain: no explicit tags** (``!!str 12``, ``!!int "7"``): a tag changes
  what the text means without the text saying so.
- **Strings hold no NUL character and no lone surrogate** (``"\\0"``, ``"\\ud800"`` in a
  double-quoted YAML string): PostgreSQL ``text`` cannot hold NUL and a lone surrogate
  cannot be encoded as UTF-8.
- **Size**: the file is at most :data:`MAX_FILE_BYTES` (512 KiB) and its content,
  expanded (aliases written out) and serialised as JSON, at most
  :data:`MAX_EXPANDED_BYTES` (1 MiB): a 504 KB file of aliases once became a 500 MB
  store row. Both defaults are fixed in this module and documented in docs/concepts.md.

Nothing here reads files or git: callers pass a :class:`~agentver.config.Loaded`
document (or a plain value, for data that never was YAML).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from agentver.config import Loaded, Path_
from agentver.models import Finding

MAX_FILE_BYTES = 512 * 1024
MAX_EXPANDED_BYTES = 1024 * 1024
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# The only spellings of numbers that mean the same thing in YAML 1.1, YAML 1.2 and JSON.
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_DECIMAL_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    """One reason a document cannot be stored, located in its source when known."""

    message: str
    line: int = 1
    col: int = 1
    key: str = ""  # dotted key path ("guardrails.limit"), empty for the whole document

    def finding(self, path: str) -> Finding:
        return Finding(path, self.line, self.col, self.message)

    def __str__(self) -> str:
        return f"line {self.line}, col {self.col}: {self.message}"


def storable_problems(loaded: Loaded) -> list[Problem]:
    """Every way ``loaded`` breaks the storable rule, in source order (empty: storable)."""
    problems: list[Problem] = []
    size = len(loaded.text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        problems.append(
            Problem(
                f"storable: file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}",
            )
        )
    for line, col, tag in loaded.tags:
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        problems.append(
            Problem(
                f"storable: explicit tag {shown}; only plain YAML values are allowed",
                line,
                col,
            )
        )
    problems.extend(_value_problems(loaded.data, (), loaded))
    return sorted(problems, key=lambda p: (p.line, p.col))


def value_problems(data: Any) -> list[Problem]:
    """The storable rule for a plain value (no source text: sizes, ranges, strings)."""
    if _plainly_storable(data):
        return []
    return _value_problems(data, (), None)


def _plainly_storable(data: Any) -> bool:
    """True when ``data`` certainly keeps the rule, found by one walk that builds no key
    paths and serializes nothing: history runs this on every file (issue 16). False only
    means "look closer": ``_value_problems`` then finds and locates each problem.

    The size part charges an upper bound of each value's JSON length to the budget: a
    string at most 12 characters per character (an astral one is two \\u escapes) plus
    quotes and separators, a number at most 24 characters (``repr`` of a 64-bit int or
    a float) plus separators, so a document within the budget is within the limit."""
    budget = MAX_EXPANDED_BYTES
    stack = [data]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is str:
            if "\x00" in value or (not value.isascii() and _SURROGATE.search(value)):
                return False
            budget -= 12 * len(value) + 6
        elif kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    return False
                stack.append(key)
                stack.append(item)
            budget -= 6
        elif kind is list:
            stack.extend(value)
            budget -= 6
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return False
            budget -= 28
        elif kind is float:
            if not math.isfinite(value):
                return False
            budget -= 28
        elif kind is bool or value is None:
            budget -= 9
        else:
            return False
        if budget < 0:
            return False
    return True


def is_storable(loaded: Loaded) -> bool:
    return not storable_problems(loaded)


def _value_problems(data: Any, root: Path_, loaded: Loaded | None) -> list[Problem]:
    problems: list[Problem] = []

    def add(key_path: Path_, message: str) -> None:
        line, col = loaded.locate(key_path) if loaded is not None else (1, 1)
        problems.append(Problem(f"storable: {message}", line, col, _dotted(key_path)))

    def walk(value: Any, key_path: Path_) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    _check_text(key, (*key_path, key), add, what="key")
                walk(item, (*key_path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*key_path, index))
        elif isinstance(value, str):
            _check_text(value, key_path, add, what="value")
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int):
            source = loaded.plain_scalars.get(key_path) if loaded is not None else None
            if source is not None and not _DECIMAL_INT.fullmatch(source):
                add(key_path, _surprise(key_path, source, value))
            elif not INT64_MIN <= value <= INT64_MAX:
                add(
                    key_path,
                    f"{_where(key_path)}integer {_short(value)} is outside the 64-bit range "
                    f"({INT64_MIN} to {INT64_MAX})",
                )
        elif isinstance(value, float):
            source = loaded.plain_scalars.get(key_path) if loaded is not None else None
            if not math.isfinite(value):
                add(key_path, f"{_where(key_path)}{value} is not a finite number")
            elif source is not None and not _DECIMAL_FLOAT.fullmatch(source):
                add(key_path, _surprise(key_path, source, value))
        else:  # the loader builds nothing else; a caller's own data might
            add(key_path, f"{_where(key_path)}{type(value).__name__} values cannot be stored")

    walk(data, root)
    if not problems:
        try:
            expanded = len(json.dumps(data))
        except (TypeError, ValueError):
            expanded = MAX_EXPANDED_BYTES + 1
        if expanded > MAX_EXPANDED_BYTES:
            problems.append(
                Problem(
                    f"storable: content expands to {expanded:,} bytes of JSON (aliases "
                    f"written out); the limit is {MAX_EXPANDED_BYTES:,}"
                )
            )
    return problems


def _check_text(text: str, key_path: Path_, add: Any, *, what: str) -> None:
    if "\x00" in text:
        add(key_path, f"{_where(key_path)}{what} contains a NUL character")
    elif _SURROGATE.search(text):
        add(key_path, f"{_where(key_path)}{what} contains a lone surrogate (not valid Unicode)")


def _surprise(key_path: Path_, source: str, value: float) -> str:
    return (
        f"{_where(key_path)}{source} is a {_number_form(source)} in YAML 1.1, read as {value}; "
        f'write {value} or quote it: "{source}"'
    )


def _number_form(source: str) -> str:
    """Name the YAML 1.1 surprise, so the message says what the reader did not expect."""
    body = source.lstrip("+-").lower()
    if ":" in body:
        form = "sexagesimal (base 60) number"
    elif body.startswith("0x"):
        form = "hexadecimal number"
    elif body.startswith("0b"):
        form = "binary number"
    elif "_" in body:
        form = "number with underscores"
    elif body.startswith("0") and len(body) > 1 and body[1:2].isdigit():
        form = "octal number"
    else:
        form = "number"
    return form


def _where(key_path: Path_) -> str:
    return f"{_dotted(key_path)}: " if key_path else ""


def _dotted(key_path: Path_) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} digits)"
