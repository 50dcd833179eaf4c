"""``agentver canary watch``: verdicts, acting, and each failure mode of
docs/auto-rollback.md, against a real bare remote and real SQLite / PostgreSQL stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import agentver.cli.app
import agentver.cli.watch_cmd  # noqa: F401  (registers `canary watch`)
from agentver.canary.watch import WatchOptions
from agentver.canary.watch_settings import parse_duration, watch_settings
from agentver.settings import Settings
from agentver.store import claims, open_store
from tests import store_kill_driver as fx
from tests.conftest import RunCli
from tests.watch_world import (
    AGENT,
    BOT,
    ENV,
    POINTER,
    V3,
    World,
    events,
    git,
    kinds,
    make_world,
    ok,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


@pytest.fixture
def world(tmp_path: Path, run_cli: RunCli) -> World:
    return make_world(tmp_path, f"sqlite:///{tmp_path / 'runtime.db'}", run_cli)


def served_canary(world: World) -> object:
    store = open_store(world.store_url)
    try:
        return {p.agent: p for p in store.pointers(ENV)}[AGENT].canary
    finally:
        store.close()


# --- the verdicts, and acting on them ---------------------------------------------------


def test_rollback_is_committed_pushed_and_synced_as_the_bot(
    tmp_path: Path, run_cli: RunCli, store_url: str
) -> None:
    world = make_world(tmp_path, store_url, run_cli)
    world.record()
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["verdict", "commit", "push", "sync"]
    verdict = events(result.stdout)[0]
    assert verdict["verdict"] == "rollback" and verdict["salt"] == world.salt()
    assert verdict["canary"]["requests"] == 400 and verdict["stable"]["requests"] == 400
    # The same commit as `canary abort`, authored by the bot, now on the remote.
    author, subject = world.remote_log()[0].split("\t")
    assert author == BOT
    assert subject == f"agentver({ENV}): canary abort {AGENT} v2 (canary evaluate: rollback)"
    body = git(world.remote, "log", "-1", "--format=%B", "main")
    assert "verdict: rollback" in body and "canary v2: 400 requests" in body
    assert git(world.remote, "show", "--name-only", "--format=", "main").split() == [POINTER]
    assert world.pointer().canary is None and world.pointer().active.version == 1  # type: ignore[union-attr]
    assert served_canary(world) is None
    # A second pass finds nothing to judge and changes nothing.
    again = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(again.stdout) == []
    assert len(world.remote_log(10)) == len(git(world.remote, "log", "--format=%H").split())


def test_promote_when_the_canary_is_as_good(world: World) -> None:
    world.record(requests=3000, canary_fail=0.0, stable_fail=0.02)
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert events(result.stdout)[0]["verdict"] == "promote"
    assert world.remote_log()[0].endswith("canary promote support v2 (canary evaluate: promote)")
    assert world.pointer().active.version == 2  # type: ignore[union-attr]


def test_continue_and_no_apply_change_nothing(world: World) -> None:
    before = git(world.remote, "rev-parse", "main")
    world.record(requests=20, canary_fail=0.02)  # too little traffic to tell
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["verdict"]
    assert events(result.stdout)[0]["verdict"] == "continue"
    world.record()
    result = ok(world.watch("--once"))  # rollback verdict, but only logged
    assert [e["verdict"] for e in events(result.stdout)] == ["rollback"]
    assert git(world.remote, "rev-parse", "main") == before
    assert git(world.watcher, "rev-parse", "HEAD") == before


def test_text_log_line_per_event(world: World, run_cli: RunCli) -> None:
    world.record()
    result = ok(
        run_cli("-C", str(world.watcher), "canary", "watch", "--once", "--store", world.store_url)
    )
    line = result.stdout.strip()
    assert f"{AGENT}@{ENV}: verdict: rollback (errors): canary 45.00% vs stable 2.25%" in line
    assert line[:4] == "20" + line[2:4] and "Z " in line  # starts with a UTC timestamp


def test_agents_argument_limits_the_watch(world: World) -> None:
    world.record()
    result = ok(world.watch("--once", "other-agent"))
    assert events(result.stdout) == [
        {**events(result.stdout)[0], "event": "skip", "agent": "other-agent"}
    ]
    assert events(result.stdout)[0]["message"] == "no canary running"


# --- configuration ----------------------------------------------------------------------


def test_bot_identity_from_flag_env_and_agentver_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_settings = Settings(raw={"watch": {"author": "Yaml Bot <yaml@example.com>"}})
    assert str(watch_settings(Settings()).author) == "agentver-watch <agentver-watch@localhost>"
    assert str(watch_settings(yaml_settings).author) == "Yaml Bot <yaml@example.com>"
    monkeypatch.setenv("AGENTVER_WATCH_AUTHOR", "Env Bot <env@example.com>")
    assert str(watch_settings(yaml_settings).author) == "Env Bot <env@example.com>"
    assert str(watch_settings(yaml_settings, "Flag Bot <f@example.com>").author) == (
        "Flag Bot <f@example.com>"
    )


def test_author_from_agentver_yaml_signs_the_commit(world: World, run_cli: RunCli) -> None:
    world.person.write(
        "agentver.yaml",
        yaml.safe_dump(
            {"canary": {"min_requests": 50}, "watch": {"author": "Yaml Bot <yaml-bot@example.com>"}}
        ),
    )
    world.person.commit("watch settings", "agentver.yaml")
    git(world.person.path, "push", "-q", "origin", "main")
    world.record()
    args = ["-C", str(world.watcher), "canary", "watch", "--once", "--apply", "--push"]
    ok(run_cli(*args, "--store", world.store_url))
    assert world.remote_log()[0].startswith("Yaml Bot <yaml-bot@example.com>\t")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--push"], "add --apply"),
        (["--sync"], "add --apply"),
        (["--interval", "0s"], "invalid duration"),
        (["--interval", "soon"], "invalid duration"),
        (["--author", "nobody"], "not an identity"),
        (["../x"], "agent id"),
        (["--env", "nowhere"], "unknown environment"),
    ],
)
def test_bad_input_is_one_error_line(world: World, args: list[str], message: str) -> None:
    result = world.watch("--once", *args)
    assert result.exit_code == 2
    assert message in result.stderr or message in result.stdout
    assert "Traceback" not in result.stderr
    assert git(world.watcher, "status", "--porcelain") == ""


def test_durations() -> None:
    assert parse_duration("30s") == 30 and parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5 and parse_duration("1h") == 3600
    assert parse_duration("1.5") == 1.5
    with pytest.raises(Exception, match="invalid duration"):
        parse_duration("-1s")
    with pytest.raises(Exception, match="add --apply"):
        WatchOptions(Path("."), push=True)


# --- failure modes (docs/auto-rollback.md) ----------------------------------------------


@pytest.mark.parametrize(
    "bad_url",
    [
        "postgresql://postgres@127.0.0.1:1/test",  # nothing listens: store down
        "sqlite:///{tmp}/no-such-dir/runtime.db",
        "sqlite:///{tmp}/empty.db",  # never synced
    ],
)
def test_store_down_acts_on_nothing(world: World, tmp_path: Path, bad_url: str) -> None:
    world.record()
    before = git(world.remote, "rev-parse", "main")
    world.store_url = bad_url.format(tmp=tmp_path)
    result = world.watch("--once", "--apply", "--push", "--sync")
    assert result.exit_code == 2
    assert kinds(result.stdout) == ["error"]
    assert git(world.remote, "rev-parse", "main") == before
    assert git(world.watcher, "rev-parse", "HEAD") == before


def test_git_remote_unreachable_before_acting(world: World, tmp_path: Path) -> None:
    world.record()
    before = git(world.watcher, "rev-parse", "HEAD")
    git(world.watcher, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    result = world.watch("--once", "--apply", "--push", "--sync")
    assert result.exit_code == 2
    error = events(result.stdout)[-1]
    assert error["event"] == "error" and "cannot fetch" in error["message"]
    assert git(world.watcher, "rev-parse", "HEAD") == before
    assert served_canary(world) is not None


def test_git_remote_down_at_push_keeps_the_commit_and_delivers_it_later(world: World) -> None:
    world.record()
    hook = world.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'remote is down for maintenance' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = git(world.remote, "rev-parse", "main")
    result = world.watch("--once", "--apply", "--push", "--sync")
    assert result.exit_code == 2
    assert kinds(result.stdout) == ["verdict", "commit", "error"]
    assert "cannot push" in events(result.stdout)[-1]["message"]
    assert git(world.remote, "rev-parse", "main") == before
    assert served_canary(world) is not None  # never sync what the remote lacks
    hook.unlink()  # the remote is back: the next pass delivers the kept commit, then syncs
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["push", "sync"]
    assert world.remote_log()[0].startswith(BOT)
    assert served_canary(world) is None


def test_sync_left_undone_by_an_earlier_run_is_finished(world: World) -> None:
    """A run whose sync failed after its push (store down at that moment): the next run
    with --sync publishes the bot's pointer commit before anything else."""
    world.record()
    ok(world.watch("--once", "--apply", "--push"))  # pushed, never synced
    assert served_canary(world) is not None
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["sync"]
    assert served_canary(world) is None
    # A person's unpublished pointer commit is not the watcher's to publish.
    git(world.person.path, "pull", "-q", "--ff-only", "origin", "main")
    world.person_does("canary", "start", AGENT, "2", "--percent", "10")
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["skip"]
    assert served_canary(world) is None


