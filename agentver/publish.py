"""What ``sync``, ``verify`` and ``status`` compare: git at HEAD versus the runtime store.

``sync`` publishes what is committed at HEAD (docs/design.md sections 6 and 8): versions
from HEAD's history and pointer files as committed at HEAD. Uncommitted pointer edits are
reported, never published.

Cost model: HEAD's version list comes from the history cache (one ``git log`` pass when
cold). The store compares that index (agent, number, commit, blob, hash) with its own in
one transaction and asks the snapshot's loader for the rows it writes only. A cold
history has already built them, in the processes that parsed the files: kept in memory
up to its budget, beyond it spooled to disk (rowspool.py). Any others (a warm history,
a spool that failed) are read PARSE_CHUNK blobs at a time and parsed on every core; all
are inserted a thousand at a time and dropped. Committed pointers cost one
``git ls-tree`` and one ``git cat-file --batch`` for all environments.

Poison: a version the store cannot hold (not storable, or a file that no longer loads)
is skipped, named by commit and file, and never blocks another agent; a pointer naming a
version the store will not hold is refused for its agent alone. Both make ``sync`` exit 1
after publishing everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from agentver.agentfile import parse_agent_blob
from agentver.deploy.pointers import POINTER_DIR, parse_pointer
from agentver.errors import AgentverError, ConfigError
from agentver.hashing import config_hash
from agentver.history import agent_path, storable_problem
from agentver.models import Pointer, Version
from agentver.parallel import parallel_map
from agentver.settings import SETTINGS_FILE
from agentver.store import (
    CorruptPointer,
    PreparedVersion,
    RefusedPointer,
    SkippedVersion,
    Snapshot,
    StaleSync,
    Store,
    SyncPlan,
)
from agentver.store.plan import AUTHORSHIP
from agentver.store.rows import Prepared, normalize_pointer, prepare
from agentver.workspace import Workspace

# Versions whose files one `git cat-file --batch` reads and the pool parses at once.
PARSE_CHUNK = 4096

__all__ = ["StaleSync", "build_snapshot", "check_not_stale", "publish", "verify"]


def committed_pointers(
    ws: Workspace, environments: list[str], refused: list[RefusedPointer] | None = None
) -> list[Pointer]:
    """Every pointer file committed at HEAD, for the given environments.

    With ``refused``, a file that cannot be parsed is appended there (and left out)
    instead of raising: one broken pointer file does not stop the others."""
    folders = {f"{POINTER_DIR}/{env}": rank for rank, env in enumerate(environments)}
    # One `git ls-tree` for every environment and one `git cat-file --batch` for the files.
    files = [
        (folders[str(PurePosixPath(rel).parent)], rel, blob)
        for rel, blob in ws.repo.blobs_at(ws.index.head, list(folders)).items()
        if rel.endswith(".yaml") and str(PurePosixPath(rel).parent) in folders
    ]
    contents = ws.repo.read_blobs(blob for _, _, blob in files)
    pointers: list[Pointer] = []
    for rank, rel, blob in sorted(files):
        env, agent = environments[rank], PurePosixPath(rel).stem
        try:
            pointers.append(parse_pointer(contents[blob], f"{rel} at HEAD", env, agent, ws.cache))
        except AgentverError as exc:
            if refused is None:
                raise
            refused.append(RefusedPointer(env, agent, exc.message))
    return pointers


def uncommitted_pointer_files(ws: Workspace) -> list[str]:
    out = ws.repo.git("status", "--porcelain", "--untracked-files=all", "--", POINTER_DIR)
    return [line[3:] for line in out.splitlines() if line.strip()]


def _prepare_item(item: tuple[bytes, str]) -> tuple[str | None, Prepared]:
    """Parse one file for the store (in the pool): its config hash and prepared row."""
    raw, path = item
    try:
        config = parse_agent_blob(raw, path)[1]
        prepared = prepare(config)
        return (config_hash(config) if prepared[0] is not None else None), prepared
    except AgentverError as exc:
        return None, (None, exc.message)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A value the loader should have refused: still only this version is lost.
        return None, (None, f"{type(exc).__name__}: {exc}"[:300])


def build_snapshot(ws: Workspace, environments: list[str], store: Store | None = None) -> Snapshot:
    """HEAD's versions (their index, not their configs) and the pointers committed at HEAD.

    The store compares the index with its own and asks the snapshot's loader for the
    configs of the versions it writes only, a batch at a time (``load_configs``): a sync
    after one commit parses one file, and a sync of 100,000 versions never holds them
    all. A version history already found not storable is skipped without reading it.
    ``store`` is no longer needed (kept for callers)."""
    del store
    ws.index.spool_rows = True  # rows beyond history's memory budget: to disk, not re-parsed
    index: list[Version] = []
    skipped: list[SkippedVersion] = []
    for history in ws.agents().values():
        for version in history.versions:
            reason = storable_problem(version)
            if reason is None:
                index.append(version)
            else:
                path = agent_path(ws.settings, version.agent)
                skipped.append(
                    SkippedVersion(version.agent, version.version, version.commit, path, reason)
                )
    refused: list[RefusedPointer] = []
    pointers = committed_pointers(ws, environments, refused)
    head = ws.index.head
    return Snapshot(
        head_commit=head,
        versions=(),
        pointers=pointers,
        environments=tuple(environments),
        skipped=tuple(skipped),
        refused=tuple(refused),
        descends_from=lambda published: ws.repo.is_ancestor(published, head),
        index=index,
        load=lambda wanted: load_configs(ws, wanted),
    )


def load_configs(
    ws: Workspace, wanted: Iterable[Version], batch: int = PARSE_CHUNK
) -> Iterator[PreparedVersion | SkippedVersion]:
    """The store row content of each of ``wanted``, in order, or why the store cannot hold
    it. Blobs are read ``batch`` at a time (one ``git cat-file --batch`` each, so only one
    batch is alive at once) and parsed on every core, unless history just parsed them."""
    chunk: list[Version] = []
    for version in wanted:
        chunk.append(version)
        if len(chunk) >= batch:
            yield from _load_chunk(ws, chunk)
            chunk = []
    yield from _load_chunk(ws, chunk)


def _load_chunk(ws: Workspace, chunk: list[Version]) -> Iterator[PreparedVersion | SkippedVersion]:
    # A cold sync passes ~16,000 versions through here, nearly all prepared by history:
    # one lookup each, and their file path only built when it is needed.
    known = [ws.index.prepared(version.blob) for version in chunk]
    paths = {
        version.blob: agent_path(ws.settings, version.agent)
        for version, prepared in zip(chunk, known, strict=True)
        if prepared is None and storable_problem(version) is None
    }
    if paths:
        ws.index.settle()  # parsing forks a pool: no cache-writing thread may run then
    contents = ws.repo.read_blobs(paths) if paths else {}
    items = [(raw, paths[blob]) for blob, raw in contents.items()]
    parsed = dict(zip(contents, parallel_map(_prepare_item, items), strict=True))
    new = PreparedVersion
    for version, prepared in zip(chunk, known, strict=True):
        if prepared is not None and prepared[0] is not None and not version.problems:
            yield new(version, prepared[0])  # parsed by history, hashed with it
            continue
        content, reason = None, storable_problem(version)
        if reason is None:
            if prepared is not None:
                content, reason = prepared
            elif version.blob in parsed:
                digest, (content, reason) = parsed[version.blob]
                if content is not None and digest != version.config_hash:
                    # the blob cache is never trusted blindly
                    raise ConfigError(
                        "content does not match its cached hash; delete .git/agentver-cache",
                        agent_path(ws.settings, version.agent),
                    )
        if content is None:
            path = agent_path(ws.settings, version.agent)
            why = reason or "cannot be read"
            yield SkippedVersion(version.agent, version.version, version.commit, path, why)
        else:
            yield new(version, content)


# The settings that decide what sync publishes (which files are agents, which pointer
# folders are read): they must be HEAD's, as the versions and pointers are.
LAYOUT_KEYS = ("agents_dir", "environments")


def check_committed_layout(ws: Workspace) -> None:
    """Refuse to publish while ``agentver.yaml`` has uncommitted changes to LAYOUT_KEYS
    (an uncommitted ``agents_dir`` would publish another folder's files as HEAD's)."""
    from agentver.deploy.checks import settings_at

    committed = settings_at(ws, ws.index.head)
    drift = [key for key in LAYOUT_KEYS if ws.settings.raw.get(key) != committed.get(key)]
    if drift:
        raise AgentverError(
            f"{SETTINGS_FILE} has uncommitted changes to {', '.join(drift)}; sync publishes "
            "what is committed at HEAD, nothing written",
            f"commit the change, or undo it (`git checkout -- {SETTINGS_FILE}`)",
        )


def check_not_stale(ws: Workspace, store: Store, *, force: bool) -> None:
    """Refuse early to publish a HEAD that does not descend from the store's head.

    Only a fast path (skips reading versions for a job that would lose): the binding
    check runs again inside sync's transaction, holding the head row."""
    head = ws.index.head
    published = store.head_commit()
    if published is None or force or published == head:
        return
    if not ws.repo.is_ancestor(published, head):
        raise StaleSync(
            f"HEAD {head[:10]} does not descend from {published[:10]}, which store "
            f"{store.url} already serves; nothing written",
            "an older job finished late, or this clone is behind: fetch and sync the "
            "newest commit (`agentver sync --force` publishes HEAD anyway)",
        )


