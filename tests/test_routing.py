"""Routing: bucket function, percent parsing, canary cohorts, flags and resolve."""

from __future__ import annotations

import hashlib
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.errors import NotFound, UsageError
from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer
from agentver.routing import (
    bucket,
    flag_on,
    in_canary,
    new_salt,
    parse_percent,
    percent_bp_from_yaml,
    resolve,
)

SALT = "5c1d0e9a7b3f4a21"

# The table published in docs/routing.md: (salt, agent, user, bucket).
VECTORS = [
    (SALT, "support", "alice", 3121),
    (SALT, "support", "bob", 2893),
    (SALT, "support", "u0", 506),
    (SALT, "support", "u14", 278),
    (SALT, "support", "u48", 950),
    (SALT, "support", "user-42", 8436),
    (SALT, "billing", "alice", 1110),
    ("0123456789abcdef", "support", "alice", 891),
    ("0123456789abcdef", "support", "", 6747),
    ("web_search_beta", "support", "alice", 9015),
    (SALT, "support", "Zoë", 8367),
    (SALT, "support", "用户7", 5514),
]


def reference_bucket(salt: str, agent: str, user: str) -> int:
    """Independent restatement of docs/design.md's formula."""
    digest = hashlib.sha256((salt + ":" + agent + ":" + user).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 10000


def canary(percent_bp: int, salt: str = SALT) -> Canary:
    return Canary(
        version=5,
        config_hash="77b0000000000000",
        commit="c" * 40,
        percent_bp=percent_bp,
        salt=salt,
        started_at="2026-11-26T10:00:00Z",
    )


# --- bucket -----------------------------------------------------------------------------


@pytest.mark.parametrize(("salt", "agent", "user", "expected"), VECTORS)
def test_bucket_known_vectors(salt: str, agent: str, user: str, expected: int) -> None:
    assert reference_bucket(salt, agent, user) == expected
    assert bucket(salt, agent, user) == expected
    assert in_canary(canary(1000, salt), agent, user) is (expected < 1000)


def test_docs_table_matches_vectors() -> None:
    from pathlib import Path

    docs = (Path(__file__).parent.parent / "docs" / "routing.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| `([^`]*)` \| `([^`]*)` \| `([^`]*)` \| `[0-9a-f]{8}` \| \d+ \| (\d+) \|", docs, re.M
    )
    assert [(s, a, u, int(b)) for s, a, u, b in rows] == VECTORS


@given(st.text(), st.text(), st.text())
def test_bucket_matches_reference_and_range(salt: str, agent: str, user: str) -> None:
    value = bucket(salt, agent, user)
    assert 0 <= value < 10000
    assert value == reference_bucket(salt, agent, user)


# --- cohorts ----------------------------------------------------------------------------

users = st.text(min_size=0, max_size=30)
percents = st.integers(min_value=1, max_value=10000)


@given(st.text(max_size=16), users, percents)
def test_stickiness(salt: str, user: str, percent_bp: int) -> None:
    first = in_canary(canary(percent_bp, salt), "support", user)
    assert all(in_canary(canary(percent_bp, salt), "support", user) is first for _ in range(3))


@given(st.text(max_size=16), users, percents, percents)
def test_raising_percent_only_adds_users(salt: str, user: str, p: int, q: int) -> None:
    low, high = min(p, q), max(p, q)
    if in_canary(canary(low, salt), "support", user):
        assert in_canary(canary(high, salt), "support", user)


def test_full_percent_includes_everyone() -> None:
    assert all(in_canary(canary(10000), "support", f"user-{i}") for i in range(2000))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**63), st.integers(0, 2**63))
