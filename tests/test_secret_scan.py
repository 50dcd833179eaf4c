"""Secret scanning: each kind found at its exact place, placeholders ignored, never leaked.

Test keys are assembled at run time from a seeded generator, so no key-shaped literal
sits in this file (push protection and other scanners stay quiet about the repo).
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.models import Finding
from agentver.secret_scan import (
    PLACEHOLDER_MARKERS,
    entropy,
    fingerprint,
    mask_secret,
    scan_secrets,
)

RNG = random.Random(20261126)
ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


def rand(alphabet: str, length: int, rng: random.Random = RNG) -> str:
    """Random text that surely mixes upper case, lower case and digits when it can."""
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(length))
        groups = (string.ascii_uppercase, string.ascii_lowercase, string.digits)
        mixed = all(set(value) & set(group) for group in groups if set(alphabet) & set(group))
        # a random "your" or "xxxx" inside would (rightly) make it a placeholder
        if mixed and not any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
            return value


def openai_legacy() -> str:
    return "sk" + "-" + rand(ALNUM, 48)


def openai_project() -> str:
    return "sk" + "-proj-" + rand(ALNUM + "_-", 120) + "9f2Q"


def openai_service() -> str:
    return "sk" + "-svcacct-" + rand(ALNUM + "_-", 100)


def anthropic_api03() -> str:
    return "sk" + "-ant-api03-" + rand(ALNUM + "_-", 93) + "AA"


def anthropic_other() -> str:
    return "sk" + "-ant-" + rand(ALNUM, 40)


def aws_key_id() -> str:
    return "AK" + "IA" + rand(UPPER_ALNUM, 16)


def aws_session_key_id() -> str:
    return "AS" + "IA" + rand(UPPER_ALNUM, 16)


def github_classic() -> str:
    return "gh" + "p_" + rand(ALNUM, 36)


def github_fine_grained() -> str:
    return "github" + "_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)


def slack_bot() -> str:
    return (
        "xo"
        + "xb-"
        + rand(string.digits, 12)
        + "-"
        + rand(string.digits, 13)
        + "-"
        + rand(ALNUM, 24)
    )


def slack_user() -> str:
    return "xo" + "xp-" + rand(string.digits, 11) + "-" + rand(ALNUM, 30)


def google_key() -> str:
    return "AI" + "za" + rand(ALNUM + "_-", 35)


KINDS: list[tuple[str, Callable[[], str]]] = [
    ("OpenAI API key", openai_legacy),
    ("OpenAI API key", openai_project),
    ("OpenAI API key", openai_service),
    ("Anthropic API key", anthropic_api03),
    ("Anthropic API key", anthropic_other),
    ("AWS access key ID", aws_key_id),
    ("AWS access key ID", aws_session_key_id),
    ("GitHub token", github_classic),
    ("GitHub token", github_fine_grained),
    ("Slack token", slack_bot),
    ("Slack token", slack_user),
    ("Google API key", google_key),
]


def assert_not_leaked(findings: list[Finding], secret: str) -> None:
    """Neither the secret nor any 5 consecutive characters of it are in a message."""
    for finding in findings:
        message = str(finding)
        assert secret not in message
        for start in range(len(secret) - 4):
            assert secret[start : start + 5] not in message


@pytest.mark.parametrize(("label", "make"), KINDS, ids=[make.__name__ for _, make in KINDS])
def test_each_kind_is_found_at_its_line_and_column(label: str, make: Callable[[], str]) -> None:
    secret = make()
    text = (
        "description: support bot\n"
        "model: gpt-4o\n"
        "system_prompt: |\n"
        "  You are helpful.\n"
        f"  Use the key {secret} when calling the API.\n"
        "temperature: 0.2\n"
    )
    findings = scan_secrets(text, "agents/support.yaml")
    assert [(f.path, f.line, f.col) for f in findings] == [("agents/support.yaml", 5, 15)]
    message = findings[0].message
    assert message == (
        f'secret: possible {label} "{secret[:4]}…{secret[-4:]}" in file '
        f"(remove it and rotate the key; if it is not a secret, allow fingerprint "
        f"{fingerprint(secret)})"
    )
    assert_not_leaked(findings, secret)


def test_openai_project_key_message_matches_the_documented_shape() -> None:
    secret = openai_project()
    (finding,) = scan_secrets(f"k: {secret}\n", "a.yaml")
    assert '"sk-p…9f2Q"' in finding.message
    assert "OpenAI" in finding.message and "Anthropic" not in finding.message


def test_anthropic_key_is_not_also_reported_as_openai() -> None:
    secret = anthropic_api03()
    findings = scan_secrets(secret, "a.yaml")
    assert len(findings) == 1
    assert "Anthropic API key" in findings[0].message


def test_aws_secret_access_key_needs_an_aws_hint_nearby() -> None:
    secret = rand(ALNUM + "/+", 40)
    with_hint = f"# credentials\naws_secret_access_key: {secret}\n"
    findings = scan_secrets(with_hint, "a.yaml")
    assert [(f.line, f.col) for f in findings] == [(2, 24)]
    assert "AWS secret access key" in findings[0].message
    assert_not_leaked(findings, secret)

    hint_two_lines_above = f"AWS:\n  region: eu-west-1\n  secret: {secret}\n"
    assert [(f.line, f.col) for f in scan_secrets(hint_two_lines_above, "a.yaml")] == [(3, 11)]

    far_away = "aws: yes\n" + "\n" * 5 + f"value: {secret}\n"
    assert scan_secrets(far_away, "a.yaml") == []
    # no "aws" hint: not an AWS key, but a random value assigned to a token is a secret
    (generic,) = scan_secrets(f"token: {secret}\n", "a.yaml")
    assert "secret assigned to token" in generic.message
    assert scan_secrets(f"the laws say: {secret}\n", "a.yaml") == []
    assert len(scan_secrets(f"MY_AWS_KEY={secret}\n", "a.yaml")) == 1


def test_git_commit_ids_near_aws_are_not_secret_keys() -> None:
    sha = "".join(RNG.choice("0123456789abcdef") for _ in range(40))
    assert scan_secrets(f"aws module at commit {sha}\n", "a.yaml") == []


def test_private_key_block_is_found_and_its_body_never_shown() -> None:
    body = [rand(ALNUM + "+/", 64) for _ in range(4)]
    text = (
        "model: gpt-4o\n"
        "system_prompt: |\n"
        "  Sign with this:\n"
        "  -----BEGIN RSA PRIVATE KEY-----\n"
        + "".join(f"  {line}\n" for line in body)
        + ("  -----END RSA PRIVATE KEY-----\n")
    )
    findings = scan_secrets(text, "a.yaml")
    assert [(f.line, f.col) for f in findings] == [(4, 3)]
    assert findings[0].message.startswith(
        'secret: possible private key block "BEGIN RSA PRIVATE KEY" in file '
        "(remove it and rotate the key; if it is not a secret, allow fingerprint "
    )
    for line in body:
        assert_not_leaked(findings, line)

    openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + body[0] + "\n"
    assert len(scan_secrets(openssh, "a.yaml")) == 1
    plain = "x: '-----BEGIN PRIVATE KEY-----\\n" + body[1] + "'\n"
    assert [(f.line, f.col) for f in scan_secrets(plain, "a.yaml")] == [(1, 5)]


def test_a_bare_private_key_header_is_a_finding_but_prose_is_not() -> None:
    """Issue 14: a bare BEGIN RSA PRIVATE KEY line (a half-pasted key) was missed."""
    text = "system_prompt: |\n  -----BEGIN RSA PRIVATE KEY-----\n"
    assert [(f.line, f.col) for f in scan_secrets(text, "a.yaml")] == [(2, 3)]
    prose = "system_prompt: Never print an RSA private key or a BEGIN PRIVATE KEY line.\n"
    assert scan_secrets(prose, "a.yaml") == []


@pytest.mark.parametrize(
    "placeholder",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk" + "-your-key-here",
        "sk" + "-" + "x" * 48,
        "sk" + "-proj-" + "x" * 64,
        "sk" + "-proj-" + "X" * 20 + "1a" + "X" * 20,
        "sk" + "-" + "Your0penAIKeyGoesHere1234567890abc",
        "sk" + "-ant-api03-" + "x" * 93 + "AA",
        "sk" + "-ant-" + "REPLACE_WITH_YOUR_KEY_1234",
        "gh" + "p_" + "x" * 36,
        "gh" + "p_" + "EXAMPLE" + rand(ALNUM, 29),
        "AI" + "za" + "0" * 35,
        "AI" + "za" + "SyEXAMPLEEXAMPLEEXAMPLEEXAMPLE12345",
        "xo" + "xb-" + "0" * 12 + "-" + "0" * 13 + "-" + "x" * 24,
        "xo" + "xb-your-token-here-123",
        "api_key: sk" + "-...",
        "AK" + "IA" + "AAAAAAAAAAAAAAAA",
        "-----BEGIN PRIVATE KEY-----\n" + "x" * 64 + "\n",
    ],
)
def test_placeholders_are_not_flagged(placeholder: str) -> None:
    assert scan_secrets(f"# example\napi_key: {placeholder}\n", "a.yaml") == []


@pytest.mark.parametrize(
    "prose",
    [
        "Use the task-management-system-overview-and-reports page.",
        "We like sk-learn-style-pipelines-and-transformers for ML.",
        "Mention the desk-sk-organizer-product-family sometimes.",
        "The AKIA prefix means a long-term AWS key; ASIA a temporary one.",
        "See https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
        "Refer to ghp_ tokens and github_pat_ tokens in general terms.",
    ],
)
def test_prose_about_keys_is_not_flagged(prose: str) -> None:
    assert scan_secrets(prose, "a.yaml") == []


def test_key_glued_to_a_longer_token_is_not_flagged() -> None:
    assert scan_secrets("ask" + "-" + rand(ALNUM, 48), "a.yaml") == []
    assert scan_secrets(aws_key_id() + "Z", "a.yaml") == []
    assert scan_secrets("X" + aws_key_id(), "a.yaml") == []


def test_several_secrets_are_reported_in_file_order_with_columns_in_characters() -> None:
    first, second, third = google_key(), aws_key_id(), openai_legacy()
    text = f"é: {first}\r\nother: ok\r\n  - {second} and {third}\n"
    findings = scan_secrets(text, "p.yaml")
    assert [(f.line, f.col) for f in findings] == [(1, 4), (3, 5), (3, 30)]
    assert ["Google" in findings[0].message, "AWS" in findings[1].message] == [True, True]
    for secret in (first, second, third):
        assert_not_leaked(findings, secret)


def test_mask_shows_at_most_four_characters_each_side() -> None:
    assert mask_secret("sk-proj-abcdefghij9f2Q") == "sk-p…9f2Q"
    assert mask_secret("abcdefghijk") == "ab…"
    assert mask_secret("abc") == "…"
    assert entropy("") == 0.0
    assert entropy("aaaa") == 0.0
    assert entropy("abab") == 1.0


# Text built only from lower-case letters, whitespace and punctuation cannot hold any of
# the key shapes (they all need upper case, digits or "_").
SAFE_TEXT = st.text(alphabet=string.ascii_lowercase + " \n\t.,:;!?'\"()[]{}#-", max_size=2000)


@settings(max_examples=300, deadline=None)
@given(SAFE_TEXT)
def test_text_without_key_shapes_has_no_findings(text: str) -> None:
    assert scan_secrets(text, "a.yaml") == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_scanning_never_raises_and_locations_are_inside_the_text(text: str) -> None:
    lines = text.split("\n")
    for finding in scan_secrets(text, "a.yaml"):
        assert 1 <= finding.line <= len(lines)
        assert 1 <= finding.col <= len(lines[finding.line - 1])


@settings(max_examples=200, deadline=None)
@given(
    before=SAFE_TEXT,
    after=SAFE_TEXT,
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_key_anywhere_is_found_exactly_there_and_never_leaked(
    before: str, after: str, kind: tuple[str, Callable[[], str]], seed: int
) -> None:
    label, make = kind
    RNG.seed(seed)
    secret = make()
    text = f"{before} {secret} {after}"
    offset = len(before) + 1
    line = before.count("\n") + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    findings = scan_secrets(text, "a.yaml")
    assert [(f.line, f.col) for f in findings] == [(line, col)]
    assert label in findings[0].message
    assert_not_leaked(findings, secret)


AWS_LIKE = [rand(ALNUM + "/+", 40, random.Random(n)) for n in range(50)]


def realistic_megabyte() -> str:
    rng = random.Random(7)
    words = ["you", "are", "the", "support", "agent", "help", "with", "billing", "refunds"]
    lines = []
    size = 0
    while size < 1_000_000:
        lines.append("  " + " ".join(rng.choice(words) for _ in range(12)))
        if len(lines) % 5000 == 0:
            lines.append(f"  key {openai_legacy()} aws_secret_access_key {rand(ALNUM, 40)}")
        size += len(lines[-1]) + 1
    return "system_prompt: |\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "name",
    [
        "realistic",
        "letters",
        "sk-runs",
        "aws-tokens",
        "aws-hints",
        "begin-headers",
        "hyphens",
        "newlines",
    ],
)
def test_a_megabyte_scans_well_under_a_second(name: str) -> None:
    texts: dict[str, Callable[[], str]] = {
        "realistic": realistic_megabyte,
        "letters": lambda: "A" * 1_000_000,
        "sk-runs": lambda: ("sk" + "-") * 333_333,
        "aws-tokens": lambda: "aws " + " ".join(AWS_LIKE * 490),
        "aws-hints": lambda: "aws\n" * 250_000,
        "begin-headers": lambda: "-----BEGIN " * 91_000,
        "hyphens": lambda: "xo" + "xb-" + "-" * 1_000_000,
        "newlines": lambda: "\n" * 1_000_000,
    }
    text = texts[name]()
    assert len(text) >= 999_000
    # CPU time: other test processes sharing the machine do not make this flaky.
    started = time.process_time()
    findings = scan_secrets(text, "big.yaml")
    elapsed = time.process_time() - started
    assert elapsed < 0.5, f"{name}: {elapsed:.3f}s"
    if name == "realistic":
        assert len(findings) == 2 * text.count("aws_secret_access_key")
