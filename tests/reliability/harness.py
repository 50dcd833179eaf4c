"""Shared machinery of the reliability suite and ``bench/reliability.py``.

A hermetic git environment, a template repository (one agent with three versions, one
of them failing the schema, v1 deployed to production), a snapshot of everything a
refusal must leave alone, and two ways to run the CLI: in-process (Typer's CliRunner)
and as a real ``python -m agentver`` subprocess (for signals).

Nothing here imports pytest, so the benchmark can use it outside a test run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

GIT_NAME = "Reliability Tester"
GIT_EMAIL = "reliability@example.com"
AGENT = "support"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Environment that would point git (or agentver) somewhere else.
LEAKY = (
    "AGENTVER_STORE",
    "AGENTVER_DEBUG",
    "GIT_DIR",
    "GIT_INDEX_FILE",
    "GIT_WORK_TREE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_DATE",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "XDG_CONFIG_HOME",
)

V1 = "model: gpt-4o\nsystem_prompt: |\n  You are the support agent. Help with billing.\ntemperature: 0.2\n"
V2 = (
    "model: gpt-4o\nsystem_prompt: |\n  You are the support agent. Help with billing and refunds.\n"
    "temperature: 0.2\ntools: [search_kb]\n"
)
# Hashes fine (so it is a version) but fails the schema: never deployable.
V3_INVALID = (
    "model: gpt-4o\nsystem_prompt: |\n  You are the support agent.\ntemperature: 0.2\n"
    "max_tokens: 0\n"
)


def hermetic_env(home: Path) -> dict[str, str]:
    """The process environment every run uses: pinned identity, empty HOME, no colour."""
    env = {key: value for key, value in os.environ.items() if key not in LEAKY}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=GIT_NAME,
        GIT_AUTHOR_EMAIL=GIT_EMAIL,
        GIT_COMMITTER_NAME=GIT_NAME,
        GIT_COMMITTER_EMAIL=GIT_EMAIL,
        NO_COLOR="1",
        LC_ALL="C",
    )
    return env


@contextmanager
def hermetic_process_env(home: Path) -> Iterator[None]:
    """Apply ``hermetic_env`` to ``os.environ`` (for the benchmark; pytest monkeypatches)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(hermetic_env(home))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def git(cwd: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None) -> str:
    full = dict(os.environ)
    full.update(env or {})
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
        full.pop(key, None)
    proc = subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{proc.stderr}")
    return proc.stdout


class Clock:
    """Deterministic commit dates: one hour per commit from 2026-01-01."""

    def __init__(self) -> None:
        self.step = 0

    def env(self) -> dict[str, str]:
        self.step += 1
        hours = self.step
        date = f"2026-01-{1 + hours // 24:02d}T{hours % 24:02d}:00:00+00:00"
        return {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}


def commit(root: Path, clock: Clock, message: str, *paths: str) -> str:
    if paths:
        git(root, "add", "--", *paths)
    else:
        git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message, env=clock.env())
    return git(root, "rev-parse", "HEAD").strip()


