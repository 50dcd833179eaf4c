"""Secrets pasted into agent files: API keys, tokens and private key blocks.

``scan_secrets`` looks at the raw file text (so a key in a comment is found too) and
reports where each match starts. It never touches the network and never puts a whole
secret into a message: at most its first and last four characters.

Every pattern is anchored on a literal prefix with bounded character classes and no
nested quantifiers, so scanning stays linear in the size of the file.
"""

from __future__ import annotations

import bisect
import collections
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from agentver.models import Finding

# Shannon entropy (bits per character) below which a key-shaped token is taken for a
# placeholder such as "sk-xxxxxxxxxxxxxxxxxxxxxxxx". Random 16-character AWS ids sit
# around 3.6 and practically never below 2.5; "xxxx..." is 0, "abab..." is 1.
ENTROPY_THRESHOLD = 2.5

# Documented examples and obvious placeholders (compared case-insensitively).
PLACEHOLDER_MARKERS = (
    "example",
    "xxxx",
    "your",
    "placeholder",
    "redacted",
    "dummy",
    "changeme",
    "replace",
    "insert",
)

# A key-shaped token is only reported when it is not part of a longer token. The
# boundary is a lookbehind placed after the literal prefix (not before it) so the regex
# engine can jump straight to the prefix instead of trying every position.
_TOKEN = r"A-Za-z0-9_\-"

# AWS secret access keys are 40 base64 characters with no prefix: only flagged after an
# "aws" hint (not inside a word such as "laws") on the same line or up to two lines above.
_AWS_HINT_LINES = 3
_AWS_HINT_CHARS = 300


@dataclass(frozen=True)
class _Kind:
    label: str
    pattern: re.Pattern[str]
    prefix_len: int  # characters of the match that are a fixed, non-secret prefix
    # extra shape test on the secret body; rejects prose that happens to fit the pattern
    shape: Callable[[str], bool] = lambda body: True


def _mixed(body: str) -> bool:
    """Real keys of these kinds mix upper case, lower case and digits."""
    return body != body.lower() and body != body.upper() and _has_digit(body)


def _has_digit(body: str) -> bool:
    return _DIGIT.search(body) is not None


_DIGIT = re.compile(r"[0-9]")

_KINDS: tuple[_Kind, ...] = (
    # Anthropic before OpenAI: both start with "sk-"; OpenAI's pattern excludes "sk-ant-".
    _Kind(
        "Anthropic API key",
        re.compile(rf"sk-ant-(?<![{_TOKEN}]sk-ant-)[{_TOKEN}]{{20,}}"),
        len("sk-ant-"),
        _mixed,
    ),
    _Kind(
        "OpenAI API key",
        # legacy "sk-" keys and "sk-proj-", "sk-svcacct-", "sk-admin-" keys
        re.compile(rf"sk-(?<![{_TOKEN}]sk-)(?!ant-)[{_TOKEN}]{{20,}}"),
        len("sk-"),
        _mixed,
    ),
    _Kind(
        "AWS access key ID",
        re.compile(r"A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        len("AKIA"),
    ),
    _Kind(
        "GitHub token",
        re.compile(rf"gh[pousr]_(?<![{_TOKEN}]gh[pousr]_)[A-Za-z0-9]{{36,}}"),
        len("ghp_"),
    ),
    _Kind(
        "GitHub token",
        re.compile(rf"github_pat_(?<![{_TOKEN}]github_pat_)[A-Za-z0-9_]{{22,}}"),
        len("github_pat_"),
    ),
    _Kind(
        "Slack token",
        re.compile(rf"xox[abpr]-(?<![{_TOKEN}]xox[abpr]-)[A-Za-z0-9\-]{{10,}}"),
        len("xoxb-"),
        _has_digit,
    ),
    _Kind(
        "Google API key",
        re.compile(rf"AIza(?<![{_TOKEN}]AIza)[A-Za-z0-9_\-]{{35}}(?![{_TOKEN}])"),
        len("AIza"),
    ),
)

# Bounded by "_" and "-" too, so 40 characters inside a longer key are not taken for one;
# "=" may precede it (KEY=value) but not follow it (that is a longer base64 blob).
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+_\-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_\-])")

