"""The refresh thread: wait for a change feed or the TTL, then reload.

``resolve`` never waits for the store because it never runs a refresh: this thread
does, and swaps the new state in when it is complete.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agentver.store.changes import ChangeFeed

log = logging.getLogger("agentver.runtime")

MODES = ("auto", "listen", "data_version", "poll", "ttl")
# How long close() waits for a refresh in flight (it is bounded by the store timeouts).
_JOIN_TIMEOUT = 10.0


class Refresher:
    def __init__(self, refresh: Callable[[], None], feed: ChangeFeed, ttl: float) -> None:
        self._refresh = refresh
        self._feed = feed
        self._ttl = ttl
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentver-refresh", daemon=True)

    @property
    def mode(self) -> str:
        return self._feed.name

    @property
    def connected(self) -> bool:
        """Whether the feed holds a live connection (LISTEN or data_version)."""
        return self._feed.connected

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._feed.stop()
        if self._thread is not threading.current_thread():
            self._thread.join(_JOIN_TIMEOUT)

    def _run(self) -> None:
        deadline = time.monotonic() + self._ttl
        try:
            while not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                changed = remaining > 0 and self._feed.wait(remaining)
                if self._stopping.is_set():
                    break
                if changed or time.monotonic() >= deadline:
                    deadline = time.monotonic() + self._ttl
                    try:
                        self._refresh()
                    except Exception:  # never let the thread die: the state would freeze
                        log.exception("agentver runtime refresh raised unexpectedly")
        finally:
            self._feed.close()
