"""Renderers for ``agentver diff``: rich text for terminals, plain text, markdown for PRs.

Everything is built from ``rich.text.Text`` objects, never markup strings, so a prompt
containing ``[bold]`` or ``[/]`` is printed as written.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any, Final

from rich.console import Console
from rich.text import Text

from agentver.diff import MISSING, Change, ConfigDiff, DiffSide

HEADER_STYLE: Final = "bold"
FILE_STYLE: Final = "bold"
HUNK_STYLE: Final = "cyan"
REMOVED_STYLE: Final = "red"
ADDED_STYLE: Final = "green"
CHANGED_STYLE: Final = "yellow"
# Words that differ inside a changed pair of lines.
WORD_REMOVED_STYLE: Final = "bold white on red"
WORD_ADDED_STYLE: Final = "bold black on green"

SHORT_HASH: Final = 8
MAX_VALUE_CHARS: Final = 80
# A pair of lines is highlighted word by word only when they are this similar; below it
# the whole line is new text and per-word colour would just be noise.
MIN_PAIR_SIMILARITY: Final = 0.3
NO_CHANGES_MANY: Final = "No agent configuration changes."

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


# -- text ------------------------------------------------------------------------------


def render_text(diff: ConfigDiff, console: Console) -> None:
    """Header, one line per field change, then the prompt's unified diff."""
    colour = _has_colour(console)
    console.print(_header(diff), soft_wrap=True)
    if not diff.changes:
        console.print("no changes", soft_wrap=True)
        return
    for change in diff.changes:
        console.print(_change_line(change, diff), soft_wrap=True)
    if diff.identical:
        console.print(
            Text("same config_hash: description is not hashed", style="dim"), soft_wrap=True
        )
    if diff.system_prompt_diff:
        console.print()
        for line in prompt_diff_lines(diff.system_prompt_diff, word_level=colour):
            console.print(line, soft_wrap=True)


def render_text_many(diffs: Sequence[ConfigDiff], console: Console) -> None:
    """The ``--base/--head`` view: every agent's diff, then a one-line summary."""
    if not diffs:
        console.print(NO_CHANGES_MANY, soft_wrap=True)
        return
    for index, diff in enumerate(diffs):
        if index:
            console.print()
        render_text(diff, console)
    console.print()
    console.print(Text(summary_line(diffs), style=HEADER_STYLE), soft_wrap=True)


def prompt_diff_lines(unified: str, *, word_level: bool) -> list[Text]:
    """Styled lines of a unified diff; with ``word_level`` the words that differ inside
    a removed/added pair of lines get their own highlight."""
    lines = unified.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    styled = [_line_text(line) for line in lines]
    if word_level:
        for old_index, new_index in _line_pairs(lines):
            _highlight_words(styled[old_index], styled[new_index])
    return styled


def summary_line(diffs: Sequence[ConfigDiff]) -> str:
    """'2 agents changed: 5 field changes, system prompt changed in 1.'"""
    changed = [diff for diff in diffs if diff.has_changes]
    if not changed:
        return NO_CHANGES_MANY
    fields = sum(len(diff.changes) for diff in changed)
    prompts = sum(1 for diff in changed if diff.system_prompt_diff)
    agents = f"{len(changed)} agent{'s' if len(changed) != 1 else ''} changed"
    text = f"{agents}: {fields} field change{'s' if fields != 1 else ''}"
    if prompts:
        text += f", system prompt changed in {prompts}"
    return text + "."


def format_value(value: Any) -> str:
    """A value on one line: plain strings as they are, anything else as JSON."""
    if isinstance(value, str) and _is_plain_string(value):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _has_colour(console: Console) -> bool:
    return console.color_system is not None and not console.no_color


def _side_text(side: DiffSide) -> str:
    return f"{side.label} ({side.config_hash[:SHORT_HASH]})"


def _header(diff: ConfigDiff) -> Text:
    text = f"{diff.agent}: {_side_text(diff.from_side)} -> {_side_text(diff.to_side)}"
    return Text(text, style=HEADER_STYLE)


def _change_line(change: Change, diff: ConfigDiff) -> Text:
    if change.kind == "added":
        line = Text("+ ", style=ADDED_STYLE)
        line.append(f"{change.field}: ")
        line.append(format_value(change.new), style=ADDED_STYLE)
        return line
    if change.kind == "removed":
        line = Text("- ", style=REMOVED_STYLE)
        line.append(f"{change.field}: ")
        line.append(format_value(change.old), style=REMOVED_STYLE)
        return line
    line = Text("~ ", style=CHANGED_STYLE)
    line.append(f"{change.field}: ")
    if change.field == "system_prompt":
        removed, added = _count_lines(diff.system_prompt_diff)
        line.append(f"changed (-{removed} +{added} lines, see below)")
        return line
    line.append(format_value(change.old), style=REMOVED_STYLE)
    line.append(" -> ")
    line.append(format_value(change.new), style=ADDED_STYLE)
    return line


def _count_lines(unified: str) -> tuple[int, int]:
    removed = added = 0
    for line in unified.split("\n"):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed += 1
        elif line.startswith("+"):
            added += 1
    return removed, added


