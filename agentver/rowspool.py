"""Store rows beyond history's in-memory budget, kept on disk for sync (issue 16).

A cold sync parses every file once, in history's pool, and builds each file's store row
there. History keeps those rows in memory only up to a budget (a 100,000-version
history must sync within its memory bound). Beyond it, sync used to read and parse
those files a second time: a third of a 100,000-version sync. During a sync the rows
beyond the budget are written instead to one spool file per process, in a private
temporary directory, and read back (``os.pread``) as the store inserts them: the page
cache holds them, not the heap.

The directory is removed as soon as the pool has finished (each file stays open for
reading), so nothing is left on disk once the parse is over; the directory of a sync
killed during its parse is removed by the next sync (its name carries the pid). Each
record carries its CRC-32. Any failure (a full disk, a short read, a record that does
not check or decode) loses only that row: sync parses the file again, as it did before.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import shutil
import tempfile
import weakref
import zlib
from typing import IO

from agentver.store.rows import Prepared

# Where one store row was written (the writing process, offset and length), packed in
# one int: a map of 100,000 blob ids to tuples cost a 100,000-version sync ~25 MB more.
Spooled = int
_PID_BITS = 22  # Linux's pid_max is at most 2**22
_LENGTH_BITS = 32


def _pack(pid: int, offset: int, length: int) -> Spooled:
    return (((offset << _LENGTH_BITS) | length) << _PID_BITS) | pid


def _unpack(where: Spooled) -> tuple[int, int, int]:
    pid = where & ((1 << _PID_BITS) - 1)
    rest = where >> _PID_BITS
    return pid, rest >> _LENGTH_BITS, rest & ((1 << _LENGTH_BITS) - 1)


_PREFIX = "agentver-rows-"
# This process's open spool file per directory (None: writing it failed, stop).
_writers: dict[str, IO[bytes] | None] = {}


def _path(directory: str, pid: int) -> str:
    return os.path.join(directory, f"{pid}.rows")


def spool(directory: str, prepared: Prepared) -> Spooled | None:
    """Append ``prepared`` to this process's file in ``directory``; None if it failed."""
    pid = os.getpid()
    path = _path(directory, pid)
    if path in _writers and _writers[path] is None:
        return None
    body = marshal.dumps(prepared)
    data = zlib.crc32(body).to_bytes(4, "big") + body  # a torn or stray write is caught
    if pid >> _PID_BITS or len(data) >> _LENGTH_BITS:
        return None  # cannot be packed: parsed again
    try:
        writer = _writers.get(path)
        if writer is None:
            writer = _writers[path] = open(path, "ab")  # noqa: SIM115 (kept open)
        offset = writer.tell()
        writer.write(data)
    except (OSError, ValueError):
        _give_up(path)
        return None
    return _pack(pid, offset, len(data))


def flush(directory: str) -> bool:
    """Flush this process's file in ``directory`` (False: what it was given is lost)."""
    path = _path(directory, os.getpid())
    if path not in _writers:
        return True  # nothing written
    writer = _writers[path]
    if writer is None:
        return False
    try:
        writer.flush()
    except (OSError, ValueError):
        _give_up(path)
        return False
    return True


def _give_up(path: str) -> None:
    writer = _writers.get(path)
    _writers[path] = None
    if writer:
        with contextlib.suppress(OSError, ValueError):
            writer.close()


class RowSpool:
    """The parent's side of one pool's spool: a private directory (mode 0700) the pool
    writes into, then ``adopt``-ed: every file opened for reading, the directory
    removed. The files are closed when the spool is closed or collected."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
        self._files: dict[int, int] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._files)

    @classmethod
    def create(cls) -> RowSpool | None:
        """A new spool, or None when no temporary directory can be made (then nothing
        is spooled: sync parses those files again)."""
        try:
            return cls()
        except OSError:
            return None

    def adopt(self) -> None:
        """After the pool: open what it wrote, then remove the directory."""
        path = _path(self.directory, os.getpid())
        writer = _writers.pop(path, None)
        if writer:
            with contextlib.suppress(OSError, ValueError):
                writer.close()
        try:
            for name in os.listdir(self.directory):
                text, _, suffix = name.partition(".")
                pid = _pid_of(text)
                if suffix == "rows" and pid is not None:
                    with contextlib.suppress(OSError):
                        self._files[pid] = os.open(os.path.join(self.directory, name), os.O_RDONLY)
        except OSError:
            pass  # nothing readable: every spooled row is parsed again
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def read(self, where: Spooled) -> Prepared | None:
        """The row written at ``where``, or None when it cannot be read back whole."""
        pid, offset, length = _unpack(where)
        fd = self._files.get(pid)
        if fd is None:
            return None
        try:
            data = os.pread(fd, length, offset)
            if len(data) != length or int.from_bytes(data[:4], "big") != zlib.crc32(data[4:]):
                return None
            row = marshal.loads(data[4:])
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if isinstance(row, tuple) and len(row) == 2:
            return row
        return None

    def close(self) -> None:
        self._finalizer()


def sweep() -> None:
    """Remove the spool directories of syncs killed during their parse. Every sync runs
    it, not only one that spools: the sync after a killed one may parse nothing (another
    command warmed the caches meanwhile), and its directory must not stay behind."""
    with contextlib.suppress(OSError):
        _sweep(tempfile.gettempdir())


def _sweep(parent: str) -> None:
    """Remove the spool directories in ``parent`` of syncs killed during their parse."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            if not name.startswith(_PREFIX):
                continue
            pid = _pid_of(name[len(_PREFIX) :].partition("-")[0])
            if pid is not None and not _alive(pid):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _pid_of(text: str) -> int | None:
    # ASCII digits only ("²".isdigit(), but int() refuses it)
    return int(text) if text.isascii() and text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        # another user's process, not ours to ask, or no pid at all (a name in a shared
        # temporary directory this code did not make): leave it
        return True
    return True


def _close_all(files: dict[int, int]) -> None:
    for fd in files.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    files.clear()
