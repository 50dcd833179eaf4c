"""The runtime's compiled routing (routing.Router) against the rule functions it replaces
on the hot path: for every pointer shape and user, the same answer (docs/routing.md)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer
from agentver.routing import Router, flag_on, in_canary, resolve

names = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)
users = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
percent = st.integers(min_value=1, max_value=10_000)


@st.composite
def flags(draw: st.DrawFn) -> dict[str, Flag]:
    out = {}
    for name in draw(st.lists(names, max_size=4, unique=True)):
        out[name] = Flag(
            name=name,
            enabled=draw(st.booleans()),
            percent_bp=draw(st.none() | percent),
            users=tuple(draw(st.lists(users, max_size=3))),
            add_tools=(f"tool_{name}",),
        )
    return out


@st.composite
def canaries(draw: st.DrawFn) -> Canary | None:
    if draw(st.booleans()):
        return None
    salt = draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16))
    return Canary(5, "c" * 64, "d" * 40, draw(percent), salt, "2026-01-01T00:00:00Z")


@settings(max_examples=300, deadline=None)
@given(agent=names, canary=canaries(), flag_map=flags(), people=st.lists(users, max_size=20))
def test_router_key_agrees_with_the_rules(
    agent: str, canary: Canary | None, flag_map: dict[str, Flag], people: list[str]
) -> None:
    router = Router.of(agent, canary, flag_map)
    ordered = sorted(flag_map.values(), key=lambda f: f.name)
    for user in [*people, *(u for f in ordered for u in f.users)]:
        key = router.route(user)
        assert bool(key & 1) == (canary is not None and in_canary(canary, agent, user))
        on = tuple(f.name for f in ordered if flag_on(f, agent, user))
        assert router.flag_names(key) == on == router.flags_on(user)


@settings(max_examples=100, deadline=None)
@given(agent=names, canary=canaries(), flag_map=flags(), people=st.lists(users, max_size=10))
def test_users_with_one_key_get_one_config(
    agent: str, canary: Canary | None, flag_map: dict[str, Flag], people: list[str]
) -> None:
    """The runtime shares one template per key: that is only right if the key decides
    everything routing.resolve returns except the user."""
    active = AgentConfig(model="m", system_prompt="stable", tools=("a",))
    canary_config = AgentConfig(model="m", system_prompt="canary", tools=("b",))
    pointer = Pointer(agent, "production", ActiveVersion(4, "a" * 64, "e" * 40), canary, flag_map)
    router = Router.of(agent, canary, flag_map)
    seen: dict[int, object] = {}
    for user in people:
        got = resolve(pointer, user, active, canary_config if canary else None)
        answer = (got.variant, got.version, got.flags, got.tools, dict(got.config))
        assert seen.setdefault(router.route(user), answer) == answer
