"""The sync plan: what a sync writes, from git's snapshot and the store's version index.

Pure (no I/O, the same for every backend): ``compute_plan`` compares the index of every
version git has (number, commit, hash, blob, validity, authorship: what ``index_row``
holds, no config) with the same columns of the store's rows, and decides which pointers
it may publish (docs/design.md section 8: a pointer naming a version the store will not
hold is refused for its agent alone). A stored row whose content was found not to hash
to its own ``config_hash`` (``unsound``) disagrees with git whatever its index says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from agentver.errors import IntegrityError
from agentver.models import Pointer, Version
from agentver.store.base import (
    PointerChange,
    RefusedPointer,
    Snapshot,
    SyncPlan,
    VersionConflict,
)
from agentver.store.rows import normalize_pointer
from agentver.validity import unservable_reasons

# The columns of agent_versions that identify a version without its config: its row id
# (which deletes it), its key, and what sync compares (hash, commit, blob, validity).
# Authorship and message come with the commit, which is compared; a stored row whose
# authorship was edited by hand is found where its content is checked (``AUTHORSHIP``).
# Equal index columns and a sound stored row mean equal rows.
INDEX_COLUMNS = (
    "version_id",
    "agent_id",
    "version_number",
    "config_hash",
    '"commit"',
    "blob",
    "valid",
)
INDEX_SELECT = ", ".join(INDEX_COLUMNS)
INDEX_NAMES = tuple(column.strip('"') for column in INDEX_COLUMNS)
INDEX_HASH = INDEX_NAMES.index("config_hash")
# What a version's row holds beyond its index and content: checked wherever content is.
AUTHORSHIP = ("created_by", "created_at", "change_description")
# Rows written (or content rows read) at once: memory stays bounded however many there are.
BATCH = 1000


def index_row(version: Version) -> tuple[Any, ...]:
    """The index columns of ``version``'s row, in INDEX_COLUMNS order."""
    return (
        f"{version.agent}:v{version.version}",  # rows.version_id, inlined: 100k calls
        version.agent,
        version.version,
        version.config_hash,
        version.commit,
        version.blob,
        version.valid,
    )


def normalize_index_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A selected index row in index_row's types (drivers differ on bools); a column that
    does not convert (a corrupt row) stays as it is and then differs from git's."""
    out = list(row)
    for index, convert in ((2, int), (6, bool)):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            out[index] = convert(row[index])
    return tuple(out)


def _number(item: Version | VersionConflict) -> tuple[str, int]:
    return (item.agent, item.version)


def _is_empty(pointer: Pointer) -> bool:
    return pointer.active is None and pointer.canary is None and not pointer.flags


def compute_plan(
    snapshot: Snapshot,
    stored_rows: Mapping[tuple[str, int], tuple[Any, ...]],
    stored_pointers: Sequence[Pointer],
    previous_head: str | None,
    migrations: tuple[int, ...],
    unsound: Mapping[tuple[str, int], tuple[str, ...]] | None = None,
) -> SyncPlan:
    """Compare git (``snapshot``) with the store (``stored_rows``: INDEX_COLUMNS of each
    row by (agent, number); ``unsound``: rows whose content is known not to match their
    hash, with the columns to blame).

    A committed pointer that names a version the store will not hold (missing in git,
    skipped as not storable, or schema-invalid) is refused for its agent alone: that
    (environment, agent) keeps the pointer the store already has, every other agent is
    published (docs/design.md section 8)."""
    unsound = unsound or {}
    skipped = {(s.agent, s.version): s for s in snapshot.skipped}
    offered = list(snapshot.git_versions())
    git_versions = {(v.agent, v.version): v for v in offered}
    if len(git_versions) != len(offered):
        seen: set[tuple[str, int]] = set()
        for version in offered:
            key = (version.agent, version.version)
            if key in seen:
                raise IntegrityError(f"snapshot has {key[0]} v{key[1]} twice")
            seen.add(key)
    for key in skipped:  # a version found unstorable while loading (store.sync)
        git_versions.pop(key, None)
    git_agents = {agent for agent, _ in git_versions} | {agent for agent, _ in skipped}

    new: list[Version] = []
    conflicts: list[VersionConflict] = []
    revalidated: list[Version] = []
    stored_row = stored_rows.get
    for key, version in git_versions.items():  # ~16k: kept lean, compared in C
        db_row = stored_row(key)
        if db_row is None:
            new.append(version)
            continue
        if (
            db_row[3] == version.config_hash
            and db_row[0] == f"{key[0]}:v{key[1]}"  # the content check finds rows by id
            and db_row[4] == version.commit
            and db_row[5] == version.blob
            and db_row[6] == version.valid
            and key not in unsound
        ):
            continue
        differing = tuple(
            name
            for name, a, b in zip(
                INDEX_NAMES, index_row(version), normalize_index_row(db_row), strict=True
            )
            if a != b
        ) + unsound.get(key, ())
        if not differing:
            continue
        if differing == ("valid",):
            revalidated.append(version)
        else:
            conflicts.append(VersionConflict(key[0], key[1], differing, version, db_row[0]))
    orphaned: list[VersionConflict] = []
    for key in sorted(stored_rows.keys() - git_versions.keys()):
        db_row = stored_rows[key]
        if key[0] in git_agents and key not in skipped:
            conflicts.append(VersionConflict(key[0], key[1], ("missing in git",), None, db_row[0]))
        elif key[0] not in git_agents:
            # An agent no commit of HEAD's history knows: a force-push removed it. Harmless
            # to keep (nothing in git can point at it); `sync --force` deletes the rows.
            orphaned.append(VersionConflict(key[0], key[1], ("orphaned",), None, db_row[0]))

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
                found_hash = stored_rows[key][INDEX_HASH]  # an agent only the store knows
                if found_hash != slot.config_hash:
                    return f"{role} v{slot.version} has hash {found_hash}, not {slot.config_hash}"
                continue
            if found.config_hash != slot.config_hash:
                return (
                    f"{role} v{slot.version} ({slot.config_hash}) but git's "
                    f"v{slot.version} has hash {found.config_hash}"
                )
            # Schema and storable problems make a version unservable; a policy finding
            # does not (deploy --skip-gate --reason records that override in git).
            if unservable_reasons(found):
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
    # An orphaned row that a pointer names after this sync (published, kept, or of an
    # environment sync does not touch) is served: `--force` keeps it.
    untouched = [p for p in stored_pointers if p.environment not in environments]
    serving = {
        (p.agent, slot.version)
        for p in (*new_pointers.values(), *untouched)
        for slot in (p.active, p.canary)
        if slot is not None
    }
    orphaned = [o for o in orphaned if (o.agent, o.version) not in serving]
    changes = [
        PointerChange(env, agent, old_pointers.get((env, agent)), new_pointers.get((env, agent)))
        for env, agent in sorted(set(old_pointers) | set(new_pointers))
        if old_pointers.get((env, agent)) != new_pointers.get((env, agent))
    ]
    return SyncPlan(
        head_commit=snapshot.head_commit,
        previous_head=previous_head,
        migrations=migrations,
        new_versions=tuple(sorted(new, key=_number)),
        changed_versions=tuple(sorted(conflicts, key=_number)),
        revalidated=tuple(sorted(revalidated, key=_number)),
        pointer_changes=tuple(changes),
        refused_pointers=tuple(refused),
        skipped=tuple(snapshot.skipped),
        orphaned=tuple(orphaned),
    )
