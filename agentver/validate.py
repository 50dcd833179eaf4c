"""``agentver validate``: collect files, run every check, return located findings.

One rule set for every file agentver reads, so that "validate passed" means deploy,
canary, eval and sync will not refuse a file's content (tests/test_validate_first.py):

- No paths: the whole repository: every agent (``<agents_dir>/*.yaml``), evaluation
  suite (``evals/*.yaml``), pointer file and ``agentver.yaml``.
- With paths, exactly those files, each checked by its kind, decided by where it lives
  in the repository (or, for a metrics file, by its name). Naming ``agentver.yaml`` checks it *and every agent*, because a
  policy change there can make an unchanged agent fail. A directory stands for the
  agentver files under it. Any other existing file is skipped (counted, never an
  error), so a hook can pass whatever was staged. A missing path is exit 2.
- Metrics files (the ``canary evaluate --metrics FILE`` JSON) are files named
  ``metrics.json`` or ``*.metrics.json``: those at the repository's top level are
  checked by default, any named one wherever it is in the repository; ``metrics=``
  (``--metrics FILE``) checks a file as one whatever its name or place, even outside the
  repository. They are read exactly as ``canary evaluate`` reads them (canary.metrics).
- ``agentver.yaml`` configures the check itself, so its problems are reported whichever
  files were named (agentver.settings_check); when it is unusable (agents cannot even
  be found) that is exit 2, like every other command.

The repository is found from the paths (or ``cwd``) as git does (repository_root); a
path outside any agentver repository, or paths in two repositories, are exit 2.
Nothing here touches the network.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from agentver.agentfile import is_agent_id, read_worktree_file, schema_findings
from agentver.config import MAX_BYTES, Loaded, load_yaml, read_file
from agentver.errors import AgentverError, ConfigError, NotFound, RepositoryError, UsageError
from agentver.gitrepo import worktree_root
from agentver.models import Finding
from agentver.policy import Policy, check_policy, policies_for
from agentver.secret_scan import scan_secrets
from agentver.settings import SETTINGS_FILE, Settings, load_settings
from agentver.settings_check import check_settings
from agentver.storable import storable_problems

Kind = Literal["agent", "eval", "pointer", "settings", "metrics"]
EVALS_DIR = "evals"
POINTER_DIR = ".agentver/deployments"
YAML_SUFFIXES = (".yaml", ".yml")
METRICS_NAME = "metrics.json"  # and *.metrics.json
_TAB_HINT = "YAML does not allow tabs for indentation; use spaces"


@dataclass(frozen=True)
class Checked:
    path: str  # as shown to the user: relative to the cwd, or as given
    kind: Kind


@dataclass(frozen=True)
class ValidationReport:
    root: Path
    checked: tuple[Checked, ...]
    findings: tuple[Finding, ...]
    skipped: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "files": len(self.checked),
            "findings": [
                {"path": f.path, "line": f.line, "col": f.col, "message": f.message}
                for f in self.findings
            ],
        }

    def summary(self) -> str:
        """``2 problems in 1 file`` / ``3 agents valid`` (plus what was skipped)."""
        if self.findings:
            files = len({finding.path for finding in self.findings})
            text = f"{_plural(len(self.findings), 'problem')} in {_plural(files, 'file')}"
        elif not self.checked:
            text = "no agent files found"
        elif all(item.kind in ("agent", "settings") for item in self.checked):
            agents = sum(item.kind == "agent" for item in self.checked)
            text = f"{_plural(agents, 'agent')} valid"
        else:
            text = f"{_plural(len(self.checked), 'file')} valid"
        if self.skipped:
            text += f" ({len(self.skipped)} not agentver files, skipped)"
        return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def repository_root(start: Path) -> Path:
    """The agentver repository around ``start`` (a folder), found the way git finds one.

    The git work tree's top level, else the nearest folder holding ``agentver.yaml``,
    else the nearest holding an ``agents/`` folder (a checkout without ``.git``, such as
    a CI tarball). Anything else is not an agentver repository: exit 2, never "no agent
    files found" (that would let a CI job pass having checked nothing).
    """
    start = start.resolve()
    top = worktree_root(start)
    if top is not None:
        return top.resolve()
    for marker in (SETTINGS_FILE, "agents"):
        for folder in (start, *start.parents):
            if (folder / marker).exists():
                return folder
    raise RepositoryError(
        f"{start} is not inside an agentver repository (no git work tree, no {SETTINGS_FILE})",
        "run validate inside the repository or name files in it; `agentver init` creates one",
    )


def _is_agentver_repository(root: Path, settings: Settings) -> bool:
    return (root / SETTINGS_FILE).is_file() or (root / settings.agents_dir).is_dir()


def is_metrics_name(name: str) -> bool:
    """``metrics.json`` or ``<anything>.metrics.json``: how validate knows a metrics file."""
    return name == METRICS_NAME or name.endswith("." + METRICS_NAME)


def validate(cwd: Path, paths: Sequence[str] = (), metrics: Sequence[str] = ()) -> ValidationReport:
    """Validate the repository around the given paths (relative to ``cwd``), or around
    ``cwd`` when there are none; every path must be in that one repository. Each of
    ``metrics`` is checked as a ``--metrics`` file wherever it is."""
    cwd = cwd.resolve()
    given = _existing(cwd, paths)
    metrics_files = _existing(cwd, metrics)
    first = given[0][1] if given else cwd
    root = repository_root(first if first.is_dir() else first.parent)
    for shown, target in given:
        if not _inside(target, root):
            raise RepositoryError(
                f"{shown} is outside the repository at {root}",
                "validate one repository at a time (as git does)",
            )
    settings_shown = os.path.relpath(root / SETTINGS_FILE, cwd)
    # agentver.yaml configures the check itself (agents_dir, policies), so its problems
    # are reported whichever files were named
    check = check_settings(root, settings_shown)
    if check.settings is None:
        # unusable (unparseable, or agents_dir/environments broken): the agents cannot
        # even be found, so the request cannot be carried out (exit 2, located)
        load_settings(root)  # raises the loader's own error, with its hint
        problem = check.findings[0]
        raise ConfigError(problem.message, problem.path, problem.line, problem.col)
    settings = check.settings
    if not _is_agentver_repository(root, settings):
        raise RepositoryError(
            f"{root} is not an agentver repository (no {SETTINGS_FILE}, no "
            f"{settings.agents_dir}/ folder)",
            "`agentver init` sets one up",
        )
    targets, skipped = _collect(root, cwd, settings, given)
    known = {target for target, _ in targets}
    targets.extend(
        (target, Checked(shown, "metrics"))
        for shown, target in metrics_files
        if target not in known
    )
    findings: list[Finding] = []
    if not any(checked.kind == "settings" for _, checked in targets):
        findings.extend(check.findings)
    for target, checked in targets:
        if checked.kind == "settings":
            findings.extend(replace(f, path=checked.path) for f in check.findings)
            continue
        if checked.kind == "metrics":
            findings.extend(_metrics(target, checked.path))
            continue
        try:
            # a symlink out of the repository (or into .git) is reported, never read
            raw = read_worktree_file(root, os.path.relpath(target, root))
        except ConfigError as exc:  # too large
            findings.append(Finding(checked.path, exc.line, exc.col, exc.reason))
            continue
        except UsageError as exc:  # a symlink out of the repository, a FIFO, unreadable
            findings.append(Finding(checked.path, 1, 1, exc.message))
            continue
        findings.extend(check_file(raw, checked, check.policies, check.allowed_secrets))
        if checked.kind == "pointer":
            findings.extend(_pointer_environment(target, checked.path, settings))
    return ValidationReport(root, tuple(item for _, item in targets), tuple(findings), skipped)


def _pointer_environment(target: Path, shown: str, settings: Settings) -> list[Finding]:
    """A pointer of an environment agentver.yaml does not configure is never served:
    sync, status and the runtime ignore it without a word."""
    environment = target.parent.name
    if environment in settings.environments:
        return []
    return [
        Finding(
            shown,
            1,
            1,
            f"pointer: environment {environment!r} is not in environments "
            f"({', '.join(settings.environments)}) in agentver.yaml, so sync ignores it "
            "(add the environment, or remove this file)",
        )
    ]


def _metrics(target: Path, shown: str) -> list[Finding]:
    """A metrics file, read as ``canary evaluate --metrics`` reads it (symlinks followed:
    it is a file the user names, not one of the repository's)."""
    from agentver.canary.metrics import metrics_findings

    try:
        raw = read_file(target, shown)
    except ConfigError as exc:
        return [Finding(shown, exc.line, exc.col, exc.reason)]
    except AgentverError as exc:  # a FIFO, a directory, unreadable
        return [Finding(shown, 1, 1, exc.message)]
    return metrics_findings(raw, shown)


def _existing(cwd: Path, paths: Sequence[str]) -> list[tuple[str, Path]]:
    """Each path as given and as an absolute path; one that does not exist is exit 2."""
    resolved: list[tuple[str, Path]] = []
    for given in paths:
        # normpath, not resolve: a symlinked agent file is judged by where it is linked;
        # its folder is resolved, so a symlinked temp dir still compares with git's root
        target = Path(os.path.normpath(cwd / given))
        if not target.exists() and not target.is_symlink():
            raise NotFound(f"{given}: no such file or directory")
        folder = target if target.is_dir() and not target.is_symlink() else target.parent
        resolved.append(
            (given, folder.resolve() / target.name if folder != target else folder.resolve())
        )
    return resolved


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def check_file(
    raw: bytes,
    checked: Checked,
    policies: Mapping[str, Policy],
    allowed: Collection[str] = frozenset(),
) -> list[Finding]:
    """Findings for one file of a known kind, sorted by position."""
    stem = PurePosixPath(checked.path.replace(os.sep, "/")).stem
    if checked.kind == "agent":
        found = agent_findings(raw, checked.path, stem, policies, allowed)
    elif checked.kind == "eval":
        found = eval_findings(raw, checked.path, stem, allowed)
    else:
        parts = PurePosixPath(checked.path.replace(os.sep, "/")).parts
        found = pointer_findings(raw, checked.path, parts[-2] if len(parts) > 1 else "", stem)
    return found


def agent_findings(
    raw: bytes,
    path: str,
    agent_id: str,
    policies: Mapping[str, Policy],
    allowed: Collection[str] = frozenset(),
) -> list[Finding]:
    """Every problem of one agent file: id, syntax, schema, policy and secrets."""
    found: list[Finding] = []
    if not is_agent_id(agent_id):
        found.append(
            Finding(
                path,
                1,
                1,
                f"invalid agent id {agent_id!r}: the file name is the agent id "
                "(1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit)",
            )
        )
    if path.endswith(".yml"):
        found.append(Finding(path, 1, 1, "agent files end in .yaml: rename it (.yml is ignored)"))
    found.extend(_secrets(raw, path, allowed))
    loaded = _load(raw, path, found)
    if loaded is not None:
        found.extend(_storable(loaded))
        found.extend(schema_findings(loaded))
        prompt = loaded.data.get("system_prompt") if isinstance(loaded.data, dict) else None
        if isinstance(prompt, str) and is_agent_id(agent_id):
            line, col = loaded.locate(("system_prompt",), key=True)
            policy = policies_for(agent_id, policies)
            found.extend(check_policy(agent_id, prompt, policy, path, loaded.text, line, col))
    return _sorted(found)


def eval_findings(
    raw: bytes, path: str, agent_id: str, allowed: Collection[str] = frozenset()
) -> list[Finding]:
    """An evaluation suite: exactly what ``eval`` and the gate refuse, plus secrets and
    the storable rule (agentver.evals.suite.load_suite raises the first of these)."""
    from agentver.evals.suite import loaded_suite_findings

    found: list[Finding] = []
    if not is_agent_id(agent_id):
        found.append(Finding(path, 1, 1, f"invalid agent id {agent_id!r} in the file name"))
    found.extend(_secrets(raw, path, allowed))
    loaded = _load(raw, path, found)
    if loaded is not None:
        found.extend(_storable(loaded))
        found.extend(loaded_suite_findings(loaded, Path(path)))
    return _sorted(found)


def pointer_findings(raw: bytes, path: str, environment: str, agent_id: str) -> list[Finding]:
    """A pointer file: syntax (conflict markers after a merge!) and its structure."""
    from agentver.deploy.pointers import parse_pointer

    found: list[Finding] = []
    loaded = _load(raw, path, found)
    if loaded is None:
        return found
    found.extend(_storable(loaded))
    try:
        parse_pointer(raw, path, environment, agent_id)
    except AgentverError as exc:
        # parse_pointer wraps the located ConfigError (raised "from None", so it is kept
        # as __context__); report that location when there is one.
        cause = exc.__context__
        if isinstance(cause, ConfigError):
            found.append(Finding(path, cause.line, cause.col, f"pointer: {cause.reason}"))
        else:
            found.append(Finding(path, 1, 1, f"pointer: {exc.message}"))
    return found


def _storable(loaded: Loaded) -> list[Finding]:
    """The store's rule (agentver.storable), applied to every file agentver reads."""
    return [problem.finding(loaded.path) for problem in storable_problems(loaded)]


def _load(raw: bytes, path: str, found: list[Finding]) -> Loaded | None:
    """The parsed file, or None after appending the located load error to ``found``."""
    try:
        return load_yaml(raw, path)
    except ConfigError as exc:
        hint = exc.hint or (_TAB_HINT if _tab_at(raw, exc.line, exc.col) else None)
        found.append(Finding(path, exc.line, exc.col, exc.reason + (f" ({hint})" if hint else "")))
        return None


def _tab_at(raw: bytes, line: int, col: int) -> bool:
    # libyaml's message for a tab does not mention the tab; look at the source instead.
    lines = raw.split(b"\n")
    if not 0 < line <= len(lines):
        return False
    text = lines[line - 1]
    return b"\t" in text[: max(col, 1)] or text[:1] == b"\t"


def _secrets(raw: bytes, path: str, allowed: Collection[str] = frozenset()) -> list[Finding]:
    # Scanned even when the YAML is broken: a pasted key is a problem either way.
    if len(raw) > MAX_BYTES:
        return []
    return scan_secrets(raw.decode("utf-8", "replace").removeprefix("\ufeff"), path, allowed)


def _sorted(found: list[Finding]) -> list[Finding]:
    return sorted(found, key=lambda finding: (finding.line, finding.col))


# --- collecting files -------------------------------------------------------------------


@dataclass
class _Collector:
    root: Path
    cwd: Path
    settings: Settings
    targets: dict[Path, Checked] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def kind_of(self, target: Path) -> Kind | None:
        try:
            rel = PurePosixPath(target.relative_to(self.root).as_posix())
        except ValueError:
            return None  # outside the repository
        if str(rel) == SETTINGS_FILE:
            return "settings"
        if is_metrics_name(rel.name):
            return "metrics"
        if rel.suffix not in YAML_SUFFIXES:
            return None
        parent = str(rel.parent)
        if parent == self.settings.agents_dir:
            return "agent"
        if parent == EVALS_DIR:
            return "eval"
        if rel.suffix == ".yaml" and str(rel.parent.parent) == POINTER_DIR:
            return "pointer"
        return None

    def add(self, target: Path, shown: str, kind: Kind) -> None:
        self.targets.setdefault(target, Checked(shown, kind))

    def shown(self, target: Path) -> str:
        return os.path.relpath(target, self.cwd)

    def defaults(self) -> list[Path]:
        """Every agent and evaluation suite in the repository, sorted."""
        found: list[Path] = []
        for folder in (self.root / self.settings.agents_dir, self.root / EVALS_DIR):
            if folder.is_dir():
                found.extend(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES)
        return sorted(p for p in found if p.is_file())

    def everything(self) -> list[Path]:
        """What a directory argument can stand for: defaults, settings, pointers and the
        metrics files at the top level."""
        found = self.defaults()
        found.extend(
            sorted(
                p
                for p in self.root.glob(f"*{METRICS_NAME}")
                if is_metrics_name(p.name) and not p.is_dir()
            )
        )
        settings_file = self.root / SETTINGS_FILE
        if settings_file.is_file():
            found.append(settings_file)
        pointer_dir = self.root / POINTER_DIR
        if pointer_dir.is_dir():
            found.extend(sorted(p for p in pointer_dir.glob("*/*.yaml") if p.is_file()))
        return found

    def add_defaults(self) -> None:
        for target in self.defaults():
            kind = self.kind_of(target)
            if kind is not None:
                self.add(target, self.shown(target), kind)


def _collect(
    root: Path, cwd: Path, settings: Settings, given: Sequence[tuple[str, Path]]
) -> tuple[list[tuple[Path, Checked]], tuple[str, ...]]:
    collector = _Collector(root, cwd, settings)
    if not given:  # the whole repository: agents, suites, agentver.yaml and pointers
        for target in collector.everything():
            kind = collector.kind_of(target)
            if kind is not None:
                collector.add(target, collector.shown(target), kind)
    for shown, target in given:
        if target.is_dir() and not target.is_symlink():
            for inner in collector.everything():
                kind = collector.kind_of(inner)
                if kind is not None and inner.is_relative_to(target):
                    collector.add(inner, os.path.join(shown, inner.relative_to(target)), kind)
            continue
        kind = collector.kind_of(target)
        if kind is None:
            collector.skipped.append(shown)
            continue
        collector.add(target, shown, kind)
        if kind == "settings":
            collector.add_defaults()
    return list(collector.targets.items()), tuple(collector.skipped)
