"""The secret rule set: which text is a key, token, password or private key.

Measured on tests/secrets_corpus (realistic synthetic secrets and look-alikes that are
not secrets); the figures and the command that produces them are in docs/secrets.md.

Every pattern is anchored on a literal prefix or keyword with bounded character classes
and no nested quantifiers, so scanning stays linear in the size of the file. A
key-shaped token is only reported when it is not part of a longer token: the boundary
is a lookbehind placed after the literal prefix (not before it), so the regex engine
can jump straight to the prefix instead of trying every position.
"""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

# Shannon entropy (bits per character) below which a key-shaped token is taken for a
# placeholder such as "sk-xxxxxxxxxxxxxxxxxxxxxxxx". Random 16-character AWS ids sit
# around 3.6 and practically never below 2.5; "xxxx..." is 0, "abab..." is 1.
ENTROPY_THRESHOLD = 2.5
# A value assigned to a key-like name (api_key=..., "token": ...) carries no prefix to
# recognise it by, so it must look random: at least this entropy and length.
ASSIGNMENT_ENTROPY = 3.0
ASSIGNMENT_MIN_LENGTH = 16

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

_TOKEN = r"A-Za-z0-9_\-"
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")


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


def mixed(body: str) -> bool:
    """Upper case, lower case and digits, as random keys of most kinds have."""
    return body != body.lower() and body != body.upper() and has_digit(body)


def has_digit(body: str) -> bool:
    return _DIGIT.search(body) is not None


def letters_and_digits(body: str) -> bool:
    """Hex and base62 keys: some letters and some digits (prose has no digits)."""
    return has_digit(body) and _LETTER.search(body) is not None


def mixed_case(body: str) -> bool:
    return body != body.lower() and body != body.upper()


@dataclass(frozen=True)
class Kind:
    label: str
    pattern: re.Pattern[str]
    prefix_len: int  # characters of the match that are a fixed, non-secret prefix
    # extra shape test on the secret body; rejects prose that happens to fit the pattern
    shape: Callable[[str], bool] = lambda body: True


def _prefixed(label: str, prefix: str, body: str, shape: Callable[[str], bool]) -> Kind:
    """``prefix`` (a regex of fixed width) then ``body``, not glued to a longer token."""
    width = len(re.sub(r"\[[^\]]*\]", "x", re.sub(r"\\(.)", r"\1", prefix)))
    pattern = re.compile(rf"{prefix}(?<![{_TOKEN}]{prefix}){body}")
    return Kind(label, pattern, width, shape)


KINDS: tuple[Kind, ...] = (
    # Anthropic before OpenAI: both start with "sk-"; OpenAI's pattern excludes "sk-ant-".
    _prefixed("Anthropic API key", r"sk-ant-", rf"[{_TOKEN}]{{20,}}", mixed),
    # legacy "sk-" keys (48 base62), "sk-proj-", "sk-svcacct-", "sk-admin-", and the
    # 32-hex "sk-" keys of OpenAI-compatible providers
    _prefixed("OpenAI API key", r"sk-", rf"(?!ant-)[{_TOKEN}]{{20,}}", letters_and_digits),
    _prefixed("AWS access key ID", r"A[KS]IA", r"[A-Z0-9]{16}(?![A-Za-z0-9])", lambda b: True),
    _prefixed("GitHub token", r"gh[pousr]_", r"[A-Za-z0-9]{36,}", lambda b: True),
    _prefixed("GitHub token", r"github_pat_", r"[A-Za-z0-9_]{22,}", lambda b: True),
    _prefixed("GitLab token", r"glpat-", r"[A-Za-z0-9_\-]{20,}", lambda b: True),
    _prefixed("Slack token", r"xox[abposr]-", r"[A-Za-z0-9\-]{10,}", has_digit),
    _prefixed(
        "Slack webhook URL",
        r"https://hooks\.slack\.com/services/",
        r"T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}",
        lambda b: True,
    ),
    _prefixed("Google API key", r"AIza", rf"[A-Za-z0-9_\-]{{35}}(?![{_TOKEN}])", lambda b: True),
    _prefixed("Google OAuth token", r"ya29\.", r"[A-Za-z0-9_\-]{30,}", letters_and_digits),
    _prefixed("Hugging Face token", r"hf_", r"[A-Za-z0-9]{30,}(?![A-Za-z0-9])", mixed_case),
    _prefixed("Groq API key", r"gsk_", r"[A-Za-z0-9]{40,}", letters_and_digits),
    _prefixed("xAI API key", r"xai-", r"[A-Za-z0-9]{50,}", letters_and_digits),
    _prefixed("Stripe secret key", r"[sr]k_live_", r"[A-Za-z0-9]{20,}", letters_and_digits),
    _prefixed("Stripe secret key", r"[sr]k_test_", r"[A-Za-z0-9]{20,}", letters_and_digits),
    _prefixed(
        "SendGrid API key", r"SG\.", r"[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,}", has_digit
    ),
    _prefixed("npm token", r"npm_", r"[A-Za-z0-9]{36}(?![A-Za-z0-9])", letters_and_digits),
    _prefixed("PyPI token", r"pypi-AgE", r"[A-Za-z0-9_\-]{50,}", lambda b: True),
    _prefixed("Mailgun API key", r"key-", r"[0-9a-f]{32}(?![A-Za-z0-9])", letters_and_digits),
    _prefixed(
        "JSON Web Token",
        r"eyJ",
        r"[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,}",
        lambda b: True,
    ),
    _prefixed("Azure storage account key", r"AccountKey=", r"[A-Za-z0-9+/]{80,}={0,2}", has_digit),
    _prefixed("DigitalOcean token", r"do[opr]_v1_", r"[0-9a-f]{64}(?![A-Za-z0-9])", has_digit),
    _prefixed("Replicate API token", r"r8_", r"[A-Za-z0-9]{37}(?![A-Za-z0-9])", letters_and_digits),
    _prefixed("Twilio API key", r"SK", r"[0-9a-f]{32}(?![A-Za-z0-9])", letters_and_digits),
    _prefixed(
        "Discord webhook URL",
        r"discord\.com/api/webhooks/",
        r"[0-9]{17,20}/[A-Za-z0-9_\-]{60,}",
        lambda b: True,
    ),
    _prefixed(
        "Discord webhook URL",
        r"discordapp\.com/api/webhooks/",
        r"[0-9]{17,20}/[A-Za-z0-9_\-]{60,}",
        lambda b: True,
    ),
    # <bot id>:<35 characters starting AA>; no literal prefix, so anchored on the digits
    Kind(
        "Telegram bot token",
        re.compile(r"(?<![0-9A-Za-z_\-])[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}(?![A-Za-z0-9_\-])"),
        0,
        lambda body: mixed_case(body),
    ),
)

