"""Rows <-> value types (pure: no I/O, the same for every backend)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer, Version
from agentver.store.base import (
    CorruptPointer,
    CorruptRow,
    PreparedVersion,
    StoredVersion,
)
from agentver.store.limits import unstorable_reason

VERSION_COLUMNS = (
    "version_id",
    "agent_id",
    "version_number",
    "system_prompt",
    "model",
    "temperature",
    "max_tokens",
    "tools",
    "guardrails",
    "params",
    "description",
    "created_by",
    "created_at",
    "change_description",
    "config_hash",
    '"commit"',
    "blob",
    "valid",
)
VERSION_SELECT = ", ".join(VERSION_COLUMNS)
# Display names of the columns, for conflict messages ("commit" without quotes).
FIELD_NAMES = tuple(column.strip('"') for column in VERSION_COLUMNS)
HASH_INDEX = FIELD_NAMES.index("config_hash")

# What decoding a row can raise on bad content (RecursionError: JSON nested too deeply).
DECODE_ERRORS = (TypeError, ValueError, OverflowError, AttributeError, RecursionError)
MAX_BP = 10000


DEPLOYMENT_COLUMNS = (
    "agent_id",
    "environment",
    "role",
    "version_id",
    "version_number",
    "config_hash",
    '"commit"',
    "traffic_pct",
    "traffic_bp",
    "salt",
    "started_at",
    "is_active",
    "deployed_at",
    "deployed_by",
)
FLAG_COLUMNS = (
    "agent_id",
    "environment",
    "name",
    "enabled",
    "percent_bp",
    "users",
    "add_tools",
    "remove_tools",
)


def insert_sql(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


_json = json.JSONEncoder(sort_keys=True).encode  # json.dumps(value, sort_keys=True), ~1 us less


def version_id(agent: str, number: int) -> str:
    return f"{agent}:v{number}"


def content_row(config: AgentConfig) -> tuple[Any, ...]:
    """The content columns of a version's row (system_prompt ... description): pure, so a
    worker process can compute them where it parsed the file (PreparedVersion)."""
    return (
        config.system_prompt,
        config.model,
        float(config.temperature),
        int(config.max_tokens),
        _json_list(config.tools),
        _json_map(config.guardrails),
        _json_map(config.params),
        config.description,
    )


def _json_list(value: Sequence[Any]) -> str:
    return _json(list(value)) if value else "[]"


def _json_map(value: Any) -> str:
    if not value:
        return "{}"  # most agents' params: no encoder call (a cold sync builds ~16k rows)
    return _json(value if type(value) is dict else dict(value))


# What a parsing process hands the store for one config: (content columns, None), or
# (None, why the store cannot hold it).
Prepared = tuple[tuple[Any, ...] | None, str | None]


def prepare(config: AgentConfig) -> Prepared:
    """The config's content columns, after the store's own bound (limits.py): the bounded
    walk runs first, so nothing too large is ever serialized whole."""
    reason = unstorable_reason(config)
    if reason is not None:
        return None, reason
    return content_row(config), None


def version_row(stored: StoredVersion | PreparedVersion) -> tuple[Any, ...]:
    """The normalized row for a version; equal rows mean equal stored content."""
    version = stored.version
    content = stored.content if isinstance(stored, PreparedVersion) else content_row(stored.config)
    return (
        version_id(version.agent, version.version),
        version.agent,
        int(version.version),
        *content,
        version.created_by,
        version.created_at,
        version.change_description,
        version.config_hash,
        version.commit,
        version.blob,
        bool(version.valid),
    )


def normalize_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A selected agent_versions row in version_row's types (drivers differ on bools).

    A column that does not convert (a corrupt row) stays as it is: it then differs from
    git's row, which ``sync --force`` replaces."""
    out = list(row)
    for index, convert in ((2, int), (5, float), (6, int), (17, bool)):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            out[index] = convert(row[index])
    return tuple(out)


