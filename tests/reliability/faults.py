"""Fault injection: SIGKILL of pointer writes and syncs, concurrent writers, SIGINT.

Each function runs real ``python -m agentver`` processes against a real repository and
returns counts; the tests assert on them and ``bench/reliability.py`` prints them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .harness import AGENT, base_repo, git, hermetic_env

POINTER = f".agentver/deployments/production/{AGENT}.yaml"


def sync_kill_runs(runs: int) -> int:
    """Sync kills for a given ``--reliability-runs``: all of them in the long mode (>= 100),
    a quarter in CI (a sync cycle costs four commands)."""
    return runs if runs >= 100 else max(4, runs // 4)


def writer_rounds(runs: int) -> int:
    """Rounds per concurrent writer: four writers make about ``runs`` commands."""
    return max(4, runs // 4) if runs >= 100 else max(4, runs // 5)


def agentver_cmd(root: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "agentver", "-C", str(root), *argv]


def run(root: Path, env: Mapping[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agentver_cmd(root, *argv), env=dict(env), capture_output=True, text=True, timeout=120
    )


@dataclass
class KillReport:
    runs: int = 0
    torn: int = 0  # pointer unparseable/invalid, git inconsistent, or a commit with more
    committed: int = 0  # the kill came after the commit: HEAD moved by exactly the pointer
    untouched: int = 0  # the kill came first: nothing changed
    leftover_file: int = 0  # pointer written (whole) but not committed: next command refuses
    temp_files: int = 0  # an atomic write's temporary file left (next command removes it)
    index_locks: int = 0  # git's index.lock left behind by the kill
    lock_errors_clear: int = 0  # ...and the next agentver command said so clearly
    finished: int = 0  # the command had exited 0 before the kill: it must have committed
    problems: list[str] = field(default_factory=list)


def check_pointer(root: Path) -> str | None:
    """None when the pointer on disk parses and names a valid version of HEAD's history."""
    from agentver.errors import AgentverError
    from agentver.workspace import Workspace

    try:
        ws = Workspace.open(root)
        pointer = ws.pointer("production", AGENT)
        history = ws.history(AGENT)
    except AgentverError as exc:
        return f"pointer unreadable: {exc.message}"
    if pointer.active is None:
        return "pointer names no active version"
    by_hash = {v.config_hash: v for v in history.versions}
    version = by_hash.get(pointer.active.config_hash)
    if version is None or not version.valid:
        return f"pointer names v{pointer.active.version}, not a valid version"
    return None


def _fsck(root: Path) -> str | None:
    proc = subprocess.run(
        ["git", "fsck", "--no-dangling", "--no-progress"], cwd=root, capture_output=True, text=True
    )
    return None if proc.returncode == 0 else f"git fsck: {proc.stderr.strip()[:200]}"


def _timed(root: Path, env: Mapping[str, str], *argv: str) -> float:
    started = time.monotonic()
    proc = run(root, env, *argv)
    if proc.returncode != 0:
        raise AssertionError(f"agentver {' '.join(argv)} failed: {proc.stderr}")
    return time.monotonic() - started


def kill_pointer_writes(tmp: Path, runs: int, seed: int = 8) -> KillReport:
    """SIGKILL ``deploy`` / ``flag set`` at random delays; judge what is left each time.

    Delays are drawn over the last 60% of a measured uninterrupted run, where the
    write and the commit happen (start-up is most of a run).
    """
    rng = random.Random(seed)
    env = hermetic_env(tmp / "home")
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    root = base_repo(tmp / "repo")
    duration = _timed(root, env, "flag", "set", AGENT, "warmup", "--create", "--disable")
    report = KillReport()
    for number in range(runs):
        old_head = git(root, "rev-parse", "HEAD").strip()
        if number % 2:
            argv = ["flag", "set", AGENT, "beta", "--create", "--percent", str(rng.randint(1, 100))]
        else:
            current = (root / POINTER).read_text()
            argv = ["deploy", AGENT, "1" if "version: 2" in current else "2"]
        proc = subprocess.Popen(
            agentver_cmd(root, *argv),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.4 * duration, 1.05 * duration))
        finished = proc.poll() == 0
        # Odd runs kill agentver alone (an OOM kill: its `git commit` child runs on);
        # even runs kill the whole process group, git included (a container stop).
        if number % 4 < 2:
            proc.send_signal(signal.SIGKILL)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_for_session(proc.pid)
        report.runs += 1
        committed_before = report.committed
        problem = _judge_kill(root, old_head, env, report)
        if finished:
            report.finished += 1
            if not problem and report.committed == committed_before:
                problem = "the command exited 0 but HEAD did not move"
        if problem:
            report.torn += 1
            report.problems.append(f"run {number} ({' '.join(argv)}): {problem}")
            _recover(root)
    return report


