"""``canary watch``: judge every running canary from the store, and act on the verdict.

One iteration (docs/auto-rollback.md has the sequence and the guarantees):

1. with ``push``: fetch and fast-forward (push first any watcher commit a failed push
   left behind), so the verdict is taken on the newest pointers;
2. refuse when HEAD is behind the store (the store serves a commit HEAD lacks): the
   pointers here would be old, and their salts not the ones clients record under;
3. per agent with a canary at HEAD, in the environment: skip it unless the store serves
   that same canary (salt); judge it from the outcomes recorded under that salt
   (``canary.evaluate.evaluate_canary``, the rule of ``canary evaluate``);
4. with ``apply`` and a verdict of promote or rollback: claim the canary in the store
   (``store.claims``: one watcher wins), write the same pointer commit as
   ``canary promote``/``abort`` (``canary.evaluate.apply_verdict``) as the bot identity,
   push it (``watch_git.push``), mark the claim done, and with ``sync`` publish HEAD.

Every step is reported as a ``WatchEvent`` through a callback as it happens. The cost of
an iteration: a fetch, one ``git log`` pass, and per canary two store reads.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agentver.agentfile import check_agent_id
from agentver.canary.evaluate import apply_verdict, evaluate_canary, sync_store
from agentver.canary.watch_git import PersonActed, catch_up, committing_as, push
from agentver.canary.watch_settings import WatchSettings, parse_duration, watch_settings
from agentver.deploy.pointers import pointer_path
from agentver.errors import AgentverError, RepositoryError, UsageError
from agentver.models import Pointer
from agentver.publish import committed_pointers
from agentver.store import READ_STATEMENT_TIMEOUT, Store, open_store
from agentver.store import claims as store_claims
from agentver.workspace import Workspace

# -- events ------------------------------------------------------------------------------


def _now() -> str:
    moment = datetime.now(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class WatchEvent:
    """One line of the watcher's log. ``kind``: verdict, skip, claimed, commit, push,
    superseded, sync, error, stopped."""

    kind: str
    message: str
    agent: str | None = None
    environment: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    hint: str | None = None
    exit_code: int = 0
    at: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"event": self.kind, "at": self.at}
        if self.agent is not None:
            doc["agent"] = self.agent
        if self.environment is not None:
            doc["environment"] = self.environment
        doc["message"] = self.message
        if self.hint:
            doc["hint"] = self.hint
        doc.update(self.data)
        return doc


Emit = Callable[[WatchEvent], None]


# watch_settings and parse_duration are re-exported: callers import them from here too.
__all__ = [
    "HeadBehindStore",
    "Summary",
    "WatchEvent",
    "WatchOptions",
    "WatchSettings",
    "Watcher",
    "parse_duration",
    "watch_settings",
]


class HeadBehindStore(RepositoryError):
    """The store serves a commit that HEAD does not contain."""


# -- the watcher -------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchOptions:
    root: Path
    environment: str | None = None
    agents: tuple[str, ...] = ()
    store_url: str | None = None
    apply: bool = False
    push: bool = False
    sync: bool = False
    author: str | None = None  # else AGENTVER_WATCH_AUTHOR, else watch.author, else default
    # Seconds a PostgreSQL statement may take (lock waits included) before the pass fails:
    # a locked table must not stop the watcher from judging at the next interval.
    statement_timeout: float | None = READ_STATEMENT_TIMEOUT

    def __post_init__(self) -> None:
        if (self.push or self.sync) and not self.apply:
            raise UsageError("--push and --sync carry out what --apply commits; add --apply")
        for agent in self.agents:
            check_agent_id(agent)


@dataclass
class Summary:
    iterations: int = 0
    errors: list[WatchEvent] = field(default_factory=list)
    stopped_by: str = ""  # "once", "signal", "person"


class Watcher:
    def __init__(self, options: WatchOptions, emit: Emit) -> None:
        self.options = options
        self.emit = emit
        # Names this process in claims: which watcher holds a canary.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._unsynced = False  # a pointer commit whose sync failed: retry next time

    def run(
        self, interval: float, should_stop: Callable[[], bool], *, once: bool = False
    ) -> Summary:
        """Iterate until ``once`` is done, ``should_stop()`` (checked between iterations,
        and every 0.1 s while waiting) or a person acts on a pointer being acted on.

        A predicate, not a ``threading.Event``: a signal handler must not take a lock the
        interrupted main thread may hold (``Event.set`` inside ``Event.wait`` deadlocks)."""
        summary = Summary()
        while True:
            errors = self.iterate()
            summary.iterations += 1
            summary.errors += errors
            if any(e.data.get("reason") == "person-acted" for e in errors):
                summary.stopped_by = "person"
                break
            if once:
                summary.stopped_by = "once"
                break
            if _sleep_unless(interval, should_stop):
                summary.stopped_by = "signal"
                break
        if summary.stopped_by != "once":
            self.emit(WatchEvent("stopped", f"stopped ({summary.stopped_by})"))
        return summary

    def iterate(self) -> list[WatchEvent]:
        """One pass over every watched canary; returns the error events it emitted."""
        errors: list[WatchEvent] = []

        def fail(exc: AgentverError, agent: str | None = None, env: str | None = None) -> None:
            reason = "person-acted" if isinstance(exc, PersonActed) else type(exc).__name__
            event = WatchEvent(
                "error",
                exc.message,
                agent,
                env,
                {"reason": reason},
                exc.hint,
                exc.exit_code,
            )
            errors.append(event)
            self.emit(event)

        try:
            ws = Workspace.open(self.options.root)
            settings = watch_settings(ws.settings, self.options.author)
            environment = ws.environment(self.options.environment)
            store = open_store(
                ws.settings.store_url(self.options.store_url),
                ws.root,
                statement_timeout=self.options.statement_timeout,
            )
        except AgentverError as exc:
            fail(exc)
            return errors
        try:
            ws = self._catch_up(ws, settings, store, environment)
            settings = watch_settings(ws.settings, self.options.author)  # as fetched
            _check_head_not_behind(ws, store)
            for pointer in self._canaries(ws, environment):
                try:
                    ws = self._judge(ws, settings, store, pointer)
                except AgentverError as exc:
                    fail(exc, pointer.agent, environment)
                    if isinstance(exc, PersonActed):
                        break
        except AgentverError as exc:
            fail(exc, None, environment)
        finally:
            store.close()
        return errors

    # -- steps ---------------------------------------------------------------------------

    def _catch_up(
        self, ws: Workspace, settings: WatchSettings, store: Store, environment: str
    ) -> Workspace:
        if self.options.push:
            upstream = catch_up(ws, settings.remote, settings.author)
            if upstream.pending:  # a commit an earlier push could not deliver
                self._push(ws, settings, None, environment)
                self._unsynced = True
            ws = Workspace.open(self.options.root)
        if self.options.sync and (
            self._unsynced or _bot_commit_unpublished(ws, store, environment, settings)
        ):
            self._sync(ws, store, None, environment)  # finish what a failed sync left
        return ws

    def _canaries(self, ws: Workspace, environment: str) -> list[Pointer]:
        committed = {p.agent: p for p in committed_pointers(ws, [environment])}
        if not self.options.agents:
            return [p for _, p in sorted(committed.items()) if p.canary is not None]
        chosen = []
        for agent in self.options.agents:
            pointer = committed.get(agent)
            if pointer is None or pointer.canary is None:
                self.emit(
                    WatchEvent("skip", "no canary running", agent, environment, {"verdict": None})
                )
                continue
            chosen.append(pointer)
        return chosen

    def _judge(
        self, ws: Workspace, settings: WatchSettings, store: Store, pointer: Pointer
    ) -> Workspace:
        agent, environment = pointer.agent, pointer.environment
        canary = pointer.canary
        assert canary is not None
        served = {p.agent: p for p in store.pointers(environment)}.get(agent)
        if served is None or served.canary is None or served.canary.salt != canary.salt:
            what = (
                f"canary salt {served.canary.salt}"
                if served is not None and served.canary is not None
                else "no canary"
            )
            self.emit(
                WatchEvent(
                    "skip",
                    f"the store serves {what}, not canary v{canary.version} (salt "
                    f"{canary.salt}) of HEAD: its outcomes are not this canary's; not judging",
                    agent,
                    environment,
                    {"verdict": None, "salt": canary.salt},
                    "run `agentver sync` to publish HEAD",
                )
            )
            return ws
        evaluation = evaluate_canary(ws, environment, agent, store=store)
        verdict = evaluation.verdict.verdict
        self.emit(
            WatchEvent(
                "verdict",
                f"{verdict} ({evaluation.verdict.rule}): {evaluation.verdict.reason}",
                agent,
                environment,
                {**evaluation.to_json(), "salt": canary.salt},
            )
        )
        if not self.options.apply or verdict == "continue":
            return ws
        held = store_claims.claim(
            store, environment, agent, canary.salt, verdict, self.holder, settings.lease_seconds
        )
        if not held.won:
            state = f"done in {held.done_commit[:10]}" if held.done_commit else "in progress"
            self.emit(
                WatchEvent(
                    "claimed",
                    f"another watcher ({held.holder}) acts on this canary: {held.verdict} {state}",
                    agent,
                    environment,
                    {"holder": held.holder, "done_commit": held.done_commit},
                )
            )
            return ws
        try:
            with committing_as(settings.author):
                outcome = apply_verdict(ws, evaluation)
        except AgentverError:
            store_claims.release(store, held)
            raise
        assert outcome is not None
        commit = outcome.commit or ""
        self.emit(
            WatchEvent(
                "commit",
                outcome.message.splitlines()[0],
                agent,
                environment,
                {"commit": commit, "author": str(settings.author), "verdict": verdict},
            )
        )
        self._unsynced = True
        if self.options.push:
            try:
                commit = self._push(ws, settings, agent, environment) or ""
            except PersonActed:
                store_claims.release(store, held)
                self._unsynced = False
                raise
        store_claims.finish(store, held, commit)
        ws = Workspace.open(self.options.root)
        if self.options.sync:
            self._sync(ws, store, agent, environment)
        return ws

    def _push(
        self, ws: Workspace, settings: WatchSettings, agent: str | None, environment: str
    ) -> str | None:
        pushed = push(ws, settings.remote, settings.author, settings.push_attempts)
        if pushed.superseded_by is not None:
            self.emit(
                WatchEvent(
                    "superseded",
                    f"another watcher already pushed the same action "
                    f"({pushed.superseded_by[:10]}); dropped this watcher's commit",
                    agent,
                    environment,
                    {"commit": pushed.superseded_by, "attempts": pushed.attempts},
                )
            )
            return pushed.superseded_by
        self.emit(
            WatchEvent(
                "push",
                f"pushed {(pushed.commit or '')[:10]} to {settings.remote}",
                agent,
                environment,
                {"commit": pushed.commit, "remote": settings.remote, "attempts": pushed.attempts},
            )
        )
        return pushed.commit

    def _sync(self, ws: Workspace, store: Store, agent: str | None, environment: str) -> None:
        plan = sync_store(ws, store)
        self._unsynced = False
        self.emit(
            WatchEvent(
                "sync",
                f"synced {plan.head_commit[:10]} to {store.url}",
                agent,
                environment,
                {
                    "head": plan.head_commit,
                    "store": store.url,
                    "pointer_changes": len(plan.pointer_changes),
                },
            )
        )


def _sleep_unless(seconds: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep ``seconds`` in short slices; True as soon as ``should_stop()``."""
    deadline = time.monotonic() + seconds
    while not should_stop():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, 0.1))
    return True


