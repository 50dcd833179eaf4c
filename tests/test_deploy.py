"""Pointer commands through the CLI: every command, every refusal, the commit guarantees."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, RunCli

from agentver.deploy.pointers import parse_pointer, pointer_path

POINTER = pointer_path("production", "support")


def cfg(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "system_prompt": f"You are {model}.\n", "tools": ["search_kb"], **extra}


@pytest.fixture
def agents(repo: Repo) -> Repo:
    """support v1..v4 (v4 fails the schema) and billing v1; nothing deployed."""
    for n in (1, 2, 3):
        repo.commit_agent("support", cfg(f"m{n}"), f"support v{n}")
    repo.commit_agent("support", cfg("m4", temperature=5), "support v4 (too hot)")
    repo.commit_agent("billing", cfg("b1"), "billing v1")
    return repo


@pytest.fixture
def deployed(agents: Repo, run_cli: RunCli) -> Repo:
    """As ``agents`` with support v1 active in production."""
    code, _, err = run_cli("deploy", "support", "1", cwd=agents.path)
    assert code == 0, err
    return agents


def pointer_of(repo: Repo, env: str = "production", agent: str = "support") -> Any:
    rel = pointer_path(env, agent)
    return parse_pointer((repo.path / rel).read_bytes(), rel, env, agent)


def pointer_bytes(repo: Repo) -> bytes | None:
    path = repo.path / POINTER
    return path.read_bytes() if path.exists() else None


def commit_count(repo: Repo) -> int:
    return int(repo.git("rev-list", "--count", "HEAD").strip())


def subject(repo: Repo, rev: str = "HEAD") -> str:
    return repo.git("log", "-1", "--format=%s", rev).strip()


def git_may_fail(repo: Repo, *args: str) -> int:
    return subprocess.run(["git", *args], cwd=repo.path, capture_output=True).returncode


def snapshot(repo: Repo) -> tuple[str, bytes | None, str, str, str]:
    return (
        repo.git("rev-parse", "HEAD").strip(),
        pointer_bytes(repo),
        repo.git("status", "--porcelain", "--untracked-files=all"),
        repo.git("diff", "--cached", "--binary"),
        repo.git("diff", "--binary"),
    )


def assert_refused(repo: Repo, run_cli: RunCli, args: list[str], message: str) -> str:
    """Exit 2, ``message`` on stderr, and nothing written: HEAD, pointer, index, tree."""
    before = snapshot(repo)
    code, out, err = run_cli(*args, cwd=repo.path)
    assert code == 2, (code, out, err)
    assert message in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err
    assert snapshot(repo) == before
    return err


# -- every command ------------------------------------------------------------------------


def test_deploy_commits_only_the_pointer_with_message(agents: Repo, run_cli: RunCli) -> None:
    start = commit_count(agents)
    code, out, err = run_cli("deploy", "support", "v2", cwd=agents.path)
    assert code == 0, err
    assert "deploy support v2" in err and out == ""
    assert commit_count(agents) == start + 1
    assert subject(agents) == "agentver(production): deploy support v2"
    assert agents.git("show", "--name-only", "--format=", "HEAD").split() == [POINTER]
    pointer = pointer_of(agents)
    v2 = json.loads(run_cli("show", "support", "2", "--json", cwd=agents.path).stdout)
    assert (pointer.active.version, pointer.active.config_hash, pointer.active.commit) == (
        2,
        v2["config_hash"],
        v2["commit"],
    )
    assert pointer.canary is None and dict(pointer.flags) == {}
    assert agents.git("status", "--porcelain").strip() == ""
    text = (agents.path / POINTER).read_text()
    assert "agent: support\nenvironment: production\n" in text


def test_deploy_same_version_again_is_a_noop(deployed: Repo, run_cli: RunCli) -> None:
    head = deployed.head()
    code, _, err = run_cli("deploy", "support", "1", cwd=deployed.path)
    assert code == 0 and "nothing to do" in err
    assert deployed.head() == head


def test_rollback_default_previous_toggles(deployed: Repo, run_cli: RunCli) -> None:
    assert run_cli("deploy", "support", "3", cwd=deployed.path).exit_code == 0
    seen = []
    for _ in range(3):
        code, _, err = run_cli("rollback", "support", cwd=deployed.path)
        assert code == 0, err
        seen.append((pointer_of(deployed).active.version, subject(deployed)))
    assert seen == [
        (1, "agentver(production): rollback support to v1"),
        (3, "agentver(production): rollback support to v3"),
        (1, "agentver(production): rollback support to v1"),
    ]


def test_rollback_to_active_version_is_a_noop(deployed: Repo, run_cli: RunCli) -> None:
    head, before = deployed.head(), pointer_bytes(deployed)
    code, _, err = run_cli("rollback", "support", "1", cwd=deployed.path)
    assert code == 0 and "nothing to do" in err and "already active" in err
    assert deployed.head() == head and pointer_bytes(deployed) == before
    code, _, err = run_cli("rollback", "support", "active", cwd=deployed.path)
    assert code == 0 and deployed.head() == head


def test_rollback_without_previous_is_refused(deployed: Repo, run_cli: RunCli) -> None:
    assert_refused(deployed, run_cli, ["rollback", "support"], "no previous active version")


def test_canary_lifecycle(deployed: Repo, run_cli: RunCli) -> None:
    root = deployed.path
    code, _, err = run_cli("canary", "start", "support", "3", "--percent", "10", cwd=root)
    assert code == 0, err
    assert subject(deployed) == "agentver(production): canary start support v3 at 10%"
    first = pointer_of(deployed).canary
    assert (first.version, first.percent_bp) == (3, 1000)
    assert len(first.salt) == 16 and int(first.salt, 16) >= 0

    status = json.loads(run_cli("canary", "status", "support", "--json", cwd=root).stdout)
    assert status == {
        "agent": "support",
        "environment": "production",
        "active": 1,
        "canary": {"version": 3, "percent": 10, "started_at": first.started_at},
    }

    assert run_cli("canary", "set", "support", "--percent", "12.5", cwd=root).exit_code == 0
    assert subject(deployed) == "agentver(production): canary set support v3 to 12.5% (was 10%)"
    second = pointer_of(deployed).canary
    assert second.salt == first.salt and second.percent_bp == 1250  # same cohort
    code, _, err = run_cli("canary", "set", "support", "--percent", "12.50", cwd=root)
    assert code == 0 and "nothing to do" in err

    assert run_cli("canary", "abort", "support", cwd=root).exit_code == 0
    assert subject(deployed) == "agentver(production): canary abort support v3"
    after_abort = pointer_of(deployed)
    assert after_abort.canary is None and after_abort.active.version == 1

    assert run_cli("canary", "start", "support", "3", "--percent", "50", cwd=root).exit_code == 0
    assert pointer_of(deployed).canary.salt != first.salt  # a new canary, a new cohort
    assert run_cli("canary", "promote", "support", cwd=root).exit_code == 0
    assert subject(deployed) == "agentver(production): canary promote support v3"
    promoted = pointer_of(deployed)
    assert promoted.canary is None and promoted.active.version == 3
    status = json.loads(run_cli("canary", "status", "support", "--json", cwd=root).stdout)
    assert status["active"] == 3 and status["canary"] is None
    code, out, _ = run_cli("canary", "status", "support", cwd=root)
    assert code == 0 and "active v3" in out and "no canary" in out


def test_deploy_and_rollback_end_a_canary(deployed: Repo, run_cli: RunCli) -> None:
    root = deployed.path
    run_cli("canary", "start", "support", "3", "--percent", "10", cwd=root)
    assert run_cli("deploy", "support", "2", cwd=root).exit_code == 0
    assert subject(deployed) == "agentver(production): deploy support v2 (ends canary v3)"
    assert pointer_of(deployed).canary is None
    run_cli("canary", "start", "support", "3", "--percent", "10", cwd=root)
    assert run_cli("rollback", "support", "2", cwd=root).exit_code == 0
    # Rolling back to the active version while a canary runs is not a no-op: it ends it.
    assert subject(deployed) == "agentver(production): rollback support to v2 (ends canary v3)"
    assert pointer_of(deployed).canary is None and pointer_of(deployed).active.version == 2


def test_flags_set_list_rm(deployed: Repo, run_cli: RunCli) -> None:
    root = deployed.path
    code, _, err = run_cli(
        "flag",
        "set",
        "support",
        "web_search_beta",
        "--percent",
        "20",
        "--users",
        "alice,bob",
        "--add-tools",
        "web_search",
        "--create",
        cwd=root,
    )
    assert code == 0, err
    assert subject(deployed) == "agentver(production): flag set support web_search_beta"
    assert deployed.git("show", "--name-only", "--format=", "HEAD").split() == [POINTER]
    listed = json.loads(run_cli("flag", "list", "support", "--json", cwd=root).stdout)
    assert listed == {
        "agent": "support",
        "environment": "production",
        "flags": {
            "web_search_beta": {
                "enabled": True,
                "percent": 20,
                "users": ["alice", "bob"],
                "add_tools": ["web_search"],
                "remove_tools": [],
            }
        },
    }
    # Options not given keep their value; --disable turns it off.
    assert (
        run_cli("flag", "set", "support", "web_search_beta", "--disable", cwd=root).exit_code == 0
    )
    assert subject(deployed) == "agentver(production): flag disable support web_search_beta"
    flag = json.loads(run_cli("flag", "list", "support", "--json", cwd=root).stdout)["flags"][
        "web_search_beta"
    ]
    assert flag["enabled"] is False and flag["users"] == ["alice", "bob"] and flag["percent"] == 20
    head = deployed.head()
    code, _, err = run_cli("flag", "set", "support", "web_search_beta", "--disable", cwd=root)
    assert code == 0 and "nothing to do" in err and deployed.head() == head
    args = ("flag", "set", "support", "no_search", "--remove-tools", "search_kb", "--create")
    assert run_cli(*args, cwd=root).exit_code == 0
    code, out, _ = run_cli("flag", "list", "support", cwd=root)
    assert "web_search_beta: off" in out and "no_search: on for everyone" in out
    assert run_cli("flag", "rm", "support", "web_search_beta", cwd=root).exit_code == 0
    assert subject(deployed) == "agentver(production): flag rm support web_search_beta"
    flags = json.loads(run_cli("flag", "list", "support", "--json", cwd=root).stdout)["flags"]
    assert list(flags) == ["no_search"]
    # Flags never change the active version.
    assert pointer_of(deployed).active.version == 1
    assert_refused(deployed, run_cli, ["flag", "rm", "support", "nosuch"], "has no flag 'nosuch'")
    assert_refused(deployed, run_cli, ["flag", "set", "support", "bad name!"], "invalid flag name")


def test_resolve(deployed: Repo, run_cli: RunCli) -> None:
    root = deployed.path
    run_cli("canary", "start", "support", "2", "--percent", "50", cwd=root)
    args = ("flag", "set", "support", "beta", "--users", "alice", "--add-tools", "web_search")
    assert run_cli(*args, "--create", cwd=root).exit_code == 0
    hashes = {
        v["version"]: v["config_hash"]
        for v in json.loads(run_cli("history", "support", "--json", cwd=root).stdout)["versions"]
    }
    variants = set()
    # 24 users at 50%: both arms appear unless the random salt is a 1-in-8-million case.
    for user in ("alice", *(f"user{i}" for i in range(23))):
        code, out, err = run_cli("resolve", "support", "--user", user, "--json", cwd=root)
        assert code == 0, err
        doc = json.loads(out)
        assert set(doc) == {
            "agent",
            "environment",
            "user",
            "version",
            "config_hash",
            "variant",
            "flags",
            "tools",
        }
        assert doc["user"] == user and doc["environment"] == "production"
        assert doc["variant"] == ("canary" if doc["version"] == 2 else "stable")
        assert doc["config_hash"] == hashes[doc["version"]]  # flags do not change it
        if user == "alice":
            assert doc["flags"] == ["beta"] and set(doc["tools"]) == {"search_kb", "web_search"}
        else:
            assert doc["flags"] == [] and doc["tools"] == ["search_kb"]
        if user in ("alice", "user0", "user1"):
            again = run_cli("resolve", "support", "--user", user, "--json", cwd=root).stdout
            assert json.loads(again) == doc  # sticky
        variants.add(doc["variant"])
    assert variants == {"stable", "canary"}


def test_resolve_without_deployment(agents: Repo, run_cli: RunCli) -> None:
    code, _, err = run_cli("resolve", "support", "--user", "u", cwd=agents.path)
    assert code == 2 and "no active version" in err


def test_environments(agents: Repo, run_cli: RunCli) -> None:
    agents.write(
        "agentver.yaml", "environments: [staging, production]\ndefault_environment: staging\n"
    )
    agents.commit("envs", "agentver.yaml")
    assert run_cli("deploy", "support", "2", cwd=agents.path).exit_code == 0
    assert subject(agents) == "agentver(staging): deploy support v2"
    assert pointer_of(agents, "staging").active.version == 2
    assert not (agents.path / POINTER).exists()
    assert run_cli("deploy", "support", "1", "--env", "production", cwd=agents.path).exit_code == 0
    assert pointer_of(agents).active.version == 1
    assert_refused(
        agents, run_cli, ["deploy", "support", "1", "--env", "qa"], "unknown environment 'qa'"
    )


# -- --no-commit ----------------------------------------------------------------------------


def test_no_commit_writes_the_file_only(deployed: Repo, run_cli: RunCli) -> None:
    root = deployed.path
    head = deployed.head()
    code, _, err = run_cli("deploy", "support", "2", "--no-commit", cwd=root)
    assert code == 0 and "not committed" in err
    assert deployed.head() == head
    assert pointer_of(deployed).active.version == 2
    assert deployed.git("status", "--porcelain").strip() == f"M {POINTER}"
    # The index is untouched: the change is unstaged.
    assert deployed.git("diff", "--cached", "--name-only").strip() == ""
    # Without --no-commit the uncommitted pointer is refused...
    assert_refused(
        deployed,
        run_cli,
        ["canary", "start", "support", "3", "--percent", "5"],
        "uncommitted edits",
    )
    # ...with it, the command builds on the file on disk.
    code, _, err = run_cli(
        "canary", "start", "support", "3", "--percent", "5", "--no-commit", cwd=root
    )
    assert code == 0, err
    pointer = pointer_of(deployed)
    assert pointer.active.version == 2 and pointer.canary.version == 3
    assert deployed.head() == head


def test_no_commit_on_a_new_pointer_leaves_it_untracked(agents: Repo, run_cli: RunCli) -> None:
    head = agents.head()
    assert run_cli("deploy", "support", "1", "--no-commit", cwd=agents.path).exit_code == 0
    assert agents.head() == head
    assert agents.git("status", "--porcelain", "--untracked-files=all").strip() == f"?? {POINTER}"


# -- refusals -------------------------------------------------------------------------------


def test_refuses_unknown_and_invalid_versions(deployed: Repo, run_cli: RunCli) -> None:
    err = assert_refused(deployed, run_cli, ["deploy", "support", "9"], "support has no version 9")
    assert "support has versions 1-4" in err
    assert_refused(deployed, run_cli, ["deploy", "support", "v0"], "support has versions 1-4")
    assert_refused(deployed, run_cli, ["deploy", "support", "4"], "does not pass the schema")
    assert_refused(
        deployed,
        run_cli,
        ["canary", "start", "support", "4", "--percent", "5"],
        "does not pass the schema",
    )
    assert_refused(
        deployed,
        run_cli,
        ["rollback", "support", "worktree"],
        "worktree is not a committed version",
    )
    assert_refused(deployed, run_cli, ["deploy", "nosuch", "1"], "unknown agent 'nosuch'")
    assert_refused(deployed, run_cli, ["deploy", "../x", "1"], "invalid agent id")


def test_refuses_canary_rules(deployed: Repo, run_cli: RunCli, agents: Repo) -> None:
    assert_refused(
        deployed,
        run_cli,
        ["canary", "start", "support", "1", "--percent", "5"],
        "already the active version",
    )
    for args in (
        ["canary", "set", "support", "--percent", "5"],
        ["canary", "promote", "support"],
        ["canary", "abort", "support"],
    ):
        assert_refused(deployed, run_cli, args, "no canary running")
    assert (
        run_cli("canary", "start", "support", "2", "--percent", "5", cwd=deployed.path).exit_code
        == 0
    )
    assert_refused(
        deployed,
        run_cli,
        ["canary", "start", "support", "3", "--percent", "5"],
        "already has a canary",
    )
    # No active version to compare with (billing is not deployed).
    assert_refused(
        deployed,
        run_cli,
        ["canary", "start", "billing", "1", "--percent", "5"],
        "no active version",
    )


@pytest.mark.parametrize(
    "percent", ["0", "101", "12.345", "1e2", "nan", "-5", "0.00", "100.01", "inf", " 5", "1,5", ""]
)
def test_refuses_bad_percent(deployed: Repo, run_cli: RunCli, percent: str) -> None:
    assert_refused(
        deployed,
        run_cli,
        ["canary", "start", "support", "2", "--percent", percent],
        "invalid percent",
    )
    assert_refused(
        deployed, run_cli, ["flag", "set", "support", "f", "--percent", percent], "invalid percent"
    )


def test_refuses_bad_percent_on_canary_set(deployed: Repo, run_cli: RunCli) -> None:
    run_cli("canary", "start", "support", "2", "--percent", "5", cwd=deployed.path)
    for percent in ("0", "101", "12.345", "1e2", "nan"):
        assert_refused(
            deployed, run_cli, ["canary", "set", "support", "--percent", percent], "invalid percent"
        )


def test_percent_edges_accepted(deployed: Repo, run_cli: RunCli) -> None:
    root = deployed.path
    assert run_cli("canary", "start", "support", "2", "--percent", "0.01", cwd=root).exit_code == 0
    assert pointer_of(deployed).canary.percent_bp == 1
    assert run_cli("canary", "set", "support", "--percent", "100", cwd=root).exit_code == 0
    assert pointer_of(deployed).canary.percent_bp == 10_000
    assert run_cli("canary", "set", "support", "--percent", "99.99", cwd=root).exit_code == 0
    assert pointer_of(deployed).canary.percent_bp == 9999


ALL_WRITES = [
    ["deploy", "support", "2"],
    ["rollback", "support", "2"],
    ["canary", "start", "support", "2", "--percent", "10"],
    ["flag", "set", "support", "f", "--percent", "10"],
]


def test_refuses_on_detached_head(deployed: Repo, run_cli: RunCli) -> None:
    deployed.git("checkout", "-q", "--detach")
    for args in ALL_WRITES:
        assert_refused(deployed, run_cli, args, "HEAD is detached")


def _conflict(repo: Repo) -> None:
    """A branch ``other`` whose notes.txt conflicts with main's."""
    repo.write("notes.txt", "base\n")
    repo.commit("notes", "notes.txt")
    repo.git("switch", "-q", "-c", "other")
    repo.write("notes.txt", "other\n")
    repo.commit("other notes", "notes.txt")
    repo.git("switch", "-q", "main")
    repo.write("notes.txt", "main\n")
    repo.commit("main notes", "notes.txt")


