"""``validate`` finds the repository from the paths it is given, as git does, and
suites go through the same loader and rules as ``eval`` (issue 14, first list)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Repo, RunCli

from agentver.errors import ConfigError
from agentver.evals.suite import load_suite

BROKEN = "model: gpt-4o\nsystem_prompt: hi\ntemperature: 9\n"
GOOD = "model: gpt-4o\nsystem_prompt: You help with billing.\n"
CASE = "cases:\n  - id: one\n    input: hi\n    assert: [{contains: x}]\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder in no repository at all."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_a_repository_path_is_validated_from_outside(
    repo: Repo, outside: Path, run_cli: RunCli
) -> None:
    repo.commit_agent("support", BROKEN, "add")
    code, out, err = run_cli("validate", str(repo.path), cwd=outside)
    assert code == 1, err
    assert (
        out
        == f"{repo.path}/agents/support.yaml:3:14: temperature: 9 is greater than the maximum of 2\n"
    )


def test_an_agent_file_is_validated_from_outside(
    repo: Repo, outside: Path, run_cli: RunCli
) -> None:
    repo.commit_agent("support", BROKEN, "add")
    target = str(repo.path / "agents" / "support.yaml")
    code, out, _ = run_cli("validate", target, cwd=outside)
    assert code == 1
    assert out.startswith(f"{target}:3:14: temperature")


def test_from_a_subfolder_of_the_repository(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", BROKEN, "add")
    code, out, _ = run_cli("validate", "support.yaml", cwd=repo.path / "agents")
    assert (code, out.split(":")[0]) == (1, "support.yaml")


def test_outside_any_repository_is_exit_2(outside: Path, run_cli: RunCli) -> None:
    (outside / "configs").mkdir()
    (outside / "configs" / "support.yaml").write_text(BROKEN)
    code, out, err = run_cli("validate", cwd=outside)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {outside} is not inside an agentver repository")
    code, _, err = run_cli("validate", "configs/support.yaml", cwd=outside)
    assert code == 2 and "not inside an agentver repository" in err


def test_a_folder_with_agents_but_no_git_is_a_repository(outside: Path, run_cli: RunCli) -> None:
    (outside / "agents").mkdir()
    (outside / "agents" / "support.yaml").write_text(BROKEN)
    code, out, _ = run_cli("validate", "support.yaml", cwd=outside / "agents")
    assert (code, out.split(":")[:3]) == (1, ["support.yaml", "3", "14"])


def test_a_git_repository_without_agentver_is_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    other = Repo(tmp_path / "other")
    other.write("README.md", "hello\n")
    other.commit("readme")
    code, _, err = run_cli("validate", cwd=other.path)
    assert code == 2
    assert "is not an agentver repository" in err and "agentver init" in err


def test_paths_in_two_repositories_are_exit_2(
    repo: Repo, tmp_path: Path, outside: Path, run_cli: RunCli
) -> None:
    repo.commit_agent("support", GOOD, "add")
    other = Repo(tmp_path / "other")
    other.commit_agent("sales", GOOD, "add")
    first, second = repo.path / "agents/support.yaml", other.path / "agents/sales.yaml"
    code, _, err = run_cli("validate", str(first), str(second), cwd=outside)
    assert code == 2 and f"{second} is outside the repository at {repo.path}" in err


def test_a_checkout_without_git_is_found_by_its_agentver_yaml(
    outside: Path, run_cli: RunCli
) -> None:
    (outside / "agentver.yaml").write_text("agents_dir: agents\n")
    (outside / "agents").mkdir()
    (outside / "agents" / "support.yaml").write_text(BROKEN)
    code, out, _ = run_cli("validate", cwd=outside / "agents")
    assert code == 1  # paths are shown relative to where validate runs, as git does
    assert out.startswith("support.yaml:3:14: temperature")


# -- suites: one loader, one set of rules -------------------------------------------------

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n" + CASE
)

SUITE_ERRORS = {
    "undefined variable": (
        'cases:\n  - id: one\n    input: "hi {{ name }}"\n    assert: [{contains: x}]\n',
        "undefined variable 'name'",
    ),
    "duplicate case id": (
        CASE + "  - id: one\n    input: again\n    assert: [{contains: y}]\n",
        "duplicate case id",
    ),
    "bad regex": (
        "cases:\n  - id: one\n    input: hi\n    assert: [{regex: '(unclosed'}]\n",
        "invalid regular expression",
    ),
    "bad json schema": (
        "cases:\n  - id: one\n    input: hi\n    assert: [{json_schema: {type: 12}}]\n",
        "invalid JSON Schema",
    ),
    "ignore_case misplaced": (
        "cases:\n  - id: one\n    input: hi\n    assert: [{regex: x, ignore_case: true}]\n",
        "ignore_case does not apply to regex",
    ),
    "agent mismatch": ("agent: sales\n" + CASE, "does not match the file name"),
    "alias bomb": (ALIAS_BOMB, "alias bomb"),
    "deep nesting": ("x: " + "[" * 80 + "]" * 80 + "\n" + CASE, "nests deeper than"),
    "date": ("updated: 2026-01-01\n" + CASE, "is read as a date"),
    "bad tag": ("x: !!int abc\n" + CASE, "cannot be read as a YAML int"),
}


@pytest.mark.parametrize("kind", sorted(SUITE_ERRORS))
def test_validate_reports_every_suite_error_that_eval_refuses(
    kind: str, repo: Repo, run_cli: RunCli
) -> None:
    text, fragment = SUITE_ERRORS[kind]
    repo.commit_agent("support", GOOD, "add")
    repo.write("evals/support.yaml", text)
    with pytest.raises(ConfigError) as refused:  # what `eval` and the gate load
        load_suite(repo.path / "evals" / "support.yaml", repo.path)
    assert fragment in refused.value.reason
    code, out, err = run_cli("validate", cwd=repo.path)
    assert code == 1, err
    (line,) = out.splitlines()
    assert line.startswith(f"evals/support.yaml:{refused.value.line}:{refused.value.col}: ")
    assert fragment in line
    code, _, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 2 and fragment in err and "Traceback" not in err


def test_eval_refuses_a_suite_symlinked_out_of_the_repository(
    repo: Repo, outside: Path, run_cli: RunCli
) -> None:
    secret = outside / "private.yaml"
    secret.write_text("cases:\n  - id: one\n    input: TOP-SECRET-LINE {{ x }}\n")
    repo.commit_agent("support", GOOD, "add")
    (repo.path / "evals").mkdir()
    (repo.path / "evals" / "support.yaml").symlink_to(secret)
    code, out, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 2
    assert "outside the repository" in err and "TOP-SECRET" not in out + err
    code, out, err = run_cli("validate", cwd=repo.path)
    assert code == 1 and "outside the repository" in out and "TOP-SECRET" not in out + err
