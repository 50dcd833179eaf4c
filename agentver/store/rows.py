"""Rows <-> value types, and the sync plan (pure: no I/O, same for every backend)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentver.errors import IntegrityError
from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer, Version
from agentver.store.base import PointerChange, Snapshot, StoredVersion, SyncPlan, VersionConflict

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
    """A selected agent_versions row in version_row's types (drivers differ on bools)."""
    out = list(row)
    out[2], out[5], out[6], out[17] = int(row[2]), float(row[5]), int(row[6]), bool(row[17])
    return tuple(out)


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
    config = AgentConfig(
        model=model,
        system_prompt=system_prompt,
        temperature=float(temperature),
        max_tokens=int(max_tokens),
        tools=tuple(json.loads(tools)),
        guardrails=json.loads(guardrails),
        params=json.loads(params),
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
    without decoding them). Raises IntegrityError for a snapshot whose pointers name
    versions git does not have (nothing could serve them)."""
    git_versions: dict[tuple[str, int], StoredVersion] = {}
    for stored in snapshot.versions:
        key = (stored.version.agent, stored.version.version)
        if key in git_versions:
            raise IntegrityError(f"snapshot has {key[0]} v{key[1]} twice")
        git_versions[key] = stored
    git_agents = {agent for agent, _ in git_versions}

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
            existing = version_from_row(db_row)
            conflicts.append(VersionConflict(key[0], key[1], differing, existing, stored_git))
    for key, db_row in sorted(stored_rows.items()):
        if key[0] in git_agents and key not in git_versions:
            existing = version_from_row(db_row)
            conflicts.append(VersionConflict(key[0], key[1], ("missing in git",), existing, None))

    def known(agent: str, number: int, config_hash: str, env: str) -> None:
        found: str | None = None
        if (agent, number) in git_versions:
            found = git_versions[(agent, number)].version.config_hash
        elif agent not in git_agents and (agent, number) in stored_rows:
            found = stored_rows[(agent, number)][_HASH_INDEX]
        if found is None or found != config_hash:
            what = "does not exist" if found is None else f"has hash {found}"
            raise IntegrityError(
                f"pointer {env}/{agent} names v{number} ({config_hash}) but git's v{number} {what}",
                hint="run `agentver verify` to see what changed in history",
            )

    new_pointers: dict[tuple[str, str], Pointer] = {}
    for pointer in snapshot.pointers:
        if _is_empty(pointer):
            continue
        where = (pointer.environment, pointer.agent)
        if where in new_pointers:
            raise IntegrityError(f"snapshot has pointer {where[0]}/{where[1]} twice")
        if pointer.active is not None:
            active = pointer.active
            known(pointer.agent, active.version, active.config_hash, pointer.environment)
        if pointer.canary is not None:
            canary = pointer.canary
            known(pointer.agent, canary.version, canary.config_hash, pointer.environment)
        new_pointers[where] = normalize_pointer(pointer)
    environments = set(snapshot.environments) | {env for env, _ in new_pointers}
    old_pointers = {
        (p.environment, p.agent): normalize_pointer(p)
        for p in stored_pointers
        if p.environment in environments
    }
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
    )
