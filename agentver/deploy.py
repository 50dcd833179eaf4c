"""Pointer changes: deploy, rollback, canary and flags, each one commit of one file.

Every command is ``transact(ws, env, agent, change)``: take the repository's pointer
lock, read the pointer, compute the new one with a pure function, write it atomically
and commit exactly that file (``git commit --only``), so whatever else the user has
staged or modified stays as it was. Any failure restores the file and its index entry.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from agentver.errors import AgentverError, PointerError, RepositoryError, UsageError
from agentver.gitrepo import run_git
from agentver.models import ActiveVersion, Canary, Flag, Pointer, Version, percent_number
from agentver.pointers import pointer_path, serialize_pointer
from agentver.routing import new_salt
from agentver.workspace import Workspace

LOCK_TIMEOUT = 30.0
Compute = Callable[[Pointer], tuple[Pointer, str]]


@dataclass(frozen=True)
class Outcome:
    before: Pointer
    after: Pointer
    message: str
    changed: bool
    commit: str | None  # None with --no-commit or when nothing changed


class NoChange(Exception):
    """Raised by a compute function when the command would not change the state."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def transact(
    ws: Workspace, environment: str, agent: str, compute: Compute, *, no_commit: bool = False
) -> Outcome:
    rel = pointer_path(environment, agent)
    _preflight(ws)
    with _pointer_lock(ws):
        _remove_stale_temp_files(ws.root / rel)
        before = ws.pointer(environment, agent)  # corrupt -> PointerError, nothing written
        if not no_commit:
            _require_free_index(ws)  # first: a kill inside `git commit` leaves both behind
        if not no_commit and _has_uncommitted_edits(ws, rel):
            raise PointerError(
                f"{rel} has uncommitted edits",
                f"commit or discard them (git checkout -- {rel}), or rerun with --no-commit",
            )
        try:
            after, message = compute(before)
        except NoChange as exc:
            return Outcome(before, before, exc.message, False, None)
        if after == before:
            return Outcome(before, before, message, False, None)
        path = ws.root / rel
        old_bytes = path.read_bytes() if path.is_file() else None
        if no_commit:
            _atomic_write(path, serialize_pointer(after))
            return Outcome(before, after, message, True, None)
        _require_identity(ws)
        try:
            _atomic_write(path, serialize_pointer(after))
            ws.repo.git("add", "--", rel)
            ws.repo.git("commit", "--only", "-q", "-m", message, "--", rel)
        except BaseException:
            _restore(ws, rel, path, old_bytes)
            raise
        return Outcome(before, after, message, True, ws.repo.git("rev-parse", "HEAD").strip())


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


def _require_identity(ws: Workspace) -> None:
    _require_free_index(ws)
    if run_git(["var", "GIT_COMMITTER_IDENT"], ws.root, check=False).returncode != 0:
        raise RepositoryError(
            "git does not know who you are, so it cannot commit",
            'set it: git config user.name "Your Name" && git config user.email you@example.com',
        )


def _has_uncommitted_edits(ws: Workspace, rel: str) -> bool:
    return bool(ws.repo.git("status", "--porcelain", "--untracked-files=all", "--", rel).strip())


def _restore(ws: Workspace, rel: str, path: Path, old_bytes: bytes | None) -> None:
    if old_bytes is None:
        path.unlink(missing_ok=True)
    else:
        _atomic_write(path, old_bytes)
    run_git(["reset", "-q", "--", rel], ws.root, check=False)


def _remove_stale_temp_files(path: Path) -> None:
    """Temporary files of ``_atomic_write`` left by a killed process (we hold the lock,
    so no other writer is using one)."""
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


# -- the actions: pure functions from the old pointer to the new one -----------------


def _require_deployable(version: Version) -> None:
    if not version.valid:
        raise UsageError(
            f"{version.agent} v{version.version} does not pass the schema and can never be deployed",
            f"see `agentver show {version.agent} {version.version}` and `agentver validate`",
        )


def _active(version: Version) -> ActiveVersion:
    return ActiveVersion(version.version, version.config_hash, version.commit)


def deploy(version: Version, environment: str, action: str = "deploy", note: str = "") -> Compute:
    """``deploy`` and ``rollback``: make a version active now, ending any canary."""
    _require_deployable(version)

    def compute(before: Pointer) -> tuple[Pointer, str]:
        wording = "to " if action == "rollback" else ""
        message = f"agentver({environment}): {action} {version.agent} {wording}v{version.version}"
        if before.active == _active(version) and before.canary is None:
            raise NoChange(f"{version.agent} v{version.version} is already active in {environment}")
        if before.canary:
            message += f" (ends canary v{before.canary.version})"
        return_pointer = replace(before, active=_active(version), canary=None)
        return return_pointer, message + note

    return compute


