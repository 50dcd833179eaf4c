"""Structured difference between two configs of one agent (docs/design.md section 5, ``diff``).

No rendering here: ``agentver.cli.render_diff`` turns a ``ConfigDiff`` into text or
markdown, and ``ConfigDiff.to_json`` is the stable ``diff --json`` document.

Field names of nested changes are dotted paths (``guardrails.pii_redaction``,
``params.response_format.type``). A path segment is written bare when it is a non-empty
string without ``.``, ``[``, ``]`` or ``"``; any other key (a string with those
characters, an empty string, a number, a boolean...) is written as ``[<JSON of the key>]``,
so ``params["a.b"].c`` and ``guardrails[1]`` can never be confused with ``params.a.b.c``
or ``guardrails.1`` (the string key ``"1"``). Lists are compared as whole values: a
change inside a list is one ``changed`` entry for the list's field, with both lists.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from agentver.hashing import canonical_json, config_hash
from agentver.models import AgentConfig

ChangeKind = Literal["added", "removed", "changed"]


class _Missing:
    """Sentinel for "no value on this side" (a key absent, a tool not listed)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

# Fixed order of fields in ``changes``; nested fields sort under their top-level field.
FIELD_ORDER: Final = (
    "model",
    "system_prompt",
    "temperature",
    "max_tokens",
    "tools",
    "guardrails",
    "params",
    "description",
)
_DEEP_FIELDS: Final = ("model", "temperature", "max_tokens", "guardrails", "params")
_KIND_ORDER: Final = {"removed": 0, "changed": 1, "added": 2}
PROMPT_CONTEXT_LINES: Final = 3


@dataclass(frozen=True)
class DiffSide:
    """One side of a diff: what the user asked for and the config it resolved to."""

    label: str  # e.g. "v3", "worktree", "active (v4)"
    version: int | None  # None for the work tree
    config_hash: str
    config: AgentConfig

    @classmethod
    def of(cls, label: str, version: int | None, config: AgentConfig) -> DiffSide:
        """A side whose ``config_hash`` is computed from ``config``."""
        return cls(label=label, version=version, config_hash=config_hash(config), config=config)


@dataclass(frozen=True)
class Change:
    """One field that differs. ``old`` is MISSING for ``added``, ``new`` for ``removed``."""

    field: str
    kind: ChangeKind
    old: Any = MISSING
    new: Any = MISSING

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "kind": self.kind}
        if self.old is not MISSING:
            out["old"] = _plain(self.old)
        if self.new is not MISSING:
            out["new"] = _plain(self.new)
        return out


@dataclass(frozen=True)
class ConfigDiff:
    agent: str
    from_side: DiffSide
    to_side: DiffSide
    changes: tuple[Change, ...]
    system_prompt_diff: str  # unified diff, "" when the prompt is unchanged

    @property
    def identical(self) -> bool:
        """Same ``config_hash``: nothing that is hashed differs (``description`` may)."""
        return self.from_side.config_hash == self.to_side.config_hash

    @property
    def has_changes(self) -> bool:
        """Any change at all, including the unhashed ``description``."""
        return bool(self.changes)

    def to_json(self) -> dict[str, Any]:
        """The ``diff --json`` document, exactly docs/design.md section 5's shape."""
        return {
            "agent": self.agent,
            "from": _side_json(self.from_side),
            "to": _side_json(self.to_side),
            "changes": [change.to_json() for change in self.changes],
            "system_prompt_diff": self.system_prompt_diff,
        }


def compute_diff(agent: str, a: DiffSide, b: DiffSide) -> ConfigDiff:
    """Field-aware changes from ``a`` to ``b`` plus a unified diff of the system prompt."""
    old, new = a.config, b.config
    changes: list[Change] = []
    changes.extend(_deep_changes(_deep_view(old), _deep_view(new)))
    if old.system_prompt != new.system_prompt:
        changes.append(Change("system_prompt", "changed", old.system_prompt, new.system_prompt))
    changes.extend(_tool_changes(old.tools, new.tools))
    changes.extend(
        _value_change(
            "description",
            MISSING if old.description is None else old.description,
            MISSING if new.description is None else new.description,
        )
    )
    changes.sort(key=_sort_key)
    prompt_diff = unified_prompt_diff(
        old.system_prompt,
        new.system_prompt,
        from_label=f"a/{agent}.yaml ({a.label})",
        to_label=f"b/{agent}.yaml ({b.label})",
    )
    return ConfigDiff(agent, a, b, tuple(changes), prompt_diff)


