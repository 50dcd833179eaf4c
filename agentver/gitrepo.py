"""The only module that talks to git.

Everything runs the ``git`` command line: one ``git log --raw`` pass and one
``git cat-file --batch`` per command are far cheaper than GitPython's per-object calls,
and its import (~130 ms, plus two ``git version`` runs) would double a warm command's
cost. Pointer commits use ``git commit --only`` so the user's hooks, signing and other
staged changes behave exactly as with a commit typed by hand.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentver.errors import AgentverError, RepositoryError

# Hooks run with these exported (pre-commit strips them too): they would point our
# subprocesses at the hook's index instead of the repository we were asked about.
_LEAKY_ENV = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX", "GIT_COMMON_DIR")
NULL_SHA = "0" * 40
_SEP = "\x1e"  # record separator between commits in our log format


def git_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY_ENV}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    return env


class GitError(AgentverError):
    """A git command failed."""


def run_git(
    args: Sequence[str], cwd: Path, *, check: bool = True, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=git_env(),
            input=stdin,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(
            f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}"
        )
    return proc


def _spawn(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``git args`` started, its output to be read as it comes (``_parse_log``, ``_finish``);
    its errors go to a temporary file, so a chatty stderr cannot block it."""
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _stop, or below)
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env={**git_env(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    except BaseException as exc:
        errors.close()
        if isinstance(exc, FileNotFoundError):
            raise GitError("git is not installed or not on PATH") from None
        raise
    proc.stderr = errors  # Popen keeps only its pipes: _finish reads git's reason here
    return proc


def _finish(proc: subprocess.Popen[bytes], args: Sequence[str], rest: bytes = b"") -> bytes:
    """The remaining output of ``proc`` after ``rest``; GitError (as run_git) if it failed."""
    assert proc.stdout is not None
    out = rest + proc.stdout.read()
    if proc.wait() != 0:
        stderr = proc.stderr
        detail: list[str] = []
        if stderr is not None:
            stderr.seek(0)
            detail = stderr.read().decode("utf-8", "replace").strip().splitlines()
        raise GitError(
            f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}"
        )
    return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Reap ``proc``, killing it first if its output was not read to the end."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _parse_log(proc: subprocess.Popen[bytes]) -> Iterator[tuple[CommitInfo, list[FileChange]]]:
    """The records of a ``_start_log`` process, parsed a block at a time as git writes them."""
    assert proc.stdout is not None
    sep = _SEP.encode()
    pending = b""
    while block := os.read(proc.stdout.fileno(), 1 << 20):
        pending += block
        cut = pending.rfind(sep)
        if cut > 0:
            yield from _parse_records(pending[:cut])
            pending = pending[cut:]
    yield from _parse_records(_finish(proc, ["log"], pending))


def _parse_records(data: bytes) -> Iterator[tuple[CommitInfo, list[FileChange]]]:
    for record in data.decode("utf-8", "replace").split(_SEP)[1:]:
        fields = record.split("\x00")
        commit, author, date, subject = fields[:4]
        changes: list[FileChange] = []
        rest = fields[4:]
        # With -z, raw entries are ":meta" and then the path as separate fields.
        i = 0
        while i < len(rest):
            meta = rest[i].strip("\n")
            if not meta.startswith(":"):
                i += 1
                continue
            parts = meta[1:].split()
            path = rest[i + 1] if i + 1 < len(rest) else ""
            new_blob, status = parts[3], parts[4]
            changes.append(FileChange(path, None if status.startswith("D") else new_blob))
            i += 2
        yield CommitInfo(commit, author, date, subject.strip()), changes


def worktree_root(cwd: Path) -> Path | None:
    """The top level of the work tree containing ``cwd``, or None."""
    proc = run_git(["rev-parse", "--show-toplevel"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.decode().strip())


@dataclass(frozen=True)
class CommitInfo:
    commit: str
    author: str  # "Name <email>"
    committed_at: str  # ISO 8601 UTC, "2026-01-01T10:00:00Z"
    subject: str


@dataclass(frozen=True)
class FileChange:
    path: str
    blob: str | None  # None when the file was deleted


# Derived data (history, parse and blob caches, locks) lives here. Not ".git/agentver":
# a folder named like the package shadows it for `python -m agentver` run inside .git
# (docs/design.md section 3).
CACHE_DIRNAME = "agentver-cache"


class GitRepo:
    """A non-bare git work tree."""

    def __init__(self, root: Path, git_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir
        # Ancestry of two commit ids never changes: asked twice per sync (the early check
        # and the one inside the store's transaction), answered by git once.
        self._ancestry: dict[tuple[str, str], bool] = {}

    @property
    def cache_dir(self) -> Path:
        """agentver's cache and lock folder inside the git directory."""
        return self.git_dir / CACHE_DIRNAME

    @classmethod
    def open(cls, cwd: Path) -> GitRepo:
        # The usual case in one process; anything else takes the path below, which
        # says what is wrong.
        proc = run_git(
            ["rev-parse", "--is-bare-repository", "--absolute-git-dir", "--show-toplevel"],
            cwd,
            check=False,
        )
        lines = proc.stdout.decode().split("\n")
        if proc.returncode == 0 and len(lines) >= 3 and lines[0] == "false" and lines[2]:
            return cls(Path(lines[2]), Path(lines[1]))
        proc = run_git(
            ["rev-parse", "--is-bare-repository", "--absolute-git-dir"], cwd, check=False
        )
        if proc.returncode != 0:
            raise RepositoryError(
                f"not a git repository: {cwd}",
                "run agentver inside your config repository, use -C PATH, or `agentver init`",
            )
        is_bare, git_dir = proc.stdout.decode().split("\n")[:2]
        if is_bare == "true":
            raise RepositoryError(
                f"{cwd} is a bare repository; agentver needs a work tree",
                "clone it first: git clone <repo> && cd <repo>",
            )
        root = worktree_root(cwd)
        if root is None:
            raise RepositoryError(
                f"{cwd} is inside the git directory, not a work tree",
                "run agentver from the repository's work tree",
            )
        return cls(root, Path(git_dir))

    def git(self, *args: str, check: bool = True, stdin: bytes | None = None) -> str:
        return run_git(args, self.root, check=check, stdin=stdin).stdout.decode("utf-8", "replace")

    # -- state ------------------------------------------------------------------------

    def head(self) -> str:
        proc = run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], self.root, check=False)
        if proc.returncode != 0:
            raise RepositoryError(
                "the repository has no commits yet",
                "commit your agent files first: git add agents && git commit -m 'Add agents'",
            )
        return proc.stdout.decode().strip()

    def require_full_history(self) -> str:
        """HEAD, refusing shallow clones: a truncated history must never look complete."""
        proc = run_git(
            ["rev-parse", "--is-shallow-repository", "--verify", "-q", "HEAD^{commit}"],
            self.root,
            check=False,
        )
        answers = proc.stdout.decode().split()
        if proc.returncode != 0 or len(answers) != 2:
            head = self.head()  # raises "no commits yet"
            answers = [self.git("rev-parse", "--is-shallow-repository").strip(), head]
        shallow, head = answers
        if (self.git_dir / "shallow").exists() or shallow == "true":
            raise RepositoryError(
                "this is a shallow clone: version history would be incomplete",
                "run `git fetch --unshallow` (in CI: actions/checkout with fetch-depth: 0)",
            )
        return head

    def resolve_commit(self, rev: str) -> str | None:
        # A leading "-" would be an option; a NUL cannot be passed to a process at all.
        if rev.startswith("-") or "\x00" in rev:
            return None
        proc = run_git(
            ["rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}"],
            self.root,
            check=False,
        )
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def is_ancestor(self, older: str, newer: str) -> bool:
        key = (older, newer)
        if key not in self._ancestry:
            proc = run_git(["merge-base", "--is-ancestor", older, newer], self.root, check=False)
            # Only a definite answer (0 or 1) about two ids is kept: a name may move, and a
            # commit missing now (exit 128) may be fetched later.
            if proc.returncode not in (0, 1) or not len(older) == len(newer) == 40:
                return proc.returncode == 0
            self._ancestry[key] = proc.returncode == 0
        return self._ancestry[key]

    def first_parent_descends(self, older: str, newer: str, limit: int) -> bool:
        """``older`` is on ``newer``'s first-parent line, at most ``limit`` commits back."""
        proc = run_git(
            [
                "rev-list",
                "--first-parent",
                "--parents",
                f"--max-count={limit + 1}",
                f"{older}..{newer}",
            ],
            self.root,
            check=False,
        )
        if proc.returncode != 0:
            return False
        rows = proc.stdout.decode().splitlines()
        if not rows or len(rows) > limit:
            return False
        oldest = rows[-1].split()
        return len(oldest) >= 2 and oldest[1] == older

    def has_commit_graph(self) -> bool:
        info = self.git_dir / "objects" / "info"
        return (info / "commit-graph").exists() or (info / "commit-graphs").exists()

    def write_commit_graph(self) -> bool:
        proc = run_git(
            ["commit-graph", "write", "--reachable", "--changed-paths"], self.root, check=False
        )
        return proc.returncode == 0

    # -- history ----------------------------------------------------------------------

    def log_changes(
        self, head: str, pathspecs: Sequence[str]
    ) -> Iterator[tuple[CommitInfo, list[FileChange]]]:
        """First-parent history of ``head`` touching ``pathspecs``, newest first.

        ``git log --raw``: the blob ids come with the log, so no checkout and no
        per-commit ``git show``. Renames are reported as delete + add (the file name is
        the agent's identity). git consults the commit-graph's changed-path Bloom filters
        only for a single pathspec, so several pathspecs are one log each (3x faster for
        an agent file and agentver.yaml: docs/benchmarks.md), merged in the order of
        ``git rev-list --first-parent``. Every git process starts at once and the logs
        are parsed as git writes them (issue 16: parsing overlaps git's own work).
        """
        specs = list(dict.fromkeys(pathspecs))
        if len(specs) <= 1:
            yield from self._log_changes(head, specs)
            return
        procs = [self._start_log(head, [spec]) for spec in specs]
        order_args = ["rev-list", "--first-parent", head]
        order_proc = _spawn(order_args, self.root)
        try:
            merged: dict[str, tuple[CommitInfo, dict[str, FileChange]]] = {}
            for proc in procs:
                for info, changes in _parse_log(proc):
                    held = merged.setdefault(info.commit, (info, {}))[1]
                    for change in changes:  # overlapping pathspecs report a file once
                        held.setdefault(change.path, change)
            order = _finish(order_proc, order_args).split() if merged else []
        finally:
            for proc in (*procs, order_proc):
                _stop(proc)
        for commit in order:
            found = merged.get(commit.decode("ascii"))
            if found is not None:
                yield found[0], sorted(found[1].values(), key=lambda c: c.path)

    def _log_changes(
        self, head: str, pathspecs: Sequence[str]
    ) -> Iterator[tuple[CommitInfo, list[FileChange]]]:
        proc = self._start_log(head, pathspecs)
        try:
            yield from _parse_log(proc)
        finally:
            _stop(proc)

    def _start_log(self, head: str, pathspecs: Sequence[str]) -> subprocess.Popen[bytes]:
        # Commit dates come formatted in UTC by git itself (TZ=UTC with format-local).
        fmt = f"{_SEP}%H%x00%an <%ae>%x00%cd%x00%s"
        args = [
            "log",
            "--first-parent",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "-z",
            "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
            f"--format={fmt}",
            head,
            "--",
            *pathspecs,
        ]
        return _spawn(args, self.root, {"TZ": "UTC"})

    def read_blobs(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        """Contents of many blobs in one ``git cat-file --batch`` process."""
        ids = list(dict.fromkeys(blob_ids))
        if not ids:
            return {}
        out = run_git(
            ["cat-file", "--batch"], self.root, stdin=("\n".join(ids) + "\n").encode()
        ).stdout
        blobs: dict[str, bytes] = {}
        pos = 0
        for blob_id in ids:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            blobs[blob_id] = out[pos : pos + size]
            pos += size + 1
        return blobs

    def blob_at(self, rev: str, path: str) -> str | None:
        proc = run_git(["rev-parse", "--verify", "-q", f"{rev}:{path}"], self.root, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def blobs_at(self, rev: str, folders: Sequence[str]) -> dict[str, str]:
        """{path: blob id} of the files directly in ``folders`` at ``rev``, in one
        ``git ls-tree`` (sub-folders and submodules are not files)."""
        if not folders:
            return {}
        out = self.git("ls-tree", "-z", rev, "--", *(f"{folder}/" for folder in folders))
        blobs: dict[str, str] = {}
        for entry in out.split("\x00"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                blobs[path] = parts[2]
        return blobs

    def changed_files(self, base: str, head: str, pathspecs: Sequence[str]) -> list[str]:
        out = self.git("diff", "--name-only", "--no-renames", "-z", base, head, "--", *pathspecs)
        return [name for name in out.split("\x00") if name]

    def files_at(self, rev: str, folder: str) -> list[str]:
        out = self.git("ls-tree", "-z", "--name-only", f"{rev}", "--", f"{folder}/")
        return [name for name in out.split("\x00") if name]
