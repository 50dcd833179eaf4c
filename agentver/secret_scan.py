"""Secrets pasted into agentver files: API keys, tokens, passwords and private keys.

``scan_secrets`` looks at the raw file text (so a key in a comment is found too) and
reports where each match starts. It never touches the network and never puts a whole
secret into a message: at most its first and last four characters, plus a fingerprint
(the first 16 hex characters of the SHA-256 of the matched text) that identifies it
without revealing it.

A known false positive is allowed in one of two ways (docs/secrets.md):

- an inline marker ``agentver:allow-secret`` anywhere on the same line (a YAML comment);
- its fingerprint under ``secrets: {allow: [...]}`` in ``agentver.yaml``.

The rules themselves live in agentver/secret_rules.py.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Collection

from agentver.models import Finding
from agentver.secret_rules import ASSIGNMENT as _ASSIGNMENT
from agentver.secret_rules import (
    AWS_HINT_CHARS,
    AWS_HINT_LINES,
    AWS_SECRET,
    BEARER,
    KEY_MATERIAL,
    KEY_MATERIAL_WINDOW,
    KINDS,
    PLACEHOLDER_MARKERS,
    PRIVATE_KEY,
    URL_PASSWORD,
    assignment_is_secret,
    entropy,
    is_placeholder,
    mixed,
    url_password_is_secret,
)

__all__ = ["ALLOW_MARKER", "PLACEHOLDER_MARKERS", "entropy", "fingerprint", "mask_secret"]

ALLOW_MARKER = "agentver:allow-secret"


def fingerprint(value: str) -> str:
    """A stable, non-reversible name for one secret: 16 hex characters of its SHA-256."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


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

    def line_text(self, offset: int) -> str:
        start = self._text.rfind("\n", 0, offset) + 1
        end = self._text.find("\n", offset)
        return self._text[start : end if end >= 0 else len(self._text)]


def _message(label: str, shown: str, value: str) -> str:
    return (
        f'secret: possible {label} "{shown}" in file (remove it and rotate the key; '
        f"if it is not a secret, allow fingerprint {fingerprint(value)})"
    )


def _near_aws_hint(text: str, start: int) -> bool:
    """An "aws" hint before ``start`` on its line or the two lines above it.

    The window is also capped in characters, so a megabyte on one line stays linear.
    """
    lowest = max(0, start - AWS_HINT_CHARS)

    def line_start(end: int) -> int:
        newline = text.rfind("\n", lowest, end)
        return lowest if newline < 0 else newline + 1

    window_start = line_start(start)
    for _ in range(AWS_HINT_LINES - 1):
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


# (start, end, label, shown text, the secret itself)
_Match = tuple[int, int, str, str, str]


def _prefixed_keys(text: str) -> list[_Match]:
    found: list[_Match] = []
    for kind in KINDS:
        for match in kind.pattern.finditer(text):
            value = match.group()
            body = value[kind.prefix_len :]
            if kind.shape(body) and not is_placeholder(value, body):
                found.append((match.start(), match.end(), kind.label, mask_secret(value), value))
    for match in AWS_SECRET.finditer(text):
        value = match.group()
        if mixed(value) and _near_aws_hint(text, match.start()) and not is_placeholder(value):
            label = "AWS secret access key"
            found.append((match.start(), match.end(), label, mask_secret(value), value))
    for match in PRIVATE_KEY.finditer(text):
        following = text[match.end() : match.end() + KEY_MATERIAL_WINDOW]
        material = KEY_MATERIAL.search(following)
        if material is not None and is_placeholder(material.group()):
            continue  # "-----BEGIN PRIVATE KEY-----\nxxxxxxxx..." in documentation
        header = f"BEGIN {match.group(1)}PRIVATE KEY"
        secret = material.group() if material is not None else match.group()
        found.append((match.start(), match.end(), "private key block", header, secret))
    return found


def _generic(text: str) -> list[_Match]:
    """Secrets without a prefix: passwords in URLs, Bearer tokens, key=value."""
    found: list[_Match] = []
    for match in URL_PASSWORD.finditer(text):
        password = match.group(1)
        if url_password_is_secret(password):
            start, end = match.span(1)
            found.append((start, end, "password in a URL", mask_secret(password), password))
    for match in BEARER.finditer(text):
        token = match.group(1)
        if not is_placeholder(token) and entropy(token) >= 3.0:
            start, end = match.span(1)
            found.append((start, end, "bearer token", mask_secret(token), token))
    for match in _ASSIGNMENT.finditer(text):
        name, value = match.group(1), match.group(2).rstrip(".,;")
        if assignment_is_secret(name, value):
            start = match.start(2)
            label = f"secret assigned to {name}"
            found.append((start, start + len(value), label, mask_secret(value), value))
    return found


def scan_secrets(text: str, path: str, allowed: Collection[str] = frozenset()) -> list[Finding]:
    """Findings for every secret-shaped value in ``text``, sorted by position.

    ``allowed`` holds fingerprints that are known not to be secrets; a line carrying
    the ``agentver:allow-secret`` marker is skipped too.
    """
    locate = _Locator(text)
    specific = _prefixed_keys(text)
    # a prefixed key also assigned to api_key=... is one finding, under its own name
    spans = [(start, end) for start, end, *_ in specific]
    matches = specific + [m for m in _generic(text) if not _overlaps(spans, m[0], m[1])]
    findings = []
    seen: set[int] = set()
    for start, _end, label, shown, secret in sorted(matches):
        if start in seen or fingerprint(secret) in allowed:
            continue
        seen.add(start)
        if ALLOW_MARKER in locate.line_text(start):
            continue
        line, col = locate(start)
        findings.append(
            Finding(path=path, line=line, col=col, message=_message(label, shown, secret))
        )
    return findings


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(other_start < end and start < other_end for other_start, other_end in spans)