def row_key(row: Sequence[Any]) -> tuple[str, int]:
    """(agent, number) of a selected row; a corrupt number keys by its version_id."""
    try:
        return (str(row[1]), int(row[2]))
    except (TypeError, ValueError, OverflowError):
        return (str(row[1]), -abs(hash(row[0])) - 1)


def decode_row(row: Sequence[Any]) -> StoredVersion | CorruptRow:
    """The stored version, or what is wrong with the row (never raises on bad content)."""
    try:
        return version_from_row(row)
    except DECODE_ERRORS as exc:
        number = row[2]
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            number = int(number)
        reason = f"{type(exc).__name__}: {exc}"[:200]
        return CorruptRow(str(row[1]), number, reason)


def version_from_row(row: Sequence[Any]) -> StoredVersion:
    (
        _vid,
        agent,
        number,
        system_prompt,
        model,
        temperature,
        max_tokens,
        tools,
        guardrails,
        params,
        description,
        created_by,
        created_at,
        change_description,
        config_hash,
        commit,
        blob,
        valid,
    ) = row
    decoded_tools, decoded_guardrails, decoded_params = (
        json.loads(tools),
        json.loads(guardrails),
        json.loads(params),
    )
    if not isinstance(decoded_tools, list) or not all(isinstance(t, str) for t in decoded_tools):
        raise ValueError("tools is not a list of names")
    if not isinstance(decoded_guardrails, dict) or not isinstance(decoded_params, dict):
        raise ValueError("guardrails or params is not a mapping")
    if not isinstance(system_prompt, str) or not isinstance(model, str):
        raise ValueError("system_prompt or model is not text")
    config = AgentConfig(
        model=model,
        system_prompt=system_prompt,
        temperature=float(temperature),
        max_tokens=int(max_tokens),
        tools=tuple(decoded_tools),
        guardrails=decoded_guardrails,
        params=decoded_params,
        description=description,
    )
    version = Version(
        agent=agent,
        version=int(number),
        config_hash=config_hash,
        commit=commit,
        created_by=created_by,
        created_at=created_at,
        change_description=change_description,
        valid=bool(valid),
        blob=blob,
    )
    return StoredVersion(version=version, config=config)


def normalize_pointer(pointer: Pointer) -> Pointer:
    """Flags as a plain dict of tuples, so pointers from git and from rows compare equal."""
    flags = {
        name: Flag(
            name=flag.name,
            enabled=bool(flag.enabled),
            percent_bp=flag.percent_bp,
            users=tuple(flag.users),
            add_tools=tuple(flag.add_tools),
            remove_tools=tuple(flag.remove_tools),
        )
        for name, flag in sorted(pointer.flags.items())
    }
    return Pointer(
        agent=pointer.agent,
        environment=pointer.environment,
        active=pointer.active,
        canary=pointer.canary,
        flags=flags,
    )