def _wait_for_session(sid: int, timeout: float = 60) -> None:
    """Until no process of session ``sid`` is left (an orphaned git finishes its work)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":  # session id; not a zombie
                alive = True
                break
        if not alive:
            return
        time.sleep(0.02)


def _judge_kill(
    root: Path, old_head: str, env: Mapping[str, str], report: KillReport
) -> str | None:
    lock = root / ".git" / "index.lock"
    if lock.exists():
        report.index_locks += 1
        # git's own behaviour after a kill: the next agentver command must say so clearly.
        probe = run(root, env, "flag", "set", AGENT, "probe")
        if (
            probe.returncode == 2
            and "index.lock" in probe.stderr
            and "Traceback" not in probe.stderr
        ):
            report.lock_errors_clear += 1
        else:
            return (
                f"after a stale index.lock: exit {probe.returncode}, {probe.stderr.strip()[:200]}"
            )
        lock.unlink()
    fsck = _fsck(root)
    if fsck:
        return fsck
    new_head = git(root, "rev-parse", "HEAD").strip()
    if new_head != old_head:
        parent = git(root, "rev-parse", f"{new_head}^").strip()
        changed = git(root, "diff", "--name-only", old_head, new_head).split()
        if parent != old_head or changed != [POINTER]:
            return f"HEAD moved to {new_head[:10]} (parent {parent[:10]}, files {changed})"
        report.committed += 1
    problem = check_pointer(root)
    if problem:
        return problem
    status = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    temp = [line for line in status if line.startswith("?? ") and line.endswith(".tmp")]
    if temp:
        # Killed inside the atomic write: the temporary file stays (the pointer itself is
        # whole); the next pointer command removes it under the lock.
        report.temp_files += 1
        probe = run(
            root, env, "flag", "set", AGENT, f"probe{report.temp_files}", "--create", "--disable"
        )
        status = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
        if probe.returncode != 0 or any(line.endswith(".tmp") for line in status):
            return f"temporary file not cleaned by the next command: {status[:3]}"
    stray = [line for line in status if not line.endswith(POINTER)]
    if stray:
        return f"unexpected leftovers: {stray[:3]}"
    if status:
        # Killed between the atomic write and the commit: a whole, valid file that is
        # not committed; the next pointer command refuses until it is committed or reset.
        report.leftover_file += 1
        _recover(root)
    elif new_head == old_head:
        report.untouched += 1
    return None


def _recover(root: Path) -> None:
    (root / ".git" / "index.lock").unlink(missing_ok=True)
    git(root, "reset", "-q", "--", POINTER, check=False)
    git(root, "checkout", "-q", "--", POINTER, check=False)
    for leftover in (root / POINTER).parent.glob(".*.tmp"):
        leftover.unlink()


# -- syncs ------------------------------------------------------------------------------


@dataclass
class SyncKillReport:
    runs: int = 0
    mixed: int = 0  # a store that is neither the old nor the new state
    old_state: int = 0
    new_state: int = 0
    finished: int = 0  # the sync had exited 0 before the kill: the store must be new
    problems: list[str] = field(default_factory=list)


def store_state(root: Path) -> tuple[object, ...] | None:
    """What a reader of the store sees: versions and pointers, or None when empty."""
    from agentver.errors import StoreError
    from agentver.store import StoreNotInitialized, open_store

    store = open_store("sqlite:///.agentver/runtime.db", root)
    try:
        versions = tuple(
            sorted(
                (v.version.agent, v.version.version, v.version.config_hash)
                for v in store.versions()
            )
        )
        pointers = tuple(sorted(repr(p) for p in store.pointers()))
        return (versions, pointers)
    except StoreNotInitialized:
        return None
    except StoreError as exc:
        return ("error", exc.message)
    finally:
        store.close()


def kill_syncs(tmp: Path, runs: int, seed: int = 9) -> SyncKillReport:
    """SIGKILL ``agentver sync`` at random delays: the store is old or new, never a mix."""
    rng = random.Random(seed)
    env = hermetic_env(tmp / "home")
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    root = base_repo(tmp / "repo")
    report = SyncKillReport()
    duration = _timed(root, env, "sync")
    for number in range(runs):
        current = (root / POINTER).read_text()
        moved = run(root, env, "deploy", AGENT, "1" if "version: 2" in current else "2")
        if moved.returncode != 0:
            report.problems.append(f"deploy failed: {moved.stderr.strip()[:300]}")
            return report
        old = store_state(root)
        proc = subprocess.Popen(
            agentver_cmd(root, "sync"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.4 * duration, 1.05 * duration))
        finished = proc.poll() == 0
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _wait_for_session(proc.pid)
        report.runs += 1
        report.finished += finished
        seen = store_state(root)
        finish = run(root, env, "sync")
        new = store_state(root)
        if finish.returncode != 0:
            report.mixed += 1
            report.problems.append(
                f"run {number}: sync after a kill failed: {finish.stderr.strip()[:300]}"
            )
        elif finished and seen != new:
            report.mixed += 1
            report.problems.append(f"run {number}: sync exited 0 but the store is not new")
        elif seen == old:
            report.old_state += 1
        elif seen == new:
            report.new_state += 1
        else:
            report.mixed += 1
            report.problems.append(f"run {number}: store after the kill is neither old nor new")
    return report


# -- concurrency -------------------------------------------------------------------------


@dataclass
class ConcurrencyReport:
    processes: int
    rounds: int
    succeeded: int = 0
    failed: int = 0
    lost_updates: int = 0
    problems: list[str] = field(default_factory=list)


_WORKER = """
import subprocess, sys
root, worker, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = []
for n in range(1, rounds + 1):
    proc = subprocess.run(
        [sys.executable, "-m", "agentver", "-C", root, "flag", "set", "support",
         f"w{worker}", "--create", "--percent", str(n), "--users", f"writer{worker}"],
        capture_output=True, text=True,
    )
    print(n, proc.returncode, proc.stderr.strip().replace("\\n", " | "), flush=True)