def test_two_watchers_claim_once(world: World, tmp_path: Path) -> None:
    """A claim held by another watcher: this one logs it and writes nothing."""
    world.record()
    store = open_store(world.store_url)
    try:
        held = claims.claim(store, ENV, AGENT, world.salt(), "rollback", "other:1:x", 300)
    finally:
        store.close()
    assert held.won
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["verdict", "claimed"]
    assert "other:1:x" in events(result.stdout)[1]["message"]
    assert world.pointer().canary is not None


def test_two_watcher_processes_at_once_act_once(world: World, tmp_path: Path) -> None:
    world.record()
    second = tmp_path / "watcher2"
    git(tmp_path, "clone", "-q", str(world.remote), str(second))
    env = {**os.environ, "AGENTVER_WATCH_AUTHOR": BOT}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentver",
                "-C",
                str(clone),
                "canary",
                "watch",
                "--once",
                "--apply",
                "--push",
                "--sync",
                "--json",
                "--store",
                world.store_url,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone in (world.watcher, second)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    commits = [k for out, _ in outputs for k in kinds(out) if k == "commit"]
    assert commits == ["commit"]
    subjects = [line for line in world.remote_log(10) if "canary abort" in line]
    assert len(subjects) == 1
    assert served_canary(world) is None


def test_expired_claim_second_watcher_superseded(world: World, tmp_path: Path) -> None:
    """A watcher that committed but could not push, whose claim expired and was taken:
    its later push finds the other watcher's commit upstream and drops its own."""
    world.record()
    second = tmp_path / "watcher2"
    git(tmp_path, "clone", "-q", str(world.remote), str(second))
    ok(world.watch("--once", "--apply"))  # committed locally, not pushed
    store = open_store(world.store_url)
    try:  # the lease ran out: the row goes, as if expired and taken over
        claims.release(store, claims.claim(store, ENV, AGENT, world.salt(), "x", "admin", 1))
        store.close()
        store = open_store(world.store_url)
        with store._lock, store._write() as tx:  # type: ignore[attr-defined]
            tx.execute("DELETE FROM watch_claims")
    finally:
        store.close()
    first = world.watcher
    world.watcher = second
    # Another second on the clock: else both commits are byte-identical (same sha).
    later = {
        "GIT_AUTHOR_DATE": "2030-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z",
    }
    ok(world.watch("--once", "--apply", "--push", "--sync", env=later))  # type: ignore[arg-type]
    world.watcher = first
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["superseded", "sync"]
    assert git(first, "rev-parse", "HEAD") == git(world.remote, "rev-parse", "main")
    assert len([s for s in world.remote_log(10) if "canary abort" in s]) == 1


