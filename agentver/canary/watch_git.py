"""The git side of ``canary watch``: the bot identity, catching up, pushing its commits.

The watcher pushes only its own commits: pointer-only commits authored by its bot
identity. Before judging anything it fetches and fast-forwards, so it never acts on an
old HEAD. A push rejected as non-fast-forward is retried after a fetch and a rebase of
those commits, a bounded number of times; but first the fetched pointer is compared
with what the watcher's commit ended: if the canary it judged is no longer running
upstream, someone else acted on that pointer meanwhile. Another watcher (same bot
identity) means the work is done; anyone else means a person acted, and the watcher
drops its commit and stops (docs/auto-rollback.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

from agentver.deploy.pointers import POINTER_DIR, parse_pointer
from agentver.errors import AgentverError, PointerError, RepositoryError, UsageError
from agentver.gitrepo import run_git
from agentver.models import Pointer
from agentver.workspace import Workspace

DEFAULT_AUTHOR = "agentver-watch <agentver-watch@localhost>"
_IDENTITY = re.compile(r"^\s*(?P<name>[^<>]*[^<>\s])\s*<(?P<email>[^<>\s]+)>\s*$")
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "stale info", "failed to update ref")
_IDENTITY_VARS = (
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
)


class RemoteUnavailable(AgentverError):
    """The git remote cannot be reached (or refused us for another reason than a race)."""


class PersonActed(PointerError):
    """Someone other than a watcher changed the pointer the watcher was acting on."""


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


DEFAULT_IDENTITY = Identity("agentver-watch", "agentver-watch@localhost")


def parse_identity(text: str, where: str) -> Identity:
    match = _IDENTITY.match(text)
    if match is None:
        raise UsageError(
            f"{where}: {text!r} is not an identity of the form 'Name <email>'",
            hint=f"e.g. {DEFAULT_AUTHOR!r}",
        )
    return Identity(match.group("name"), match.group("email"))


@contextmanager
def committing_as(identity: Identity) -> Iterator[None]:
    """Author and commit as ``identity``: git reads these variables in every subprocess.

    Process-wide, which is right for the watcher (one thread acts); the repository's
    signing and hook settings still apply, as for any pointer commit.
    """
    saved = {name: os.environ.get(name) for name in _IDENTITY_VARS}
    os.environ.update(
        GIT_AUTHOR_NAME=identity.name,
        GIT_AUTHOR_EMAIL=identity.email,
        GIT_COMMITTER_NAME=identity.name,
        GIT_COMMITTER_EMAIL=identity.email,
    )
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- reading -----------------------------------------------------------------------------


def current_branch(ws: Workspace) -> str:
    proc = run_git(["symbolic-ref", "-q", "--short", "HEAD"], ws.root, check=False)
    if proc.returncode != 0:
        raise RepositoryError(
            "HEAD is detached; the watcher pushes a branch", "check out the deployed branch"
        )
    return proc.stdout.decode().strip()


def _pointer_at(ws: Workspace, commit: str, rel: str) -> Pointer | None:
    parts = PurePosixPath(rel).parts
    blob = ws.repo.blob_at(commit, rel)
    if blob is None:
        return None
    raw = ws.repo.read_blobs([blob])[blob]
    return parse_pointer(raw, f"{rel} at {commit[:10]}", parts[-2], PurePosixPath(rel).stem)


def _changed_files(ws: Workspace, commit: str) -> list[str]:
    out = ws.repo.git("diff-tree", "--no-commit-id", "--name-only", "-r", "-z", commit)
    return [name for name in out.split("\x00") if name]


@dataclass(frozen=True)
class Upstream:
    branch: str
    tip: str
    pending: tuple[str, ...]  # the watcher's own commits not on the remote yet, oldest first


def fetch(ws: Workspace, remote: str, branch: str) -> str:
    """The remote branch's tip, fetched into its remote-tracking ref."""
    ref = f"refs/remotes/{remote}/{branch}"
    proc = run_git(
        ["fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{ref}"],
        ws.root,
        check=False,
    )
    if proc.returncode != 0:
        raise RemoteUnavailable(
            f"cannot fetch {branch} from git remote {remote!r}: {_last_line(proc.stderr)}",
            hint="check the remote's URL, network and credentials; nothing was changed",
        )
    return ws.repo.git("rev-parse", ref).strip()


def catch_up(ws: Workspace, remote: str, bot: Identity) -> Upstream:
    """Fetch; fast-forward when behind. Commits only we have must be the watcher's own."""
    branch = current_branch(ws)
    tip = fetch(ws, remote, branch)
    head = ws.repo.head()
    if head != tip and ws.repo.is_ancestor(head, tip):
        proc = run_git(["merge", "--ff-only", "-q", tip], ws.root, check=False)
        if proc.returncode != 0:
            raise RepositoryError(
                f"cannot fast-forward {branch} to {remote}/{branch}: {_last_line(proc.stderr)}",
                hint="the watcher's clone must have no local edits",
            )
        return Upstream(branch, tip, ())
    ahead = ws.repo.git("rev-list", "--reverse", f"{tip}..HEAD").split()
    foreign = [c for c in ahead if not _is_bot_pointer_commit(ws, c, bot)]
    if foreign:
        raise RepositoryError(
            f"{branch} has {len(foreign)} commit(s) that {remote}/{branch} lacks and that are "
            f"not the watcher's pointer commits (first: {foreign[0][:10]})",
            hint="the watcher pushes only its own commits; push or drop them first",
        )
    return Upstream(branch, tip, tuple(ahead))


