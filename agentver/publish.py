"""What ``sync``, ``verify`` and ``status`` compare: git at HEAD versus the runtime store.

``sync`` publishes what is committed at HEAD (docs/design.md section 6): versions from HEAD's
history and pointer files as committed at HEAD. Uncommitted pointer edits are reported,
never published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from agentver.agentfile import parse_agent_blob
from agentver.deploy.pointers import POINTER_DIR, parse_pointer
from agentver.errors import AgentverError, ConfigError
from agentver.hashing import config_hash
from agentver.history import agent_path
from agentver.models import AgentConfig, Pointer, Version
from agentver.store import Snapshot, Store, StoredVersion, StoreNotInitialized, SyncPlan
from agentver.workspace import Workspace


class StaleSync(AgentverError):
    """HEAD is older than what the store already serves."""


def committed_pointers(ws: Workspace, environments: list[str]) -> list[Pointer]:
    """Every pointer file committed at HEAD, for the given environments."""
    head = ws.index.head
    pointers: list[Pointer] = []
    for env in environments:
        files = [f for f in ws.repo.files_at(head, f"{POINTER_DIR}/{env}") if f.endswith(".yaml")]
        blobs = {f: ws.repo.blob_at(head, f) for f in files}
        contents = ws.repo.read_blobs(b for b in blobs.values() if b)
        for rel, blob in sorted(blobs.items()):
            agent = PurePosixPath(rel).stem
            if blob is None:
                continue
            pointers.append(parse_pointer(contents[blob], f"{rel} at HEAD", env, agent, ws.cache))
    return pointers


def uncommitted_pointer_files(ws: Workspace) -> list[str]:
    out = ws.repo.git("status", "--porcelain", "--untracked-files=all", "--", POINTER_DIR)
    return [line[3:] for line in out.splitlines() if line.strip()]


def build_snapshot(ws: Workspace, environments: list[str], store: Store | None = None) -> Snapshot:
    """HEAD's versions with their configs, and the pointers committed at HEAD.

    A version the store already holds from the same commit, with content that hashes to
    git's ``config_hash``, reuses the stored content: the hash proves it is the same
    config, and a re-sync then parses no YAML at all. Anything else is read from git.
    """
    histories = ws.agents()
    versions: list[Version] = [v for h in histories.values() for v in h.versions]
    known = _proven_store_configs(store, versions)
    parsed = {v.blob: ws.index.parsed_config(v.blob) for v in versions}  # from history, if cold
    contents = ws.repo.read_blobs(
        v.blob for v in versions if (v.agent, v.version) not in known and parsed[v.blob] is None
    )
    stored: list[StoredVersion] = []
    for version in versions:
        proven = known.get((version.agent, version.version))
        if proven is not None:
            stored.append(StoredVersion(version, proven))
            continue
        path = agent_path(ws.settings, version.agent)
        config = parsed[version.blob] or parse_agent_blob(contents[version.blob], path)[1]
        if config_hash(config) != version.config_hash:  # the blob cache is never trusted blindly
            raise ConfigError(
                "content does not match its cached hash; delete .git/agentver-cache", path
            )
        stored.append(StoredVersion(version, config))
    return Snapshot(
        head_commit=ws.index.head,
        versions=stored,
        pointers=committed_pointers(ws, environments),
        environments=tuple(environments),
    )


def _proven_store_configs(
    store: Store | None, versions: list[Version]
) -> dict[tuple[str, int], AgentConfig]:
    if store is None:
        return {}
    try:
        rows = store.versions()
    except StoreNotInitialized:
        return {}
    wanted = {(v.agent, v.version): v for v in versions}
    proven: dict[tuple[str, int], AgentConfig] = {}
    for row in rows:
        key = (row.version.agent, row.version.version)
        version = wanted.get(key)
        if (
            version is not None
            and row.version.commit == version.commit
            and row.version.config_hash == version.config_hash
            and config_hash(row.config) == version.config_hash  # a tampered row is re-read
        ):
            proven[key] = row.config
    return proven


def check_not_stale(ws: Workspace, store: Store, *, force: bool) -> None:
    """Refuse to publish a HEAD that is an ancestor of the last synced commit."""
    last = store.last_sync()
    head = ws.index.head
    if last is None or force or last.head_commit == head:
        return
    if ws.repo.is_ancestor(head, last.head_commit):
        raise StaleSync(
            f"HEAD {head[:10]} is older than {last.head_commit[:10]}, which the store already serves",
            "an older CI job finished late? rerun on the newest commit, or use --force",
        )


@dataclass
class Drift:
    """One difference between git and the store, for ``verify`` and ``status``."""

    kind: str
    agent: str
    environment: str | None
    message: str


@dataclass
class VerifyReport:
    checked_versions: int = 0
    checked_pointers: int = 0
    problems: list[Drift] = field(default_factory=list)


def verify(ws: Workspace, store: Store | None, environments: list[str]) -> VerifyReport:
    """Recompute hashes from git; compare with pointer files and the store."""
    report = VerifyReport()
    histories = ws.agents()
    by_key = {(v.agent, v.version): v for h in histories.values() for v in h.versions}
    for env in environments:
        for agent in sorted(histories):
            pointer = ws.pointer(env, agent)
            for role, slot in (("active", pointer.active), ("canary", pointer.canary)):
                if slot is None:
                    continue
                report.checked_pointers += 1
                version = by_key.get((agent, slot.version))
                if version is None or version.config_hash != slot.config_hash:
                    actual = version.config_hash if version else "no such version"
                    report.problems.append(
                        Drift(
                            "pointer",
                            agent,
                            env,
                            f"{role} names v{slot.version} with hash "
                            f"{slot.config_hash}, git has {actual}",
                        )
                    )
    if store is None:
        return report
    for row in store.versions():
        report.checked_versions += 1
        key = (row.version.agent, row.version.version)
        recomputed = config_hash(row.config)
        if recomputed != row.version.config_hash:
            report.problems.append(
                Drift(
                    "tampered",
                    key[0],
                    None,
                    f"stored v{key[1]} content hashes to {recomputed}, "
                    f"row says {row.version.config_hash}",
                )
            )
        git_version = by_key.get(key)
        if git_version is None:
            report.problems.append(
                Drift("unknown", key[0], None, f"store has v{key[1]}, git does not")
            )
        elif git_version.config_hash != row.version.config_hash:
            report.problems.append(
                Drift(
                    "rewritten",
                    key[0],
                    None,
                    f"v{key[1]} is {git_version.config_hash} in git, "
                    f"{row.version.config_hash} in the store (history rewritten?)",
                )
            )
    stored_keys = {(r.version.agent, r.version.version) for r in store.versions()}
    for key in sorted(set(by_key) - stored_keys):
        report.problems.append(
            Drift("behind", key[0], None, f"v{key[1]} is not in the store yet (run sync)")
        )
    committed = {(p.environment, p.agent): p for p in committed_pointers(ws, environments)}
    served = {(p.environment, p.agent): p for p in store.pointers()}
    for env, agent in sorted(set(committed) | set(served)):
        if env not in environments:
            continue
        if _pointer_state(committed.get((env, agent))) != _pointer_state(served.get((env, agent))):
            report.problems.append(
                Drift(
                    "pointer-drift",
                    agent,
                    env,
                    "the store serves a different pointer than HEAD (run sync)",
                )
            )
    return report


def _pointer_state(pointer: Pointer | None) -> object:
    if pointer is None:
        return None
    return (pointer.active, pointer.canary, dict(pointer.flags))


def describe_plan(plan: SyncPlan) -> list[str]:
    lines = [f"+ {v.agent} v{v.version} ({v.config_hash})" for v in plan.new_versions]
    lines += [
        f"! {c.agent} v{c.version} differs in the store: {', '.join(c.fields)}"
        for c in plan.changed_versions
    ]
    for change in plan.pointer_changes:
        lines.append(
            f"~ {change.environment}/{change.agent}: {_short(change.old)} -> {_short(change.new)}"
        )
    return lines


def _short(pointer: Pointer | None) -> str:
    if pointer is None or pointer.active is None:
        return "nothing"
    text = f"v{pointer.active.version}"
    if pointer.canary:
        text += f" + canary v{pointer.canary.version} at {pointer.canary.percent}%"
    if pointer.flags:
        text += f" + {len(pointer.flags)} flag(s)"
    return text
