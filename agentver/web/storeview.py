"""The runtime store as the dashboard sees it: optional, read-only, never fatal.

A page that shows store data opens the store for that request and closes it after (a
SQLite store opens a connection per operation anyway). A store that is missing,
unreachable or not synced yet is a notice on the page, not an error page: git alone
answers most questions the dashboard asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agentver.errors import AgentverError
from agentver.models import Pointer
from agentver.store import Store, StoreNotInitialized, open_store
from agentver.workspace import Workspace


@dataclass(frozen=True)
class StoreState:
    """What the overview needs from the store: its pointers and the commit it serves."""

    url: str
    head_commit: str | None
    synced_at: str | None
    pointers: dict[tuple[str, str], Pointer]  # (environment, agent) -> served pointer
    problem: str | None  # why the store could not be read (None: read fine)


@contextmanager
def opened(ws: Workspace, option: str | None) -> Iterator[tuple[Store | None, str | None]]:
    """(store, None) or (None, why not)."""
    url = ws.settings.store_url(option)
    try:
        store = open_store(url, ws.root, timeout=2.0)
    except AgentverError as exc:
        yield None, exc.message
        return
    try:
        yield store, None
    finally:
        store.close()


def read_state(ws: Workspace, option: str | None) -> StoreState:
    with opened(ws, option) as (store, problem):
        if store is None:
            return StoreState(ws.settings.store_url(option), None, None, {}, problem)
        try:
            last = store.last_sync()
            served = {(p.environment, p.agent): p for p in store.pointers()}
        except StoreNotInitialized:
            return StoreState(store.url, None, None, {}, "not synced yet (run `agentver sync`)")
        except AgentverError as exc:
            return StoreState(store.url, None, None, {}, exc.message)
        return StoreState(
            store.url,
            last.head_commit if last else None,
            last.synced_at if last else None,
            served,
            None,
        )
