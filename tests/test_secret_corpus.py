"""The secret scan measured on tests/secrets_corpus: recall >= 98%, false positives <= 1%
(issue 14), and the allowlist (inline marker, fingerprints in agentver.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "secrets_corpus"
sys.path.insert(0, str(CORPUS))

from corpus import lookalikes, secrets  # noqa: E402
from measure import measure  # noqa: E402

from agentver.secret_scan import ALLOW_MARKER, fingerprint, scan_secrets  # noqa: E402


def test_the_corpus_is_big_enough_and_covers_every_family_of_the_issue() -> None:
    real, fake = secrets(), lookalikes()
    assert len(real) >= 100 and len(fake) >= 100
    families = {family for family, _ in real}
    for wanted in (
        "sk- 32 hex",
        "generic api_key",
        "Hugging Face",
        "Groq",
        "xAI",
        "Stripe",
        "JWT",
        "database URL",
        "private key",
        "OpenAI legacy",
        "Anthropic",
        "GitHub classic",
        "Slack bot",
        "AWS key id",
        "AWS secret",
        "Google API key",
        "Azure storage",
    ):
        assert wanted in families
    assert len({text for _, text in real}) == len(real)  # every sample distinct


def test_recall_and_false_positive_rate() -> None:
    figures = measure()
    assert figures.recall >= 0.98, figures.misses
    assert figures.false_positive_rate <= 0.01, figures.false_positives


def test_findings_never_leak_a_corpus_secret() -> None:
    for _, text in secrets():
        for finding in scan_secrets(text, "x"):
            for line in text.splitlines():
                for word in line.replace('"', " ").replace("=", " ").split():
                    if len(word) >= 20:
                        assert word not in finding.message


def test_an_inline_marker_allows_one_line() -> None:
    _, text = secrets()[0]
    assert scan_secrets(text, "a.yaml")
    marked = "\n".join(f"{line}  # {ALLOW_MARKER}" for line in text.splitlines()) + "\n"
    assert scan_secrets(marked, "a.yaml") == []


def test_fingerprints_in_agentver_yaml_allow_a_known_false_positive(
    repo: Any, run_cli: Any
) -> None:
    _, text = secrets()[0]  # an OpenAI-shaped key in a prompt
    key = next(word for word in text.split() if word.startswith("sk" + "-"))
    repo.write("agents/support.yaml", "model: gpt-4o\n" + text)
    code, out, _ = run_cli("validate", cwd=repo.path)
    assert code == 1 and f"allow fingerprint {fingerprint(key)}" in out
    repo.write("agentver.yaml", f"secrets:\n  allow: [{fingerprint(key)}]\n")
    code, out, err = run_cli("validate", cwd=repo.path)
    assert (code, out) == (0, ""), err
    repo.write("agentver.yaml", "secrets:\n  allow: [not-a-fingerprint]\n")
    code, out, _ = run_cli("validate", cwd=repo.path)
    assert code == 1 and "agentver.yaml:2:11: secrets.allow.0: " in out
