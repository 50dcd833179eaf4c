"""Value types of the runtime store and the one interface every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agentver.errors import StoreError
from agentver.models import AgentConfig, Pointer, Variant, Version


class StoreNotInitialized(StoreError):
    """The store exists (or could) but no sync has created its tables yet."""


class StaleSync(StoreError):
    """The store serves a commit that HEAD does not descend from (docs/design.md s. 8).

    Exit 1, like a failed check: an older CI job that finished late, or a clone that is
    behind. Nothing was written."""

    exit_code = 1


@dataclass(frozen=True)
class StoredVersion:
    """One version with the full content needed to recompute its ``config_hash``."""

    version: Version
    config: AgentConfig


@dataclass(frozen=True)
class PreparedVersion:
    """One version with its content columns already computed (``rows.content_row``) where
    its file was parsed: a process of a cold history's pool, so that the process writing
    the store only inserts (issue 16). What the store writes is the same as for the
    StoredVersion of the same config."""

    version: Version
    content: tuple[object, ...]


# Yields, for the versions asked for and in their order, each one's content or why not.
Loader = Callable[[Iterable[Version]], Iterator["StoredVersion | PreparedVersion | SkippedVersion"]]


@dataclass(frozen=True)
class Snapshot:
    """What sync publishes: HEAD's versions and the pointer files committed at HEAD.

    The pointer state of every environment in ``environments`` (and of every environment
    a pointer names) is replaced as a whole; other environments in the store are left
    alone. Agents absent from ``versions`` keep their stored versions.
    """

    head_commit: str
    versions: Sequence[StoredVersion]
    pointers: Sequence[Pointer]
    environments: Sequence[str] = ()
    synced_by: str = "agentver sync"
    # Versions of HEAD's history the store cannot hold (not storable): never written, and
    # a pointer naming one is refused for its agent alone.
    skipped: Sequence[SkippedVersion] = ()
    # Committed pointer files that could not be read: each keeps its stored pointer.
    refused: Sequence[RefusedPointer] = ()
    # descends_from(store_head) -> bool, asked inside the write transaction that holds the
    # store's head row (compare-and-swap). None: no ancestry check (synthetic snapshots).
    descends_from: Callable[[str], bool] | None = None
    # The streamed form (what ``agentver sync`` builds, issue 16): HEAD's versions without
    # their configs in ``index`` (``versions`` then stays empty), and ``load``, which
    # yields for the versions asked for, in their order, the StoredVersion or the
    # SkippedVersion saying why the store cannot hold it. The store compares indexes
    # and loads configs only for the rows it writes, a batch at a time.
    index: Sequence[Version] = ()
    load: Loader | None = None

    def git_versions(self) -> Iterator[Version]:
        """Every version of HEAD's history the snapshot offers (either form)."""
        yield from (s.version for s in self.versions)
        yield from self.index

    def configs(
        self, wanted: Iterable[Version]
    ) -> Iterator[StoredVersion | PreparedVersion | SkippedVersion]:
        """The configs of ``wanted``, in order (streamed when the snapshot has a loader)."""
        if self.load is not None:
            yield from self.load(wanted)
            return
        by_key = {(s.version.agent, s.version.version): s for s in self.versions}
        for version in wanted:
            yield by_key[(version.agent, version.version)]


@dataclass(frozen=True)
class SkippedVersion:
    """A version in git that sync does not publish, and why (names its commit and file)."""

    agent: str
    version: int
    commit: str
    path: str
    reason: str


@dataclass(frozen=True)
class CorruptRow:
    """A stored version row that cannot be decoded (edited by hand, disk damage...)."""

    agent: str
    version: int | str
    reason: str


@dataclass(frozen=True)
class CorruptPointer(Pointer):
    """The pointer of an (environment, agent) whose deployment or flag rows cannot be
    decoded: it serves nothing (no active, no canary, no flags) and ``reason`` says why.

    ``Store.pointers()`` returns it in place of that agent's pointer, so one bad row costs
    only its own agent: the runtime keeps that agent's last known good (or refuses it
    alone), ``verify`` and ``status`` name it, and ``sync`` rewrites it from git (it never
    equals a committed pointer)."""

    reason: str = ""


@dataclass(frozen=True)
class RefusedPointer:
    """A committed pointer sync did not publish: the store keeps that agent's old one."""

    environment: str
    agent: str
    reason: str


