"""The world of the ``canary watch`` tests: a person's clone, a bare remote on disk, the
watcher's own clone, and a real store (SQLite file or PostgreSQL schema).

The person's clone has v1 active and v2 as a 50% canary in production, pushed and
synced. ``canary.min_requests`` is 50 so a few hundred outcomes decide.
"""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentver.deploy.pointers import parse_pointer
from agentver.models import Pointer
from agentver.store import Outcome, open_store
from tests.conftest import Repo, RunCli

AGENT = "support"
ENV = "production"
BOT = "Canary Bot <canary-bot@example.com>"
POINTER = f".agentver/deployments/{ENV}/{AGENT}.yaml"
V1 = {"model": "gpt-4o", "system_prompt": "You are the support agent. Billing is in scope."}
V2 = {**V1, "system_prompt": "You are the support agent."}
V3 = {**V1, "system_prompt": "You are the support agent. Be brief."}


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


@dataclass
class World:
    person: Repo
    remote: Path
    watcher: Path
    store_url: str
    run_cli: RunCli

    def sync(self) -> None:
        ok(self.run_cli("sync", "--store", self.store_url, cwd=self.person.path))

    def person_does(self, *args: str) -> None:
        """A pointer command in the person's clone, pushed to the remote."""
        ok(self.run_cli(*args, cwd=self.person.path))
        git(self.person.path, "push", "-q", "origin", "main")

    def pointer(self, where: str = "remote", rev: str = "main") -> Pointer:
        cwd = {"remote": self.remote, "watcher": self.watcher, "person": self.person.path}[where]
        raw = git(cwd, "show", f"{rev}:{POINTER}").encode()
        return parse_pointer(raw, POINTER, ENV, AGENT)

    def salt(self) -> str:
        canary = self.pointer("person", "HEAD").canary
        assert canary is not None
        return canary.salt

    def remote_log(self, count: int = 1) -> list[str]:
        out = git(self.remote, "log", f"-{count}", "--format=%an <%ae>%x09%s", "main")
        return out.splitlines()

    def record(
        self,
        salt: str | None = None,
        requests: int = 400,
        canary_fail: float = 0.4,
        stable_fail: float = 0.02,
    ) -> None:
        """Outcomes of both arms under ``salt`` (default: the running canary's)."""
        salt = self.salt() if salt is None else salt
        rng = random.Random(7)
        store = open_store(self.store_url)
        try:
            outcomes = [
                Outcome(AGENT, ENV, variant, number, "0" * 16, salt, rng.random() >= fail)
                for variant, number, fail in (
                    ("stable", 1, stable_fail),
                    ("canary", 2, canary_fail),
                )
                for _ in range(requests)
            ]
            store.record_outcomes(outcomes)
        finally:
            store.close()

    def watch(self, *args: str, env: dict[str, str | None] | None = None) -> Any:
        return self.run_cli(
            "-C",
            str(self.watcher),
            "canary",
            "watch",
            "--store",
            self.store_url,
            "--author",
            BOT,
            "--json",
            *args,
            env=env,
        )


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def kinds(stdout: str) -> list[str]:
    return [event["event"] for event in events(stdout)]


def make_world(tmp_path: Path, store_url: str, run_cli: RunCli) -> World:
    person = Repo(tmp_path / "person")
    person.write("agentver.yaml", yaml.safe_dump({"canary": {"min_requests": 50}}))
    person.commit("settings", "agentver.yaml")
    person.commit_agent(AGENT, V1, "v1")
    person.commit_agent(AGENT, V2, "v2: shorter prompt")
    ok(run_cli("deploy", AGENT, "1", cwd=person.path))
    ok(run_cli("canary", "start", AGENT, "2", "--percent", "50", cwd=person.path))
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(person.path, "remote", "add", "origin", str(remote))
    git(person.path, "push", "-q", "origin", "main")
    watcher = tmp_path / "watcher"
    git(tmp_path, "clone", "-q", str(remote), str(watcher))
    world = World(person, remote, watcher, store_url, run_cli)
    world.sync()
    return world
