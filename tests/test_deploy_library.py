"""The library API of pointer actions (``agentver.deploy``): what watch and the dashboard
call. Same checks and commit message as the CLI, an explicit author, and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GIT_EMAIL, GIT_NAME, Repo, RunCli

from agentver.deploy import (
    Author,
    FlagChange,
    canary_abort,
    canary_promote,
    canary_set,
    canary_start,
    deploy,
    flag_rm,
    flag_set,
    rollback,
)
from agentver.errors import UsageError
from agentver.workspace import Workspace

BOT = Author("watch-bot", "bot@example.com")


def cfg(model: str) -> dict[str, Any]:
    return {"model": model, "system_prompt": f"You are {model}.\n", "tools": ["search_kb"]}


@pytest.fixture
def agents(repo: Repo) -> Repo:
    for n in (1, 2, 3):
        repo.commit_agent("support", cfg(f"m{n}"), f"support v{n}")
    return repo


def author_and_committer(repo: Repo) -> tuple[str, str]:
    line = repo.git("log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    author, committer = line.split("|")
    return author, committer


def test_every_action_commits_as_the_given_author(agents: Repo) -> None:
    ws = Workspace.open(agents.path)
    steps = [
        lambda: deploy(ws, "support", "1", author=BOT),
        lambda: canary_start(ws, "support", "2", "10", author=BOT),
        lambda: canary_set(ws, "support", 25, author=BOT),
        lambda: canary_promote(ws, "support", author=BOT),
        lambda: canary_start(ws, "support", "3", 12.5, author=BOT),
        lambda: canary_abort(ws, "support", note=" (verdict: rollback)", author=BOT),
        lambda: rollback(ws, "support", "1", author=BOT),
        lambda: flag_set(
            ws, "support", "beta", FlagChange(users=("alice",)), create=True, author=BOT
        ),
        lambda: flag_rm(ws, "support", "beta", author=BOT),
    ]
    subjects = []
    for step in steps:
        outcome = step()
        assert outcome.changed and outcome.commit == agents.head()
        assert author_and_committer(agents) == (BOT.ident, f"{GIT_NAME} <{GIT_EMAIL}>")
        subjects.append(agents.git("log", "-1", "--format=%s").strip())
    assert subjects == [
        "agentver(production): deploy support v1",
        "agentver(production): canary start support v2 at 10%",
        "agentver(production): canary set support v2 to 25% (was 10%)",
        "agentver(production): canary promote support v2",
        "agentver(production): canary start support v3 at 12.5%",
        "agentver(production): canary abort support v3 (verdict: rollback)",
        "agentver(production): rollback support to v1",
        "agentver(production): flag set support beta",
        "agentver(production): flag rm support beta",
    ]


def test_without_author_the_commit_is_gits_identity(agents: Repo) -> None:
    deploy(Workspace.open(agents.path), "support", "1")
    identity = f"{GIT_NAME} <{GIT_EMAIL}>"
    assert author_and_committer(agents) == (identity, identity)


def test_a_bot_without_git_identity_commits_as_itself(
    agents: Repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    agents.git("config", "--unset", "user.name")
    agents.git("config", "--unset", "user.email")
    for name in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{name}_NAME")
        monkeypatch.delenv(f"GIT_{name}_EMAIL")
    monkeypatch.setenv("EMAIL", "")  # git would otherwise guess from the host
    deploy(Workspace.open(agents.path), "support", "1", author=BOT)
    assert author_and_committer(agents) == (BOT.ident, BOT.ident)


@pytest.mark.parametrize(
    ("name", "email"), [("", "a@b"), ("bot", " "), ("b<t", "a@b"), ("bot", "a@b>\nx")]
)
def test_an_author_that_git_would_garble_is_refused(name: str, email: str) -> None:
    with pytest.raises(UsageError, match="invalid author"):
        Author(name, email)


def test_the_library_applies_the_clis_checks(agents: Repo) -> None:
    ws = Workspace.open(agents.path)
    with pytest.raises(UsageError, match="invalid percent"):
        canary_set(ws, "support", "1e2", author=BOT)
    with pytest.raises(UsageError, match="invalid flag name"):
        flag_set(ws, "support", "../x", FlagChange(enabled=False), author=BOT)
    assert agents.git("log", "--format=%s").count("agentver(") == 0


def test_write_commands_print_one_json_document(agents: Repo, run_cli: RunCli) -> None:
    code, out, err = run_cli("deploy", "support", "1", "--json", cwd=agents.path)
    assert code == 0, err
    document = json.loads(out)
    assert document["commit"] == agents.head() and document["committed"] is True
    assert document["changed"] is True and document["action"] == "deploy"
    assert document["message"] == "agentver(production): deploy support v1"
    assert document["before"] == {"active": None, "canary": None, "flags": {}}
    assert document["after"]["active"]["version"] == 1
    assert (document["agent"], document["environment"]) == ("support", "production")

    code, out, _ = run_cli("canary", "start", "support", "2", "-p", "10", "--json", cwd=agents.path)
    canary = json.loads(out)["after"]["canary"]
    assert code == 0 and (canary["version"], canary["percent"]) == (2, 10)
    code, out, _ = run_cli("canary", "set", "support", "-p", "20", "--json", cwd=agents.path)
    assert code == 0 and json.loads(out)["after"]["canary"]["percent"] == 20
    code, out, _ = run_cli("canary", "abort", "support", "--json", cwd=agents.path)
    assert code == 0 and json.loads(out)["after"]["canary"] is None
    code, out, _ = run_cli("canary", "start", "support", "2", "-p", "5", "--json", cwd=agents.path)
    code, out, _ = run_cli("canary", "promote", "support", "--json", cwd=agents.path)
    assert code == 0 and json.loads(out)["after"]["active"]["version"] == 2
    code, out, _ = run_cli("rollback", "support", "--json", cwd=agents.path)
    assert code == 0 and json.loads(out)["after"]["active"]["version"] == 1
    args = ("flag", "set", "support", "beta", "--users", "alice", "--create", "--json")
    code, out, _ = run_cli(*args, cwd=agents.path)
    flags = json.loads(out)["after"]["flags"]
    assert code == 0 and flags["beta"]["users"] == ["alice"]
    code, out, _ = run_cli("flag", "rm", "support", "beta", "--json", cwd=agents.path)
    assert code == 0 and json.loads(out)["after"]["flags"] == {}

    # Nothing to do: still one document, nothing changed, no commit.
    head = agents.head()
    code, out, _ = run_cli("rollback", "support", "1", "--json", cwd=agents.path)
    document = json.loads(out)
    assert code == 0 and document["changed"] is False and document["commit"] is None
    assert agents.head() == head

    # --no-commit: changed, written, not committed.
    code, out, _ = run_cli("deploy", "support", "3", "--no-commit", "--json", cwd=agents.path)
    document = json.loads(out)
    assert code == 0 and document["changed"] is True
    assert (document["committed"], document["commit"]) == (False, None)
