"""The outcome queue of a runtime client: ``record_outcome`` appends, a thread writes.

Appending is a deque append (no lock, no I/O), so recording an outcome never waits for the
store. A background thread (``agentver-outcomes``, started at the first outcome) writes
batches of up to ``batch_size`` every ``flush_interval`` seconds, or at once when a batch
is full. A failed write keeps the outcomes queued (oldest dropped past ``max_queue``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from contextlib import suppress
from typing import Any

from agentver.errors import StoreError
from agentver.models import ResolvedConfig
from agentver.store import Outcome, Store
from agentver.store.outcome_checks import checked_outcome

log = logging.getLogger("agentver.runtime")


def checked_values(
    resolved: Any, ok: Any, latency_ms: Any, score: Any
) -> tuple[ResolvedConfig, bool, float | None, float | None]:
    """The arguments of ``record_outcome`` as stored, or a TypeError (wrong type) or
    ValueError (out of range): raised in the caller, never written to the store."""
    if not isinstance(resolved, ResolvedConfig):
        raise TypeError(
            f"resolved must be the ResolvedConfig that resolve() returned, got {resolved!r}"
        )
    # A forged or altered ResolvedConfig is checked like any outcome the store takes.
    checked = checked_outcome(resolved, "resolved", ok, latency_ms, score)
    return (resolved, *checked)


class OutcomeQueue:
    def __init__(
        self,
        store: Store,
        *,
        flush_interval: float,
        batch_size: int,
        max_queue: int,
        hold_connection: bool,
    ) -> None:
        self._store = store
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._hold_connection = hold_connection  # False: close it after every write
        self._queue: deque[Outcome] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, outcome: Outcome) -> None:
        if len(self._queue) >= self._max_queue:
            log.warning("agentver runtime outcome queue full; dropping the oldest outcome")
            with suppress(IndexError):  # a flush emptied it meanwhile
                self._queue.popleft()
        self._queue.append(outcome)
        if self._thread is None:
            self._start()
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="agentver-outcomes", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # never let the thread die: outcomes would pile up
                plain = isinstance(exc, StoreError)
                log.warning(
                    "agentver runtime could not write %d outcome(s), will retry: %s",
                    len(self._queue),
                    exc if plain else f"{type(exc).__name__}: {exc}",
                )

    def flush(self) -> int:
        """Write every queued outcome now; returns how many. Raises StoreError on failure
        (the outcomes stay queued)."""
        written = 0
        with self._lock:
            try:
                while self._queue:
                    batch: list[Outcome] = []
                    while self._queue and len(batch) < self._batch_size:
                        batch.append(self._queue.popleft())
                    try:
                        self._store.record_outcomes(batch)
                    except Exception:  # a StoreError, or anything a driver raises
                        self._queue.extendleft(reversed(batch))
                        raise
                    written += len(batch)
            finally:
                if not self._hold_connection:
                    self._store.close()
        return written

    def close(self) -> None:
        """Stop the thread and write what is queued (logging what could not be)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.flush()
        except Exception as exc:
            log.error("agentver runtime lost %d outcome(s) at close: %s", len(self._queue), exc)
        self._store.close()
