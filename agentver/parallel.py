"""Run a pure function over many items on every core, for cold history and sync.

Parsing a cold history is CPU-bound Python (~50 us per agent file, 17,000 files in the
10,000-commit benchmark), so on a machine with two cores a second process halves it
(docs/benchmarks.md has the measurement). The worker is *forked*: it inherits the items
and the imported modules, so only the results cross a pipe. Where fork is missing
(Windows, or a platform where Python defaults away from it) or the batch is small, the
work runs in this process: the result is the same either way.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

MIN_ITEMS = 2000  # below this, forking costs more than it saves
_JOB: tuple[Callable[[Any], list[Any]], Sequence[Any]] | None = None  # a forked worker's


def _run_slice(bounds: tuple[int, int]) -> list[Any]:
    assert _JOB is not None
    function, items = _JOB
    return function(items[bounds[0] : bounds[1]])


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
    if jobs < 2 or count < MIN_ITEMS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return jobs


def parallel_slices(function: Callable[[Sequence[_T]], list[_R]], items: Sequence[_T]) -> list[_R]:
    """``function(items)``, computed as ``function`` of one slice of ``items`` per process
    and concatenated: for work that reads its own input (a worker running its own
    ``git cat-file``), so that reading is split across cores too."""
    jobs = jobs_for(len(items))
    if jobs < 2:
        return function(items)
    global _JOB
    _JOB = (function, items)
    try:
        step = -(-len(items) // jobs)
        slices = [(start, min(start + step, len(items))) for start in range(0, len(items), step)]
        with multiprocessing.get_context("fork").Pool(len(slices) - 1) as pool:
            pending = pool.map_async(_run_slice, slices[1:])
            first = _run_slice(slices[0])  # this process takes a share too
            rest = pending.get()
    except (OSError, multiprocessing.ProcessError):
        return function(items)  # cannot fork here: do it all ourselves
    finally:
        _JOB = None
    return [*first, *(result for chunk in rest for result in chunk)]


def parallel_map(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[function(item) for item in items]``, split across processes when it pays."""
    return parallel_slices(functools.partial(_map, function), items)


def _map(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    return [function(item) for item in items]
