"""Poison in history never blocks sync for other agents (issue 12 findings #2, #3, #6, #7).

Real git repositories, the real CLI, real SQLite files and the real PostgreSQL server.
A version the store cannot hold is skipped with one warning naming its commit and file;
a pointer naming a version the store will not hold (or a pointer file that cannot be
read) is refused for that agent alone; sync exits 1 after publishing everything else.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx
from conftest import Repo, RunCli

from agentver.deploy.pointers import serialize_pointer
from agentver.models import ActiveVersion, Pointer
from agentver.store import open_store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
GOOD = {"model": "gpt-4o", "system_prompt": "You help with billing."}
POINTER = ".agentver/deployments/production/{}.yaml"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def stored(url: str, root: Path) -> tuple[set[tuple[str, int]], dict[str, int | None]]:
    """(stored (agent, version) pairs, production pointers: agent -> active version)."""
    store = open_store(url, root)
    try:
        versions = {(s.version.agent, s.version.version) for s in store.versions()}
        pointers = {
            p.agent: p.active.version if p.active else None for p in store.pointers("production")
        }
        return versions, pointers
    finally:
        store.close()


def hand_pointer(repo: Repo, agent: str, version: int) -> None:
    """Commit a pointer file naming ``version`` as an editor would: no checks."""
    from agentver.workspace import Workspace

    chosen = Workspace.open(repo.path).history(agent).get(version)
    pointer = Pointer(
        agent, "production", ActiveVersion(chosen.version, chosen.config_hash, chosen.commit)
    )
    rel = POINTER.format(agent)
    repo.write(rel, serialize_pointer(pointer))
    repo.commit(f"hand edit {agent}", rel)


def deploy(run_cli: RunCli, repo: Repo, agent: str, version: str) -> None:
    code, _, err = run_cli("deploy", agent, version, cwd=repo.path)
    assert code == 0, err


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def test_an_unstorable_version_is_skipped_and_blocks_no_one(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    """Finding #2: max_tokens beyond 64 bits used to stop every sync, for good."""
    repo.commit_agent("billing", GOOD, "billing v1")
    poison = repo.commit_agent(
        "huge", "model: gpt-4o\nsystem_prompt: hi\nmax_tokens: 99999999999999999999\n", "huge v1"
    )
    repo.commit_agent("huge", {**GOOD, "max_tokens": 512}, "huge v2")
    deploy(run_cli, repo, "billing", "1")
    deploy(run_cli, repo, "huge", "2")
    # the second plain sync has nothing new: it must still warn, not take the fast path
    for argv in (("sync",), ("sync",), ("sync", "--force")):
        code, _, err = run_cli(*argv, "--store", store_url, cwd=repo.path)
        assert code == 1, err
        assert warnings(err) == [
            f"warning: skipped huge v1 (agents/huge.yaml at {poison[:10]}): "
            + warnings(err)[0].split("): ", 1)[1]
        ]
        assert "64-bit" in err and "Traceback" not in err
        versions, pointers = stored(store_url, repo.path)
        assert versions == {("billing", 1), ("huge", 2)}
        assert pointers == {"billing": 1, "huge": 2}
    # verify reports the skipped version, and is otherwise satisfied.
    code, _, err = run_cli("verify", "--store", store_url, cwd=repo.path)
    assert code == 0, err
    assert "huge v1" in err and "not storable" in err


