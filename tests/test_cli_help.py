"""Every command's --help ends with examples that are real command lines. The walk is
generic: a command added later without an example fails here."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
from conftest import load_gen_docs

gen_docs = load_gen_docs()
COMMANDS = list(gen_docs.walk_commands())


def examples_in(help_text: str) -> list[str]:
    if "Examples:" not in help_text:
        return []
    section = help_text.split("Examples:", 1)[1]
    return [line.strip() for line in section.splitlines() if line.strip().startswith("agentver")]


@pytest.mark.parametrize("path", [p for p, _, _ in COMMANDS], ids=lambda p: p or "agentver")
def test_every_command_help_has_an_example(path: str) -> None:
    _, command, ctx = next(entry for entry in COMMANDS if entry[0] == path)
    examples = examples_in(command.get_help(ctx))
    assert examples, f"`agentver {path} --help` shows no example"
    if path and not hasattr(command, "commands"):
        assert any(shlex.split(e)[1:][: len(path.split())] == path.split() for e in examples)
    for example in examples:
        [args] = gen_docs.agentver_invocations(example)
        assert gen_docs.command_problems(args) == [], example


def test_examples_show_in_the_real_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agentver", "diff", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "agentver diff --base origin/main --format markdown" in examples_in(proc.stdout)


def test_a_command_without_examples_is_caught() -> None:
    class Bare:
        help = "Does a thing."
        epilog = None

    from agentver.cli.examples import add_examples

    command = Bare()
    add_examples(command, "no such command")
    assert examples_in(f"{command.help}\n{command.epilog or ''}") == []