"""


def concurrent_writers(tmp: Path, processes: int = 4, rounds: int = 10) -> ConcurrencyReport:
    """``processes`` workers each set their own flag ``rounds`` times on one pointer file.

    No lost update: every successful command is its own commit of the pointer, and the
    final pointer holds each worker's last value; the final file is what a commit wrote.
    """
    env = hermetic_env(tmp / "home")
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    root = base_repo(tmp / "repo")
    start = git(root, "rev-parse", "HEAD").strip()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(root), str(i), str(rounds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    report = ConcurrencyReport(processes, rounds)
    last_ok: dict[int, int] = {}
    for i, worker in enumerate(workers):
        out, err = worker.communicate(timeout=600)
        for line in out.splitlines():
            number, code, message = (
                line.split(" ", 2) if line.count(" ") >= 2 else (*line.split(" "), "")
            )
            if code == "0":
                report.succeeded += 1
                last_ok[i] = int(number)
            else:
                report.failed += 1
                report.problems.append(f"worker {i} round {number}: exit {code}: {message[:200]}")
        if worker.returncode != 0:
            report.problems.append(f"worker {i} crashed: {err[:300]}")
    commits = git(root, "rev-list", "--count", f"{start}..HEAD", "--", POINTER).strip()
    if int(commits) != report.succeeded:
        report.lost_updates += abs(report.succeeded - int(commits))
        report.problems.append(
            f"{report.succeeded} successful commands but {commits} pointer commits"
        )
    from agentver.workspace import Workspace

    pointer = Workspace.open(root).pointer("production", AGENT)
    for i, last in last_ok.items():
        flag = pointer.flags.get(f"w{i}")
        if flag is None or flag.percent_bp != last * 100:
            report.lost_updates += 1
            report.problems.append(f"worker {i}: final flag {flag} but its last write was {last}%")
    committed = git(root, "show", f"HEAD:{POINTER}")
    if committed != (root / POINTER).read_text():
        report.problems.append("the final pointer file is not the committed one")
    if git(root, "status", "--porcelain").strip():
        report.problems.append("work tree not clean after the writers")
    return report


# -- SIGINT -------------------------------------------------------------------------------


@dataclass
class InterruptReport:
    exit_code: int
    stderr: str
    changed: bool


def interrupt_waiting_command(tmp: Path, argv: list[str]) -> InterruptReport:
    """SIGINT a pointer command while it waits for the pointer lock we hold."""
    from .harness import snapshot

    env = hermetic_env(tmp / "home")
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    root = base_repo(tmp / "repo")
    before = snapshot(root)
    lock_path = root / ".git" / "agentver-cache" / "pointers.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        proc = subprocess.Popen(
            agentver_cmd(root, *argv),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # A shell's background job inherits SIGINT ignored; a user's command does not.
            preexec_fn=_default_sigint,
        )
        _wait_until_open(proc.pid, lock_path, timeout=60)
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    after = snapshot(root)
    return InterruptReport(proc.returncode, err, bool(before.diff(after)))


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_until_open(pid: int, path: Path, timeout: float) -> None:
    """Until process ``pid`` has ``path`` open (it is then polling for the lock)."""
    deadline = time.monotonic() + timeout
    target = str(path.resolve())
    while time.monotonic() < deadline:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            for fd in fd_dir.iterdir():
                try:
                    if os.readlink(fd) == target:
                        return
                except OSError:
                    continue
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never opened {path}")
