"""Store rows beyond history's memory budget are spooled to disk during a sync and read
back, instead of each file being read and parsed a second time (issue 16, scale); any
failure of the spool costs only that second parse, never a wrong row."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, RunCli
from hypothesis import given
from hypothesis import strategies as st

import agentver.history
import agentver.parallel
import agentver.rowspool as rowspool
from agentver.publish import write_snapshot
from agentver.store import open_store
from agentver.workspace import Workspace

GOOD = {"model": "gpt-4o", "system_prompt": "You help with billing."}
AGENTS = ("billing", "support")
VERSIONS = 6


@pytest.fixture
def history(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """Two agents of six versions; history keeps one row in memory, reads 3 files at a
    time, and makes its temporary directories under tmp_path/tmp (checked empty)."""
    for n in range(1, VERSIONS + 1):
        for agent in AGENTS:
            config = {**GOOD, "description": agent, "max_tokens": 100 + n}
            repo.commit_agent(agent, config, f"{agent} v{n}")
    monkeypatch.setattr(agentver.history, "_ANALYZE_CHUNK", 3)
    monkeypatch.setattr(agentver.history, "_MAX_PARSED_BYTES", 1)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return repo


def sync(
    repo: Repo, url: str, monkeypatch: pytest.MonkeyPatch, ws: Workspace | None = None
) -> tuple[Workspace, list[str]]:
    """Sync HEAD as `agentver sync` does (in ``ws``, a new workspace by default); returns
    the workspace and every blob read from git."""
    ws = ws or Workspace.open(repo.path)
    read: list[str] = []
    original = ws.repo.read_blobs

    def spy(ids: Iterable[str]) -> dict[str, bytes]:
        wanted = list(ids)
        read.extend(wanted)
        return original(wanted)

    monkeypatch.setattr(ws.repo, "read_blobs", spy)
    store = open_store(url, repo.path)
    try:
        plan = write_snapshot(ws, store, list(ws.settings.environments))
    finally:
        store.close()
    assert len(plan.new_versions) == len(AGENTS) * VERSIONS
    return ws, read


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM agent_versions ORDER BY version_id").fetchall()


def reference_rows(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The rows of a sync that kept every row in memory (no spool involved)."""
    with monkeypatch.context() as patch:
        patch.setattr(agentver.history, "_MAX_PARSED_BYTES", 1 << 40)
        ws, _ = sync(repo, f"sqlite:///{tmp_path / 'reference.db'}", patch)
        assert not ws.index._spooled  # white-box: nothing went to the spool
    shutil.rmtree(repo.path / ".git" / "agentver-cache")  # the next history is cold
    return rows(tmp_path / "reference.db")


def spooled_pids(ws: Workspace) -> set[int]:
    # white-box: the processes whose spool files the index read rows from
    return {
        rowspool._unpack(where)[0] for _, spooled in ws.index._spooled for where in spooled.values()
    }