def init_repo(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", GIT_NAME)
    git(root, "config", "user.email", GIT_EMAIL)
    git(root, "config", "commit.gpgsign", "false")
    git(root, "config", "gc.auto", "0")


def write(root: Path, rel: str, data: str | bytes) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return target


def pointer_bytes(root: Path, version: int, env: str = "production") -> bytes:
    """A valid pointer naming ``version`` of the support agent, built from git history."""
    from agentver.deploy.pointers import serialize_pointer
    from agentver.gitrepo import GitRepo
    from agentver.history import HistoryIndex
    from agentver.models import ActiveVersion, Pointer
    from agentver.settings import load_settings

    repo = GitRepo.open(root)
    settings = load_settings(root)
    history = HistoryIndex(repo, settings, None).agent(AGENT)
    chosen = history.versions[version - 1]
    active = ActiveVersion(chosen.version, chosen.config_hash, chosen.commit)
    return serialize_pointer(Pointer(AGENT, env, active))


_TEMPLATE: dict[str, Path] = {}


def _build_template(root: Path) -> None:
    clock = Clock()
    init_repo(root)
    write(
        root,
        "agentver.yaml",
        "environments: [staging, production]\ndefault_environment: production\n",
    )
    write(root, "README.md", "config repo\n")
    commit(root, clock, "Add settings")
    for text, message in ((V1, "support v1"), (V2, "support v2"), (V3_INVALID, "support v3")):
        write(root, f"agents/{AGENT}.yaml", text)
        commit(root, clock, message, f"agents/{AGENT}.yaml")
    rel = f".agentver/deployments/production/{AGENT}.yaml"
    write(root, rel, pointer_bytes(root, 1))
    commit(root, clock, f"agentver(production): deploy {AGENT} v1", rel)
    # Put v2 back in the work tree (v3 is committed, invalid): a clean tree at HEAD.
    (root / ".git" / "agentver-cache").mkdir(exist_ok=True)


def base_repo(dest: Path) -> Path:
    """A copy of the template repository at ``dest`` (built once per process)."""
    key = "base"
    if key not in _TEMPLATE:
        where = Path(tempfile.mkdtemp(prefix="agentver-template-")) / "repo"
        _build_template(where)
        _TEMPLATE[key] = where
    shutil.copytree(_TEMPLATE[key], dest, symlinks=True)
    return dest


# -- what a refusal must not change ----------------------------------------------------


@dataclass(frozen=True)
class State:
    head: str | None
    index: str
    files: Mapping[str, str]  # work tree (and store) file -> sha256 of its bytes, or link

    def diff(self, other: State) -> list[str]:
        out: list[str] = []
        if self.head != other.head:
            out.append(f"HEAD {self.head} -> {other.head}")
        if self.index != other.index:
            out.append("index changed")
        for name in sorted(set(self.files) | set(other.files)):
            if self.files.get(name) != other.files.get(name):
                out.append(f"{name}: {self.files.get(name)} -> {other.files.get(name)}")
        return out


def _file_digest(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if path.is_dir():
        return "dir"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable:{exc.errno}"


def snapshot(root: Path) -> State:
    """HEAD, the index (``git diff --cached`` + ``git ls-files -s``) and every file's bytes.

    Files under ``.git`` are left out except git's own state files that a half-done
    command could leave (locks, MERGE_HEAD...); agentver's caches under ``.git/agentver-cache``
    and the commit-graph are allowed to change.
    """
    head: str | None = None
    index = ""
    is_repo = (root / ".git").exists()
    if is_repo:
        proc = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True, text=True
        )
        head = proc.stdout.strip() or None
        index = git(root, "diff", "--cached", "--binary", check=False) + git(
            root, "ls-files", "-s", check=False
        )
    files: dict[str, str] = {}
    if root.is_dir():
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root)
            # Git directories (and bare repositories) are judged by HEAD and the index,
            # not byte for byte: agentver may write its caches and the commit-graph there.
            dirnames[:] = [name for name in dirnames if not name.endswith(".git")]
            for name in dirnames + filenames:
                files[str(rel_dir / name)] = _file_digest(Path(dirpath) / name)
        git_dir = root / ".git"
        if git_dir.is_dir():
            for name in ("index.lock", "HEAD.lock", "MERGE_HEAD", "CHERRY_PICK_HEAD", "HEAD"):
                if (git_dir / name).exists():
                    files[f".git/{name}"] = _file_digest(git_dir / name)
            refs = git_dir / "refs" / "heads"
            for ref in sorted(refs.rglob("*")) if refs.is_dir() else []:
                files[f".git/{ref.relative_to(git_dir)}"] = _file_digest(ref)
    return State(head, index, files)


# -- running the CLI ------------------------------------------------------------------


class Result(NamedTuple):
    exit_code: int
    stdout: str
    stderr: str


def run_in_process(
    argv: list[str], cwd: Path, env: Mapping[str, str | None] | None = None
) -> Result:
    """The real CLI through Typer's CliRunner (stdout and stderr kept apart)."""
    from typer.testing import CliRunner

    from agentver.cli.app import _register, app

    _register()
    register_optional_commands()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, argv, env=env, catch_exceptions=True)
    finally:
        os.chdir(previous)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        stderr += "Traceback (escaped the CLI):\n" + "".join(
            traceback.format_exception(result.exception)
        )
    return Result(result.exit_code, result.stdout, stderr)


def run_subprocess(
    argv: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "agentver", *argv],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def command_exists(name: str) -> bool:
    """Is ``name`` (e.g. ``sync``) a command of the CLI right now?"""
    from agentver.cli.app import _register, app

    _register()
    register_optional_commands()
    import typer.main

    group = typer.main.get_command(app)
    return name in getattr(group, "commands", {})


def register_optional_commands() -> None:
    """Command modules that exist but are not yet imported by ``agentver.cli.commands``.

    Importing them registers their commands on ``app`` (in this process only).
    """
    import importlib

    for module in ("agentver.cli.validate_cmd", "agentver.cli.init_cmd"):
        with suppress(ImportError):
            importlib.import_module(module)
