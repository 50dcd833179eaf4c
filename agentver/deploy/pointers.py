"""Pointer files: ``.agentver/deployments/<env>/<agent>.yaml`` (docs/design.md section 4).

Parsing is strict (a corrupt pointer is an error naming the file, never a guess) and
serialisation is deterministic, so the same state always writes the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agentver.agentfile import check_agent_id
from agentver.config import Loaded, load_yaml
from agentver.errors import ConfigError, PointerError
from agentver.models import ActiveVersion, Canary, Flag, Pointer
from agentver.parsecache import NO_CACHE, ParseCache
from agentver.routing import percent_bp_from_yaml

POINTER_DIR = ".agentver/deployments"
_HASH = re.compile(r"[0-9a-f]{16}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SALT = re.compile(r"[0-9a-f]{16}")


def pointer_path(environment: str, agent: str) -> str:
    # The one place a pointer path is built: an unchecked agent id (``..``, ``a/b``)
    # must never become a path (``flag set .. beta`` used to write ``...yaml``).
    return f"{POINTER_DIR}/{environment}/{check_agent_id(agent)}.yaml"


def parse_pointer(
    raw: bytes, path: str, environment: str, agent: str, cache: ParseCache = NO_CACHE
) -> Pointer:
    """Bytes of a pointer file to a Pointer; PointerError (exit 2) naming the file."""
    cached = cache.get(raw)
    if cached is not None:
        try:
            return _parse(Loaded(path, cached, ""), environment, agent)
        except ConfigError:
            pass  # parse again below, for the exact line and column
    try:
        loaded = load_yaml(raw, path)
        pointer = _parse(loaded, environment, agent)
        cache.put(raw, loaded.data)
        return pointer
    except ConfigError as exc:
        raise PointerError(
            f"corrupt pointer file {exc.message}",
            "restore it from git (git checkout -- <file>) or fix it by hand",
        ) from None


def _parse(loaded: Loaded, environment: str, agent: str) -> Pointer:
    data = loaded.data

    def bad(key_path: tuple[str | int, ...], message: str) -> ConfigError:
        line, col = loaded.locate(key_path)
        return ConfigError(message, loaded.path, line, col)

    if not isinstance(data, dict):
        raise bad((), "expected a mapping")
    unknown = set(data) - {"agent", "environment", "active", "canary", "flags"}
    if unknown:
        raise bad((sorted(unknown)[0],), f"unknown key {sorted(unknown)[0]!r}")
    if data.get("agent") != agent:
        raise bad(("agent",), f"agent is {data.get('agent')!r}, expected {agent!r}")
    if data.get("environment") != environment:
        raise bad(
            ("environment",),
            f"environment is {data.get('environment')!r}, expected {environment!r}",
        )

    def version_fields(key: str, allowed: set[str]) -> dict[str, Any]:
        value = data[key]
        if not isinstance(value, dict):
            raise bad((key,), f"{key} must be a mapping")
        extra = set(value) - allowed
        if extra:
            raise bad((key, sorted(extra)[0]), f"unknown key {key}.{sorted(extra)[0]}")
        number = value.get("version")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise bad((key, "version"), f"{key}.version must be a positive integer")
        if not isinstance(value.get("config_hash"), str) or not _HASH.fullmatch(
            value["config_hash"]
        ):
            raise bad((key, "config_hash"), f"{key}.config_hash must be 16 hex characters")
        if not isinstance(value.get("commit"), str) or not _COMMIT.fullmatch(value["commit"]):
            raise bad((key, "commit"), f"{key}.commit must be a 40-hex commit id")
        return value

    active = None
    if data.get("active") is not None:
        value = version_fields("active", {"version", "config_hash", "commit"})
        active = ActiveVersion(value["version"], value["config_hash"], value["commit"])
    canary = None
    if data.get("canary") is not None:
        value = version_fields(
            "canary", {"version", "config_hash", "commit", "percent", "salt", "started_at"}
        )
        try:
            percent_bp = percent_bp_from_yaml(value.get("percent"))
        except ValueError as exc:
            raise bad(("canary", "percent"), f"canary.percent: {exc}") from None
        salt = value.get("salt")
        if not isinstance(salt, str) or not _SALT.fullmatch(salt):
            raise bad(("canary", "salt"), "canary.salt must be 16 hex characters")
        started = value.get("started_at")
        if not isinstance(started, str):
            raise bad(("canary", "started_at"), "canary.started_at must be a quoted ISO 8601 time")
        canary = Canary(
            value["version"], value["config_hash"], value["commit"], percent_bp, salt, started
        )
    flags: dict[str, Flag] = {}
    raw_flags = data.get("flags") or {}
    if not isinstance(raw_flags, dict):
        raise bad(("flags",), "flags must be a mapping of flag name to settings")
    for name, spec in raw_flags.items():
        flags[name] = _parse_flag(name, spec, bad)
    return Pointer(agent, environment, active, canary, flags)


def _parse_flag(name: str, spec: Any, bad: Any) -> Flag:
    where = ("flags", name)
    if not is_flag_name(name):
        raise bad(where, f"invalid flag name {name!r}")
    if not isinstance(spec, dict):
        raise bad(where, f"flag {name} must be a mapping")
    extra = set(spec) - {"enabled", "percent", "users", "add_tools", "remove_tools"}
    if extra:
        raise bad((*where, sorted(extra)[0]), f"unknown key {sorted(extra)[0]!r} in flag {name}")
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad((*where, "enabled"), f"flag {name}: enabled must be true or false")
    percent_bp = None
    if spec.get("percent") is not None:
        try:
            percent_bp = percent_bp_from_yaml(spec["percent"])
        except ValueError as exc:
            raise bad((*where, "percent"), f"flag {name}: percent: {exc}") from None
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("users", "add_tools", "remove_tools"):
        value = spec.get(key) or []
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise bad((*where, key), f"flag {name}: {key} must be a list of names")
        lists[key] = tuple(value)
    return Flag(
        name, enabled, percent_bp, lists["users"], lists["add_tools"], lists["remove_tools"]
    )


_FLAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def is_flag_name(name: object) -> bool:
    return isinstance(name, str) and _FLAG_NAME.fullmatch(name) is not None


def _name(text: str) -> str:
    """A name as a YAML scalar: plain when it reads back as the same string, else quoted
    (valid ids such as ``123``, ``on``, ``null`` or ``1_000`` would read as other types)."""
    import yaml

    try:
        plain = yaml.safe_load(text) == text
    except yaml.YAMLError:
        plain = False
    return text if plain else json.dumps(text)


def serialize_pointer(pointer: Pointer) -> bytes:
    """Deterministic YAML in the documented layout (flow mappings, one per line)."""
    lines = [
        "# Written by agentver: change it with `agentver deploy/rollback/canary/flag`.",
        f"agent: {_name(pointer.agent)}",
        f"environment: {_name(pointer.environment)}",
    ]
    if pointer.active:
        a = pointer.active
        lines.append(
            f'active: {{version: {a.version}, config_hash: "{a.config_hash}", commit: "{a.commit}"}}'
        )
    else:
        lines.append("active: null")
    if pointer.canary:
        c = pointer.canary
        lines.append(
            f'canary: {{version: {c.version}, config_hash: "{c.config_hash}", commit: "{c.commit}", '
            f'percent: {c.percent}, salt: "{c.salt}", started_at: "{c.started_at}"}}'
        )
    if pointer.flags:
        lines.append("flags:")
        for name in sorted(pointer.flags):
            flag = pointer.flags[name]
            body: dict[str, Any] = {
                "enabled": flag.enabled,
                "percent": flag.percent,
                "users": list(flag.users),
                "add_tools": list(flag.add_tools),
                "remove_tools": list(flag.remove_tools),
            }
            import yaml

            dumped = yaml.safe_dump(
                body, default_flow_style=True, sort_keys=False, width=10_000
            ).strip()
            lines.append(f"  {_name(name)}: {dumped}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def pointer_json(pointer: Pointer) -> dict[str, Any]:
    """A pointer's state as JSON (the ``before``/``after`` of a write command's --json)."""
    active = pointer.active
    canary = pointer.canary
    return {
        "active": (
            {"version": active.version, "config_hash": active.config_hash, "commit": active.commit}
            if active
            else None
        ),
        "canary": (
            {
                "version": canary.version,
                "config_hash": canary.config_hash,
                "commit": canary.commit,
                "percent": canary.percent,
                "started_at": canary.started_at,
            }
            if canary
            else None
        ),
        "flags": {name: pointer.flags[name].to_json() for name in sorted(pointer.flags)},
    }


@dataclass(frozen=True)
class PointerEvent:
    """One commit in a pointer file's history."""

    commit: str
    at: str
    by: str
    subject: str
    pointer: Pointer | None  # None: the file was deleted at this commit
    action: str


_SUBJECT = re.compile(
    r"^agentver\([^)]*\): (?P<action>deploy|rollback|canary (?:start|set|promote|abort)"
    r"|flag (?:set|disable|rm)) "
)


def action_of(subject: str, before: Pointer | None, after: Pointer | None) -> str:
    """The action a pointer commit performed: from its agentver message, else inferred."""
    match = _SUBJECT.match(subject)
    if match:
        return match.group("action")
    if after is None:
        return "delete"
    if before is None or (before.active != after.active and after.active):
        return "deploy"
    if before.canary != after.canary:
        return (
            "canary set"
            if after.canary and before.canary
            else ("canary start" if after.canary else "canary abort")
        )
    if before.flags != after.flags:
        return "flag set"
    return "edit"
