"""The runtime client agents import: resolve configs from the store, record outcomes.

    from agentver.runtime import RuntimeClient

    with RuntimeClient("postgresql://agents@db/agentver", environment="production") as client:
        resolved = client.resolve("support", user_id)
        ...
        client.record_outcome(resolved, ok=True, latency_ms=812)

The client reads the store (never git) into memory and answers from there; every ``ttl``
seconds the next ``resolve`` call refreshes the cache (one caller does it, the others keep
answering from the old one). If the store is unreachable on a refresh, the last known
good state keeps being served and a warning is logged; a stored config whose content does
not hash to its ``config_hash`` is never served. Outcomes are queued and written in
batches by a background thread, so ``resolve`` never waits for the store.

This module stays light: it imports no CLI, git or diff libraries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from agentver import routing
from agentver.errors import IntegrityError, NotFound, StoreError
from agentver.hashing import config_hash
from agentver.models import AgentConfig, Canary, Flag, Pointer, ResolvedConfig, Variant
from agentver.store import Outcome, RuntimeState, Store, open_store
from agentver.store.sql import utc_now

log = logging.getLogger("agentver.runtime")
# Module-level aliases: resolve() is the hot path of every agent request.
_monotonic = time.monotonic
_in_canary = routing.in_canary

DEFAULT_FLUSH_INTERVAL = 1.0
DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_QUEUE = 100_000


class RuntimeStoreError(StoreError):
    """The runtime client cannot load a usable state from the store."""


@dataclass
class _Entry:
    """One agent as served: its pointer, the configs it names and resolved templates.

    ``templates`` caches routing.resolve's answer per (variant, flags on); only ``user``
    differs between users with the same key. ``broken`` is set for an agent whose stored
    content failed its hash check and that has no earlier good state.
    """

    pointer: Pointer
    active_config: AgentConfig | None
    canary_config: AgentConfig | None
    canary: Canary | None
    flags: tuple[Flag, ...]
    templates: dict[tuple[Variant, tuple[str, ...]], ResolvedConfig] = field(default_factory=dict)
    broken: str | None = None


def _for_user(template: ResolvedConfig, user_id: str) -> ResolvedConfig:
    """A copy of ``template`` for ``user_id``, with its own (shallow) config dict.

    This is the hot path: it fills the frozen instance's __dict__ directly, which is
    twice as fast as the generated __init__ (one object.__setattr__ per field).
    """
    resolved: ResolvedConfig = object.__new__(ResolvedConfig)
    resolved.__dict__.update(template.__dict__, user=user_id, config=dict(template.config))
    return resolved


class RuntimeClient:
    """Serve agent configs from a runtime store with an in-memory cache. Thread-safe."""

    def __init__(
        self,
        url: str,
        environment: str = "production",
        ttl: float = 30.0,
        *,
        repo_root: Path | None = None,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        self.environment = environment
        self.ttl = ttl
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._store: Store = open_store(url, repo_root)
        self.url = self._store.url  # masked
        self._entries: dict[str, _Entry] = {}
        self._head_commit: str | None = None
        self._deadline = 0.0
        self._refresh_lock = threading.Lock()
        self._queue: deque[Outcome] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False
        try:
            state = self._store.load_runtime_state(environment)
        except StoreError as exc:
            self._store.close()
            raise RuntimeStoreError(
                f"cannot load the runtime state of {environment!r} from {self.url}: {exc}",
                hint=exc.hint,
            ) from None
        self._install(state)

    # -- cache -----------------------------------------------------------------------

    @property
    def head_commit(self) -> str | None:
        """The git commit the served state was synced from."""
        return self._head_commit

    def refresh(self) -> bool:
        """Reload the state now. Returns False (and keeps the old state) on failure."""
        with self._refresh_lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        self._deadline = time.monotonic() + self.ttl
        try:
            state = self._store.load_runtime_state(self.environment)
        except StoreError as exc:
            log.warning(
                "agentver runtime store unreachable, serving the last known good state"
                " (synced from %s): %s",
                (self._head_commit or "?")[:12],
                exc,
            )
            return False
        self._install(state)
        return True

    def _install(self, state: RuntimeState) -> None:
        old = self._entries
        entries: dict[str, _Entry] = {}
        for agent, pointer in state.pointers.items():
            entry = self._entry(pointer, state)
            if entry.broken is not None:
                log.error("agentver: not serving new state of %s: %s", agent, entry.broken)
                previous = old.get(agent)
                if previous is not None and previous.broken is None:
                    entry = previous
            elif agent in old and old[agent].pointer == entry.pointer:
                entry = old[agent]  # keep its warm templates
            entries[agent] = entry
        self._entries = entries  # one reference swap: readers see old or new
        self._head_commit = state.head_commit
        self._deadline = time.monotonic() + self.ttl

    def _entry(self, pointer: Pointer, state: RuntimeState) -> _Entry:
        problems = []
        configs: list[AgentConfig | None] = []
        for role, ref in (("active", pointer.active), ("canary", pointer.canary)):
            if ref is None:
                configs.append(None)
                continue
            stored = state.versions.get((pointer.agent, ref.version))
            if stored is None:
                problems.append(f"{role} v{ref.version} is missing from the store")
                configs.append(None)
                continue
            actual = config_hash(stored.config)
            if actual != ref.config_hash or actual != stored.version.config_hash:
                problems.append(
                    f"stored v{ref.version} content hashes to {actual}, not {ref.config_hash}"
                )
            configs.append(stored.config)
        return _Entry(
            pointer=pointer,
            active_config=configs[0],
            canary_config=configs[1],
            canary=pointer.canary,
            flags=tuple(flag for _, flag in sorted(pointer.flags.items())),
            broken="; ".join(problems) or None,
        )

    # -- resolve ---------------------------------------------------------------------

    def resolve(self, agent_id: str, user_id: str) -> ResolvedConfig:
        """The effective config of ``agent_id`` for ``user_id`` (same routing as the CLI)."""
        if _monotonic() >= self._deadline and self._refresh_lock.acquire(blocking=False):
            try:
                self._refresh_locked()
            finally:
                self._refresh_lock.release()
        entry = self._entries.get(agent_id)
        if entry is None:
            raise NotFound(
                f"agent {agent_id!r} has no deployment in {self.environment!r} in {self.url}",
                hint="deploy it and run `agentver sync`",
            )
        if entry.broken is not None or entry.active_config is None:
            raise IntegrityError(
                f"refusing to serve {agent_id!r}: {entry.broken or 'no active version'}",
                hint="run `agentver verify` and `agentver sync --force` to repair the store",
            )
        canary = entry.canary
        variant: Variant = (
            "canary" if canary is not None and _in_canary(canary, agent_id, user_id) else "stable"
        )
        flags_on = (
            tuple(f.name for f in entry.flags if routing.flag_on(f, agent_id, user_id))
            if entry.flags
            else ()
        )
        template = entry.templates.get((variant, flags_on))
        if template is None:
            return self._first_of_kind(entry, user_id, variant, flags_on)
        return _for_user(template, user_id)

    def _first_of_kind(
        self, entry: _Entry, user_id: str, variant: Variant, flags_on: tuple[str, ...]
    ) -> ResolvedConfig:
        assert entry.active_config is not None
        resolved = routing.resolve(entry.pointer, user_id, entry.active_config, entry.canary_config)
        # Cache only when routing agrees with the key we derived from its own predicates.
        if resolved.variant == variant and resolved.flags == tuple(sorted(flags_on)):
            entry.templates[(variant, flags_on)] = resolved
        return _for_user(resolved, user_id)

    def agents(self) -> Mapping[str, Pointer]:
        """The pointers currently served, by agent."""
        return {agent: entry.pointer for agent, entry in self._entries.items()}

    # -- outcomes --------------------------------------------------------------------

    def record_outcome(
        self,
        resolved: ResolvedConfig,
        ok: bool,
        latency_ms: float | None = None,
        score: float | None = None,
    ) -> None:
        """Queue one outcome for canary evaluation; never waits for the store.

        ``score`` is a quality score in [0, 1] (a user rating, a sampled judge's score),
        compared between the arms when the agent's ``canary:`` settings guard quality.
        Anything else is a ValueError, raised here in the caller rather than lost later.
        """
        if score is not None:
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise ValueError(f"score must be a number in [0, 1], got {score!r}")
            if not 0.0 <= float(score) <= 1.0:  # also refuses NaN
                raise ValueError(f"score must be a number in [0, 1], got {score!r}")
        entry = self._entries.get(resolved.agent)
        canary = entry.canary if entry is not None else None
        salt = canary.salt if canary is not None else ""
        if resolved.variant == "canary" and (
            canary is None or canary.config_hash != resolved.config_hash
        ):
            salt = ""  # that canary has ended since; do not count it against a new one
        if len(self._queue) >= self._max_queue:
            log.warning("agentver runtime outcome queue full; dropping the oldest outcome")
            self._queue.popleft()
        self._queue.append(
            Outcome(
                agent=resolved.agent,
                environment=resolved.environment,
                variant=resolved.variant,
                version=resolved.version,
                config_hash=resolved.config_hash,
                salt=salt,
                ok=bool(ok),
                latency_ms=None if latency_ms is None else float(latency_ms),
                at=utc_now(),
                score=None if score is None else float(score),
            )
        )
        if self._flusher is None:
            self._start_flusher()
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def _start_flusher(self) -> None:
        with self._flush_lock:
            if self._flusher is None and not self._closed:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="agentver-outcomes", daemon=True
                )
                self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except StoreError as exc:
                log.warning(
                    "agentver runtime could not write %d outcome(s), will retry: %s",
                    len(self._queue),
                    exc,
                )

    def flush(self) -> int:
        """Write every queued outcome now; returns how many. Raises StoreError on failure
        (the outcomes stay queued)."""
        written = 0
        with self._flush_lock:
            while self._queue:
                batch: list[Outcome] = []
                while self._queue and len(batch) < self._batch_size:
                    batch.append(self._queue.popleft())
                try:
                    self._store.record_outcomes(batch)
                except StoreError:
                    self._queue.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    def close(self) -> None:
        """Stop the flush thread, write what is queued (logging what could not be)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join()
        try:
            self.flush()
        except StoreError as exc:
            log.error("agentver runtime lost %d outcome(s) at close: %s", len(self._queue), exc)
        self._store.close()

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
