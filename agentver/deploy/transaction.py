"""One pointer change as one commit of one file: lock, read, compute, write, commit.

Every command is ``transact(ws, env, agent, change)``: take the repository's pointer
lock, read the pointer, compute the new one with a pure function, write it atomically
and commit exactly that file (``git commit --only``), so whatever else the user has
staged or modified stays as it was. Any failure restores the file and its index entry.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentver.deploy import journal
from agentver.deploy.files import atomic_write, remove_stale_temp_files, restore_file
from agentver.deploy.pointers import (
    parse_pointer,
    pointer_json,
    pointer_path,
    serialize_pointer,
)
from agentver.errors import AgentverError, PointerError, RepositoryError, UsageError
from agentver.failpoints import failpoint
from agentver.gitrepo import run_git
from agentver.models import Pointer

if TYPE_CHECKING:
    from agentver.workspace import Workspace

LOCK_TIMEOUT = 30.0
Compute = Callable[[Pointer], tuple[Pointer, str]]


_IDENT_FORBIDDEN = set("<>\n\r\0")


@dataclass(frozen=True)
class Author:
    """Who performed a pointer action (a bot, a dashboard user): the commit's author.

    The committer stays git's configured identity; when git has none (a bot in a
    container), the author commits as itself.
    """

    name: str
    email: str

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("email", self.email)):
            if not value.strip() or _IDENT_FORBIDDEN & set(value):
                raise UsageError(
                    f"invalid author {label} {value!r}",
                    "give a non-empty name and email without '<', '>' or line breaks",
                )

    @property
    def ident(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Outcome:
    """What one pointer command did; ``to_json`` is the ``--json`` document."""

    agent: str
    environment: str
    action: str
    before: Pointer
    after: Pointer
    message: str
    changed: bool
    commit: str | None  # None with --no-commit or when nothing changed
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "environment": self.environment,
            "action": self.action,
            "changed": self.changed,
            "committed": self.commit is not None,
            "commit": self.commit,
            "message": self.message,
            "before": pointer_json(self.before),
            "after": pointer_json(self.after),
            "warnings": list(self.warnings),
        }


class NoChange(Exception):
    """Raised by a compute function when the command would not change the state."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def transact(
    ws: Workspace,
    environment: str,
    agent: str,
    compute: Compute,
    *,
    no_commit: bool = False,
    action: str = "change",
    author: Author | None = None,
) -> Outcome:
    rel = pointer_path(environment, agent)
    _preflight(ws)
    with _pointer_lock(ws):
        journal.recover(ws)  # a write a killed process left uncommitted is undone
        remove_stale_temp_files(ws.root / rel)
        before = ws.pointer(environment, agent)  # corrupt -> PointerError, nothing written
        if not no_commit:
            _require_free_index(ws)  # first: a kill inside `git commit` leaves both behind
        if not no_commit and _has_uncommitted_edits(ws, rel):
            raise PointerError(
                f"{rel} has uncommitted edits",
                f"commit or discard them (git checkout -- {rel}), or rerun with --no-commit",
            )

        def outcome(after: Pointer, message: str, commit: str | None = None) -> Outcome:
            changed = after != before
            return Outcome(agent, environment, action, before, after, message, changed, commit)

        try:
            after, message = compute(before)
        except NoChange as exc:
            return outcome(before, exc.message)
        if after == before:
            return outcome(before, message)
        path = ws.root / rel
        old_bytes = path.read_bytes() if path.is_file() else None
        data = serialize_pointer(after)
        if no_commit:
            try:
                _write_checked(path, rel, after, data)
            except BaseException:
                restore_file(path, old_bytes)
                raise
            return outcome(after, message)
        commit_args = _commit_identity(ws, author)
        journal.record(ws, rel, old_bytes, data)
        try:
            _write_checked(path, rel, after, data)
            ws.repo.git("add", "--", rel)
            failpoint("pointer.after_git_add")
            ws.repo.git(*commit_args, "--only", "-q", "-m", message, "--", rel)
        except BaseException:
            _restore(ws, rel, path, old_bytes)
            journal.clear(ws)
            raise
        failpoint("pointer.after_git_commit")  # committed; a kill here leaves the journal
        journal.clear(ws)
        return outcome(after, message, ws.repo.git("rev-parse", "HEAD").strip())


def _preflight(ws: Workspace) -> None:
    git_dir = ws.repo.git_dir
    # Checked before the detached-HEAD test: a rebase detaches HEAD, and "a rebase is in
    # progress" is the message that tells the user what to do.
    for marker, what in (
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ):
        if (git_dir / marker).exists():
            raise RepositoryError(f"{what} is in progress", "finish or abort it first")
    if run_git(["symbolic-ref", "-q", "HEAD"], ws.root, check=False).returncode != 0:
        raise RepositoryError(
            "HEAD is detached; a pointer commit would be lost",
            "switch to a branch first: git switch main",
        )
    ws.repo.head()  # a repository without commits has nothing to deploy


def _require_free_index(ws: Workspace) -> None:
    if (ws.repo.git_dir / "index.lock").exists():
        raise RepositoryError(
            "git's index is locked (.git/index.lock exists)",
            "another git process is running; if none is, remove .git/index.lock",
        )


def _commit_identity(ws: Workspace, author: Author | None) -> tuple[str, ...]:
    """``git ... commit`` arguments that make ``author`` the commit's author (and its
    committer when git knows no committer); refuses when nobody is known at all."""
    _require_free_index(ws)
    known = run_git(["var", "GIT_COMMITTER_IDENT"], ws.root, check=False).returncode == 0
    if author is None:
        if not known:
            raise RepositoryError(
                "git does not know who you are, so it cannot commit",
                'set it: git config user.name "Your Name" && git config user.email you@example.com',
            )
        return ("commit",)
    # --author beats GIT_AUTHOR_* in the environment: the caller named who acted.
    commit = ("commit", f"--author={author.ident}")
    if known:
        return commit
    return ("-c", f"user.name={author.name}", "-c", f"user.email={author.email}", *commit)


def _has_uncommitted_edits(ws: Workspace, rel: str) -> bool:
    return bool(ws.repo.git("status", "--porcelain", "--untracked-files=all", "--", rel).strip())


def _write_checked(path: Path, rel: str, pointer: Pointer, data: bytes) -> None:
    """Write ``data`` (``pointer`` serialized) atomically, then read the file back with
    the one pointer reader: what is committed is what every later command (and sync)
    will read."""
    atomic_write(path, data, failpoints=True)
    try:
        again = parse_pointer(path.read_bytes(), rel, pointer.environment, pointer.agent)
    except PointerError as exc:
        again, problem = None, exc.message
    else:
        problem = "it reads back as a different state"
    if again != pointer:
        raise PointerError(
            f"refusing to commit {rel}: {problem}",
            "this is a bug in agentver; nothing was committed (please report it)",
        )


def _restore(ws: Workspace, rel: str, path: Path, old_bytes: bytes | None) -> None:
    restore_file(path, old_bytes)
    run_git(["reset", "-q", "--", rel], ws.root, check=False)


@contextmanager
def _pointer_lock(ws: Workspace) -> Iterator[None]:
    """One pointer change at a time per repository (flock dies with its process)."""
    lock_dir = ws.repo.cache_dir
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "pointers.lock", "a+b") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AgentverError(
                        "another agentver command is changing pointers in this repository",
                        "wait for it to finish and retry",
                    ) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
