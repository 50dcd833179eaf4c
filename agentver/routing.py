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
from decimal import Decimal, InvalidOperation

from agentver.errors import NotFound, UsageError
from agentver.models import AgentConfig, Canary, Flag, Pointer, ResolvedConfig, Variant

BUCKETS = 10_000  # one bucket per basis point of traffic

# ASCII digits only (``\d`` would accept other scripts' digits), no sign, no exponent,
# no separators, at most two decimals.
_PERCENT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_PERCENT_RULE = "a plain decimal greater than 0 and at most 100, with at most two decimals"
_PERCENT_HINT = "for example --percent 10 or --percent 12.5"


def bucket(salt: str, agent_id: str, user_id: str) -> int:
    """The user's bucket in 0..9999 for this salt and agent."""
    # The first 4 bytes big-endian == int(hexdigest()[:8], 16), without the hex round trip
    # (the runtime calls this on every resolve).
    digest = hashlib.sha256(f"{salt}:{agent_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % BUCKETS


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
    if not flag.enabled:
        return False
    if user_id in flag.users:
        return True
    if flag.percent_bp is not None:
        return bucket(flag.name, agent_id, user_id) < flag.percent_bp
    return not flag.users


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
    variant: Variant
    if (
        canary is not None
        and canary_config is not None
        and in_canary(canary, pointer.agent, user_id)
    ):
        variant = "canary"
        version, config_hash, config = canary.version, canary.config_hash, canary_config
    else:
        variant = "stable"
        active = pointer.active
        version, config_hash, config = active.version, active.config_hash, active_config
    on = [
        flag for _, flag in sorted(pointer.flags.items()) if flag_on(flag, pointer.agent, user_id)
    ]
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
        flags=tuple(sorted(flag.name for flag in on)),
        tools=tools,
        config=effective,
    )


def new_salt() -> str:
    """A fresh canary salt: 16 hex characters."""
    return secrets.token_hex(8)