PERSON = (
    "export GIT_AUTHOR_NAME='Pat Person' GIT_AUTHOR_EMAIL=pat@example.com\n"
    "export GIT_COMMITTER_NAME='Pat Person' GIT_COMMITTER_EMAIL=pat@example.com\n"
)


def _person_pushes_from_hook(world: World, *command: str) -> None:
    """A post-commit hook in the watcher's clone: right after the watcher's commit and
    before its push, a person pushes ``command``'s pointer commit from their clone."""
    agentver = f"{sys.executable} -m agentver"
    hook = world.watcher / ".git" / "hooks" / "post-commit"
    hook.write_text(
        f"#!/bin/sh\nunset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE\n{PERSON}"
        f"cd {world.person.path} && {agentver} {' '.join(command)} >/dev/null"
        " && git push -q origin main\n"
    )
    hook.chmod(0o755)


def test_person_acting_on_the_same_pointer_stops_the_watcher(world: World) -> None:
    world.record()
    _person_pushes_from_hook(world, "canary", "set", AGENT, "--percent", "20")
    result = world.watch("--once", "--apply", "--push", "--sync")
    assert result.exit_code == 2
    assert kinds(result.stdout) == ["verdict", "commit", "error", "stopped"]
    error = events(result.stdout)[-2]
    assert error["reason"] == "person-acted" and "Pat Person <pat@example.com>" in error["message"]
    # The person's change stands; the watcher's commit is gone, locally and remotely.
    assert world.pointer().canary.percent == 20  # type: ignore[union-attr]
    assert git(world.watcher, "rev-parse", "HEAD") == git(world.remote, "rev-parse", "main")
    assert not any(line.startswith(BOT) for line in world.remote_log(10))
    assert served_canary(world) is not None  # nothing synced