def publish(
    ws: Workspace, store: Store, environments: list[str], *, force: bool = False
) -> SyncPlan:
    """``agentver sync`` as a library call: publish HEAD (compare-and-swap)."""
    check_committed_layout(ws)
    check_not_stale(ws, store, force=force)
    return write_snapshot(ws, store, environments, force=force)


def write_snapshot(
    ws: Workspace,
    store: Store,
    environments: list[str],
    *,
    force: bool = False,
    dry_run: bool = False,
    on_read: Callable[[Snapshot], None] | None = None,
) -> SyncPlan:
    """Build HEAD's snapshot and sync it (or only plan, ``dry_run``); ``on_read`` is told
    when the snapshot is built. The history caches are written on a thread while the
    store's transaction runs (``HistoryIndex.held_cache_writes``)."""
    with ws.index.held_cache_writes() as start_cache_writes:
        snapshot = build_snapshot(ws, environments, store)
        if on_read is not None:
            on_read(snapshot)
        start_cache_writes()
        return store.plan(snapshot) if dry_run else store.sync(snapshot, force=force)


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
    # Versions git has that the store never holds (not storable): reported, not drift.
    skipped: list[SkippedVersion] = field(default_factory=list)


def verify(ws: Workspace, store: Store | None, environments: list[str]) -> VerifyReport:
    """Recompute hashes from git; compare with pointer files and the store.

    Problem kinds: ``pointer`` (a pointer file names a version git does not have),
    ``corrupt`` (a version or pointer row that cannot be decoded), ``tampered`` (content that does not hash
    to its row's hash), ``rewritten`` (git's version differs), ``orphaned`` (an agent no
    commit of HEAD's history has, after a force-push), ``behind`` (a version not synced
    yet), ``pointer-drift``. ``sync --force`` repairs all but ``pointer``."""
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
    report.problems += store_drift(ws, store, environments, by_key, report)
    return report