def _is_plain_string(value: str) -> bool:
    if not value or value != value.strip() or not value.isprintable():
        return False
    try:
        json.loads(value)  # "1", "true", "null" would read as another type
    except ValueError:
        return True
    return False


def _line_text(line: str) -> Text:
    if line.startswith(("--- ", "+++ ")):
        return Text(line, style=FILE_STYLE)
    if line.startswith("@@"):
        return Text(line, style=HUNK_STYLE)
    if line.startswith("-"):
        return Text(line, style=REMOVED_STYLE)
    if line.startswith("+"):
        return Text(line, style=ADDED_STYLE)
    return Text(line)


def _line_pairs(lines: list[str]) -> list[tuple[int, int]]:
    """Index pairs (removed, added) of a run of '-' lines followed by a run of '+' lines."""
    pairs: list[tuple[int, int]] = []
    index = 0
    in_hunk = False
    while index < len(lines):
        line = lines[index]
        if line.startswith("@@"):
            in_hunk = True
        if not in_hunk or not line.startswith("-"):
            index += 1
            continue
        removed_start = index
        while index < len(lines) and lines[index].startswith("-"):
            index += 1
        added_start = index
        while index < len(lines) and lines[index].startswith("+"):
            index += 1
        count = min(added_start - removed_start, index - added_start)
        pairs.extend((removed_start + k, added_start + k) for k in range(count))
    return pairs


def _highlight_words(old: Text, new: Text) -> None:
    # Offsets start at 1: the first character is the '-'/'+' marker.
    old_tokens = _TOKEN.findall(old.plain[1:])
    new_tokens = _TOKEN.findall(new.plain[1:])
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    if matcher.ratio() < MIN_PAIR_SIMILARITY:
        return
    old_offsets = _offsets(old_tokens)
    new_offsets = _offsets(new_tokens)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            old.stylize(WORD_REMOVED_STYLE, old_offsets[i1], old_offsets[i2])
        if j2 > j1:
            new.stylize(WORD_ADDED_STYLE, new_offsets[j1], new_offsets[j2])


def _offsets(tokens: list[str]) -> list[int]:
    offsets = [1]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    return offsets


# -- markdown --------------------------------------------------------------------------


def render_markdown(diffs: Sequence[ConfigDiff]) -> str:
    """A pull-request comment: per agent a heading, a table of changes and the prompt
    diff in a fence no prompt can close; then a one-line summary."""
    if not diffs:
        return NO_CHANGES_MANY + "\n"
    blocks = [_markdown_one(diff) for diff in diffs]
    blocks.append(f"**Summary:** {summary_line(diffs)}")
    return "\n\n".join(blocks) + "\n"


def _markdown_one(diff: ConfigDiff) -> str:
    a, b = diff.from_side, diff.to_side
    heading = f"### {escape_markdown(diff.agent)}: {code_span(a.label)} → {code_span(b.label)}"
    return f"{heading}\n\n{markdown_body(diff)}"


def markdown_body(diff: ConfigDiff) -> str:
    """Everything of one agent's diff but its heading: hashes, table, prompt diff."""
    a, b = diff.from_side, diff.to_side
    parts = [f"config_hash {code_span(a.config_hash)} → {code_span(b.config_hash)}"]
    if not diff.changes:
        parts.append("_No changes._")
        return "\n\n".join(parts)
    rows = ["| field | change | old | new |", "|---|---|---|---|"]
    for change in diff.changes:
        rows.append(
            "| "
            + " | ".join(
                [
                    _cell(code_span(change.field)),
                    change.kind,
                    _cell(_markdown_value(change, change.old)),
                    _cell(_markdown_value(change, change.new)),
                ]
            )
            + " |"
        )
    parts.append("\n".join(rows))
    if diff.identical:
        parts.append("_Same config_hash: `description` is not hashed._")
    if diff.system_prompt_diff:
        fence = fence_for(diff.system_prompt_diff)
        body = diff.system_prompt_diff.rstrip("\n")
        parts.append(f"{fence}diff\n{body}\n{fence}")
    return "\n\n".join(parts)


def _markdown_value(change: Change, value: Any) -> str:
    if value is MISSING:
        return ""
    if change.field == "system_prompt":
        return "_see diff below_"
    return code_span(format_value(value))


def code_span(text: str) -> str:
    """Inline code that holds any backticks: the delimiter is longer than any run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    # CommonMark strips one space on each side when both are there: pad to keep them,
    # and to keep a leading or trailing backtick apart from the delimiter.
    spaced = text.startswith(" ") and text.endswith(" ") and text.strip() != ""
    pad = " " if text.startswith("`") or text.endswith("`") or spaced else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text`` (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def escape_markdown(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _cell(text: str) -> str:
    # In GFM tables a pipe ends the cell even inside a code span unless escaped, and a
    # backslash escapes the next character: double the backslashes before each pipe so
    # the pipe's own escape cannot be cancelled by one of the value's backslashes.
    escaped = re.sub(r"(\\*)\|", lambda m: m.group(1) * 2 + "\\|", text)
    return escaped.replace("\n", " ")