def pointer_rows(
    pointer: Pointer, deployed_at: str, deployed_by: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(agent_deployments rows, agent_flags rows) for one pointer."""
    deployments: list[tuple[Any, ...]] = []
    canary_bp = pointer.canary.percent_bp if pointer.canary else 0
    if pointer.active is not None:
        active = pointer.active
        deployments.append(
            (
                pointer.agent,
                pointer.environment,
                "active",
                version_id(pointer.agent, active.version),
                active.version,
                active.config_hash,
                active.commit,
                (10000 - canary_bp) / 100,
                10000 - canary_bp,
                None,
                None,
                True,
                deployed_at,
                deployed_by,
            )
        )
    if pointer.canary is not None:
        canary = pointer.canary
        deployments.append(
            (
                pointer.agent,
                pointer.environment,
                "canary",
                version_id(pointer.agent, canary.version),
                canary.version,
                canary.config_hash,
                canary.commit,
                canary_bp / 100,
                canary_bp,
                canary.salt,
                canary.started_at,
                True,
                deployed_at,
                deployed_by,
            )
        )
    flags = [
        (
            pointer.agent,
            pointer.environment,
            flag.name,
            bool(flag.enabled),
            flag.percent_bp,
            _json(list(flag.users)),
            _json(list(flag.add_tools)),
            _json(list(flag.remove_tools)),
        )
        for flag in pointer.flags.values()
    ]
    return deployments, flags


def _bounded(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} is {value!r}, not an integer from {low} to {high}")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is {value!r}, not text")
    return value


def _names(value: Any, name: str) -> tuple[str, ...]:
    decoded = json.loads(value)
    if not isinstance(decoded, list) or not all(isinstance(item, str) for item in decoded):
        raise ValueError(f"{name} is not a JSON list of names")
    return tuple(decoded)


def _flag_enabled(value: Any) -> bool:
    # PostgreSQL returns a bool; SQLite stores a BOOLEAN as the integer 0 or 1.
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"enabled is {value!r}, not a boolean")


def _deployment(row: Sequence[Any]) -> ActiveVersion | Canary:
    _agent, _env, role, _vid, number, config_hash, commit, _pct, bp, salt, started = row[:11]
    number = _bounded(number, "version_number", 1, 2**63 - 1)
    config_hash = _text(config_hash, "config_hash")
    commit = _text(commit, "commit")
    bp = _bounded(bp, "traffic_bp", 0, MAX_BP)
    if role == "active":
        return ActiveVersion(number, config_hash, commit)
    if role == "canary":
        return Canary(
            number, config_hash, commit, bp, _text(salt, "salt"), _text(started, "started_at")
        )
    raise ValueError(f"role is {role!r}, not 'active' or 'canary'")


def _flag(row: Sequence[Any]) -> Flag:
    _agent, _env, name, enabled, percent_bp, users, add_tools, remove_tools = row
    return Flag(
        name=_text(name, "name"),
        enabled=_flag_enabled(enabled),
        percent_bp=None if percent_bp is None else _bounded(percent_bp, "percent_bp", 0, MAX_BP),
        users=_names(users, "users"),
        add_tools=_names(add_tools, "add_tools"),
        remove_tools=_names(remove_tools, "remove_tools"),
    )


def pointers_from_rows(
    deployments: Iterable[Sequence[Any]], flags: Iterable[Sequence[Any]]
) -> list[Pointer]:
    """Rebuild pointers from rows selected with DEPLOYMENT_COLUMNS and FLAG_COLUMNS.

    Each row is checked on its own (types, ranges, JSON). An (environment, agent) with a
    row that cannot be decoded comes back as a ``CorruptPointer`` naming that row, never
    as an exception: one bad row costs only its own agent (docs/runtime.md)."""
    actives: dict[tuple[str, str], ActiveVersion] = {}
    canaries: dict[tuple[str, str], Canary] = {}
    flag_map: dict[tuple[str, str], dict[str, Flag]] = {}
    broken: dict[tuple[str, str], str] = {}
    for row in deployments:
        key = (str(row[1]), str(row[0]))
        try:
            slot = _deployment(row)
        except DECODE_ERRORS as exc:
            broken.setdefault(key, f"agent_deployments {row[2]!r} row: {exc}"[:200])
            continue
        if isinstance(slot, Canary):
            canaries[key] = slot
        else:
            actives[key] = slot
    for row in flags:
        key = (str(row[1]), str(row[0]))
        try:
            flag = _flag(row)
        except DECODE_ERRORS as exc:
            broken.setdefault(key, f"agent_flags {row[2]!r} row: {exc}"[:200])
            continue
        flag_map.setdefault(key, {})[flag.name] = flag
    keys = sorted(set(actives) | set(canaries) | set(flag_map) | set(broken))
    return [
        CorruptPointer(agent=agent, environment=env, reason=broken[(env, agent)])
        if (env, agent) in broken
        else normalize_pointer(
            Pointer(
                agent=agent,
                environment=env,
                active=actives.get((env, agent)),
                canary=canaries.get((env, agent)),
                flags=flag_map.get((env, agent), {}),
            )
        )
        for env, agent in keys
    ]