@dataclass(frozen=True)
class VersionConflict:
    """A stored version row that disagrees with git (history was rewritten or a row edited).

    ``git`` is None when git no longer has that number for an agent it still knows.
    """

    agent: str
    version: int
    fields: tuple[str, ...]
    git: Version | None
    row_id: str | None = None  # the row's version_id, which deletes it


@dataclass(frozen=True)
class PointerChange:
    """The pointer of one (environment, agent) moves from ``old`` to ``new`` (None: absent)."""

    environment: str
    agent: str
    old: Pointer | None
    new: Pointer | None


@dataclass(frozen=True)
class SyncPlan:
    """What a sync writes (dry run) or wrote (``applied``)."""

    head_commit: str
    previous_head: str | None
    migrations: tuple[int, ...] = ()
    new_versions: tuple[Version, ...] = ()
    changed_versions: tuple[VersionConflict, ...] = ()
    revalidated: tuple[Version, ...] = ()  # only ``valid`` changed (a newer schema)
    pointer_changes: tuple[PointerChange, ...] = ()
    refused_pointers: tuple[RefusedPointer, ...] = ()
    skipped: tuple[SkippedVersion, ...] = ()
    # Rows of agents that no commit of HEAD's history has (a force-push removed them);
    # deleted by a forced sync only.
    orphaned: tuple[VersionConflict, ...] = ()
    applied: bool = False
    forced: bool = False

    @property
    def nothing_to_do(self) -> bool:
        """True when a sync would write nothing (orphans count only when forced)."""
        return not (
            self.migrations
            or self.new_versions
            or self.changed_versions
            or self.revalidated
            or self.pointer_changes
            or self.head_commit != self.previous_head
        )

    @property
    def replaced(self) -> tuple[VersionConflict, ...]:
        """The rows a forced sync replaced (or deleted, when ``git`` is None)."""
        return self.changed_versions + self.orphaned if self.applied and self.forced else ()


@dataclass(frozen=True)
class SyncRecord:
    """One line of the sync log."""

    seq: int
    head_commit: str
    synced_at: str
    versions_added: int
    versions_replaced: int
    pointers_changed: int
    forced: bool


@dataclass(frozen=True)
class RuntimeState:
    """One environment as the runtime serves it, read in one consistent transaction.

    ``versions`` holds the versions the pointers reference, keyed by (agent, number).
    """

    environment: str
    pointers: Mapping[str, Pointer]
    versions: Mapping[tuple[str, int], StoredVersion]
    head_commit: str | None
    # Rows a pointer of this environment names that could not be decoded: their agents are
    # missing from ``versions`` (the runtime keeps their last known good state), every
    # other agent is served.
    corrupt: tuple[CorruptRow, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """One served request, for canary evaluation. ``salt`` is the canary's ("" without)."""

    agent: str
    environment: str
    variant: Variant
    version: int
    config_hash: str
    salt: str
    ok: bool
    latency_ms: float | None = None
    at: str = ""
    score: float | None = None  # quality in [0, 1] (a rating, a judge's score)


@dataclass(frozen=True)
class ArmCounts:
    """Outcome totals of one variant under one canary salt."""

    requests: int
    errors: int
    latency_count: int = 0
    latency_mean_ms: float | None = None
    latency_max_ms: float | None = None
    versions: tuple[int, ...] = field(default=())
    slow: int = 0  # outcomes with latency_ms over the ``slow_ms`` asked for
    scored: int = 0  # outcomes with a score
    score_sum: float = 0.0
    # Outcomes left out of every figure above: a latency or score no agentver accepts
    # today (negative, infinite, NaN, a score outside [0, 1]) that older ones stored.
    ignored: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class Store(Protocol):
    """A runtime store backend. Every method raises StoreError, never a driver error."""

    @property
    def url(self) -> str:
        """The store URL with any password masked."""
        ...

    def plan(self, snapshot: Snapshot) -> SyncPlan: ...

    def sync(self, snapshot: Snapshot, *, force: bool = False) -> SyncPlan: ...

    def last_sync(self) -> SyncRecord | None: ...

    def head_commit(self) -> str | None: ...

    def scan_versions(self) -> tuple[list[StoredVersion], list[CorruptRow]]: ...

    def schema_version(self) -> int: ...

    def versions(self) -> list[StoredVersion]: ...

    def pointers(self, environment: str | None = None) -> list[Pointer]: ...

    def load_runtime_state(self, environment: str) -> RuntimeState: ...

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> int: ...

    def outcome_counts(
        self, agent: str, environment: str, salt: str, *, slow_ms: float | None = None
    ) -> dict[str, ArmCounts]: ...

    def close(self) -> None: ...
