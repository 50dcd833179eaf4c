"""The process pool of cold history and sync (agentver/parallel.py), with real forks."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Sequence
from typing import Any

import pytest

import agentver.errors
from agentver.errors import AgentverError, ConfigError
from agentver.parallel import MIN_ITEMS, even_chunks, jobs_for, parallel_map, parallel_slices


@pytest.mark.parametrize(
    ("count", "most", "sizes"),
    [
        (0, 5, []),
        (7, 3, [3, 3, 1]),
        (17_160, 8192, [5720, 5720, 5720]),
        (16_384, 8192, [8192, 8192]),
        (5, 8, [5]),
    ],
)
def test_even_chunks(count: int, most: int, sizes: list[int]) -> None:
    chunks = list(even_chunks(list(range(count)), most))
    assert [len(chunk) for chunk in chunks] == sizes
    assert [item for chunk in chunks for item in chunk] == list(range(count))


PARENT = os.getpid()


def _pids(items: Sequence[int]) -> list[tuple[int, int]]:
    if os.getpid() == PARENT:
        time.sleep(0.02)  # leaves pieces for the worker, however fast it starts
    return [(item, os.getpid()) for item in items]


def test_pieces_run_in_several_processes_and_keep_their_order(monkeypatch: Any) -> None:
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    items = list(range(MIN_ITEMS * 2))
    assert jobs_for(len(items)) == 2
    out = parallel_slices(_pids, items)
    assert [item for item, _ in out] == items
    assert len({pid for _, pid in out}) == 2  # this process and one forked worker


def _slow_here(items: Sequence[int]) -> list[tuple[int, int]]:
    if os.getpid() == PARENT:
        time.sleep(0.2)  # this core is slow (a busy neighbour on a shared machine)
    return [(item, os.getpid()) for item in items]


def test_a_slower_process_takes_fewer_pieces(monkeypatch: Any) -> None:
    """Pieces come from one queue: halves fixed in advance would leave the fast core idle
    while the slow one finishes (issue 16)."""
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    items = list(range(MIN_ITEMS * 2))
    out = parallel_slices(_slow_here, items)
    assert [item for item, _ in out] == items
    here = sum(1 for _, pid in out if pid == PARENT)
    assert 0 < here <= len(items) // 4  # the slow process did at most a quarter


def test_small_or_single_job_batches_stay_in_this_process(monkeypatch: Any) -> None:
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    assert {pid for _, pid in parallel_slices(_pids, list(range(MIN_ITEMS - 1)))} == {os.getpid()}
    monkeypatch.setenv("AGENTVER_JOBS", "1")
    assert {pid for _, pid in parallel_slices(_pids, list(range(MIN_ITEMS * 2)))} == {os.getpid()}


def _square(item: int) -> int:
    return item * item


def test_parallel_map_equals_a_plain_map(monkeypatch: Any) -> None:
    monkeypatch.setenv("AGENTVER_JOBS", "3")
    items = list(range(MIN_ITEMS * 3 + 7))
    assert parallel_map(_square, items) == [item * item for item in items]


def _fail_in_the_worker(items: Sequence[int]) -> list[int]:
    if os.getpid() == PARENT:
        time.sleep(0.02)
        return list(items)
    raise ConfigError("bad value", "agents/a.yaml", 3, 7, hint="fix line 3")


def test_an_error_in_a_worker_reaches_the_caller_whole(monkeypatch: Any) -> None:
    """A worker's git or parse error arrives as the same AgentverError, hint included
    (ConfigError's constructor takes more than its message: it used to fail to unpickle)."""
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    with pytest.raises(ConfigError) as caught:
        parallel_slices(_fail_in_the_worker, list(range(MIN_ITEMS * 2)))
    assert caught.value.message == "agents/a.yaml:3:7: bad value"
    assert (caught.value.hint, caught.value.line, caught.value.col) == ("fix line 3", 3, 7)


def test_every_agentver_error_survives_pickling() -> None:
    classes = [
        value
        for value in vars(agentver.errors).values()
        if isinstance(value, type) and issubclass(value, AgentverError)
    ]
    assert len(classes) >= 5
    for cls in classes:
        error = (
            cls("m", "p", 1, 2, hint="h") if cls is ConfigError else cls("m", "h")  # type: ignore[call-arg]
        )
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is cls
        assert (str(again), again.message, again.hint) == (str(error), error.message, error.hint)


def _die_in_the_worker(items: Sequence[int]) -> list[int]:
    if os.getpid() != PARENT:
        os._exit(9)  # killed, out of memory...: no result on the pipe
    time.sleep(0.02)
    return list(items)


def test_the_pieces_of_a_worker_that_died_are_computed_here(monkeypatch: Any) -> None:
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    items = list(range(MIN_ITEMS * 2))
    assert parallel_slices(_die_in_the_worker, items) == items


def test_no_worker_outlives_an_interrupted_call(monkeypatch: Any) -> None:
    monkeypatch.setenv("AGENTVER_JOBS", "3")
    parent = os.getpid()

    def slow_then_fail(part: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            import time

            time.sleep(30)  # would outlive the call if not killed
        raise KeyboardInterrupt

    before = _children()
    with pytest.raises(KeyboardInterrupt):
        parallel_slices(slow_then_fail, list(range(MIN_ITEMS * 3)))
    assert _children() == before


def _children() -> set[int]:
    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as handle:  # Linux
        return {int(pid) for pid in handle.read().split()}


def test_no_fork_while_other_threads_run(monkeypatch: Any) -> None:
    """A fork copies only the calling thread: a lock another thread holds (in malloc, in
    logging) would stay held in the child for ever. With other threads, stay in one process."""
    import threading

    monkeypatch.setenv("AGENTVER_JOBS", "2")
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert jobs_for(MIN_ITEMS * 2) == 1
        pids = {pid for _, pid in parallel_slices(_pids, list(range(MIN_ITEMS * 2)))}
        assert pids == {os.getpid()}
    finally:
        release.set()
        other.join()
    assert jobs_for(MIN_ITEMS * 2) == 2


@pytest.mark.parametrize("count", [2000, 17_160, 100_000, 3_000_000])
def test_guided_pieces_cover_the_items_in_order_and_shrink(count: int) -> None:
    from agentver.parallel import _MAX_PIECES, MIN_PIECE, _guided

    items = range(count)
    pieces = _guided(items, 2)
    assert [item for piece in pieces for item in piece] == list(items)
    assert len(pieces) <= _MAX_PIECES
    sizes = [len(piece) for piece in pieces]
    assert sizes == sorted(sizes, reverse=True)[: len(sizes) - 1] + sizes[-1:]  # shrinking
    assert sizes[0] <= count // 4 + 1 and min(sizes[:-1], default=MIN_PIECE) >= MIN_PIECE


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("cannot cross a pipe")
        self.callback = lambda: None  # a lambda does not pickle


def _unpicklable_in_the_worker(items: Sequence[int]) -> list[int]:
    if os.getpid() != PARENT:
        raise _Unpicklable
    time.sleep(0.02)
    return list(items)


def test_an_error_that_cannot_be_sent_leaves_its_pieces_to_this_process(
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    items = list(range(MIN_ITEMS * 2))
    assert parallel_slices(_unpicklable_in_the_worker, items) == items


def test_no_spool_file_means_no_fork(monkeypatch: Any) -> None:
    """A full or read-only temporary directory: the work runs here, whole."""
    import tempfile

    def refuse() -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setenv("AGENTVER_JOBS", "2")
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    out = parallel_slices(_pids, list(range(MIN_ITEMS * 2)))
    assert [item for item, _ in out] == list(range(MIN_ITEMS * 2))
    assert {pid for _, pid in out} == {os.getpid()}
