"""Run a pure function over many items on every core, for cold history and sync.

Parsing a cold history is CPU-bound Python (~65 us per agent file, 17,000 files in the
10,000-commit benchmark), so on a machine with two cores a second process halves it
(docs/benchmarks.md has the measurement). The worker is *forked*: it inherits the items
and the imported modules, so only the results cross (through a spool file). Where fork
is missing (Windows) or the batch is small, the work runs in this process: the result
is the same either way.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

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


MIN_PIECE = 256  # items: the last pieces are this small, so the cores finish together
_MAX_PIECES = 1024  # 4-byte piece numbers: the whole queue is one atomic pipe write


def parallel_slices(function: Callable[[Sequence[_T]], list[_R]], items: Sequence[_T]) -> list[_R]:
    """``function(items)``, computed as ``function`` of consecutive pieces of ``items``
    on every core and concatenated in order: for work that reads its own input (a
    worker running its own ``git cat-file``), so that reading is split across cores too.

    The processes take pieces from one queue (a pipe of piece numbers, read four bytes
    at a time), so a slower core takes fewer: on a shared machine the two cores of one
    run differed by up to 30%, and halves fixed in advance left one core idle for as
    long (issue 16). Pieces shrink as the queue empties (guided scheduling): large
    first, to amortise each piece's start-up, small last. A worker spools each piece's
    results to a file as it finishes it, so only the last one is serialized at the end.
    Plain ``os.fork``, not multiprocessing.Pool (a pool's threads cost ~100 ms to wind
    down). The pieces a worker took and did not deliver (it was killed, or ran out of
    memory) are computed here; an error it raised is raised here."""
    jobs = jobs_for(len(items))
    if jobs < 2:
        return function(items)
    pieces = _guided(items, jobs)
    queue = _queue(len(pieces))
    if queue is None:
        return function(items)
    done: dict[int, list[_R]] = {}
    forked: list[tuple[int, IO[bytes]]] = []
    try:
        for _ in range(jobs - 1):
            worker = _fork_taker(function, pieces, queue)
            if worker is not None:
                forked.append(worker)
        for number in _numbers(queue):  # this process takes pieces too
            done[number] = function(pieces[number])
        while forked:
            done.update(_delivered(forked[0]))
            forked.pop(0)
    finally:
        os.close(queue)
        for pid, spool in forked:  # interrupted: stop and reap the rest
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
            spool.close()
    out: list[_R] = []
    for number, piece in enumerate(pieces):
        out += done[number] if number in done else function(piece)  # a dead worker's
    return out


def _guided(items: Sequence[_T], jobs: int) -> list[Sequence[_T]]:
    """Consecutive pieces of ``items``, each a ``1 / (2 * jobs)`` share of what is left
    (at least MIN_PIECE items; at most _MAX_PIECES pieces)."""
    least = max(MIN_PIECE, -(-len(items) // _MAX_PIECES))
    pieces: list[Sequence[_T]] = []
    start = 0
    while start < len(items):
        size = max(least, (len(items) - start) // (2 * jobs))
        pieces.append(items[start : start + size])
        start += size
    return pieces


def _queue(count: int) -> int | None:
    """The read end of a pipe holding the piece numbers 0..count-1, its write end closed
    (so that an empty queue reads as end of file); None if no pipe can be made."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        # At most _MAX_PIECES * 4 = 4,096 bytes: within the capacity of any pipe, written
        # before anyone reads, and whole numbers in every 4-byte read.
        os.write(write_end, b"".join(n.to_bytes(4, "little") for n in range(count)))
    finally:
        os.close(write_end)
    return read_end


def _numbers(queue: int) -> Iterator[int]:
    """Piece numbers taken from ``queue`` until it is empty."""
    while len(taken := os.read(queue, 4)) == 4:
        yield int.from_bytes(taken, "little")


def _fork_taker(
    function: Callable[[Sequence[_T]], list[_R]], pieces: Sequence[Sequence[_T]], queue: int
) -> tuple[int, IO[bytes]] | None:
    """(pid, spool file) of a worker taking pieces from ``queue``; None when this process
    cannot fork. The worker appends ``(number, results)`` per piece to the spool (or
    ``(None, error)``) and exits."""
    try:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _delivered or on cleanup
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        spool.close()
        return None
    if pid:
        return pid, spool
    # The worker: never returns (os._exit: no atexit handlers, no flush of the parent's
    # buffers, nothing of the parent's state torn down twice).
    code = 1
    try:
        try:
            for number in _numbers(queue):
                pickle.dump((number, function(pieces[number])), spool, pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:
            pickle.dump((None, exc), spool, pickle.HIGHEST_PROTOCOL)
        spool.flush()
        code = 0
    finally:
        os._exit(code)


def _delivered(worker: tuple[int, IO[bytes]]) -> dict[int, list[Any]]:
    """The pieces a worker delivered, once it has exited; the error it raised is raised
    here. A record cut short (the worker was killed while writing it) is not delivered."""
    pid, spool = worker
    os.waitpid(pid, 0)
    out: dict[int, list[Any]] = {}
    with spool:
        spool.seek(0)
        while True:
            try:
                number, value = pickle.load(spool)
            except (EOFError, pickle.UnpicklingError, ValueError, TypeError):
                return out
            if number is None:
                raise value
            out[number] = value


def parallel_map(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[function(item) for item in items]``, split across processes when it pays."""
    return parallel_slices(functools.partial(_map, function), items)


def _map(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    return [function(item) for item in items]