# The header is not secret; the base64 body that follows it is. A header alone (a prompt
# that tells the agent never to print one) is not a finding.
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]{0,40}?)PRIVATE KEY(?: BLOCK)?-----")
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/=]{40}")
_KEY_MATERIAL_WINDOW = 400


def entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0 for an empty string)."""
    if not value:
        return 0.0
    total = len(value)
    counts = collections.Counter(value).values()
    return -sum(n / total * math.log2(n / total) for n in counts)


def is_placeholder(value: str, body: str | None = None) -> bool:
    """True for documented examples and obvious placeholders, which are not flagged."""
    lowered = value.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return True
    return entropy(value if body is None else body) < ENTROPY_THRESHOLD


def mask_secret(value: str) -> str:
    """At most the first and last four characters: ``sk-p…9f2Q``."""
    if len(value) >= 12:
        return f"{value[:4]}…{value[-4:]}"
    # Too short to show eight characters and still hide most of it.
    shown = len(value) // 4
    return f"{value[:shown]}…" if shown else "…"


class _Locator:
    """Offsets to 1-based (line, col); the newline index is built on first use."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def __call__(self, offset: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer(r"\n", self._text)]
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1


def _message(label: str, value: str) -> str:
    return f'secret: possible {label} "{mask_secret(value)}" in file (remove it and rotate the key)'


def _near_aws_hint(text: str, start: int) -> bool:
    """An "aws" hint before ``start`` on its line or the two lines above it.

    The window is also capped in characters, so a megabyte on one line stays linear.
    """
    lowest = max(0, start - _AWS_HINT_CHARS)

    def line_start(end: int) -> int:
        newline = text.rfind("\n", lowest, end)
        return lowest if newline < 0 else newline + 1

    window_start = line_start(start)
    for _ in range(_AWS_HINT_LINES - 1):
        if window_start <= lowest:
            break
        window_start = line_start(window_start - 1)  # skip the newline ending that line
    window = text[window_start:start].lower()
    at = window.find("aws")
    while at >= 0:
        before = window[at - 1] if at > 0 else text[window_start - 1 : window_start]
        if not before.isalpha():  # "aws_secret", "AWS:", not "laws"
            return True
        at = window.find("aws", at + 1)
    return False


def _aws_secret_keys(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for match in _AWS_SECRET.finditer(text):
        value = match.group()
        if _mixed(value) and _near_aws_hint(text, match.start()) and not is_placeholder(value):
            found.append((match.start(), _message("AWS secret access key", value)))
    return found


def scan_secrets(text: str, path: str) -> list[Finding]:
    """Findings for every secret-shaped value in ``text``, sorted by position."""
    locate = _Locator(text)
    found: list[tuple[int, str]] = []
    for kind in _KINDS:
        for match in kind.pattern.finditer(text):
            value = match.group()
            body = value[kind.prefix_len :]
            if kind.shape(body) and not is_placeholder(value, body):
                found.append((match.start(), _message(kind.label, value)))
    found.extend(_aws_secret_keys(text))
    for match in _PRIVATE_KEY.finditer(text):
        following = text[match.end() : match.end() + _KEY_MATERIAL_WINDOW]
        material = _KEY_MATERIAL.search(following)
        if material is None or is_placeholder(material.group()):
            continue
        header = f"BEGIN {match.group(1)}PRIVATE KEY"
        found.append(
            (
                match.start(),
                f'secret: possible private key block "{header}" in file '
                "(remove it and rotate the key)",
            )
        )
    findings = []
    for offset, message in sorted(found):
        line, col = locate(offset)
        findings.append(Finding(path=path, line=line, col=col, message=message))
    return findings