def store_drift(
    ws: Workspace,
    store: Store,
    environments: list[str],
    by_key: dict[tuple[str, int], Version] | None = None,
    report: VerifyReport | None = None,
) -> list[Drift]:
    """Every difference between HEAD and the store (verify's store half; status uses it)."""
    if by_key is None:
        by_key = {(v.agent, v.version): v for h in ws.agents().values() for v in h.versions}
    report = report if report is not None else VerifyReport()
    problems: list[Drift] = []
    rows, corrupt = store.scan_versions()
    git_agents = {agent for agent, _ in by_key}
    served_pointers = store.pointers()
    serving = {
        (p.agent, slot.version)
        for p in served_pointers
        if not isinstance(p, CorruptPointer)
        for slot in (p.active, p.canary)
        if slot is not None
    }
    for bad in corrupt:
        report.checked_versions += 1
        problems.append(
            Drift(
                "corrupt",
                bad.agent,
                None,
                f"stored v{bad.version} cannot be decoded ({bad.reason});"
                " `agentver sync --force` rewrites it from git",
            )
        )
    for row in rows:
        report.checked_versions += 1
        key = (row.version.agent, row.version.version)
        recomputed = config_hash(row.config)
        if recomputed != row.version.config_hash:
            problems.append(
                Drift(
                    "tampered",
                    key[0],
                    None,
                    f"stored v{key[1]} content hashes to {recomputed}, "
                    f"row says {row.version.config_hash}",
                )
            )
        git_version = by_key.get(key)
        if git_version is None and key[0] not in git_agents:
            # `sync --force` keeps a row a pointer still serves (store/plan.py).
            remedy = (
                "a pointer still serves it, so `agentver sync --force` keeps it: restore the "
                "agent's file (or agents_dir) or move its pointers off it"
                if key in serving
                else "`agentver sync --force` deletes it"
            )
            problems.append(
                Drift(
                    "orphaned",
                    key[0],
                    None,
                    f"store has v{key[1]} of an agent no commit of HEAD's history has"
                    f" (removed by a force-push?); {remedy}",
                )
            )
        elif git_version is None:
            problems.append(Drift("unknown", key[0], None, f"store has v{key[1]}, git does not"))
        elif git_version.config_hash != row.version.config_hash:
            problems.append(
                Drift(
                    "rewritten",
                    key[0],
                    None,
                    f"v{key[1]} is {git_version.config_hash} in git, "
                    f"{row.version.config_hash} in the store (history rewritten?)",
                )
            )
        elif edited := [
            name for name in AUTHORSHIP if getattr(git_version, name) != getattr(row.version, name)
        ]:
            problems.append(
                Drift(
                    "tampered",
                    key[0],
                    None,
                    f"stored v{key[1]} differs from git in {', '.join(edited)};"
                    " `agentver sync --force` rewrites it from git",
                )
            )
    stored_keys = {(r.version.agent, r.version.version) for r in rows}
    stored_keys |= {(c.agent, c.version) for c in corrupt if isinstance(c.version, int)}
    missing = [by_key[key] for key in sorted(set(by_key) - stored_keys)]
    for item in load_configs(ws, missing):
        if isinstance(item, SkippedVersion):
            report.skipped.append(item)  # never in the store: not drift
            continue
        problems.append(
            Drift(
                "behind",
                item.version.agent,
                None,
                f"v{item.version.version} is not in the store yet (run sync)",
            )
        )
    committed = {(p.environment, p.agent): p for p in committed_pointers(ws, environments, [])}
    served = {(p.environment, p.agent): p for p in served_pointers}
    for env, agent in sorted(set(committed) | set(served)):
        if env not in environments:
            continue
        stored_pointer = served.get((env, agent))
        if isinstance(stored_pointer, CorruptPointer):
            problems.append(
                Drift(
                    "corrupt",
                    agent,
                    env,
                    f"pointer row in {env} cannot be decoded ({stored_pointer.reason});"
                    " `agentver sync` rewrites it from git",
                )
            )
        elif _pointer_state(committed.get((env, agent))) != _pointer_state(
            served.get((env, agent))
        ):
            problems.append(
                Drift(
                    "pointer-drift",
                    agent,
                    env,
                    "the store serves a different pointer than HEAD (run sync)",
                )
            )
    return problems


