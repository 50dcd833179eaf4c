"""``diff --base``: the pull-request review as text or as one PR comment in markdown.

The markdown stays under ``MARKDOWN_LIMIT`` characters (GitHub refuses comments over
65,536): every agent and every deployment gets one collapsed ``<details>`` block; when
the whole is too long, the largest blocks are cut to a common size (water-filling, so
small diffs stay whole) with a note naming the command that shows them in full, and if
even the headers do not fit, the last blocks are listed as omitted.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rich.console import Console
from rich.text import Text

from agentver.cli.render_diff import (
    HEADER_STYLE,
    code_span,
    markdown_body,
    render_text,
    summary_line,
)
from agentver.compare import Review
from agentver.diff import ConfigDiff
from agentver.pointer_review import PointerChange, serving

MARKDOWN_LIMIT: Final = 60_000
NO_CHANGES_AT_ALL: Final = "No agent configuration or deployment changes."
_FENCE: Final = re.compile(r"^(`{3,})")


# -- text ------------------------------------------------------------------------------


def render_review_text(review: Review, console: Console) -> None:
    if not review.agents and not review.deployments:
        console.print(NO_CHANGES_AT_ALL, soft_wrap=True)
        return
    if review.deployments:
        console.print(Text("Deployments", style=HEADER_STYLE), soft_wrap=True)
        for change in review.deployments:
            console.print(f"  {change.summary}", soft_wrap=True, markup=False)
        for change in review.deployments:
            if change.diff is not None and change.diff.has_changes:
                console.print()
                console.print(
                    f"{change.environment}/{change.agent}: what ran -> what will run",
                    soft_wrap=True,
                    markup=False,
                )
                render_text(change.diff, console)
    for index, diff in enumerate(review.agents):
        if index or review.deployments:
            console.print()
        render_text(diff, console)
    console.print()
    console.print(Text(review_summary(review), style=HEADER_STYLE), soft_wrap=True)


def review_summary(review: Review) -> str:
    parts = []
    if review.agents:
        parts.append(summary_line(review.agents).rstrip("."))
    if review.deployments:
        count = len(review.deployments)
        parts.append(f"{count} deployment change{'s' if count != 1 else ''}")
    return "; ".join(parts) + "."


# -- markdown --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    summary: str  # the <summary> line (HTML-escaped)
    body: str  # markdown inside the block
    see_all: str  # the command that shows this block whole


def render_review_markdown(review: Review, limit: int = MARKDOWN_LIMIT) -> str:
    if not review.agents and not review.deployments:
        return NO_CHANGES_AT_ALL + "\n"
    head: list[str] = []
    blocks: list[_Block] = []
    if review.deployments:
        head.append("### Deployments")
        head.append("\n".join(f"- {code_span(c.summary)}" for c in review.deployments))
        blocks += [_deployment_block(c) for c in review.deployments if c.diff is not None]
    agent_blocks = [_agent_block(review, diff) for diff in review.agents]
    if agent_blocks:
        blocks += agent_blocks
    tail = f"**Summary:** {review_summary(review)}"
    return _fit(head, blocks, tail, review, limit)


def _deployment_block(change: PointerChange) -> _Block:
    diff = change.diff
    assert diff is not None
    serving_now = serving(change.after)
    title = f"{change.environment}/{change.agent}: what ran (v{diff.from_side.version}) → "
    title += f"what will run (v{serving_now[0] if serving_now else '?'})"
    body = markdown_body(diff) if diff.has_changes else "_Same configuration._"
    command = f"agentver diff {change.agent} v{diff.from_side.version} v{diff.to_side.version}"
    return _Block(html.escape(title + f": {_counts(diff)}"), body, command)


def _agent_block(review: Review, diff: ConfigDiff) -> _Block:
    title = f"{diff.agent}: {diff.from_side.label} → {diff.to_side.label}: {_counts(diff)}"
    both = diff.from_side.config_hash and diff.to_side.config_hash
    command = (
        f"agentver diff {diff.agent} @{review.base} @{review.head}"
        if both
        else f"agentver diff --base {review.base} --head {review.head}"
    )
    return _Block(html.escape(title), markdown_body(diff), command)


def _counts(diff: ConfigDiff) -> str:
    fields = len(diff.changes)
    return f"{fields} field change{'s' if fields != 1 else ''}"


def _render(head: list[str], blocks: Sequence[str], tail: str) -> str:
    return "\n\n".join([*head, *blocks, tail]) + "\n"


def _wrap(block: _Block, body: str) -> str:
    return f"<details><summary>{block.summary}</summary>\n\n{body}\n\n</details>"


def _fit(head: list[str], blocks: list[_Block], tail: str, review: Review, limit: int) -> str:
    whole = [_wrap(b, b.body) for b in blocks]
    text = _render(head, whole, tail)
    if len(text) <= limit:
        return text
    # Largest cap C such that every body cut to C characters fits: binary search.
    low, high = 0, max(len(b.body) for b in blocks)
    while low < high:
        cap = (low + high + 1) // 2
        if len(_render(head, [_wrap(b, _cut(b, cap)) for b in blocks], tail)) <= limit:
            low = cap
        else:
            high = cap - 1
    shown = [_wrap(b, _cut(b, low)) for b in blocks]
    text = _render(head, shown, tail)
    omitted = 0
    while len(text) > limit and shown:
        shown.pop()
        omitted += 1
        note = (
            f"_{omitted} more block{'s' if omitted != 1 else ''} not shown (comment size "
            f"limit); see all: {code_span(f'agentver diff --base {review.base} --head {review.head}')}_"
        )
        text = _render(head, [*shown, note], tail)
    return text


def _cut(block: _Block, cap: int) -> str:
    """``block.body`` cut at a line boundary to about ``cap`` characters, an open code
    fence closed, and a note with the command that shows it whole."""
    if len(block.body) <= cap:
        return block.body
    kept: list[str] = []
    size = 0
    fence: str | None = None
    lines = block.body.split("\n")
    for line in lines:
        if size + len(line) + 1 > cap:
            break
        kept.append(line)
        size += len(line) + 1
        match = _FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif line.strip() == fence:
                fence = None
    if fence is not None:
        kept.append(fence)
    while kept and kept[-1].startswith("|") and kept[-1].count("|") < 3:
        kept.pop()  # never leave half a table row
    note = (
        f"_Truncated: {len(kept)} of {len(lines)} lines shown; see all: {code_span(block.see_all)}_"
    )
    return "\n".join([*kept, "", note]).lstrip("\n")
