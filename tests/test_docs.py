"""docs/ and README.md: generated references are current, every command is documented
(sqlite-utils' rule), links resolve, and the commands the docs show exist and work."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import load_gen_docs
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# Pages this suite owns; other pages are checked by their owners' tests.
MY_PAGES = ["concepts.md", "cli.md", "exit-codes.md", "config.md", "runtime.md", "ci.md"]


gen_docs = load_gen_docs()
COMMANDS = list(gen_docs.walk_commands())


def _regenerate_hint(name: str) -> str:
    return f"docs/{name} is out of date: run .venv/bin/python scripts/gen_docs.py"


def test_cli_reference_is_current() -> None:
    current = (DOCS / "cli.md").read_text("utf-8")
    assert current == gen_docs.cli_reference(), _regenerate_hint("cli.md")


def test_config_reference_is_current() -> None:
    current = (DOCS / "config.md").read_text("utf-8")
    assert current == gen_docs.config_reference(), _regenerate_hint("config.md")


def test_the_command_tree_is_complete() -> None:
    paths = {path for path, _, _ in COMMANDS}
    expected = {
        "init", "demo", "validate", "list", "history", "show", "diff", "deploy", "rollback",
        "canary start", "canary set", "canary promote", "canary abort", "canary status",
        "flag set", "flag rm", "flag list", "resolve", "deployments", "sync", "verify",
        "status",
    }  # fmt: skip
    assert expected <= paths


@pytest.mark.parametrize("path", [p for p, _, _ in COMMANDS if p], ids=str)
def test_every_command_has_help_and_a_reference_entry(path: str) -> None:
    command = next(c for p, c, _ in COMMANDS if p == path)
    assert (command.help or "").strip(), f"`agentver {path}` has no help text"
    for param in command.params:
        if param.name in ("help",) or getattr(param, "hidden", False):
            continue
        assert (getattr(param, "help", None) or "").strip(), (
            f"`agentver {path}`: {param.name} has no help text"
        )
    cli_md = (DOCS / "cli.md").read_text("utf-8")
    assert f"\n## agentver {path}\n" in cli_md
    if not hasattr(command, "commands"):
        assert f"[`{path}`](#agentver-{path.replace(' ', '-')})" in cli_md


@pytest.mark.parametrize("path", sorted(gen_docs.PYTHON_EQUIVALENTS))
def test_python_equivalents_exist(path: str) -> None:
    assert path in {p for p, _, _ in COMMANDS}, f"no command `agentver {path}`"
    dotted = gen_docs.PYTHON_EQUIVALENTS[path]
    module_name, _, attribute = dotted.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError:  # a method: module.Class.method
        module_name, _, cls = module_name.rpartition(".")
        target = getattr(importlib.import_module(module_name), cls)
    assert callable(getattr(target, attribute)), dotted


def test_staleness_check_notices_a_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text("old\n")
    monkeypatch.setattr(gen_docs, "CLI_MD", stale)
    monkeypatch.setattr(gen_docs, "CONFIG_MD", tmp_path / "config.md")
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    assert gen_docs.main(["--check"]) == 1
    assert stale.read_text() == "old\n"
    assert gen_docs.main([]) == 0
    assert gen_docs.main(["--check"]) == 0


def _code_blocks(text: str, languages: tuple[str, ...] = ("sh", "bash", "")) -> list[str]:
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)
    return [body for lang, body in blocks if lang in languages]


@pytest.mark.parametrize("page", ["README.md", *MY_PAGES])
def test_commands_shown_in_docs_exist(page: str) -> None:
    path = README if page == "README.md" else DOCS / page
    text = path.read_text("utf-8")
    checked = 0
    for block in _code_blocks(text):
        for args in gen_docs.agentver_invocations(block):
            assert gen_docs.command_problems(args) == [], (page, args)
            checked += 1
    if page not in ("cli.md", "config.md"):
        assert checked, f"{page} shows no agentver command"


@pytest.mark.parametrize("page", ["README.md", *MY_PAGES])
def test_relative_links_resolve(page: str) -> None:
    path = README if page == "README.md" else DOCS / page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text("utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        assert (path.parent / target).exists(), f"{page}: broken link {target}"


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text("utf-8").splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```")]
    assert block == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/agentver demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest",
    ]
    assert lines.index("```sh") <= 3  # first thing after the title
    # The second is exactly what CI runs (modulo pip's -q).
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    ci_line = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert ci_line.replace("pip install -q ", "pip install ") == block[1]


def test_completion_and_version_are_documented() -> None:
    for text in (README.read_text("utf-8"), (DOCS / "cli.md").read_text("utf-8")):
        assert "agentver --install-completion" in text
        assert "agentver --version" in text


def test_exit_code_table() -> None:
    text = (DOCS / "exit-codes.md").read_text("utf-8")
    rows = re.findall(r"^\| (\d+) \|", text, re.M)
    assert rows == ["0", "1", "2", "130"]


def test_concepts_cover_the_six_ideas() -> None:
    headings = re.findall(r"^## (\w+)", (DOCS / "concepts.md").read_text("utf-8"), re.M)
    assert {"Version", "Pointer", "Environment", "Canary", "Flag", "Store"} <= set(headings)


def _agentver(args: list[str], cwd: Path) -> Any:
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(gen_docs._register_all_commands(), args, catch_exceptions=False)
    finally:
        os.chdir(previous)


def test_readme_tour_runs(tmp_path: Path) -> None:
    """The 60-second tour, line by line, in a temporary folder."""
    text = README.read_text("utf-8")
    tour = text.split("## A 60-second tour", 1)[1]
    shell = _code_blocks(tour)[0]
    python = _code_blocks(tour, ("python",))[0]
    cwd = tmp_path
    for raw in shell.splitlines():
        line, _, comment = raw.partition("#")
        if not line.strip():
            assert "edit agents/assistant.yaml" in comment
            agent = cwd / "agents" / "assistant.yaml"
            agent.write_text(agent.read_text().replace("temperature: 0.7", "temperature: 0.2"))
            subprocess.run(["git", "commit", "-qam", "Lower temperature"], cwd=cwd, check=True)
            continue
        for part in line.split("&&"):
            args = shlex.split(part)
            if args[0] == "cd":
                cwd = cwd / args[1]
            elif args[0] == "git":
                subprocess.run(args, cwd=cwd, check=True, capture_output=True)
            else:
                assert args[0] == "agentver", raw
                result = _agentver(args[1:], cwd)
                assert result.exit_code == 0, (raw, result.stderr)
    proc = subprocess.run(
        [sys.executable, "-c", python + "\nprint(config.version, config.variant)\n"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1 stable\n"  # rolled back to v1


def test_code_cites_the_design_page_in_the_repository() -> None:
    """The contract lives in docs/design.md; nothing cites a copy outside the repository."""
    design = (DOCS / "design.md").read_text("utf-8")
    for topic in (
        "Canonical hash", "## 3. Versions", "References", "## 4. Deployments",
        "### Routing", "### Exit codes", "### JSON shapes", "## 6. Runtime store",
        "## 8. Additions",
    ):  # fmt: skip
        assert topic in design, topic
    outside = "DESIGN" + ".md"  # spelled so that this file does not cite it
    offenders = []
    for folder in ("agentver", "tests", "scripts", "bench", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md") and outside in path.read_text("utf-8"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    cited = {
        int(section)
        for path in (ROOT / "agentver").rglob("*.py")
        for section in re.findall(r"docs/design\.md section (\d)", path.read_text("utf-8"))
    }
    headings = {int(n) for n in re.findall(r"^## (\d)\. ", design, re.M)}
    assert cited and cited <= headings


def test_readme_says_how_the_tests_run() -> None:
    text = README.read_text("utf-8")
    assert "PostgreSQL server on `127.0.0.1:5432`" in text
    assert "`.ci/run` starts the" in text
    assert re.search(r"takes about \d+ minutes", text)