def test_refuses_during_merge(deployed: Repo, run_cli: RunCli) -> None:
    _conflict(deployed)
    assert git_may_fail(deployed, "merge", "other") != 0
    assert (deployed.path / ".git" / "MERGE_HEAD").exists()
    for args in ALL_WRITES:
        assert_refused(deployed, run_cli, args, "a merge is in progress")


def test_refuses_during_rebase(deployed: Repo, run_cli: RunCli) -> None:
    _conflict(deployed)
    deployed.git("switch", "-q", "other")
    assert git_may_fail(deployed, "rebase", "main") != 0
    for args in ALL_WRITES:
        assert_refused(deployed, run_cli, args, "a rebase is in progress")


def test_refuses_during_cherry_pick(deployed: Repo, run_cli: RunCli) -> None:
    _conflict(deployed)
    assert git_may_fail(deployed, "cherry-pick", "other") != 0
    assert (deployed.path / ".git" / "CHERRY_PICK_HEAD").exists()
    for args in ALL_WRITES:
        assert_refused(deployed, run_cli, args, "a cherry-pick is in progress")


def test_refuses_pointer_with_uncommitted_edits(deployed: Repo, run_cli: RunCli) -> None:
    path = deployed.path / POINTER
    path.write_bytes(path.read_bytes() + b"# hand edit\n")
    for args in ALL_WRITES:
        assert_refused(deployed, run_cli, args, f"{POINTER} has uncommitted edits")
    # Staged edits count too.
    deployed.git("add", POINTER)
    assert_refused(deployed, run_cli, ALL_WRITES[0], "uncommitted edits")