def _bot_commit_unpublished(
    ws: Workspace, store: Store, environment: str, settings: WatchSettings
) -> bool:
    """A pointer HEAD has and the store does not serve, last changed by the bot: the
    sync of an earlier run (maybe another process) failed after its push."""
    served = {p.agent: p for p in store.pointers(environment)}
    for pointer in committed_pointers(ws, [environment]):
        there = served.get(pointer.agent)
        if there is not None and (there.active, there.canary) == (pointer.active, pointer.canary):
            continue
        rel = pointer_path(environment, pointer.agent)
        if ws.repo.git("log", "-1", "--format=%ae", "HEAD", "--", rel).strip() == (
            settings.author.email
        ):
            return True
    return False


def _check_head_not_behind(ws: Workspace, store: Store) -> None:
    """The store's last synced commit must be HEAD or one of its ancestors."""
    last = store.last_sync()
    head = ws.repo.head()
    if last is None or last.head_commit == head:
        return
    known = ws.repo.resolve_commit(last.head_commit) is not None
    if not known or not ws.repo.is_ancestor(last.head_commit, head):
        raise HeadBehindStore(
            f"HEAD {head[:10]} does not contain {last.head_commit[:10]}, which {store.url} "
            "serves: this clone is behind the store; not acting on old pointers",
            hint="pull (or run the watcher with --push, which fetches first)",
        )
