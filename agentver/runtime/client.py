"""RuntimeClient: serve configs from memory, refresh in the background, queue outcomes.

Threads, and what each may wait for:

- the caller's threads run ``resolve`` and ``record_outcome``: dictionary lookups, at
  most two sha256 calls and one small allocation; they never touch the store and never
  take a lock that a store operation holds;
- the refresh thread waits on a change feed (``agentver.store.changes``: LISTEN on
  PostgreSQL, ``PRAGMA data_version`` on SQLite, a head-row poll, or the TTL alone) and
  reloads the environment's state, bounded by the connect and statement timeouts; the
  new state replaces the old one with one reference swap;
- the outcome thread writes queued outcomes in batches every ``flush_interval``.

A failed refresh keeps the last known good state, logs one warning and shows up in
``health()``; a stored config that fails its hash check, or a row the store cannot
decode, costs only its own agent its update.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from agentver.errors import NotFound, StoreError
from agentver.failpoints import failpoint
from agentver.models import Pointer, ResolvedConfig
from agentver.runtime import forks
from agentver.runtime.checks import count, seconds, text
from agentver.runtime.outcomes import OutcomeQueue, checked_values
from agentver.runtime.refresher import MODES, Refresher
from agentver.runtime.served import Entry, build_entries
from agentver.store import Outcome, RuntimeState, Store, StoreNotInitialized, open_store
from agentver.store.changes import open_feed
from agentver.store.sql import utc_now

log = logging.getLogger("agentver.runtime")
# Module-level aliases: resolve() is the hot path of every agent request.
_monotonic = time.monotonic
_new = object.__new__

DEFAULT_TTL = 30.0
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_STATEMENT_TIMEOUT = 2.0
DEFAULT_POLL_INTERVAL = {"data_version": 0.05, "poll": 1.0}
DEFAULT_FLUSH_INTERVAL = 1.0
DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_QUEUE = 100_000


class RuntimeStoreError(StoreError):
    """The runtime client cannot load a usable state from the store."""


class StoreNotSynced(RuntimeStoreError):
    """The store exists (or could) but ``agentver sync`` has never filled it."""


class UnknownEnvironment(RuntimeStoreError):
    """The store holds no deployment for the environment asked for."""


@dataclass(frozen=True)
class Health:
    """What ``RuntimeClient.health()`` reports (for a readiness probe or a metric).

    ``age_seconds``: time since the served state was last loaded successfully.
    ``serving_last_known_good``: the newest refresh failed, so the state may be stale.
    ``last_refresh_error``: that failure's message (None once a refresh succeeds).
    ``stale_agents``: agents served from an older state because their new rows are
    corrupt or fail their hash check (``broken_agents``: such agents with no older state).
    """

    environment: str
    head_commit: str | None
    mode: str
    listening: bool
    age_seconds: float
    serving_last_known_good: bool
    last_refresh_error: str | None
    refreshes: int
    failed_refreshes: int
    stale_agents: tuple[str, ...]
    broken_agents: tuple[str, ...]


class RuntimeClient:
    """Serve agent configs from a runtime store with an in-memory cache. Thread-safe.

    ``mode`` chooses how the client learns of a new sync (docs/runtime.md):
    ``"auto"`` (LISTEN on PostgreSQL, ``PRAGMA data_version`` on SQLite), ``"listen"``,
    ``"data_version"``, ``"poll"`` (read the store's head row every ``poll_interval``
    seconds, holding no connection in between) or ``"ttl"`` (reload every ``ttl`` seconds
    only). Every mode also reloads every ``ttl`` seconds.
    """

    def __init__(
        self,
        url: str,
        environment: str = "production",
        ttl: float = DEFAULT_TTL,
        *,
        repo_root: Path | None = None,
        mode: str = "auto",
        poll_interval: float | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        # Every argument is checked before anything is opened or started (checks.py).
        text("url", url)
        environment = text("environment", environment)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        ttl = seconds("ttl", ttl)
        if poll_interval is not None:
            poll_interval = seconds("poll_interval", poll_interval)
        connect_timeout = seconds("connect_timeout", connect_timeout)
        statement_timeout = seconds("statement_timeout", statement_timeout)
        flush_interval = seconds("flush_interval", flush_interval)
        batch_size, max_queue = count("batch_size", batch_size), count("max_queue", max_queue)
        self.environment = environment
        self.ttl = ttl
        # Connections (docs/runtime.md): the refresh thread reads through ``_reader``,
        # whose connection a listening client keeps open as its listener; other modes
        # close it after each reload (reloads are rare). Outcomes go through ``_store``,
        # kept open while outcomes flow, except in "poll" mode, which holds nothing.
        root = repo_root if repo_root is not None else Path.cwd()
        self._settings = (url, root, mode, poll_interval, connect_timeout, statement_timeout)
        self._queue_settings = (flush_interval, batch_size, max_queue)
        self._store, self._reader, self._outcomes = self._open_io()
        self._keep_reader = False
        self.url = self._store.url  # masked
        self._entries: dict[str, Entry] = {}
        self._head_commit: str | None = None
        self._stale: tuple[str, ...] = ()
        self._loaded_at = _monotonic()
        self._last_error: str | None = None
        self._refreshes = 0
        self._failures = 0
        self._refresh_lock = threading.Lock()
        self._closed = False
        self._warned_closed = False
        try:
            self._install(self._first_load())
            self._start_refresher()
        except BaseException:
            self._reader.close()
            self._store.close()
            raise
        forks.track(self)

    def _open_io(self) -> tuple[Store, Store, OutcomeQueue]:
        """Two stores (nothing connects yet) and the outcome queue writing to one."""
        url, root, mode, _interval, connect_timeout, statement_timeout = self._settings
        store, reader = (
            open_store(url, root, timeout=connect_timeout, statement_timeout=statement_timeout)
            for _ in range(2)
        )
        flush_interval, batch_size, max_queue = self._queue_settings
        outcomes = OutcomeQueue(
            store,
            flush_interval=flush_interval,
            batch_size=batch_size,
            max_queue=max_queue,
            hold_connection=mode != "poll",
        )
        return store, reader, outcomes

    def _start_refresher(self) -> None:
        url, root, mode, interval, connect_timeout, statement_timeout = self._settings
        feed = open_feed(
            url,
            root,
            mode,
            reader=self._reader,
            interval=interval or DEFAULT_POLL_INTERVAL.get(mode, 0.05),
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
        )
        self._keep_reader = feed.name == "listen"
        if not self._keep_reader:
            self._reader.close()
        self._refresher = Refresher(self._background_refresh, feed, self.ttl)
        self._refresher.start()

    def _restart_in_child(self) -> list[object]:
        """After ``os.fork()``, in the child (agentver/runtime/forks.py): new stores,
        queue, lock and refresh thread; returns the inherited ones, which must be neither
        used nor closed here (the parent still uses their sockets and files)."""
        if self._closed:
            return []
        inherited: list[object] = [self._store, self._reader, self._outcomes, self._refresher]
        self._refresh_lock = threading.Lock()  # a parent thread may have held it
        self._store, self._reader, self._outcomes = self._open_io()
        self._start_refresher()
        return inherited

    def _first_load(self) -> RuntimeState:
        """Load the state or fail fast: an agent server should not start without one."""
        where = f"{self.environment!r} from {self.url}"
        try:
            state = self._reader.load_runtime_state(self.environment)
        except StoreNotInitialized as exc:
            raise StoreNotSynced(
                f"store {self.url} has not been synced yet: no runtime state to serve",
                hint=exc.hint or "run `agentver sync` to publish the repository's state",
            ) from None
        except StoreError as exc:
            raise RuntimeStoreError(
                f"cannot load the runtime state of {where}: {exc}", hint=exc.hint
            ) from None
        except Exception as exc:  # a row the store could not decode
            raise RuntimeStoreError(
                f"cannot load the runtime state of {where}: a stored row is corrupt"
                f" ({type(exc).__name__}: {exc})",
                hint="run `agentver verify`, then `agentver sync --force` to rewrite it from git",
            ) from None
        if state.head_commit is None:
            raise StoreNotSynced(
                f"store {self.url} has not been synced yet: no runtime state to serve",
                hint="run `agentver sync` to publish the repository's state",
            )
        if not state.pointers:
            raise self._unknown_environment()
        return state

    def _unknown_environment(self) -> UnknownEnvironment:
        try:
            known = sorted({p.environment for p in self._reader.pointers()})
        except Exception:  # the listing is a courtesy; the error stands without it
            known = []
        listing = ", ".join(repr(env) for env in known) if known else "none"
        return UnknownEnvironment(
            f"environment {self.environment!r} has no deployments in {self.url}"
            f" (environments in the store: {listing})",
            hint="check the environment name, or deploy to it and run `agentver sync`",
        )

    # -- cache -----------------------------------------------------------------------

    @property
    def head_commit(self) -> str | None:
        """The git commit the served state was synced from."""
        return self._head_commit

    def refresh(self) -> bool:
        """Reload the state now, in the caller's thread. Returns False (and keeps the old
        state, logging one warning) on failure."""
        with self._refresh_lock:
            return self._refresh_locked()

    def _background_refresh(self) -> None:
        with self._refresh_lock:
            self._refresh_locked()

    def _refresh_locked(self) -> bool:
        if self._closed:  # a reload now would open a connection nobody closes
            return False
        try:
            failpoint("runtime.refresh.before_load")
            state = self._reader.load_runtime_state(self.environment)
            failpoint("runtime.refresh.after_load")
        except Exception as exc:  # StoreError, a failpoint, or a row nobody could decode
            self._failures += 1
            plain = isinstance(exc, StoreError)
            self._last_error = str(exc) if plain else f"{type(exc).__name__}: {exc}"
            log.warning(
                "agentver runtime refresh failed, serving the last known good state"
                " (synced from %s, %.1f s old): %s",
                (self._head_commit or "?")[:12],
                _monotonic() - self._loaded_at,
                self._last_error,
            )
            return False
        finally:
            if not self._keep_reader:
                self._reader.close()
        self._install(state)
        return True

    def _install(self, state: RuntimeState) -> None:
        # Rows the store could not decode (it lists them instead of raising): each costs
        # only its own agent its update (docs/runtime.md).
        bad = {
            (row.agent, row.version): f"has a corrupt row in the store ({row.reason})"
            for row in state.corrupt
        }
        entries, stale = build_entries(state, self._entries, bad)
        self._entries = entries  # one reference swap: readers see old or new
        self._head_commit = state.head_commit
        self._stale = stale
        self._loaded_at = _monotonic()
        self._last_error = None
        self._refreshes += 1

    def health(self) -> Health:
        """The state's age, the last refresh error and whether last-known-good is served."""
        entries = self._entries
        return Health(
            environment=self.environment,
            head_commit=self._head_commit,
            mode=self._refresher.mode,
            listening=self._refresher.connected,
            age_seconds=_monotonic() - self._loaded_at,
            serving_last_known_good=self._last_error is not None,
            last_refresh_error=self._last_error,
            refreshes=self._refreshes,
            failed_refreshes=self._failures,
            stale_agents=self._stale,
            broken_agents=tuple(sorted(a for a, e in entries.items() if e.broken is not None)),
        )

    # -- resolve ---------------------------------------------------------------------

    def resolve(self, agent_id: str, user_id: str) -> ResolvedConfig:
        """The effective config of ``agent_id`` for ``user_id`` (same routing as the CLI).

        Answers from memory, never waiting for the store. ``config`` of the result is
        read-only and shared with other users of the same version and flags.
        """
        if type(agent_id) is not str and not isinstance(agent_id, str):
            raise TypeError(f"agent_id must be text, got {agent_id!r}")
        if type(user_id) is not str and not isinstance(user_id, str):
            raise TypeError(f"user_id must be text, got {user_id!r}")
        entry = self._entries.get(agent_id)
        if entry is None:
            raise NotFound(
                f"agent {agent_id!r} has no deployment in {self.environment!r} in {self.url}",
                hint="deploy it and run `agentver sync`",
            )
        try:
            key = entry.router.route(user_id)
        except UnicodeEncodeError:  # a lone surrogate: routing hashes the UTF-8 bytes
            raise ValueError(f"user_id {user_id!r} cannot be encoded as UTF-8") from None
        template = entry.templates.get(key)
        if template is None:
            template = entry.first_of_kind(user_id, key)
        resolved: ResolvedConfig = _new(ResolvedConfig)
        fields = resolved.__dict__
        fields.update(template.__dict__)
        fields["user"] = user_id
        return resolved

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

        ``ok`` is True or False; ``latency_ms`` a finite number of milliseconds >= 0;
        ``score`` a quality score in [0, 1] (a user rating, a sampled judge's score),
        compared between the arms when the agent's ``canary:`` settings guard quality.
        A wrong type is a TypeError and a value out of range a ValueError, raised here in
        the caller rather than written to the store (docs/runtime.md).
        """
        resolved, ok, latency, quality = checked_values(resolved, ok, latency_ms, score)
        if self._closed:
            if not self._warned_closed:  # once: a shutdown may finish many requests
                self._warned_closed = True
                log.warning("agentver runtime: outcomes recorded after close() are dropped")
            return
        entry = self._entries.get(resolved.agent)
        canary = entry.pointer.canary if entry is not None else None
        salt = canary.salt if canary is not None else ""
        if resolved.variant == "canary" and (
            canary is None or canary.config_hash != resolved.config_hash
        ):
            salt = ""  # that canary has ended since; do not count it against a new one
        self._outcomes.add(
            Outcome(
                agent=resolved.agent,
                environment=resolved.environment,
                variant=resolved.variant,
                version=resolved.version,
                config_hash=resolved.config_hash,
                salt=salt,
                ok=ok,
                latency_ms=latency,
                at=utc_now(),
                score=quality,
            )
        )

    def flush(self) -> int:
        """Write every queued outcome now; returns how many. Raises StoreError on failure
        (the outcomes stay queued)."""
        return self._outcomes.flush()

    def close(self) -> None:
        """Stop the background threads, write what is queued (logging what could not be).

        Afterwards ``resolve`` still answers from memory, ``refresh`` returns False and
        ``record_outcome`` drops outcomes (one warning)."""
        if self._closed:
            return
        self._closed = True
        self._refresher.stop()
        self._outcomes.close()
        with self._refresh_lock:  # after a refresh() another thread may be running
            self._reader.close()

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
