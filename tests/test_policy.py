"""Policies: parsing the section of agentver.yaml, merging "*", checking prompts."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agentver.errors import UsageError
from agentver.models import Finding
from agentver.policy import Policy, check_policy, normalize, parse_policies, policies_for

WHERE = "agentver.yaml"


def check_file(
    agent_id: str, text: str, policy: Policy, path: str = "agents/a.yaml"
) -> list[Finding]:
    """Run check_policy the way validate does: real YAML, real key location."""
    node = yaml.compose(text)
    assert isinstance(node, yaml.MappingNode)
    for key, _value in node.value:
        if key.value == "system_prompt":
            line, col = key.start_mark.line + 1, key.start_mark.column + 1
            break
    else:
        raise AssertionError("no system_prompt key")
    prompt = yaml.safe_load(text)["system_prompt"]
    return check_policy(agent_id, prompt, policy, path, text, line, col)


def where(findings: list[Finding]) -> list[tuple[int, int]]:
    return [(finding.line, finding.col) for finding in findings]


# --- parse_policies ---------------------------------------------------------------


def test_parse_policies_reads_require_and_forbid() -> None:
    raw = yaml.safe_load(
        """
        "*": {forbid: ["as an AI language model"]}
        support:
          require: [billing, refund policy]
        sales: {}
        """
    )
    assert parse_policies(raw, WHERE) == {
        "*": Policy(forbid=("as an AI language model",)),
        "support": Policy(require=("billing", "refund policy")),
        "sales": Policy(),
    }


def test_no_section_means_no_policies() -> None:
    assert parse_policies(None, WHERE) == {}
    assert parse_policies({}, WHERE) == {}


def test_duplicate_phrases_are_kept_once() -> None:
    parsed = parse_policies({"a": {"require": ["Billing", "billing", " billing  "]}}, WHERE)
    assert parsed["a"].require == ("Billing",)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("requires", "require"),
        ("required", "require"),
        ("forbidden", "forbid"),
        ("forbids", "forbid"),
    ],
)
def test_near_miss_keys_get_a_did_you_mean_hint(key: str, suggestion: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_policies({"support": {key: ["billing"]}}, WHERE)
    assert caught.value.exit_code == 2
    assert str(caught.value) == f'{WHERE}: policies.support: unknown key "{key}"'
    assert caught.value.hint is not None
    assert caught.value.hint.startswith(f'did you mean "{suggestion}"?')


def test_unrelated_unknown_key_lists_the_allowed_keys() -> None:
    with pytest.raises(UsageError) as caught:
        parse_policies({"*": {"tone": "friendly"}}, "conf/agentver.yaml")
    assert "conf/agentver.yaml" in str(caught.value)
    assert 'policies.*: unknown key "tone"' in str(caught.value)
    assert caught.value.hint == 'a policy takes only "require" and "forbid"'


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (["support"], "policies must be a mapping"),
        ("support", "policies must be a mapping"),
        ({"Support": {}}, '"Support" is not an agent id'),
        ({"../etc": {}}, '"../etc" is not an agent id'),
        ({1: {}}, '"1" is not an agent id'),
        ({"support": None}, "policies.support must be a mapping"),
        ({"support": ["billing"]}, "policies.support must be a mapping"),
        ({"support": {"require": "billing"}}, "policies.support.require must be a list"),
        ({"support": {"require": None}}, "policies.support.require must be a list"),
        ({"support": {"forbid": [""]}}, "policies.support.forbid[0] must be a non-empty string"),
        ({"support": {"forbid": ["ok", "  \n"]}}, "policies.support.forbid[1] must be a non-empty"),
        ({"support": {"forbid": [3]}}, "policies.support.forbid[0] must be a non-empty string"),
        ({"support": {1: ["x"]}}, 'policies.support: unknown key "1"'),
    ],
)
def test_malformed_sections_are_usage_errors_naming_file_and_key(
    raw: object, fragment: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse_policies(raw, WHERE)
    assert str(caught.value).startswith(f"{WHERE}: ")
    assert fragment in str(caught.value)


def test_a_single_string_gets_a_hint_to_write_a_list() -> None:
    with pytest.raises(UsageError) as caught:
        parse_policies({"support": {"forbid": "as an AI"}}, WHERE)
    assert caught.value.hint == 'write it as a list: forbid: ["as an AI"]'


def test_a_phrase_both_required_and_forbidden_is_rejected_including_via_star() -> None:
    with pytest.raises(UsageError, match="both required and forbidden"):
        parse_policies({"a": {"require": ["Refund"], "forbid": ["refund"]}}, WHERE)
    with pytest.raises(UsageError, match=r"policies\.support: \"billing\" is both"):
        parse_policies({"*": {"forbid": ["billing"]}, "support": {"require": ["BILLING"]}}, WHERE)


# --- policies_for -----------------------------------------------------------------


def test_policies_for_merges_star_first_then_own_without_duplicates() -> None:
    policies = {
        "*": Policy(require=("be kind",), forbid=("as an AI language model",)),
        "support": Policy(require=("billing", "Be  Kind"), forbid=("guarantee",)),
    }
    assert policies_for("support", policies) == Policy(
        require=("be kind", "billing"), forbid=("as an AI language model", "guarantee")
    )
    assert policies_for("sales", policies) == policies["*"]
    assert policies_for("support", {"support": Policy(require=("x",))}) == Policy(require=("x",))
    assert policies_for("support", {}) == Policy()


# --- check_policy -----------------------------------------------------------------

AGENT = """\
description: Customer support agent
model: gpt-4o
system_prompt: |
  You are the support agent for Acme.
  Help customers with orders, refunds and
  Billing questions. Never say you are "as an AI
  language model"; speak plainly.
