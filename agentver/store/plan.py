"""The sync plan: what a sync writes, from git's snapshot and the store's rows.

Pure (no I/O, the same for every backend): ``compute_plan`` compares the rows git would
write with the rows the store has, without decoding them, and decides which pointers it
may publish (docs/design.md section 8: a pointer naming a version the store will not
hold is refused for its agent alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentver.errors import IntegrityError
from agentver.models import Pointer
from agentver.store.base import (
    PointerChange,
    RefusedPointer,
    Snapshot,
    StoredVersion,
    SyncPlan,
    VersionConflict,
)
from agentver.store.rows import FIELD_NAMES, HASH_INDEX, decode_row, normalize_pointer, version_row
from agentver.validity import unservable_reasons


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
            name for name, a, b in zip(FIELD_NAMES, git_row, db_row, strict=True) if a != b
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
                found_hash = stored_rows[key][HASH_INDEX]  # an agent only the store knows
                if found_hash != slot.config_hash:
                    return f"{role} v{slot.version} has hash {found_hash}, not {slot.config_hash}"
                continue
            if found.version.config_hash != slot.config_hash:
                return (
                    f"{role} v{slot.version} ({slot.config_hash}) but git's "
                    f"v{slot.version} has hash {found.version.config_hash}"
                )
            # Schema and storable problems make a version unservable; a policy finding
            # does not (deploy --skip-gate --reason records that override in git).
            if unservable_reasons(found.version):
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