def test_a_sync_beyond_the_budget_reads_and_parses_each_file_once(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    expected = reference_rows(history, tmp_path, monkeypatch)
    ws, read = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert sorted(read) == sorted(set(read))  # no blob read twice
    assert len(read) == len(AGENTS) * VERSIONS
    assert spooled_pids(ws) == {os.getpid()}
    assert rows(tmp_path / "runtime.db") == expected
    assert list((tmp_path / "tmp").iterdir()) == []  # the spool left nothing on disk
    code, _, err = run_cli(
        "verify", "--store", f"sqlite:///{tmp_path / 'runtime.db'}", cwd=history.path
    )
    assert code == 0, err


def test_rows_spooled_by_a_forked_worker_are_read_back(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference_rows(history, tmp_path, monkeypatch)
    monkeypatch.setenv("AGENTVER_JOBS", "2")
    monkeypatch.setattr(agentver.parallel, "MIN_ITEMS", 4)
    monkeypatch.setattr(agentver.parallel, "MIN_PIECE", 2)
    ws, read = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert len(spooled_pids(ws)) == 2  # this process's file and the worker's
    # the worker's reads happen in the worker: this process read its share only, once
    assert len(read) == len(set(read)) < len(AGENTS) * VERSIONS
    assert rows(tmp_path / "runtime.db") == expected
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_spool_that_cannot_be_written_costs_a_second_parse_only(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference_rows(history, tmp_path, monkeypatch)

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rowspool, "open", full_disk, raising=False)
    ws, read = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert not ws.index._spooled
    assert len(read) == 2 * len(AGENTS) * VERSIONS - 1  # all but the one kept in memory
    assert rows(tmp_path / "runtime.db") == expected
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_spool_whose_flush_fails_loses_its_rows_not_their_truth(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference_rows(history, tmp_path, monkeypatch)
    monkeypatch.setattr(rowspool, "flush", lambda directory: False)
    monkeypatch.setattr(agentver.history, "flush", lambda directory: False)
    ws, read = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert not ws.index._spooled
    assert len(read) == 2 * len(AGENTS) * VERSIONS - 1
    assert rows(tmp_path / "runtime.db") == expected


def test_a_damaged_spool_record_is_parsed_again(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows that do not read back whole (a truncated file, bytes that do not decode, a
    changed byte) are parsed from git again by the loader, which checks their hash."""
    expected = reference_rows(history, tmp_path, monkeypatch)
    ws = Workspace.open(history.path)
    ws.index.spool_rows = True
    ws.agents()
    ((spool, where),) = ws.index._spooled
    blobs = sorted(where, key=where.__getitem__)  # in file order
    fd = spool._files[os.getpid()]
    # the second record: garbage; the third: one byte changed (it still decodes); from
    # the fifth on: gone
    fd_rw = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY)
    _, offset, length = rowspool._unpack(where[blobs[1]])
    os.pwrite(fd_rw, b"\xff" * length, offset)
    _, offset, length = rowspool._unpack(where[blobs[2]])
    record = os.pread(fd, length, offset)
    assert b"billing" in record or b"support" in record
    os.pwrite(fd_rw, record.replace(b"billing", b"bIlling").replace(b"support", b"sUpport"), offset)
    os.ftruncate(fd_rw, rowspool._unpack(where[blobs[4]])[1])
    os.close(fd_rw)
    assert spool.read(where[blobs[0]]) is not None and spool.read(where[blobs[3]]) is not None
    assert spool.read(where[blobs[1]]) is None and spool.read(where[blobs[2]]) is None
    assert spool.read(where[blobs[4]]) is None
    _, read = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch, ws)
    assert set(read) == {blobs[1], blobs[2], *blobs[4:]}
    assert rows(tmp_path / "runtime.db") == expected


def test_history_without_a_sync_spools_nothing(history: Repo, tmp_path: Path) -> None:
    ws = Workspace.open(history.path)
    ws.agents()
    assert not ws.index._spooled
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_spool_closes_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spool = rowspool.RowSpool()
    where = rowspool.spool(spool.directory, (("a", 1.5, None), None))
    assert where is not None and rowspool.flush(spool.directory)
    spool.adopt()
    assert not Path(spool.directory).exists()
    assert spool.read(where) == (("a", 1.5, None), None)
    (fd,) = spool._files.values()
    spool.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    assert spool.read(where) is None


@given(
    pid=st.integers(1, (1 << 22) - 1),
    offset=st.integers(0, 1 << 40),
    length=st.integers(0, (1 << 32) - 1),
)
def test_where_a_row_is_packs_into_one_int_and_back(pid: int, offset: int, length: int) -> None:
    assert rowspool._unpack(rowspool._pack(pid, offset, length)) == (pid, offset, length)


def test_the_spool_of_a_killed_sync_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory lives only while the pool parses; a process killed then (SIGKILL:
    no cleanup runs) leaves it behind, and the next sweep (every sync runs one) removes
    it. A live process's directory is left alone."""
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, agentver.rowspool as r\n"
            "s = r.RowSpool()\n"
            "r.spool(s.directory, (('x' * 1000,), None))\n"
            "r.flush(s.directory)\n"
            "print(os.getpid(), s.directory, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL
    pid, directory = killed.stdout.split()
    left = Path(directory)
    assert left.parent == tmp_path and [p.name for p in left.iterdir()] == [f"{pid}.rows"]
    alive = tmp_path / f"agentver-rows-{os.getpid()}-other"
    alive.mkdir()
    unrelated = tmp_path / "agentver-rows-notapid"
    unrelated.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spool = rowspool.RowSpool()
    rowspool.sweep()
    assert not left.exists()
    assert alive.exists() and unrelated.exists() and Path(spool.directory).exists()
    spool.adopt()
    spool.close()


def test_no_temporary_directory_means_no_spool(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference_rows(history, tmp_path, monkeypatch)

    def refused(*args: Any, **kwargs: Any) -> str:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    ws, read = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert not ws.index._spooled
    assert len(read) == 2 * len(AGENTS) * VERSIONS - 1
    assert rows(tmp_path / "runtime.db") == expected


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_a_killed_syncs_spool_is_removed_by_the_next_sync_that_parses_nothing(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync killed during its parse leaves its directory; a command that is not a sync
    (`agentver list`) then warms history's caches, so the next sync parses nothing and
    makes no spool of its own: it must still remove that directory."""
    left = tmp_path / "tmp" / f"agentver-rows-{dead_pid()}-killed"
    left.mkdir()
    (left / "1234.rows").write_bytes(b"x" * 1000)
    Workspace.open(history.path).agents()  # `agentver list`: history and blob caches
    ws, _ = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert not ws.index._spooled
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("name", ["agentver-rows-99999999999999-x", "agentver-rows-²-x"])
def test_a_stranger_in_the_temporary_directory_does_not_break_a_sync(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The sweep of killed syncs' directories reads a pid from every name with its prefix
    in a shared temporary directory: a name that is no pid (too large for os.kill, or a
    non-ASCII digit that int() refuses) is left alone, not an internal error."""
    expected = reference_rows(history, tmp_path, monkeypatch)
    stranger = tmp_path / "tmp" / name
    stranger.mkdir()
    ws, _ = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    assert ws.index._spooled
    assert rows(tmp_path / "runtime.db") == expected
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == [name]


def test_dropping_the_workspace_closes_its_spool_files(
    history: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spool's files are removed from the directory but held open for reading: a
    long-running process (`canary watch --sync`) opens a workspace per sync, and each
    dropped one must release its files (and their disk) at once, not whenever the
    cyclic garbage collector happens to run."""
    ws, _ = sync(history, f"sqlite:///{tmp_path / 'runtime.db'}", monkeypatch)
    fds = [fd for spool, _ in ws.index._spooled for fd in spool._files.values()]
    assert fds
    gc.disable()
    try:
        del ws
        for fd in fds:
            with pytest.raises(OSError):
                os.fstat(fd)
    finally:
        gc.enable()