temperature: 0.2
"""


def test_missing_required_phrase_is_reported_at_the_system_prompt_key() -> None:
    findings = check_file(
        "support", AGENT, Policy(require=("billing", "escalation")), "agents/support.yaml"
    )
    assert [str(finding) for finding in findings] == [
        'agents/support.yaml:3:1: policy: system prompt must contain "escalation" '
        "(policy for support)"
    ]


def test_required_phrase_matches_across_case_and_line_wraps() -> None:
    assert check_file("support", AGENT, Policy(require=("REFUNDS AND BILLING",))) == []
    assert check_file("support", AGENT, Policy(require=("refunds  and\tbilling",))) == []


def test_forbidden_phrase_wrapped_in_a_block_scalar_is_reported_where_it_starts() -> None:
    findings = check_file("support", AGENT, Policy(forbid=("As an AI Language Model",)))
    assert [str(finding) for finding in findings] == [
        'agents/a.yaml:6:41: policy: system prompt must not contain "As an AI Language Model" '
        "(policy for support)"
    ]


def test_forbidden_phrase_in_a_folded_and_in_a_plain_multiline_scalar() -> None:
    folded = "model: m\nsystem_prompt: >\n  Be brief.\n  I am just\n  a bot, sorry.\n"
    assert where(check_file("a", folded, Policy(forbid=("just a bot",)))) == [(4, 8)]
    plain = "model: m\nsystem_prompt: Be brief. I am\n   just a bot.\ntools: []\n"
    assert where(check_file("a", plain, Policy(forbid=("i am just",)))) == [(2, 26)]


def test_forbidden_phrase_located_in_the_prompt_not_in_other_keys() -> None:
    text = (
        "description: never says as an AI language model\n"
        "model: gpt-4o\n"
        "system_prompt: 'Hello. As an AI language model I help.'\n"
        "# note: as an AI language model is banned\n"
    )
    assert where(check_file("a", text, Policy(forbid=("as an AI language model",)))) == [(3, 24)]


def test_the_key_itself_is_not_taken_for_the_phrase() -> None:
    text = "model: m\nsystem_prompt: Write a haiku. A prompt is fine here.\n"
    assert where(check_file("a", text, Policy(forbid=("prompt",)))) == [(2, 33)]


def test_forbidden_phrase_not_found_literally_falls_back_to_the_key() -> None:
    # A double-quoted scalar with an escaped newline: the text never shows the phrase.
    text = 'model: m\nsystem_prompt: "I am\\njust a bot"\n'
    assert yaml.safe_load(text)["system_prompt"] == "I am\njust a bot"
    findings = check_file("a", text, Policy(forbid=("am just",)))
    assert where(findings) == [(2, 1)]
    assert "must not contain" in findings[0].message


def test_forbidden_phrase_absent_and_required_present_gives_no_findings() -> None:
    assert check_file("a", AGENT, Policy(require=("acme",), forbid=("guarantee",))) == []


def test_every_violation_is_reported_in_policy_order() -> None:
    findings = check_file(
        "support", AGENT, Policy(require=("escalate", "sla"), forbid=("plainly", "acme"))
    )
    assert [finding.message.split('"')[1] for finding in findings] == [
        "escalate",
        "sla",
        "plainly",
        "acme",
    ]
    assert where(findings) == [(3, 1), (3, 1), (7, 26), (4, 33)]


def test_indented_prompt_key_region_ends_at_the_next_sibling() -> None:
    # check_policy also serves nested layouts: the region ends at a line indented no
    # deeper than the key, so "refund" in the sibling is never the reported place.
    text = "agent:\n  system_prompt: |\n    Talk about refund\n  notes: refund\n"
    prompt = "Talk about refund\n"
    findings = check_policy("a", prompt, Policy(forbid=("refund",)), "p.yaml", text, 2, 3)
    assert where(findings) == [(3, 16)]


WORDS = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
SPACE = st.sampled_from([" ", "  ", "\t", "\n  ", " \n  "])


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(WORDS, max_size=8),
    phrase=st.lists(WORDS, min_size=1, max_size=5),
    after=st.lists(WORDS, max_size=8),
    gaps=st.lists(SPACE, min_size=20, max_size=20),
    width=st.integers(10, 80),
)
def test_any_spacing_and_case_of_a_phrase_is_found_and_located(
    before: list[str], phrase: list[str], after: list[str], gaps: list[str], width: int
) -> None:
    words = [*before, *(w.swapcase() for w in phrase), *after]
    joined = words[0]
    for index, word in enumerate(words[1:]):
        joined += gaps[index % len(gaps)] + word
    # Let PyYAML choose the style and fold lines wherever it likes.
    text = yaml.safe_dump({"model": "m", "system_prompt": joined}, width=width, sort_keys=False)
    spaced = " ".join(phrase)
    assume(normalize(spaced) != "")
    required = check_file("a", text, Policy(require=(spaced,)))
    assert required == []
    (finding,) = check_file("a", text, Policy(forbid=(spaced,)))
    lines = text.split("\n")
    assert 1 <= finding.line <= len(lines)
    at_key = (finding.line, finding.col) == (2, 1)
    found_there = lines[finding.line - 1][finding.col - 1 :].lower().startswith(phrase[0].lower())
    assert at_key or found_there


@settings(max_examples=200, deadline=None)
@given(prompt=st.text(max_size=200), phrase=st.text(min_size=1, max_size=20))
def test_require_and_forbid_are_exact_opposites(prompt: str, phrase: str) -> None:
    assume(phrase.strip())
    text = yaml.safe_dump({"model": "m", "system_prompt": prompt}, allow_unicode=True)
    missing = check_file("a", text, Policy(require=(phrase,)))
    present = check_file("a", text, Policy(forbid=(phrase,)))
    assert len(missing) + len(present) == 1
