"""Routing: which users are in the canary, which flags are on, what config they get.

One implementation, used by the CLI's ``resolve`` and by ``agentver.runtime`` inside agent
processes, so it imports nothing but the standard library and agentver's value types.
The rules are specified language-neutrally in docs/routing.md (docs/design.md section 4).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agentver.errors import NotFound, UsageError
from agentver.models import AgentConfig, Canary, Flag, Pointer, ResolvedConfig, Variant

BUCKETS = 10_000  # one bucket per basis point of traffic

# ASCII digits only (``\d`` would accept other scripts' digits), no sign, no exponent,
# no separators, at most two decimals.
_PERCENT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_PERCENT_RULE = "a plain decimal greater than 0 and at most 100, with at most two decimals"
_PERCENT_HINT = "for example --percent 10 or --percent 12.5"


# The first 4 bytes of the digest big-endian == int(hexdigest()[:8], 16), read without the
# hex round trip or a slice (the runtime calls this twice on a canary + flag resolve).
_sha256 = hashlib.sha256
_first_u32 = struct.Struct(">I").unpack_from


def bucket_prefix(salt: str, agent_id: str) -> str:
    """The part of the hashed text that does not depend on the user: ``salt:agent:``."""
    return f"{salt}:{agent_id}:"


def bucket_at(prefix: str, user_id: str) -> int:
    """``bucket`` with its ``bucket_prefix`` computed once (the runtime's hot path)."""
    value: int = _first_u32(_sha256((prefix + user_id).encode()).digest())[0]
    return value % BUCKETS


def bucket(salt: str, agent_id: str, user_id: str) -> int:
    """The user's bucket in 0..9999 for this salt and agent."""
    return bucket_at(bucket_prefix(salt, agent_id), user_id)


def _basis_points(amount: Decimal) -> int | None:
    """Exact basis points of a percentage, or None when outside (0, 100] or too precise."""
    scaled = amount * 100
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        return None
    points = int(scaled)
    return points if 0 < points <= BUCKETS else None


def parse_percent(text: str) -> int:
    """``--percent`` text to basis points, exactly: "10" -> 1000, "12.5" -> 1250."""
    points = None
    if _PERCENT_TEXT.fullmatch(text):
        points = _basis_points(Decimal(text))
    if points is None:
        raise UsageError(f"invalid percent {text!r}: expected {_PERCENT_RULE}", hint=_PERCENT_HINT)
    return points


def percent_bp_from_yaml(value: object) -> int:
    """A ``percent`` read back from a pointer file (YAML int or float) to basis points.

    Raises ValueError; the pointer reader turns it into an error that names the file.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"percent must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"percent must be a finite number, got {value!r}")
    try:
        # repr gives the shortest text that round-trips, so 12.5 -> "12.5" -> 1250 exactly
        # (Decimal(12.5) of the binary float would also work here, but 0.1 would not).
        amount = Decimal(repr(value))
    except InvalidOperation as exc:  # pragma: no cover - repr of int/float always parses
        raise ValueError(f"percent must be a number, got {value!r}") from exc
    points = _basis_points(amount)
    if points is None:
        raise ValueError(f"percent must be {_PERCENT_RULE}, got {value!r}")
    return points


def in_canary(canary: Canary, agent_id: str, user_id: str) -> bool:
    return bucket(canary.salt, agent_id, user_id) < canary.percent_bp


def flag_on(flag: Flag, agent_id: str, user_id: str) -> bool:
    """Disabled: off. Listed user: on. Percent: bucket with the flag name as salt.

    Without a percent the flag is on for its listed users only, or for everyone when it
    lists none.
    """
    return _FlagRule.of(flag, agent_id).on(user_id)


@dataclass(frozen=True, slots=True)
class _FlagRule:
    """One enabled flag, precomputed for one agent (see ``flag_on`` for the rule)."""

    name: str
    users: frozenset[str]
    prefix: str | None  # None: no percent
    percent_bp: int
    enabled: bool

    @classmethod
    def of(cls, flag: Flag, agent_id: str) -> _FlagRule:
        percent = flag.percent_bp
        prefix = None if percent is None else bucket_prefix(flag.name, agent_id)
        return cls(flag.name, frozenset(flag.users), prefix, percent or 0, bool(flag.enabled))

    def on(self, user_id: str) -> bool:
        if not self.enabled:
            return False
        if user_id in self.users:
            return True
        if self.prefix is not None:
            return bucket_at(self.prefix, user_id) < self.percent_bp
        return not self.users


@dataclass(frozen=True, slots=True)
class Router:
    """The routing rules of one agent's pointer, with every user-independent part computed
    once: the runtime builds one per served pointer and calls ``route`` per request.

    ``route`` answers with one small integer, the routing key: bit 0 is "in the canary",
    bit i + 1 is "flag i is on" (``flags`` sorted by name). Users with the same key get
    the same config, so the runtime caches one resolved template per key. ``routing.resolve``
    (the CLI's path) uses this same class, so the two cannot disagree.
    """

    canary_prefix: str | None  # None: no canary
    canary_bp: int
    flags: tuple[_FlagRule, ...]  # enabled flags only, sorted by name

    @classmethod
    def of(cls, agent_id: str, canary: Canary | None, flags: Mapping[str, Flag]) -> Router:
        by_name = sorted(flags.values(), key=lambda flag: flag.name)
        rules = tuple(_FlagRule.of(flag, agent_id) for flag in by_name)
        return cls(
            None if canary is None else bucket_prefix(canary.salt, agent_id),
            0 if canary is None else canary.percent_bp,
            tuple(rule for rule in rules if rule.enabled),  # a disabled flag is off for all
        )

    def route(self, user_id: str) -> int:
        """The routing key of ``user_id`` (see the class docstring)."""
        prefix = self.canary_prefix
        key = 1 if prefix is not None and bucket_at(prefix, user_id) < self.canary_bp else 0
        bit = 2
        for rule in self.flags:
            if rule.on(user_id):
                key |= bit
            bit <<= 1
        return key

    def in_canary(self, user_id: str) -> bool:
        prefix = self.canary_prefix
        return prefix is not None and bucket_at(prefix, user_id) < self.canary_bp

    def flags_on(self, user_id: str) -> tuple[str, ...]:
        """Names of the flags on for ``user_id``, sorted."""
        return self.flag_names(self.route(user_id))

    def flag_names(self, key: int) -> tuple[str, ...]:
        """Names of the flags a routing key says are on, sorted."""
        return tuple(rule.name for i, rule in enumerate(self.flags) if key >> (i + 1) & 1)


def effective_tools(tools: tuple[str, ...] | list[str], flags_on: list[Flag]) -> tuple[str, ...]:
    """Config tools, plus every on flag's add_tools, minus every on flag's remove_tools."""
    result = set(tools)
    for flag in flags_on:
        result.update(flag.add_tools)
    for flag in flags_on:
        result.difference_update(flag.remove_tools)
    return tuple(sorted(result))


def resolve(
    pointer: Pointer,
    user_id: str,
    active_config: AgentConfig,
    canary_config: AgentConfig | None,
) -> ResolvedConfig:
    """What ``user_id`` gets from this pointer: variant, version, flags and effective tools."""
    if pointer.active is None:
        raise NotFound(
            f"{pointer.agent} has no active version in {pointer.environment}",
            hint=f"agentver deploy {pointer.agent} <version> --env {pointer.environment}",
        )
    canary = pointer.canary
    if canary is not None and canary_config is None:
        raise ValueError("resolve() needs canary_config when the pointer has a canary")
    router = Router.of(pointer.agent, canary, pointer.flags)
    variant: Variant
    if canary is not None and canary_config is not None and router.in_canary(user_id):
        variant = "canary"
        version, config_hash, config = canary.version, canary.config_hash, canary_config
    else:
        variant = "stable"
        active = pointer.active
        version, config_hash, config = active.version, active.config_hash, active_config
    by_name = {flag.name: flag for flag in pointer.flags.values()}
    on = [by_name[name] for name in router.flags_on(user_id)]
    tools = effective_tools(config.tools, on)
    effective = config.to_dict()
    effective["tools"] = list(tools)
    return ResolvedConfig(
        agent=pointer.agent,
        environment=pointer.environment,
        user=user_id,
        version=version,
        config_hash=config_hash,
        variant=variant,
        flags=tuple(flag.name for flag in on),
        tools=tools,
        config=effective,
    )


def new_salt() -> str:
    """A fresh canary salt: 16 hex characters."""
    return secrets.token_hex(8)