# AWS secret access keys are 40 base64 characters with no prefix: only flagged after an
# "aws" hint (not inside a word such as "laws") on the same line or up to two lines above.
# Bounded by "_" and "-" too, so 40 characters inside a longer key are not taken for one;
# "=" may precede it (KEY=value) but not follow it (that is a longer base64 blob).
AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+_\-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_\-])")
AWS_HINT_LINES = 3
AWS_HINT_CHARS = 300

# The armoured header of a private key: reported whether or not its body follows (a
# pasted header alone is a half-pasted key). Prose naming "RSA private key" is not.
PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]{0,40}?)PRIVATE KEY(?: BLOCK)?-----")
KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/=]{40}")
KEY_MATERIAL_WINDOW = 400

# scheme://user:password@host. The password is group 1.
URL_PASSWORD = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@'\"<>]{0,64}:([^\s@/'\"<>]{1,128})@[A-Za-z0-9\[]"
)

# A key-like name assigned a value: api_key=..., "client_secret": "...", password: ...
# Group 1 is the name, group 2 the value.
ASSIGNMENT = re.compile(
    r"(?i)((?:api[_-]?key|apikey|secret|client[_-]?secret|access[_-]?token|auth[_-]?token|"
    r"token|password|passwd|pwd|private[_-]?key[_-]?id|access[_-]?key|signing[_-]?key|"
    r"encryption[_-]?key|credentials?)[A-Za-z0-9_\-]{0,24})"
    r"[\"']?[ \t]{0,4}(?::|=>|=)[ \t]{0,4}[\"']?"
    r"([A-Za-z0-9_\-+/=.~!@#$%^&*]{6,200})"
)
BEARER = re.compile(r"\bBearer[ \t]+([A-Za-z0-9_\-.~+/]{20,}=*)")
_PASSWORD_NAMES = ("password", "passwd", "pwd")
# What a value can be without being a secret: references to where the secret lives.
_REFERENCE = re.compile(r"^(?:\$|%|\{\{|<|\*+$|env[:.]|os\.environ|process\.env|secrets?\.)", re.I)


def assignment_is_secret(name: str, value: str) -> bool:
    """A value assigned to a key-like name that looks like a real credential."""
    value = value.rstrip(".,;")
    if _REFERENCE.match(value) or is_placeholder(value):
        return False
    if name.lower().endswith(("_env", "-env", "_name", "_file", "_path", "_url")):
        return False  # the *name* of where the secret lives, not the secret
    if name.lower().endswith(_PASSWORD_NAMES):
        # passwords are short and human: any digit or capital makes "hunter2" one, while
        # "required" or "string" (prose, schemas) is not
        return len(value) >= 6 and (has_digit(value) or mixed_case(value))
    return (
        len(value) >= ASSIGNMENT_MIN_LENGTH
        and letters_and_digits(value)
        and entropy(value) >= ASSIGNMENT_ENTROPY
    )


def url_password_is_secret(password: str) -> bool:
    lowered = password.lower()
    if _REFERENCE.match(password) or lowered in {"password", "pass", "pwd", "secret"}:
        return False
    return not any(marker in lowered for marker in PLACEHOLDER_MARKERS) and len(set(password)) > 2