def unified_prompt_diff(old: str, new: str, *, from_label: str, to_label: str) -> str:
    """A unified diff (3 lines of context), "" when equal; a missing final newline is
    marked like git does so the diff stays line-oriented."""
    if old == new:
        return ""
    lines = difflib.unified_diff(
        _split_lines(old),
        _split_lines(new),
        fromfile=from_label,
        tofile=to_label,
        n=PROMPT_CONTEXT_LINES,
    )
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def format_field(path: Sequence[Hashable]) -> str:
    """A key path as a dotted field name (see the module docstring for the rules)."""
    parts: list[str] = []
    for key in path:
        if isinstance(key, str) and key and not any(c in key for c in '.[]"'):
            parts.append(f".{key}" if parts else key)
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False, default=str)}]")
    return "".join(parts)


# -- internals -------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    # Only "\n" ends a line: str.splitlines would also split on \r, \x0c, \u2028...
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _deep_view(config: AgentConfig) -> dict[str, Any]:
    # Normalized as they are hashed: temperature 1 and 1.0 are the same value.
    return {
        "model": config.model,
        "temperature": float(config.temperature),
        "max_tokens": int(config.max_tokens),
        "guardrails": _plain(config.guardrails),
        "params": _plain(config.params),
    }


_NESTED: Final = ("guardrails", "params")


def _deep_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    nested_equal = all(
        _canonical(old[name]) is not None and _canonical(old[name]) == _canonical(new[name])
        for name in _NESTED
    )
    if nested_equal:
        # Only scalars can differ: no need to pay ~140 ms importing deepdiff.
        changes: list[Change] = []
        for name in _DEEP_FIELDS:
            if name not in _NESTED and old[name] != new[name]:
                changes.extend(_value_change(name, old[name], new[name]))
        return changes
    from deepdiff import DeepDiff

    report = DeepDiff(
        old,
        new,
        view="tree",
        ignore_nan_inequality=True,  # NaN hashes as "NaN" on both sides: not a change
        threshold_to_diff_deeper=0,  # always per key, never "the whole dict changed"
    )
    seen: set[tuple[Hashable, ...]] = set()
    changes = []
    for levels in report.values():
        for level in levels:
            path = _collapse(old, new, level.path(output_format="list"))
            if path not in seen:
                seen.add(path)
                changes.extend(_value_change(format_field(path), _get(old, path), _get(new, path)))
    # Safety net: a hashed difference deepdiff considers equal (-0.0 vs 0.0) still shows.
    for name in _DEEP_FIELDS:
        touched = any(
            c.field == name or c.field.startswith((f"{name}.", f"{name}[")) for c in changes
        )
        if not touched and _canonical(old[name]) != _canonical(new[name]):
            changes.append(Change(name, "changed", old[name], new[name]))
    return changes


def _canonical(value: Any) -> str | None:
    try:
        return canonical_json(value)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted: no verdict
        return None


def _collapse(old: Any, new: Any, path: Sequence[Hashable]) -> tuple[Hashable, ...]:
    """The longest prefix of ``path`` that only goes through mappings on both sides."""
    for depth in range(len(path)):
        for root in (old, new):
            container = _get(root, tuple(path[:depth]))
            if container is not MISSING and not isinstance(container, Mapping):
                return tuple(path[:depth])
    return tuple(path)


def _get(root: Any, path: tuple[Hashable, ...]) -> Any:
    value = root
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return MISSING
        value = value[key]
    return value


def _value_change(field: str, old: Any, new: Any) -> list[Change]:
    if old is MISSING:
        return [] if new is MISSING else [Change(field, "added", new=new)]
    if new is MISSING:
        return [Change(field, "removed", old=old)]
    if old == new and type(old) is type(new):
        return []
    return [Change(field, "changed", old, new)]


def _tool_changes(old: Sequence[str], new: Sequence[str]) -> list[Change]:
    # A set, not a list: reordering tools changes neither the hash nor the diff.
    before, after = set(old), set(new)
    removed = [Change("tools", "removed", old=name) for name in before - after]
    added = [Change("tools", "added", new=name) for name in after - before]
    return removed + added


def _sort_key(change: Change) -> tuple[int, str, int, str]:
    top = change.field.split(".", 1)[0].split("[", 1)[0]
    rank = FIELD_ORDER.index(top) if top in FIELD_ORDER else len(FIELD_ORDER)
    # Tools sort by name; other fields by their dotted path.
    name = str(change.new if change.old is MISSING else change.old)
    secondary = name if change.field == "tools" else change.field
    return (rank, secondary, _KIND_ORDER[change.kind], change.field)


def _side_json(side: DiffSide) -> dict[str, Any]:
    return {"version": side.version, "config_hash": side.config_hash}


def _plain(value: Any) -> Any:
    """Mappings and tuples as plain dicts and lists (JSON-ready, deepdiff-friendly)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