@pytest.mark.parametrize(
    "content",
    [
        b"agent: support\nenvironment: production\nactive: {version: 1\n",  # YAML syntax
        b"agent: support\nenvironment: production\nactive: {version: one, config_hash: x, commit: y}\n",
        b"agent: billing\nenvironment: production\nactive: null\n",  # wrong agent
        b"- a list\n",
        b"agent: support\nenvironment: production\nsurprise: 1\n",
    ],
)
def test_refuses_corrupt_pointer_naming_the_file(
    deployed: Repo, run_cli: RunCli, content: bytes
) -> None:
    deployed.write(POINTER, content)
    deployed.commit("break the pointer", POINTER)  # committed, so only corruption is wrong
    for args in [
        *ALL_WRITES,
        ["canary", "status", "support"],
        ["resolve", "support", "--user", "u"],
    ]:
        err = assert_refused(deployed, run_cli, args, "corrupt pointer file")
        assert POINTER in err
    # Uncommitted and corrupt: still reported as corrupt (read first), even with --no-commit.
    deployed.write(POINTER, b"{{{")
    err = assert_refused(
        deployed, run_cli, ["deploy", "support", "2", "--no-commit"], "corrupt pointer file"
    )
    assert POINTER in err


# -- the unrelated-changes guarantee -------------------------------------------------------