def _pointer_state(pointer: Pointer | None) -> object:
    if pointer is None:
        return None
    return (pointer.active, pointer.canary, dict(pointer.flags))


def describe_plan(plan: SyncPlan, *, verbose: bool = False) -> list[str]:
    """What a sync wrote: one line per agent with new versions (each version with
    ``verbose``), one per replaced or orphaned row and one per pointer change."""
    lines: list[str] = []
    if verbose:
        lines += [f"+ {v.agent} v{v.version} ({v.config_hash})" for v in plan.new_versions]
    else:
        per_agent: dict[str, list[int]] = {}
        for version in plan.new_versions:
            per_agent.setdefault(version.agent, []).append(version.version)
        for agent, numbers in sorted(per_agent.items()):
            span = f"v{numbers[0]}" if len(numbers) == 1 else f"v{min(numbers)}-v{max(numbers)}"
            count = f"{len(numbers)} new version{'s' if len(numbers) > 1 else ''}"
            lines.append(f"+ {agent}: {count} ({span})")
    lines += [
        f"! {c.agent} v{c.version} differs in the store: {', '.join(c.fields)}"
        for c in plan.changed_versions
    ]
    lines += [
        f"- {c.agent} v{c.version}: orphaned (no commit of HEAD has it)" for c in plan.orphaned
    ]
    for change in plan.pointer_changes:
        lines.append(
            f"~ {change.environment}/{change.agent}: {_short(change.old)} -> {_short(change.new)}"
        )
    return lines


def up_to_date(ws: Workspace, store: Store, environments: list[str]) -> bool:
    """True when a sync would write nothing, decided without per-version work.

    The store records the commit it was synced from (its head row). When that is HEAD,
    every version of HEAD's history was already compared then; what is left to check
    is cheap: no version that the sync would skip (its warning must repeat) and the
    committed pointers equal to the served ones. Tampered rows are `verify`'s job."""
    if store.head_commit() != ws.index.head:
        return False
    if any(summary.unstorable for summary in ws.agent_summaries().values()):
        return False  # from the cached summary: no version list is read
    refused: list[RefusedPointer] = []
    committed = {
        (p.environment, p.agent): _pointer_state(normalize_pointer(p))
        for p in committed_pointers(ws, environments, refused)
        if p.active is not None or p.canary is not None or p.flags
    }
    if refused:
        return False
    served = {
        (p.environment, p.agent): _pointer_state(normalize_pointer(p))
        for p in store.pointers()
        if p.environment in environments
    }
    return committed == served and _serves_every_named_row(store, environments)


def _serves_every_named_row(store: Store, environments: list[str]) -> bool:
    """Every version the served pointers name has a row (one deleted by hand is put back
    by a full sync, which `status` and `verify` tell the user to run; a corrupt one is
    theirs to report and `sync --force`'s to rewrite). A few rows read, not every one."""
    for env in environments:
        state = store.load_runtime_state(env)
        present = {*state.versions, *((c.agent, c.version) for c in state.corrupt)}
        for pointer in state.pointers.values():
            for slot in (pointer.active, pointer.canary):
                if slot is not None and (pointer.agent, slot.version) not in present:
                    return False
    return True


def _short(pointer: Pointer | None) -> str:
    if pointer is None or pointer.active is None:
        return "nothing"
    text = f"v{pointer.active.version}"
    if pointer.canary:
        text += f" + canary v{pointer.canary.version} at {pointer.canary.percent}%"
    if pointer.flags:
        text += f" + {len(pointer.flags)} flag(s)"
    return text
