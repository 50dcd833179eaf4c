"""Prompt policies from ``agentver.yaml`` (docs/design.md section 2), checked by ``validate``.

```yaml
policies:
  "*":     {forbid: ["as an AI language model"]}
  support: {require: ["billing"]}
```

Matching is case-insensitive and whitespace-normalized: every run of whitespace
(spaces, tabs, newlines) counts as one space, in the prompt and in the phrase, so a
phrase wrapped across lines of a YAML block scalar still matches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agentver.errors import UsageError
from agentver.models import Finding

ALL_AGENTS = "*"
POLICY_KEYS = ("require", "forbid")
_AGENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class Policy:
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """Case-folded, with every run of whitespace replaced by one space and ends trimmed."""
    return " ".join(text.split()).casefold()


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else None


def _phrases(raw: object, where: str, label: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raise UsageError(
            f"{where}: {label} must be a list of phrases, not a single string",
            hint=f'write it as a list: {label.rsplit(".", 1)[-1]}: ["{raw}"]',
        )
    if not isinstance(raw, list):
        raise UsageError(f"{where}: {label} must be a list of phrases")
    phrases: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item.strip():
            raise UsageError(f"{where}: {label}[{index}] must be a non-empty string")
        if normalize(item) not in {normalize(p) for p in phrases}:
            phrases.append(item)
    return tuple(phrases)


def _parse_policy(raw: object, where: str, label: str) -> Policy:
    if not isinstance(raw, Mapping):
        raise UsageError(
            f'{where}: {label} must be a mapping with "require" and/or "forbid"',
            hint='for example: support: {require: ["billing"]}',
        )
    for key in raw:
        if key not in POLICY_KEYS:
            shown = key if isinstance(key, str) else repr(key)
            near = _did_you_mean(shown, POLICY_KEYS) if isinstance(key, str) else None
            allowed = 'a policy takes only "require" and "forbid"'
            raise UsageError(
                f'{where}: {label}: unknown key "{shown}"',
                hint=f"{near} ({allowed})" if near else allowed,
            )
    return Policy(
        require=_phrases(raw.get("require", []), where, f"{label}.require"),
        forbid=_phrases(raw.get("forbid", []), where, f"{label}.forbid"),
    )


def parse_policies(raw: object, where: str) -> dict[str, Policy]:
    """Validate the ``policies`` section of ``where`` (a file name, for messages).

    ``None`` (section absent or empty) means no policies. Raises ``UsageError`` naming
    ``where`` and the offending key.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise UsageError(
            f'{where}: policies must be a mapping of agent id (or "*") to a policy',
            hint='for example: policies: {support: {require: ["billing"]}}',
        )
    policies: dict[str, Policy] = {}
    for agent_id, body in raw.items():
        if not isinstance(agent_id, str) or not (
            agent_id == ALL_AGENTS or _AGENT_ID.fullmatch(agent_id)
        ):
            raise UsageError(
                f'{where}: policies: "{agent_id}" is not an agent id or "*"',
                hint="agent ids match ^[a-z0-9][a-z0-9_-]{0,62}$ (the agent file's name)",
            )
        policies[agent_id] = _parse_policy(body, where, f"policies.{agent_id}")
    # A phrase both required and forbidden can never pass: say so once, up front.
    for agent_id in policies:
        merged = policies_for(agent_id, policies)
        clash = {normalize(p) for p in merged.require} & {normalize(p) for p in merged.forbid}
        if clash:
            raise UsageError(
                f'{where}: policies.{agent_id}: "{sorted(clash)[0]}" is both required '
                'and forbidden (including the rules under "*")'
            )
    return policies


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    merged: list[str] = []
    for phrase in (*first, *second):
        if normalize(phrase) not in seen:
            seen.add(normalize(phrase))
            merged.append(phrase)
    return tuple(merged)


def policies_for(agent_id: str, policies: Mapping[str, Policy]) -> Policy:
    """The rules that apply to ``agent_id``: those under "*" plus its own."""
    shared = policies.get(ALL_AGENTS, Policy())
    own = policies.get(agent_id, Policy()) if agent_id != ALL_AGENTS else Policy()
    return Policy(
        require=_merge(shared.require, own.require),
        forbid=_merge(shared.forbid, own.forbid),
    )


def _line_offset(text: str, line: int) -> int:
    """Offset of the start of 1-based ``line`` in ``text`` (the end if past it)."""
    offset = 0
    for _ in range(line - 1):
        newline = text.find("\n", offset)
        if newline < 0:
            return len(text)
        offset = newline + 1
    return offset


def _indent(line_text: str) -> int:
    return len(line_text) - len(line_text.lstrip(" "))


def _prompt_region(text: str, prompt_line: int, prompt_col: int) -> tuple[int, int]:
    """Offsets bounding the system prompt value in the raw text.

    The value ends before the first later non-blank line indented no deeper than the
    key (the next key of the mapping, or a comment at that level). A quoted scalar that
    breaks this layout just gets a shorter region; the caller then falls back to the
    key's location.
    """
    line_start = _line_offset(text, prompt_line)
    key_start = min(line_start + max(prompt_col - 1, 0), len(text))
    line_end = text.find("\n", key_start)
    # Skip the key itself ("system_prompt:"), so a phrase like "prompt" is not found there.
    colon = text.find(":", key_start, line_end if line_end >= 0 else len(text))
    start = colon + 1 if colon >= 0 else key_start
    position = line_end
    while position >= 0:
        line_start = position + 1
        line_end = text.find("\n", line_start)
        line_text = text[line_start : line_end if line_end >= 0 else len(text)]
        if line_text.strip() and _indent(line_text) < prompt_col:
            return start, line_start
        position = line_end
    return start, len(text)


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # Literal words joined by \s+: a phrase wrapped (and re-indented) in the file matches.
    words = phrase.split()
    return re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)


def check_policy(
    agent_id: str,
    prompt: str,
    policy: Policy,
    path: str,
    text: str,
    prompt_line: int,
    prompt_col: int,
) -> list[Finding]:
    """Findings for ``prompt`` against ``policy``.

    ``text`` is the raw file text and (``prompt_line``, ``prompt_col``) the 1-based
    location of the ``system_prompt`` key: a missing phrase is reported there, a
    forbidden one where it occurs in the file.
    """
    findings: list[Finding] = []
    prompt_normalized = normalize(prompt)
    for phrase in policy.require:
        if normalize(phrase) not in prompt_normalized:
            findings.append(
                Finding(
                    path,
                    prompt_line,
                    prompt_col,
                    f'policy: system prompt must contain "{phrase}" (policy for {agent_id})',
                )
            )
    region_start, region_end = (
        _prompt_region(text, prompt_line, prompt_col) if policy.forbid else (0, 0)
    )
    for phrase in policy.forbid:
        if normalize(phrase) not in prompt_normalized:
            continue
        line, col = prompt_line, prompt_col
        match = _phrase_pattern(phrase).search(text, region_start, region_end)
        if match is not None:
            line = prompt_line + text.count("\n", region_start, match.start())
            col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        findings.append(
            Finding(
                path,
                line,
                col,
                f'policy: system prompt must not contain "{phrase}" (policy for {agent_id})',
            )
        )
    return findings
