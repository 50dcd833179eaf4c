"""Deterministic store snapshots and fixtures for the store tests, and a sync driver.

As a script: ``python tests/store_kill_driver.py URL AGENTS VERSIONS HEAD`` builds the
snapshot, prints ``start``, syncs it and prints ``done`` (the kill test SIGKILLs it in
between). The test modules import the builders and PostgreSQL helpers from here.
"""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentver.hashing import config_hash
from agentver.models import ActiveVersion, AgentConfig, Canary, Flag, Pointer, Version
from agentver.store import Snapshot, StoredVersion, open_store

ENVIRONMENTS = ("staging", "production")
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


def pg_admin() -> Any:
    """An autocommit connection to the test database; fail under CI, else skip, if absent."""
    import psycopg
    import pytest

    try:
        return psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")


def pg_schema_url() -> Iterator[str]:
    """A fresh schema per test (the first sync creates it), dropped afterwards."""
    admin = pg_admin()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        yield f"{PG_BASE}?schema={schema}"
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def store_url_for(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'runtime.db'}"
    else:
        yield from pg_schema_url()


def _hex(text: str, length: int = 40) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def make_version(agent: str, number: int, prompt_size: int = 200, salt: str = "") -> StoredVersion:
    body = f"You are {agent}, version {number}{salt}. " * max(1, prompt_size // 30)
    config = AgentConfig(
        model="gpt-4o" if number % 2 else "gpt-4o-mini",
        system_prompt=body + "Help with billing. ünïcödé ✓",
        temperature=0.1 * (number % 10),
        max_tokens=1000 + number,
        tools=("search_kb", f"tool_{number % 3}"),
        guardrails={"pii_redaction": number % 2 == 0, "max_turns": number},
        params={"top_p": 0.9} if number % 3 == 0 else {},
        description=f"{agent} agent" if number % 2 else None,
    )
    version = Version(
        agent=agent,
        version=number,
        config_hash=config_hash(config),
        commit=_hex(f"{agent}:{number}:{salt}"),
        created_by="Ada Lovelace <ada@example.com>",
        created_at=f"2026-01-{1 + number % 28:02d}T10:00:00Z",
        change_description=f"{agent}: change {number}",
        valid=True,
        blob=_hex(f"blob:{agent}:{number}:{salt}"),
    )
    return StoredVersion(version=version, config=config)


def make_pointer(env: str, agent: str, versions: list[StoredVersion], canary: bool) -> Pointer:
    """Active on the second newest version, canary (if asked) on the newest."""
    active = versions[-2] if len(versions) > 1 else versions[-1]
    newest = versions[-1]
    flags = {"beta": Flag(name="beta", percent_bp=2000, users=("alice",), add_tools=("web",))}
    return Pointer(
        agent=agent,
        environment=env,
        active=ActiveVersion(
            active.version.version, active.version.config_hash, active.version.commit
        ),
        canary=Canary(
            newest.version.version,
            newest.version.config_hash,
            newest.version.commit,
            1250,
            _hex(f"salt:{env}:{agent}:{len(versions)}", 16),
            "2026-02-01T00:00:00Z",
        )
        if canary
        else None,
        flags=flags if canary else {},
    )


def make_snapshot(agents: int, versions: int, head: str, prompt_size: int = 200) -> Snapshot:
    stored: list[StoredVersion] = []
    pointers: list[Pointer] = []
    for a in range(agents):
        agent = f"agent-{a:03d}"
        mine = [make_version(agent, n, prompt_size) for n in range(1, versions + 1)]
        stored += mine
        for env in ENVIRONMENTS:
            pointers.append(make_pointer(env, agent, mine, canary=(a + versions) % 2 == 0))
    return Snapshot(
        head_commit=_hex(head), versions=stored, pointers=pointers, environments=ENVIRONMENTS
    )


def main(argv: list[str]) -> int:
    url, agents, versions, head = argv[0], int(argv[1]), int(argv[2]), argv[3]
    prompt_size = int(argv[4]) if len(argv) > 4 else 200
    snapshot = make_snapshot(agents, versions, head, prompt_size)
    store = open_store(url, Path.cwd())
    print("start", flush=True)
    store.sync(snapshot)
    print("done", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
