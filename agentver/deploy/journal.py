"""The intent of a pointer write in progress, so a re-run after a kill converges.

A process killed between replacing the pointer file and ``git commit`` (an OOM kill, a
CI job cancelled) used to leave a whole but uncommitted pointer, which every later
pointer command refused as "uncommitted edits" until someone reset it by hand. Before
it writes, ``transact`` records here which file it is about to change, its old bytes and
the digest of the new ones (``.git/agentver-cache/pointer-write.json``, written
atomically); after the commit, it deletes the record. The next pointer command, under
the same lock, finds a record only after an interrupted write, and then:

- the file holds the recorded new bytes and HEAD does not: the write never committed,
  so the old file is put back and unstaged (the command then runs normally);
- otherwise (committed after all, or edited by hand since): the file is left alone.

Either way the record goes. While git's ``index.lock`` exists (a kill inside ``git
commit``) nothing is touched: the command refuses with the index-lock error first.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from agentver.deploy.files import atomic_write, restore_file
from agentver.deploy.pointers import POINTER_DIR
from agentver.gitrepo import run_git

if TYPE_CHECKING:
    from agentver.workspace import Workspace

JOURNAL = "pointer-write.json"


def _journal(ws: Workspace) -> Path:
    return ws.repo.cache_dir / JOURNAL


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(ws: Workspace, rel: str, old_bytes: bytes | None, new_bytes: bytes) -> None:
    """Note the write about to happen (durably, before the pointer file is touched)."""
    document = {
        "path": rel,
        "old": None if old_bytes is None else base64.b64encode(old_bytes).decode("ascii"),
        "new_sha256": _digest(new_bytes),
    }
    atomic_write(_journal(ws), json.dumps(document).encode("utf-8"))


def clear(ws: Workspace) -> None:
    _journal(ws).unlink(missing_ok=True)


def recover(ws: Workspace) -> None:
    """Undo a write that a killed process left uncommitted (see the module docstring)."""
    journal = _journal(ws)
    try:
        document = json.loads(journal.read_text("utf-8"))
        rel = document["path"]
        new_digest = document["new_sha256"]
        old = None if document["old"] is None else base64.b64decode(document["old"])
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):
        clear(ws)  # not ours to interpret; the pointer checks that follow still apply
        return
    if (ws.repo.git_dir / "index.lock").exists():
        return  # the command refuses next; recover once the lock is gone
    if not (isinstance(rel, str) and rel.startswith(POINTER_DIR + "/") and ".." not in rel):
        clear(ws)
        return
    path = ws.root / rel
    current = path.read_bytes() if path.is_file() else None
    blob = ws.repo.blob_at(ws.index.head, rel)
    committed = ws.repo.read_blobs([blob]).get(blob) if blob else None
    if current is not None and _digest(current) == new_digest and current != committed:
        restore_file(path, old)
        run_git(["reset", "-q", "--", rel], ws.root, check=False)
    clear(ws)
