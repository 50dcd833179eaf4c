"""Rows <-> value types, and the sync plan (pure: no I/O, same for every backend)."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentver.errors import IntegrityError
from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer, Version
from agentver.store.base import (
    CorruptRow,
    PointerChange,
    RefusedPointer,
    Snapshot,
    StoredVersion,
    SyncPlan,
    VersionConflict,
)

# What one agent_versions row may hold: 64-bit integers (BIGINT), finite floats, and at
# most MAX_ROW_BYTES of text in all. A YAML file of 504 KB whose anchors are referenced
# many times expands, once serialized, into hundreds of MB (docs/reliability.md); the
# bound is checked while serializing, so such a version costs at most this much memory.
MAX_ROW_BYTES = 4 * 1024 * 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

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
_FIELD_NAMES = tuple(column.strip('"') for column in VERSION_COLUMNS)
_HASH_INDEX = _FIELD_NAMES.index("config_hash")

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


class Unstorable(ValueError):
    """A value the store cannot hold; the message says which and why."""


def _bounded(value: Any, budget: list[int], where: str) -> None:
    """Walk ``value`` as JSON would, charging its size to ``budget[0]``; raise once the
    budget is spent (an alias-expanded document is refused after MAX_ROW_BYTES of work,
    not after building it) or on an integer or float the store cannot hold."""
    budget[0] -= 8
    if budget[0] < 0:
        raise Unstorable(f"larger than {MAX_ROW_BYTES // (1024 * 1024)} MB once expanded")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Unstorable(f"{where}: integer {value} does not fit in 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, str):
        budget[0] -= len(value)
        if budget[0] < 0:
            raise Unstorable(f"larger than {MAX_ROW_BYTES // (1024 * 1024)} MB once expanded")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _bounded(key, budget, where)
            _bounded(item, budget, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _bounded(item, budget, f"{where}[{index}]")
        return
    raise Unstorable(f"{where}: a {type(value).__name__} is not a plain YAML value")


def unstorable_reason(stored: StoredVersion) -> str | None:
    """Why the store cannot hold this version (None: it can). Cheap: bounded work."""
    config = stored.config
    budget = [MAX_ROW_BYTES]
    try:
        _bounded(config.system_prompt, budget, "system_prompt")
        _bounded(config.model, budget, "model")
        _bounded(config.temperature, budget, "temperature")
        _bounded(config.max_tokens, budget, "max_tokens")
        _bounded(list(config.tools), budget, "tools")
        _bounded(dict(config.guardrails), budget, "guardrails")
        _bounded(dict(config.params), budget, "params")
        _bounded(config.description, budget, "description")
    except Unstorable as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None


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


def _is_empty(pointer: Pointer) -> bool:
    return pointer.active is None and pointer.canary is None and not pointer.flags


def compute_plan(
    snapshot: Snapshot,
    stored_rows: Mapping[tuple[str, int], tuple[Any, ...]],
    stored_pointers: Sequence[Pointer],
    previous_head: str | None,
    migrations: tuple[int, ...],
) -> SyncPlan:
    """Compare git (``snapshot``) with the store (rows from ``normalize_row``, compared
    without decoding them).

    A committed pointer that names a version the store will not hold (missing in git,
    skipped as not storable, or schema-invalid) is refused for its agent alone: that
    (environment, agent) keeps the pointer the store already has, every other agent is
    published (docs/design.md section 8)."""
    git_versions: dict[tuple[str, int], StoredVersion] = {}
    for stored in snapshot.versions:
        key = (stored.version.agent, stored.version.version)
        if key in git_versions:
            raise IntegrityError(f"snapshot has {key[0]} v{key[1]} twice")
        git_versions[key] = stored
    skipped = {(s.agent, s.version): s for s in snapshot.skipped}
    git_agents = {agent for agent, _ in git_versions} | {agent for agent, _ in skipped}

    new: list[StoredVersion] = []
    conflicts: list[VersionConflict] = []
    revalidated: list[StoredVersion] = []
    for key, stored_git in sorted(git_versions.items()):
        db_row = stored_rows.get(key)
        if db_row is None:
            new.append(stored_git)
            continue
        git_row = version_row(stored_git)
        if git_row == db_row:
            continue
        differing = tuple(
            name for name, a, b in zip(_FIELD_NAMES, git_row, db_row, strict=True) if a != b
        )
        if differing == ("valid",):
            revalidated.append(stored_git)
        else:
            conflicts.append(
                VersionConflict(key[0], key[1], differing, _decoded(db_row), stored_git, db_row[0])
            )
    orphaned: list[VersionConflict] = []
    for key, db_row in sorted(stored_rows.items()):
        if key[0] in git_agents and key not in git_versions and key not in skipped:
            conflicts.append(
                VersionConflict(
                    key[0], key[1], ("missing in git",), _decoded(db_row), None, db_row[0]
                )
            )
        elif key[0] not in git_agents:
            # An agent no commit of HEAD's history knows: a force-push removed it. Harmless
            # to keep (nothing in git can point at it); `sync --force` deletes the rows.
            orphaned.append(VersionConflict(key[0], key[1], ("orphaned",), None, None, db_row[0]))

    def refusal(pointer: Pointer) -> str | None:
        for role, slot in (("active", pointer.active), ("canary", pointer.canary)):
            if slot is None:
                continue
            key = (pointer.agent, slot.version)
            if key in skipped:
                return f"{role} v{slot.version} is not storable: {skipped[key].reason}"
            found = git_versions.get(key)
            if found is None:
                if pointer.agent in git_agents or key not in stored_rows:
                    return f"{role} v{slot.version} does not exist in git"
                found_hash = stored_rows[key][_HASH_INDEX]  # an agent only the store knows
                if found_hash != slot.config_hash:
                    return f"{role} v{slot.version} has hash {found_hash}, not {slot.config_hash}"
                continue
            if found.version.config_hash != slot.config_hash:
                return (
                    f"{role} v{slot.version} ({slot.config_hash}) but git's "
                    f"v{slot.version} has hash {found.version.config_hash}"
                )
            if not found.version.valid:
                return f"{role} v{slot.version} is not a valid version (run `agentver validate`)"
        return None

    new_pointers: dict[tuple[str, str], Pointer] = {}
    refused: list[RefusedPointer] = list(snapshot.refused)
    for pointer in snapshot.pointers:
        if _is_empty(pointer):
            continue
        where = (pointer.environment, pointer.agent)
        if where in new_pointers:
            raise IntegrityError(f"snapshot has pointer {where[0]}/{where[1]} twice")
        reason = refusal(pointer)
        if reason is not None:
            refused.append(RefusedPointer(pointer.environment, pointer.agent, reason))
            continue
        new_pointers[where] = normalize_pointer(pointer)
    environments = set(snapshot.environments) | {env for env, _ in new_pointers}
    old_pointers = {
        (p.environment, p.agent): normalize_pointer(p)
        for p in stored_pointers
        if p.environment in environments
    }
    for refusal_of in refused:  # the store keeps what it serves for that agent
        where = (refusal_of.environment, refusal_of.agent)
        if where in old_pointers:
            new_pointers[where] = old_pointers[where]
    changes = [
        PointerChange(env, agent, old_pointers.get((env, agent)), new_pointers.get((env, agent)))
        for env, agent in sorted(set(old_pointers) | set(new_pointers))
        if old_pointers.get((env, agent)) != new_pointers.get((env, agent))
    ]
    return SyncPlan(
        head_commit=snapshot.head_commit,
        previous_head=previous_head,
        migrations=migrations,
        new_versions=tuple(s.version for s in new),
        changed_versions=tuple(conflicts),
        revalidated=tuple(s.version for s in revalidated),
        pointer_changes=tuple(changes),
        refused_pointers=tuple(refused),
        skipped=tuple(snapshot.skipped),
        orphaned=tuple(orphaned),
    )


def _decoded(row: Sequence[Any]) -> StoredVersion | None:
    decoded = decode_row(row)
    return decoded if isinstance(decoded, StoredVersion) else None