def test_a_pointer_naming_an_unstorable_version_is_refused_for_that_agent(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    repo.commit_agent("billing", GOOD, "billing v1")
    repo.commit_agent("huge", {**GOOD, "max_tokens": 512}, "huge v1")
    repo.commit_agent(
        "huge", "model: gpt-4o\nsystem_prompt: hi\nmax_tokens: 99999999999999999999\n", "huge v2"
    )
    deploy(run_cli, repo, "billing", "1")
    deploy(run_cli, repo, "huge", "1")
    assert run_cli("sync", "--store", store_url, cwd=repo.path).exit_code == 1  # v2 skipped
    hand_pointer(repo, "huge", 2)
    repo.commit_agent("billing", {**GOOD, "temperature": 0.5}, "billing v2")
    deploy(run_cli, repo, "billing", "2")
    code, _, err = run_cli("sync", "--store", store_url, cwd=repo.path)
    assert code == 1, err
    assert "not published: pointer production/huge: active v2 is not storable" in err
    versions, pointers = stored(store_url, repo.path)
    assert pointers == {"billing": 2, "huge": 1}  # huge keeps what it served
    assert ("billing", 2) in versions and ("huge", 2) not in versions


def test_a_hand_edited_pointer_to_a_schema_invalid_version_is_not_published(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    """Finding #6: deploy refuses it; sync used to publish it and the runtime served it."""
    from agentver.runtime import RuntimeClient

    repo.commit_agent("billing", GOOD, "billing v1")
    repo.commit_agent("support", GOOD, "support v1")
    repo.commit_agent("support", {**GOOD, "max_tokens": 0}, "support v2 (invalid)")
    deploy(run_cli, repo, "billing", "1")
    deploy(run_cli, repo, "support", "1")
    assert run_cli("sync", "--store", store_url, cwd=repo.path).exit_code == 0
    hand_pointer(repo, "support", 2)
    code, _, err = run_cli("sync", "--store", store_url, cwd=repo.path)
    assert code == 1, err
    assert "pointer production/support: active v2 is not a valid version" in err
    _, pointers = stored(store_url, repo.path)
    assert pointers == {"billing": 1, "support": 1}
    client = RuntimeClient(store_url, environment="production", repo_root=repo.path)
    try:
        assert client.resolve("support", "someone").version == 1
    finally:
        client.close()


def test_an_unreadable_committed_pointer_file_blocks_only_its_agent(
    repo: Repo, run_cli: RunCli, store_url: str
) -> None:
    """Finding #3, sync half: a pointer file with a non-UTF-8 byte stopped every sync."""
    repo.commit_agent("billing", GOOD, "billing v1")
    repo.commit_agent("support", GOOD, "support v1")
    deploy(run_cli, repo, "support", "1")
    rel = POINTER.format("support")
    repo.write(rel, (repo.path / rel).read_bytes() + b"# \xff\xfe\n")
    repo.commit("a bad byte", rel)
    deploy(run_cli, repo, "billing", "1")
    code, _, err = run_cli("sync", "--store", store_url, cwd=repo.path)
    assert code == 1, err
    assert "not published: pointer production/support" in err and "Traceback" not in err
    versions, pointers = stored(store_url, repo.path)
    assert pointers == {"billing": 1}
    assert versions == {("billing", 1), ("support", 1)}


def alias_bomb(text_kb: int = 200, references: int = 1000) -> str:
    """The finding's shape: one long string anchored once and aliased many times. The
    file is ~``text_kb`` KB; written out, it is ``text_kb`` x ``references`` KB (200 MB)."""
    refs = ", ".join("*p" for _ in range(references))
    return (
        "model: gpt-4o\nsystem_prompt: hi\nguardrails:\n"
        f'  prompt: &p "{"x" * (text_kb * 1024)}"\n  copies: [{refs}]\n'
    )


def test_an_alias_bomb_costs_bounded_memory_and_blocks_no_one(
    repo: Repo, run_agentver: RunCli, tmp_path: Path
) -> None:
    """Finding #7: a 504 KB file of aliases became a 500 MB row and cost GBs of RAM. Here
    a 200 KB file that expands to 200 MB: the sync process must stay small."""
    repo.commit_agent("billing", GOOD, "billing v1")
    repo.commit_agent("bomb", alias_bomb(), "bomb v1")
    url = f"sqlite:///{tmp_path / 'runtime.db'}"
    err_path = tmp_path / "sync.err"
    # The sync runs under a small Python that reaps it with wait4: a child forked straight
    # from this test process would inherit pytest's own peak RSS (Linux keeps the high-water
    # mark across exec), so only a grandchild's figure is the sync's own.
    reaper = (
        "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]);"
        " _, s, u = os.wait4(p.pid, 0); print(os.waitstatus_to_exitcode(s), u.ru_maxrss)"
    )
    command = [sys.executable, "-m", "agentver", "-C", str(repo.path), "sync", "--store", url]
    with open(err_path, "wb") as err_file:
        proc = subprocess.run(
            [sys.executable, "-c", reaper, *command],
            stdout=subprocess.PIPE,
            stderr=err_file,
            check=True,
        )
    code_text, maxrss_text = proc.stdout.decode().split()[-2:]
    code, maxrss_kb = int(code_text), int(maxrss_text)
    stderr = err_path.read_text(errors="replace")
    assert code in (0, 1), stderr
    assert "Traceback" not in stderr
    assert maxrss_kb < 300 * 1024, f"sync peaked at {maxrss_kb // 1024} MB"
    versions, _ = stored(url, repo.path)
    assert ("billing", 1) in versions and ("bomb", 1) not in versions