def test_unrelated_staged_unstaged_and_untracked_changes_stay(
    deployed: Repo, run_cli: RunCli
) -> None:
    root = deployed.path
    deployed.write("README.md", "one\n")
    deployed.write("docs/guide.md", "guide\n")
    deployed.commit("docs", "README.md", "docs/guide.md")
    # A staged change, an unstaged change on top of a staged one, an unstaged change,
    # a staged new file, an untracked file, and an unstaged edit of an agent file.
    deployed.write("README.md", "staged\n")
    deployed.git("add", "README.md")
    deployed.write("README.md", "staged then edited\n")
    deployed.write("docs/guide.md", "unstaged\n")
    deployed.write("new.txt", "staged new file\n")
    deployed.git("add", "new.txt")
    deployed.write("scratch/untracked.bin", b"\x00\x01binary")
    deployed.write("agents/billing.yaml", "model: draft\nsystem_prompt: draft\n")
    files = [
        "README.md",
        "docs/guide.md",
        "new.txt",
        "scratch/untracked.bin",
        "agents/billing.yaml",
    ]

    def state() -> tuple[str, str, str, list[bytes]]:
        return (
            deployed.git("diff", "--cached", "--binary"),
            deployed.git("diff", "--binary", "--", ".", f":!{POINTER}"),
            deployed.git("ls-files", "--others", "--exclude-standard"),
            [(root / name).read_bytes() for name in files],
        )

    before = state()
    for args in (
        ["deploy", "support", "2"],
        ["canary", "start", "support", "3", "--percent", "10"],
        ["canary", "set", "support", "--percent", "20"],
        ["flag", "set", "support", "beta", "--users", "alice", "--create"],
        ["canary", "promote", "support"],
        ["rollback", "support"],
        ["deploy", "billing", "1"],
    ):
        head = deployed.head()
        code, _, err = run_cli(*args, cwd=root)
        assert code == 0, (args, err)
        assert deployed.git("rev-parse", "HEAD~1").strip() == head  # exactly one commit
        changed = deployed.git("show", "--name-only", "--format=", "HEAD").split()
        assert changed in ([POINTER], [pointer_path("production", "billing")])
        assert state() == before, args
    assert pointer_of(deployed).active.version == 2