def test_new_salt_picks_a_different_cohort(seed_a: int, seed_b: int) -> None:
    salt_a, salt_b = f"{seed_a:016x}", f"{seed_b:016x}"
    if salt_a == salt_b:
        return
    population = [f"user-{i}" for i in range(5000)]
    cohort_a = {u for u in population if in_canary(canary(1000, salt_a), "support", u)}
    cohort_b = {u for u in population if in_canary(canary(1000, salt_b), "support", u)}
    jaccard = len(cohort_a & cohort_b) / len(cohort_a | cohort_b)
    # Independent 10% cohorts overlap by about 0.1 / 1.9 = 0.05.
    assert jaccard < 0.15


@pytest.mark.parametrize("percent_bp", [100, 1000, 5000])
def test_share_in_canary_is_the_percentage(percent_bp: int) -> None:
    n = 20_000
    c = canary(percent_bp, new_salt())
    inside = sum(in_canary(c, "support", f"synthetic-{i}") for i in range(n))
    p = percent_bp / 10000
    standard_error = math.sqrt(p * (1 - p) / n)
    assert abs(inside / n - p) < 4 * standard_error


def test_new_salt_shape() -> None:
    salts = {new_salt() for _ in range(50)}
    assert len(salts) == 50
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) for s in salts)


# --- percent parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", 1000),
        ("12.5", 1250),
        ("0.01", 1),
        ("100", 10000),
        ("100.00", 10000),
        ("33.33", 3333),
        ("1.10", 110),
        ("010", 1000),
        ("0.5", 50),
        ("99.99", 9999),
    ],
)
def test_parse_percent_accepts(text: str, expected: int) -> None:
    assert parse_percent(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.00",
        "-1",
        "101",
        "100.01",
        "12.345",
        "33.333",
        "0.001",
        "1e2",
        "nan",
        "NaN",
        "inf",
        "",
        " 10",
        "10 ",
        "+5",
        "10%",
        "0x10",
        "1_0",
        "١٠",  # Arabic-Indic digits
        "１０",  # fullwidth digits
        "10.",
        ".5",
        "1,5",
    ],
)
def test_parse_percent_refuses(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_percent(text)
    assert repr(text) in caught.value.message
    assert "at most 100" in caught.value.message
    assert caught.value.hint is not None and "12.5" in caught.value.hint
    assert caught.value.exit_code == 2


@given(st.integers(1, 10000))
def test_parse_percent_round_trips_every_basis_point(points: int) -> None:
    whole, rest = divmod(points, 100)
    assert parse_percent(f"{whole}.{rest:02d}") == points
    assert percent_bp_from_yaml(points / 100) == points


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10, 1000), (100, 10000), (12.5, 1250), (0.01, 1), (33.33, 3333), (0.1, 10), (1.1, 110)],
)
def test_percent_from_yaml_accepts(value: object, expected: int) -> None:
    assert percent_bp_from_yaml(value) == expected


@pytest.mark.parametrize(
    "value",
    [True, False, 0, -5, 101, 0.0, 12.345, 1e-5, float("nan"), float("inf"), "10", None, [10]],
)
def test_percent_from_yaml_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="percent must be"):
        percent_bp_from_yaml(value)


# --- flags ------------------------------------------------------------------------------


def test_disabled_flag_is_off_for_everyone_even_listed_users() -> None:
    flag = Flag("beta", enabled=False, users=("alice",), percent_bp=10000)
    assert not flag_on(flag, "support", "alice")
    assert not flag_on(flag, "support", "bob")


def test_flag_without_percent_or_users_is_on_for_everyone() -> None:
    flag = Flag("beta")
    assert all(flag_on(flag, "support", f"user-{i}") for i in range(100))


def test_flag_with_users_only_is_on_for_those_users_only() -> None:
    flag = Flag("beta", users=("alice", "bob"))
    assert flag_on(flag, "support", "alice")
    assert flag_on(flag, "support", "bob")
    assert not any(flag_on(flag, "support", f"user-{i}") for i in range(100))


