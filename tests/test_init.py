"""``agentver init``: scaffolding that validates and never overwrites."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import agentver.cli.init_cmd  # registers the command
import agentver.cli.validate_cmd  # noqa: F401
from agentver.init import GITIGNORE_LINES, init_repository
from agentver.policy import parse_policies
from agentver.settings import load_settings
from agentver.validate import validate

CREATED = {
    "agentver.yaml",
    "agents/assistant.yaml",
    ".agentver/deployments/",
    ".gitignore",
    ".agentver/schemas/agent.schema.json",
    ".agentver/schemas/agentver.schema.json",
    ".agentver/schemas/eval.schema.json",
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_init_new_folder(tmp_path: Path, run_cli: Any) -> None:
    code, out, err = run_cli("init", "proj", cwd=tmp_path)
    root = tmp_path / "proj"
    assert code == 0, err
    assert (root / ".git").is_dir()
    for rel in CREATED:
        assert f"created      proj/{rel}\n" in out
    assert "initialized git repository in proj" in out
    assert "next:\n  cd proj\n  agentver validate\n" in out
    assert (root / ".agentver" / "deployments").is_dir()
    report = validate(root)
    assert report.valid
    assert [item.path for item in report.checked] == ["agents/assistant.yaml", "agentver.yaml"]


def test_scaffold_contents(tmp_path: Path) -> None:
    result = init_repository(tmp_path / "p")
    root = tmp_path / "p"
    assert set(result.created) == CREATED and result.kept == []
    agent = (root / "agents" / "assistant.yaml").read_text()
    # the editor hint resolves inside the new repository (tests/test_validate_schema.py
    # validates both files against the schema it names)
    assert agent.startswith(
        "# yaml-language-server: $schema=../.agentver/schemas/agent.schema.json"
    )
    settings = load_settings(root)
    assert (settings.agents_dir, settings.environments) == ("agents", ("production",))
    policies = parse_policies(settings.raw.get("policies"), "agentver.yaml")
    assert policies["*"].forbid == ("as an AI language model",)
    assert "# store: sqlite:///.agentver/runtime.db" in (root / "agentver.yaml").read_text()
    assert (root / ".gitignore").read_text().splitlines()[1:] == list(GITIGNORE_LINES)


def test_store_files_are_ignored_by_git(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_repository(root)
    for name in ("runtime.db", "runtime.db-wal", "runtime.db-shm"):
        (root / ".agentver" / name).write_bytes(b"x")
    (root / ".agentver" / "deployments" / "keep.yaml").write_text("a: 1\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".db" not in status
    assert ".agentver/deployments/keep.yaml" in status


def test_second_run_keeps_everything(tmp_path: Path, run_cli: Any) -> None:
    run_cli("init", cwd=tmp_path)
    (tmp_path / "agents" / "assistant.yaml").write_text("model: mine\nsystem_prompt: mine\n")
    before = snapshot(tmp_path)
    code, out, _ = run_cli("init", cwd=tmp_path)
    assert code == 0
    assert snapshot(tmp_path) == before
    assert "created" not in out
    for rel in CREATED:
        assert f"exists, kept {rel}\n" in out


def test_existing_gitignore_is_extended_without_duplicates(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.agentver/*.db")  # no final newline
    result = init_repository(tmp_path)
    assert result.gitignore_added == [".agentver/*.db-wal", ".agentver/*.db-shm"]
    assert ".gitignore" not in result.created
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", ".agentver/*.db"]
    assert lines.count(".agentver/*.db") == 1
    assert ".agentver/*.db-wal" in lines and ".agentver/*.db-shm" in lines
    text = (tmp_path / ".gitignore").read_text()
    init_repository(tmp_path)
    assert (tmp_path / ".gitignore").read_text() == text


def test_existing_settings_are_kept_and_respected(tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "agentver.yaml").write_text("agents_dir: configs\n")
    code, out, _ = run_cli("init", cwd=tmp_path)
    assert code == 0
    assert "exists, kept agentver.yaml" in out
    assert (tmp_path / "agentver.yaml").read_text() == "agents_dir: configs\n"
    assert (tmp_path / "configs" / "assistant.yaml").is_file()
    assert not (tmp_path / "agents").exists()
    assert validate(tmp_path).valid


def test_inside_a_work_tree_no_nested_git(repo: Any, run_cli: Any) -> None:
    code, out, _ = run_cli("init", "sub", cwd=repo.path)
    assert code == 0
    assert not (repo.path / "sub" / ".git").exists()
    assert "initialized git repository" not in out
    assert (repo.path / "sub" / "agents" / "assistant.yaml").is_file()


def test_dir_is_a_file(tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "f").write_text("x")
    code, out, err = run_cli("init", "f", cwd=tmp_path)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and "is a file" in err
    assert (tmp_path / "f").read_text() == "x"


def test_init_then_commit_then_validate(tmp_path: Path, run_cli: Any) -> None:
    run_cli("init", cwd=tmp_path)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    assert run_cli("validate", cwd=tmp_path) == (0, "", "1 agent valid\n")


def test_init_again_does_not_resurrect_a_deleted_example(tmp_path: Path, run_cli: Any) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    run_cli("init", cwd=tmp_path)
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    git("rm", "-q", "agents/assistant.yaml")
    git("commit", "-q", "-m", "drop the example")
    code, out, _ = run_cli("init", cwd=tmp_path)
    assert code == 0
    assert not (tmp_path / "agents" / "assistant.yaml").exists()  # deleted stays deleted
    assert "not created  agents/assistant.yaml (the repository already has agents)" in out

    (tmp_path / "agents").mkdir(exist_ok=True)
    (tmp_path / "agents" / "support.yaml").write_text("model: m\nsystem_prompt: hi\n")
    code, out, _ = run_cli("init", cwd=tmp_path)  # agents on disk, none committed
    assert code == 0 and not (tmp_path / "agents" / "assistant.yaml").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert status == "?? agents/\n"  # only the new agent: agents/support.yaml