def test_commits_use_the_users_identity_and_hooks(deployed: Repo, run_cli: RunCli) -> None:
    hook = deployed.path / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\necho 'Signed-off-by: Hook' >> \"$1\"\n")
    hook.chmod(0o755)
    assert run_cli("deploy", "support", "2", cwd=deployed.path).exit_code == 0
    body = deployed.git("log", "-1", "--format=%an <%ae>%n%B")
    assert body.startswith(
        "Test Author <author@example.com>\nagentver(production): deploy support v2"
    )
    assert "Signed-off-by: Hook" in body


def test_failing_hook_restores_pointer_and_index(deployed: Repo, run_cli: RunCli) -> None:
    hook = deployed.path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(deployed)
    code, _, err = run_cli("deploy", "support", "2", cwd=deployed.path)
    assert code == 2 and err.startswith("error: ")
    assert snapshot(deployed) == before


def test_no_identity_is_refused_cleanly(deployed: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    deployed.git("config", "--unset", "user.name")
    deployed.git("config", "--unset", "user.email")
    env = {
        "GIT_AUTHOR_NAME": None,
        "GIT_AUTHOR_EMAIL": None,
        "GIT_COMMITTER_NAME": None,
        "GIT_COMMITTER_EMAIL": None,
        "EMAIL": None,
    }
    before = snapshot(deployed)
    code, _, err = run_cli("deploy", "support", "2", cwd=deployed.path, env=env)
    if code == 0:  # git guessed an identity from the host name: nothing to check here
        pytest.skip("git inferred an identity on this machine")
    assert code == 2 and "who you are" in err
    assert snapshot(deployed) == before
