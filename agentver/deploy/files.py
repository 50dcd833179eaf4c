"""Writing a pointer file: atomic (temporary file, fsync, rename), and undoing a write.

The steps of the write carry the reliability suite's failpoints (``pointer.*``,
docs/reliability.md); restoring an old file after a failure runs the same steps without
them, so an injected fault fires once, where it names.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agentver.failpoints import failpoint


def atomic_write(path: Path, data: bytes, *, failpoints: bool = False) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if failpoints:
                failpoint("pointer.after_temp_write")
            os.fsync(handle.fileno())
        if failpoints:
            failpoint("pointer.after_fsync")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if failpoints:
        failpoint("pointer.after_rename")


def restore_file(path: Path, old_bytes: bytes | None) -> None:
    """Put back what ``path`` held (None: it did not exist)."""
    if old_bytes is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write(path, old_bytes)


def remove_stale_temp_files(path: Path) -> None:
    """Temporary files of ``atomic_write`` left by a killed process (the caller holds the
    pointer lock, so no other writer is using one)."""
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