def _unrelated_push_hook(world: World, once: bool) -> None:
    """A post-commit hook in the watcher's clone pushing an unrelated commit from the
    person's clone (after the watcher's commit, and after each rebase unless ``once``)."""
    hook = world.watcher / ".git" / "hooks" / "post-commit"
    remove = 'rm -- "$0"' if once else ""
    hook.write_text(
        f"#!/bin/sh\nunset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE\n{remove}\n{PERSON}"
        f"cd {world.person.path} && git commit -q --allow-empty -m unrelated"
        " && git push -q origin main\n"
    )
    hook.chmod(0o755)


def test_push_race_with_an_unrelated_commit_is_rebased_and_retried(world: World) -> None:
    """A push rejected because someone pushed another commit: fetch, rebase, retry."""
    world.record()
    _unrelated_push_hook(world, once=True)
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["verdict", "commit", "push", "sync"]
    assert events(result.stdout)[2]["attempts"] == 2
    log = world.remote_log(2)
    assert log[0].startswith(BOT) and log[1].endswith("\tunrelated")
    assert served_canary(world) is None


def test_push_retries_are_bounded(world: World) -> None:
    world.record()
    _unrelated_push_hook(world, once=False)  # the remote moves after every rebase
    result = world.watch("--once", "--apply", "--push", "--sync")
    assert result.exit_code == 2
    assert "rejected 5 times" in events(result.stdout)[-1]["message"]
    assert not world.remote_log()[0].startswith(BOT)
    (world.watcher / ".git" / "hooks" / "post-commit").unlink()
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["push", "sync"]  # the kept commit, delivered
    assert world.remote_log()[0].startswith(BOT)


def test_head_behind_the_store_does_not_act(world: World, run_cli: RunCli) -> None:
    world.record()
    world.person.commit_agent("billing", V3, "billing v1")  # newer commit, synced
    git(world.person.path, "push", "-q", "origin", "main")
    world.sync()
    before = git(world.watcher, "rev-parse", "HEAD")
    result = world.watch("--once", "--apply", "--sync")  # no --push: no fetch
    assert result.exit_code == 2
    error = events(result.stdout)[-1]
    assert error["reason"] == "HeadBehindStore" and "behind the store" in error["message"]
    assert git(world.watcher, "rev-parse", "HEAD") == before
    assert served_canary(world) is not None
    # With --push it fetches and fast-forwards first, then acts.
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["verdict", "commit", "push", "sync"]


def test_outcomes_of_another_canary_are_never_acted_on(world: World) -> None:
    """Failing outcomes recorded under an earlier canary's salt do not count against a new
    canary; and a canary the store does not serve yet is not judged at all."""
    old_salt = world.salt()
    world.person_does("canary", "abort", AGENT)
    world.person_does("canary", "start", AGENT, "2", "--percent", "50")
    assert world.salt() != old_salt
    world.record(old_salt)  # the old canary failed; the new one has no outcomes
    git(world.watcher, "pull", "-q", "--ff-only")
    # Not synced yet: the store still serves the old canary, whose outcomes fail.
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    assert kinds(result.stdout) == ["skip"]
    assert old_salt in events(result.stdout)[0]["message"]
    world.sync()
    result = ok(world.watch("--once", "--apply", "--push", "--sync"))
    verdict = events(result.stdout)[0]
    assert (verdict["verdict"], verdict["canary"]["requests"]) == ("continue", 0)
    assert world.pointer().canary.salt == world.salt()  # type: ignore[union-attr]


def test_sigterm_stops_between_passes(world: World) -> None:
    world.record(requests=20)
    env = {**os.environ, "AGENTVER_WATCH_AUTHOR": BOT}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentver",
            "-C",
            str(world.watcher),
            "canary",
            "watch",
            "--interval",
            "200ms",
            "--json",
            "--store",
            world.store_url,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    second = proc.stdout.readline()  # a second pass: the loop runs on the interval
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = kinds(first + second + rest)
    assert lines[:2] == ["verdict", "verdict"] and lines[-1] == "stopped"
    assert "signal" in events(rest)[-1]["message"]
    time.sleep(0)  # nothing else to wait for: the process has exited
