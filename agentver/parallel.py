"""Run a pure function over many items on every core, for cold history and sync.

Parsing a cold history is CPU-bound Python (~65 us per agent file, 17,000 files in the
10,000-commit benchmark), so on a machine with two cores a second process halves it
(docs/benchmarks.md has the measurement). The worker is *forked*: it inherits the items
and the imported modules, so only the results cross a pipe. Where fork is missing
(Windows) or the batch is small, the work runs in this process: the result is the same
either way.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

MIN_ITEMS = 2000  # below this, forking costs more than it saves


def workers() -> int:
    """Processes to use: AGENTVER_JOBS, else the cores this process may run on."""
    wanted = os.environ.get("AGENTVER_JOBS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def even_chunks(items: Sequence[_T], most: int) -> Iterator[Sequence[_T]]:
    """``items`` in the fewest chunks of at most ``most``, of equal size: 8,580 + 8,580
    rather than 8,192 + 8,192 + 776, whose small tail would run on one core."""
    count = -(-len(items) // most)
    step = -(-len(items) // count) if count else 1
    for start in range(0, len(items), step):
        yield items[start : start + step]


def jobs_for(count: int) -> int:
    """How many processes ``parallel_slices`` uses for ``count`` items."""
    jobs = min(workers(), 4)
    if jobs < 2 or count < MIN_ITEMS or not hasattr(os, "fork"):
        return 1
    if threading.active_count() > 1:
        return 1  # forking a process with other threads running can deadlock the child
    return jobs


def parallel_slices(function: Callable[[Sequence[_T]], list[_R]], items: Sequence[_T]) -> list[_R]:
    """``function(items)``, computed as ``function`` of one slice of ``items`` per process
    and concatenated: for work that reads its own input (a worker running its own
    ``git cat-file``), so that reading is split across cores too.

    Plain ``os.fork`` and a pipe per worker, not multiprocessing.Pool: a pool's handler
    threads cost ~100 ms to wind down, a tenth of a cold sync (issue 16). A worker that
    dies without a result (killed, out of memory) has its slice computed here instead;
    an error it raised is raised here."""
    jobs = jobs_for(len(items))
    if jobs < 2:
        return function(items)
    step = -(-len(items) // jobs)
    pending = [
        (part, _fork(function, part))
        for part in (items[start : start + step] for start in range(step, len(items), step))
    ]
    try:
        out = function(items[:step])  # this process takes a share too
        while pending:
            part, worker = pending.pop(0)
            result = _collect(worker) if worker is not None else None
            out += function(part) if result is None else result
        return out
    finally:
        for _, worker in pending:  # interrupted: stop and reap the rest
            if worker is not None:
                with contextlib.suppress(OSError):
                    os.kill(worker[0], signal.SIGKILL)
                with contextlib.suppress(Exception):
                    _collect(worker)


def _fork(
    function: Callable[[Sequence[_T]], list[_R]], part: Sequence[_T]
) -> tuple[int, int] | None:
    """(pid, read end of its pipe) of a worker computing ``function(part)``; None when
    this process cannot fork (the caller computes the slice itself)."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid:
        os.close(write_end)
        return pid, read_end
    # The worker: never returns (os._exit: no atexit handlers, no flush of the parent's
    # buffers, nothing of the parent's state torn down twice).
    code = 1
    try:
        os.close(read_end)
        try:
            payload: tuple[bool, object] = (True, function(part))
        except BaseException as exc:
            payload = (False, exc)
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)


def _collect(worker: tuple[int, int]) -> list[Any] | None:
    """The worker's result once it has exited (None: it died without one); the error it
    raised is raised here."""
    pid, read_end = worker
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        return None
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return list(value)


def parallel_map(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[function(item) for item in items]``, split across processes when it pays."""
    return parallel_slices(functools.partial(_map, function), items)


def _map(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    return [function(item) for item in items]