def test_flag_percent_uses_the_flag_name_as_salt_and_listed_users_win() -> None:
    flag = Flag("web_search_beta", percent_bp=2000, users=("alice",))
    # alice's bucket under this flag is 9015 (docs table): out by percent, in by listing.
    assert flag_on(flag, "support", "alice")
    population = [f"user-{i}" for i in range(3000)]
    on = {u for u in population if flag_on(flag, "support", u)}
    assert on == {u for u in population if bucket("web_search_beta", "support", u) < 2000}
    assert 0.15 < len(on) / len(population) < 0.25


# --- resolve ----------------------------------------------------------------------------

STABLE_CONFIG = AgentConfig(
    model="gpt-4o", system_prompt="v4", tools=("search_kb", "create_ticket")
)
CANARY_CONFIG = AgentConfig(model="gpt-4o", system_prompt="v5", tools=("search_kb",))
ACTIVE = ActiveVersion(version=4, config_hash="3f2a000000000000", commit="a" * 40)


def pointer(percent_bp: int | None = None, **flags: Flag) -> Pointer:
    return Pointer(
        agent="support",
        environment="production",
        active=ACTIVE,
        canary=None if percent_bp is None else canary(percent_bp),
        flags=flags,
    )


def test_resolve_stable_and_canary_variants() -> None:
    p = pointer(1000)
    inside = resolve(p, "u14", STABLE_CONFIG, CANARY_CONFIG)  # bucket 278
    outside = resolve(p, "alice", STABLE_CONFIG, CANARY_CONFIG)  # bucket 3121
    assert (inside.variant, inside.version, inside.config_hash) == ("canary", 5, "77b0000000000000")
    assert inside.config["system_prompt"] == "v5"
    assert inside.tools == ("search_kb",)
    assert (outside.variant, outside.version, outside.config_hash) == (
        "stable",
        4,
        "3f2a000000000000",
    )
    assert outside.config["system_prompt"] == "v4"
    assert outside.tools == ("create_ticket", "search_kb")
    assert outside.to_json() == {
        "agent": "support",
        "environment": "production",
        "user": "alice",
        "version": 4,
        "config_hash": "3f2a000000000000",
        "variant": "stable",
        "flags": [],
        "tools": ["create_ticket", "search_kb"],
    }


def test_resolve_without_canary_is_stable_for_all() -> None:
    p = pointer()
    assert {resolve(p, f"user-{i}", STABLE_CONFIG, None).variant for i in range(200)} == {"stable"}


def test_resolve_flags_change_tools_not_hash() -> None:
    p = pointer(
        None,
        web=Flag("web", add_tools=("web_search", "search_kb")),
        slim=Flag("slim", users=("alice",), remove_tools=("create_ticket", "web_search")),
        off=Flag("off", enabled=False, add_tools=("dangerous",)),
    )
    alice = resolve(p, "alice", STABLE_CONFIG, None)
    bob = resolve(p, "bob", STABLE_CONFIG, None)
    assert alice.flags == ("slim", "web")
    assert alice.tools == ("search_kb",)  # removal wins over another flag's addition
    assert alice.config["tools"] == ["search_kb"]
    assert bob.flags == ("web",)
    assert bob.tools == ("create_ticket", "search_kb", "web_search")
    assert alice.config_hash == bob.config_hash == ACTIVE.config_hash
    assert alice.version == bob.version == 4
    # the stored config is not mutated
    assert STABLE_CONFIG.tools == ("search_kb", "create_ticket")


def test_resolve_without_active_version_is_not_found() -> None:
    p = Pointer(agent="support", environment="staging")
    with pytest.raises(NotFound) as caught:
        resolve(p, "alice", STABLE_CONFIG, None)
    assert caught.value.message == "support has no active version in staging"
    assert caught.value.hint == "agentver deploy support <version> --env staging"


def test_resolve_canary_without_its_config_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        resolve(pointer(1000), "alice", STABLE_CONFIG, None)


@given(users)
def test_resolve_variant_agrees_with_in_canary(user: str) -> None:
    p = pointer(2500)
    result = resolve(p, user, STABLE_CONFIG, CANARY_CONFIG)
    assert (result.variant == "canary") is in_canary(canary(2500), "support", user)
