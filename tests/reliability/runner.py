"""Run one catalogue entry and judge it: used by the test and by ``bench/reliability.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import Entry
from .harness import Result, State, command_exists, run_in_process, snapshot

FINDING = re.compile(r"^[^\n]+?:\d+:\d+: \S")


@dataclass
class Verdict:
    entry: Entry
    result: Result | None = None
    skipped: str | None = None  # why it could not run (a command that does not exist yet)
    traceback: bool = False
    changed: list[str] = field(default_factory=list)  # what a refusal changed
    problems: list[str] = field(default_factory=list)  # every other broken expectation

    @property
    def ok(self) -> bool:
        return (
            self.skipped is None and not self.traceback and not self.changed and not self.problems
        )


def _states(entry_root: Path, watch: list[Path]) -> dict[str, State]:
    states = {"tmp": snapshot(entry_root)}
    for index, extra in enumerate(watch):
        states[f"watch{index}"] = snapshot(extra)
    return states


def _git_state(cwd: Path) -> State | None:
    """HEAD, index and git's own state files of the work tree around ``cwd``, if any."""
    for candidate in (cwd, *cwd.parents):
        if (candidate / ".git").is_dir():
            return snapshot(candidate)
    return None


def run_entry(entry: Entry, tmp: Path) -> Verdict:
    verdict = Verdict(entry)
    if entry.needs and not command_exists(entry.needs):
        verdict.skipped = f"command `agentver {entry.needs}` does not exist yet"
        return verdict
    ctx = entry.setup(tmp)
    try:
        repo_before = _git_state(ctx.cwd)
        before = _states(tmp, ctx.watch)
        if entry.kind == "library":
            _run_library(entry, ctx, verdict)
        else:
            result = run_in_process(list(entry.argv), ctx.cwd, dict(entry.env))
            verdict.result = result
            _judge(entry, result, verdict)
        after = _states(tmp, ctx.watch)
        repo_after = _git_state(ctx.cwd)
        for key, state in before.items():
            verdict.changed += [f"{key}: {line}" for line in state.diff(after[key])]
        if repo_before is not None and repo_after is not None:
            verdict.changed += [f"repo: {line}" for line in repo_before.diff(repo_after)]
        verdict.changed = sorted(set(verdict.changed))
    finally:
        for undo in ctx.cleanup:
            undo()
    return verdict


def _run_library(entry: Entry, ctx: object, verdict: Verdict) -> None:
    from agentver.errors import AgentverError

    assert entry.action is not None
    try:
        entry.action(ctx)  # type: ignore[arg-type]
    except AgentverError as exc:
        text = f"{exc.message} {exc.hint or ''}"
        if exc.exit_code != entry.exit_code:
            verdict.problems.append(f"exit code {exc.exit_code}, expected {entry.exit_code}")
        if not re.search(entry.expect, text):
            verdict.problems.append(f"message {text!r} does not match {entry.expect!r}")
        verdict.result = Result(exc.exit_code, "", f"error: {exc.message}\n")
    except Exception as exc:  # anything else escaping the library is a bug
        verdict.traceback = True
        verdict.problems.append(f"{type(exc).__name__} escaped: {exc}")
    else:
        verdict.problems.append("the library accepted it (expected a refusal)")


def _judge(entry: Entry, result: Result, verdict: Verdict) -> None:
    everything = result.stdout + result.stderr
    if "Traceback" in everything:
        verdict.traceback = True
    if "internal error" in result.stderr:
        verdict.problems.append("internal error (an unexpected exception) was reported")
    if result.exit_code != entry.exit_code:
        verdict.problems.append(f"exit code {result.exit_code}, expected {entry.exit_code}")
    stderr_lines = result.stderr.splitlines()
    error_lines = [line for line in stderr_lines if line.startswith("error:")]
    if entry.kind == "error":
        if len(error_lines) != 1:
            verdict.problems.append(f"{len(error_lines)} error: lines on stderr, expected 1")
        elif not re.search(entry.expect, error_lines[0]):
            verdict.problems.append(f"{error_lines[0]!r} does not match {entry.expect!r}")
        stray = [
            line
            for line in stderr_lines
            if not line.startswith(("error:", "hint:", "warning:", "note:"))
        ]
        if stray:
            verdict.problems.append(f"unexpected stderr lines: {stray[:3]}")
    elif entry.kind == "findings":
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if not lines:
            verdict.problems.append("no findings on stdout")
        unlocated = [line for line in lines if not FINDING.match(line)]
        if unlocated:
            verdict.problems.append(f"findings without path:line:col: {unlocated[:3]}")
        if not any(re.search(entry.expect, line) for line in lines):
            verdict.problems.append(f"no finding matches {entry.expect!r}: {lines[:5]}")
        if error_lines:
            verdict.problems.append(f"validate printed error: lines: {error_lines[:2]}")
    elif entry.kind == "noop":
        if error_lines:
            verdict.problems.append(f"a no-op printed errors: {error_lines}")
        if not re.search(entry.expect, result.stderr):
            verdict.problems.append(f"stderr {result.stderr!r} does not match {entry.expect!r}")
    elif entry.kind == "usage" and not re.search(entry.expect, result.stderr):
        verdict.problems.append(f"stderr {result.stderr!r} does not match {entry.expect!r}")
