"""The system prompt side by side, with the changed words marked (presentation only).

``compute_diff`` in ``agentver.diff`` decides *whether* and *what* changed; this module
only lays the two prompts out for a reader: lines aligned by ``difflib`` (the same
matcher the unified diff uses), whole lines marked when they were added or deleted (the
demo's deleted billing paragraph), and within a replaced line the words that differ.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["equal", "removed", "added", "changed", "empty"]
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


@dataclass(frozen=True)
class Cell:
    number: int | None  # 1-based line number; None for the blank filler of the other side
    kind: Kind
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Row:
    left: Cell
    right: Cell


_FILLER = Cell(None, "empty", ())


def side_by_side(old: str, new: str) -> list[Row]:
    """Rows of (old line, new line); deleted lines face a filler on the right and so on."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    if old_lines and old_lines[-1] == "" and new_lines and new_lines[-1] == "":
        old_lines, new_lines = old_lines[:-1], new_lines[:-1]  # the final newline
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                text = old_lines[i1 + offset]
                rows.append(
                    Row(
                        Cell(i1 + offset + 1, "equal", (Segment(text, False),)),
                        Cell(j1 + offset + 1, "equal", (Segment(text, False),)),
                    )
                )
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for offset in range(pairs):
            left, right = _word_diff(old_lines[i1 + offset], new_lines[j1 + offset])
            rows.append(
                Row(
                    Cell(i1 + offset + 1, "changed", left),
                    Cell(j1 + offset + 1, "changed", right),
                )
            )
        for index in range(i1 + pairs, i2):
            rows.append(Row(Cell(index + 1, "removed", _whole(old_lines[index])), _FILLER))
        for index in range(j1 + pairs, j2):
            rows.append(Row(_FILLER, Cell(index + 1, "added", _whole(new_lines[index]))))
    return rows


def _whole(text: str) -> tuple[Segment, ...]:
    return (Segment(text, True),) if text else ()


def _word_diff(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            left.append(Segment("".join(a[i1:i2]), tag != "equal"))
        if j2 > j1:
            right.append(Segment("".join(b[j1:j2]), tag != "equal"))
    return tuple(left), tuple(right)


def counts(rows: list[Row]) -> dict[str, int]:
    """Lines removed, added and changed, for the page's summary."""
    return {
        "removed": sum(1 for row in rows if row.left.kind == "removed"),
        "added": sum(1 for row in rows if row.right.kind == "added"),
        "changed": sum(1 for row in rows if row.left.kind == "changed"),
    }