def _is_bot_pointer_commit(ws: Workspace, commit: str, bot: Identity) -> bool:
    email = ws.repo.git("log", "-1", "--format=%ae", commit).strip()
    files = _changed_files(ws, commit)
    return (
        email == bot.email
        and bool(files)
        and all(name.startswith(POINTER_DIR + "/") for name in files)
    )


# -- pushing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    """The result of ``push``: ``commit`` now on the remote, or ``superseded_by`` another
    watcher's commit that already did the same (ours dropped)."""

    commit: str | None
    attempts: int
    superseded_by: str | None = None


def push(ws: Workspace, remote: str, bot: Identity, attempts: int) -> Pushed:
    """Push HEAD's pending watcher commits; on a race, fetch, check, rebase, retry."""
    branch = current_branch(ws)
    for attempt in range(1, attempts + 1):
        proc = run_git(
            ["push", "--porcelain", remote, f"HEAD:refs/heads/{branch}"], ws.root, check=False
        )
        if proc.returncode == 0:
            return Pushed(ws.repo.head(), attempt)
        text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        if not any(marker in text for marker in _REJECTED):
            raise RemoteUnavailable(
                f"cannot push to git remote {remote!r}: {_last_line(proc.stderr)}",
                hint="the pointer commit is kept locally and pushed on the next run",
            )
        upstream = catch_up_for_retry(ws, remote, branch, bot)
        superseded = _acted_upstream(ws, upstream, bot)
        if superseded is not None:
            _reset_to(ws, upstream.tip)
            return Pushed(None, attempt, superseded)
        _rebase(ws, upstream, bot)
    raise RemoteUnavailable(
        f"{remote}/{branch} kept moving: the push was rejected {attempts} times",
        hint="the pointer commit is kept locally and pushed on the next run",
    )


def catch_up_for_retry(ws: Workspace, remote: str, branch: str, bot: Identity) -> Upstream:
    tip = fetch(ws, remote, branch)
    base = ws.repo.git("merge-base", "HEAD", tip).strip()
    ahead = ws.repo.git("rev-list", "--reverse", f"{base}..HEAD").split()
    return Upstream(branch, tip, tuple(ahead))


def _acted_upstream(ws: Workspace, upstream: Upstream, bot: Identity) -> str | None:
    """The upstream commit of another watcher that already ended a canary we end, or None.

    Raises PersonActed when that commit is not a watcher's."""
    for commit in upstream.pending:
        for rel in _changed_files(ws, commit):
            before = _pointer_at(ws, f"{commit}^", rel)
            if before is None or before.canary is None:
                continue
            there = _pointer_at(ws, upstream.tip, rel)
            if there is not None and there.canary == before.canary:
                continue  # still the canary we judged: a rebase will do
            fields = ws.repo.git(
                "log", "-1", "--format=%H%x00%an <%ae>%x00%s", upstream.tip, "--", rel
            )
            sha, author, subject = [*fields.strip().split("\x00"), "", "", ""][:3]
            if author.endswith(f"<{bot.email}>"):
                return sha
            _reset_to(ws, upstream.tip)
            raise PersonActed(
                f"{author} changed {rel} upstream ({sha[:10]} {subject!r}) while the watcher "
                f"was ending canary v{before.canary.version} (salt {before.canary.salt}); "
                "the watcher dropped its commit and stopped",
                hint="a person is handling this canary; restart the watcher when they are done",
            )
    return None


def _rebase(ws: Workspace, upstream: Upstream, bot: Identity) -> None:
    with committing_as(bot):
        proc = run_git(["rebase", "--quiet", upstream.tip], ws.root, check=False)
    if proc.returncode == 0:
        return
    run_git(["rebase", "--abort"], ws.root, check=False)
    _reset_to(ws, upstream.tip)
    raise PersonActed(
        f"the watcher's pointer commit conflicts with {upstream.tip[:10]} on the remote: "
        "someone else changed the same pointer; the watcher dropped its commit and stopped",
        hint="a person is handling this pointer; restart the watcher when they are done",
    )


def _reset_to(ws: Workspace, commit: str) -> None:
    # --keep never discards uncommitted work: the watcher's clone should have none.
    proc = run_git(["reset", "--keep", "-q", commit], ws.root, check=False)
    if proc.returncode != 0:
        raise RepositoryError(
            f"cannot move the branch to {commit[:10]}: {_last_line(proc.stderr)}",
            hint="the watcher's clone must have no local edits",
        )


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message from git"
