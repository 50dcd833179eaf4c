"""``agentver init``: scaffold a config repository. Never overwrites a file.

Creates ``agentver.yaml`` (commented defaults and an example policy), one example agent
that validates, ``.agentver/deployments/`` and ``.gitignore`` entries for the local
SQLite store, and runs ``git init`` when the folder is not inside a work tree.

Editors validate as you type through the ``# yaml-language-server: $schema=...`` hint on
the first line of ``agentver.yaml`` and of the example agent. The hint is a path
relative to the file, to a copy of the JSON Schemas in ``.agentver/schemas/`` (committed
with the repository), so it resolves offline and on every teammate's machine.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from agentver.errors import AgentverError, UsageError
from agentver.gitrepo import run_git, worktree_root
from agentver.settings import SETTINGS_FILE, load_settings

EXAMPLE_AGENT = "assistant"
GITIGNORE_LINES = (".agentver/*.db", ".agentver/*.db-wal", ".agentver/*.db-shm")

SCHEMA_DIR = ".agentver/schemas"
SCHEMA_FILES = ("agent.schema.json", "agentver.schema.json", "eval.schema.json")

SETTINGS_TEMPLATE = """\
# yaml-language-server: $schema={schema_path}
# agentver settings. Every key is optional; the values below are the defaults
# unless marked otherwise.

# Folder holding one file per agent: <agents_dir>/<agent_id>.yaml
agents_dir: agents

# Environments that pointers (deploy, rollback, canary, flags) can target.
environments: [production]          # e.g. [staging, production]
default_environment: production     # used when --env is not given

# Runtime store that `agentver sync` writes and agents read. AGENTVER_STORE overrides it.
# store: sqlite:///.agentver/runtime.db
# store: postgresql://agentver@db.internal/agentver

# Prompt policies, checked by `agentver validate` (and the pre-commit hook).
# "*" applies to every agent; phrases match case-insensitively.
policies:
  "*":
    forbid: ["as an AI language model"]
  # support:
  #   require: ["billing"]
"""

AGENT_TEMPLATE = """\
# yaml-language-server: $schema={schema_url}
# One agent per file; the file name is the agent id. Every key except description is
# part of the version hash: change it, commit, and that commit is a new version.
description: Example assistant (edit or replace me)
model: gpt-4o
system_prompt: |
  You are a helpful assistant. Answer concisely and say so when you do not know.
temperature: 0.7
max_tokens: 4096
tools: []
guardrails: {{}}
"""


@dataclass
class InitResult:
    root: Path
    created: list[str] = field(default_factory=list)  # relative paths (folders end in /)
    kept: list[str] = field(default_factory=list)  # existed already, left untouched
    skipped: list[str] = field(default_factory=list)  # the example: the repo has agents
    gitignore_added: list[str] = field(default_factory=list)
    git_initialized: bool = False

    def next_steps(self) -> list[str]:
        return [
            "agentver validate",
            'git add -A && git commit -m "Add agentver config"',
            "agentver list",
            f"agentver deploy {EXAMPLE_AGENT} latest",
        ]


def init_repository(directory: Path) -> InitResult:
    """Scaffold ``directory`` (created if missing); existing files are kept as they are."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror}") from None
    result = InitResult(root=directory)
    if worktree_root(directory) is None:
        run_git(["init", "-q"], directory)
        result.git_initialized = True

    for name in SCHEMA_FILES:
        text = resources.files("agentver").joinpath(f"schemas/{name}").read_text("utf-8")
        _write_new(directory, f"{SCHEMA_DIR}/{name}", text, result)
    settings_text = SETTINGS_TEMPLATE.format(schema_path=_hint(SETTINGS_FILE, "agentver"))
    _write_new(directory, SETTINGS_FILE, settings_text, result)
    agents_dir = _agents_dir(directory)
    example = f"{agents_dir}/{EXAMPLE_AGENT}.yaml"
    agent_text = AGENT_TEMPLATE.format(schema_url=_hint(example, "agent"))
    if not (directory / example).exists() and _has_agents(directory, agents_dir):
        result.skipped.append(example)  # never bring back an example its owner deleted
    else:
        _write_new(directory, example, agent_text, result)
    _make_dir(directory, ".agentver/deployments", result)
    _extend_gitignore(directory, result)
    return result


def _has_agents(directory: Path, agents_dir: str) -> bool:
    """Agent files on disk, or in the history of HEAD (deleted ones count too)."""
    folder = directory / agents_dir
    if folder.is_dir() and any(folder.glob("*.y*ml")):
        return True
    proc = run_git(["log", "-1", "--format=%H", "--", f"{agents_dir}/"], directory, check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _hint(rel: str, schema: str) -> str:
    """The schema's path relative to the file at ``rel`` (how yaml-language-server reads it)."""
    return posixpath.relpath(f"{SCHEMA_DIR}/{schema}.schema.json", posixpath.dirname(rel) or ".")


def _agents_dir(directory: Path) -> str:
    # A kept agentver.yaml may name another folder; a broken one is reported by
    # `validate`, and init still scaffolds the default layout.
    try:
        return load_settings(directory).agents_dir
    except AgentverError:
        return "agents"


def _write_new(root: Path, rel: str, text: str, result: InitResult) -> None:
    target = root / rel
    if target.exists() or target.is_symlink():
        result.kept.append(rel)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8", newline="\n") as handle:  # "x": never clobber
            handle.write(text)
    except FileExistsError:
        result.kept.append(rel)
        return
    result.created.append(rel)


def _make_dir(root: Path, rel: str, result: InitResult) -> None:
    target = root / rel
    if target.is_dir():
        result.kept.append(f"{rel}/")
        return
    if target.exists():
        raise UsageError(f"{target} exists and is not a directory")
    target.mkdir(parents=True)
    result.created.append(f"{rel}/")


def _extend_gitignore(root: Path, result: InitResult) -> None:
    target = root / ".gitignore"
    existing = target.read_text("utf-8") if target.is_file() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        if target.is_file():
            result.kept.append(".gitignore")
        return
    block = "# agentver: local runtime store\n" + "".join(f"{line}\n" for line in missing)
    if existing:  # a blank line before our block, after ending the last line if needed
        block = ("" if existing.endswith("\n") else "\n") + "\n" + block
    with target.open("a", encoding="utf-8", newline="\n") as handle:
        handle.write(block)
    if existing:
        result.gitignore_added.extend(missing)
    else:
        result.created.append(".gitignore")
