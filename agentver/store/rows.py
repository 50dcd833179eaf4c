"""Rows <-> value types (pure: no I/O, the same for every backend)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer, Version
from agentver.store.base import (
    CorruptRow,
    StoredVersion,
)

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


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def version_id(agent: str, number: int) -> str:
    return f"{agent}:v{number}"


def version_row(stored: StoredVersion) -> tuple[Any, ...]:
    """The normalized row for a version; equal rows mean equal stored content."""
    version, config = stored.version, stored.config
    return (
        version_id(version.agent, version.version),
        version.agent,
        int(version.version),
        config.system_prompt,
        config.model,
        float(config.temperature),
        int(config.max_tokens),
        _json(list(config.tools)),
        _json(dict(config.guardrails)),
        _json(dict(config.params)),
        config.description,
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
    except (TypeError, ValueError, OverflowError, AttributeError) as exc:
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


def pointers_from_rows(
    deployments: Iterable[Sequence[Any]], flags: Iterable[Sequence[Any]]
) -> list[Pointer]:
    """Rebuild pointers from rows selected with DEPLOYMENT_COLUMNS and FLAG_COLUMNS."""
    actives: dict[tuple[str, str], ActiveVersion] = {}
    canaries: dict[tuple[str, str], Canary] = {}
    flag_map: dict[tuple[str, str], dict[str, Flag]] = {}
    for row in deployments:
        agent, env, role, _vid, number, config_hash, commit, _pct, bp, salt, started = row[:11]
        key = (env, agent)
        if role == "active":
            actives[key] = ActiveVersion(int(number), config_hash, commit)
        else:
            canaries[key] = Canary(int(number), config_hash, commit, int(bp), salt, started)
    for row in flags:
        agent, env, name, enabled, percent_bp, users, add_tools, remove_tools = row
        flag_map.setdefault((env, agent), {})[name] = Flag(
            name=name,
            enabled=bool(enabled),
            percent_bp=None if percent_bp is None else int(percent_bp),
            users=tuple(json.loads(users)),
            add_tools=tuple(json.loads(add_tools)),
            remove_tools=tuple(json.loads(remove_tools)),
        )
    keys = sorted(set(actives) | set(canaries) | set(flag_map))
    return [
        normalize_pointer(
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