def canary_start(
    version: Version, environment: str, percent_bp: int, now: str | None = None, note: str = ""
) -> Compute:
    _require_deployable(version)

    def compute(before: Pointer) -> tuple[Pointer, str]:
        agent = version.agent
        if before.active is None:
            raise UsageError(
                f"{agent} has no active version in {environment}; a canary needs one to compare with",
                f"deploy one first: agentver deploy {agent} <version> --env {environment}",
            )
        if before.canary is not None:
            raise UsageError(
                f"{agent} already has a canary in {environment} (v{before.canary.version} at "
                f"{before.canary.percent}%)",
                f"change it with `agentver canary set {agent} --percent P` or end it with "
                f"`agentver canary promote|abort {agent}`",
            )
        if before.active.config_hash == version.config_hash:
            raise UsageError(
                f"v{version.version} is already the active version of {agent} in {environment}"
            )
        canary = Canary(
            version.version,
            version.config_hash,
            version.commit,
            percent_bp,
            new_salt(),
            now or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        message = (
            f"agentver({environment}): canary start {agent} v{version.version} "
            f"at {percent_number(percent_bp)}%{note}"
        )
        return replace(before, canary=canary), message

    return compute


def _running(before: Pointer, environment: str) -> Canary:
    if before.canary is None:
        raise UsageError(
            f"{before.agent} has no canary running in {environment}",
            f"start one: agentver canary start {before.agent} <version> --percent 10 --env {environment}",
        )
    return before.canary


def canary_set(environment: str, percent_bp: int) -> Compute:
    def compute(before: Pointer) -> tuple[Pointer, str]:
        canary = _running(before, environment)
        if canary.percent_bp == percent_bp:
            raise NoChange(f"the canary of {before.agent} already runs at {canary.percent}%")
        message = (
            f"agentver({environment}): canary set {before.agent} v{canary.version} "
            f"to {percent_number(percent_bp)}% (was {canary.percent}%)"
        )
        return replace(before, canary=replace(canary, percent_bp=percent_bp)), message

    return compute


def canary_end(environment: str, action: str, note: str = "") -> Compute:
    """``promote`` makes the canary active; ``abort`` drops it."""

    def compute(before: Pointer) -> tuple[Pointer, str]:
        canary = _running(before, environment)
        message = f"agentver({environment}): canary {action} {before.agent} v{canary.version}{note}"
        if action == "promote":
            active = ActiveVersion(canary.version, canary.config_hash, canary.commit)
            return replace(before, active=active, canary=None), message
        return replace(before, canary=None), message

    return compute


@dataclass(frozen=True)
class FlagChange:
    percent_bp: int | None = None
    users: tuple[str, ...] | None = None
    add_tools: tuple[str, ...] | None = None
    remove_tools: tuple[str, ...] | None = None
    enabled: bool | None = None
    clear_percent: bool = False


def flag_set(environment: str, name: str, change: FlagChange) -> Compute:
    """Create or update a flag; options not given keep their current value."""

    def compute(before: Pointer) -> tuple[Pointer, str]:
        flag = before.flags.get(name, Flag(name))
        flag = Flag(
            name,
            flag.enabled if change.enabled is None else change.enabled,
            None
            if change.clear_percent
            else (flag.percent_bp if change.percent_bp is None else change.percent_bp),
            flag.users if change.users is None else change.users,
            flag.add_tools if change.add_tools is None else change.add_tools,
            flag.remove_tools if change.remove_tools is None else change.remove_tools,
        )
        if before.flags.get(name) == flag:
            raise NoChange(f"flag {name} of {before.agent} is already set that way")
        verb = "disable" if not flag.enabled else "set"
        flags = {**before.flags, name: flag}
        return replace(
            before, flags=flags
        ), f"agentver({environment}): flag {verb} {before.agent} {name}"

    return compute


def flag_rm(environment: str, name: str) -> Compute:
    def compute(before: Pointer) -> tuple[Pointer, str]:
        if name not in before.flags:
            known = ", ".join(sorted(before.flags)) or "none"
            raise UsageError(
                f"{before.agent} has no flag {name!r} in {environment}", f"flags: {known}"
            )
        flags = {key: value for key, value in before.flags.items() if key != name}
        return replace(
            before, flags=flags
        ), f"agentver({environment}): flag rm {before.agent} {name}"

    return compute
