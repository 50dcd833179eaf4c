"""``agentver demo [DIR]``: build the story repository and print each step.

Python equivalent: ``agentver.demo.run_demo(directory, runner)`` (a generator of steps).
Each step runs this same Typer app in-process with ``-C DIR``, so what is printed is what
the command prints when typed after ``cd DIR``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agentver.cli.core import app, cwd_of

if TYPE_CHECKING:
    from agentver.demo import CommandResult


def in_process_runner(
    directory: Path, args: Sequence[str], env: Mapping[str, str | None]
) -> CommandResult:
    """Run ``agentver -C DIR <args>`` through this app, capturing stdout and stderr."""
    from typer.testing import CliRunner

    from agentver.demo import CommandResult

    result = CliRunner().invoke(app, ["-C", str(directory), *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CommandResult(result.exit_code, result.stdout, result.stderr)


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    directory: Path | None = typer.Argument(
        None,
        metavar="DIR",
        help="Empty or new folder for the demo repository (default: a new temporary folder).",
        show_default=False,
    ),
) -> None:
    """Build a demo repository that tells agentver's story and print each step.

    A support agent gets five versions; a policy flags the edit that deletes its billing
    paragraph; v3 is deployed, v5 canaried at 10%, users resolved, the diff shown, the
    agent rolled back and published to a SQLite store read by the runtime library.
    Never writes outside DIR; refuses a non-empty DIR.
    """
    from agentver.cli.commands import register
    from agentver.demo import DemoFacts, prepare_directory, run_demo

    register(None)  # the steps run the other commands in-process

    if directory is None:
        target = Path(tempfile.mkdtemp(prefix="agentver-demo-"))
    else:
        target = prepare_directory(cwd_of(ctx) / directory)
    echo = typer.echo  # plain text: outputs may contain [brackets]
    echo(f"agentver demo: building a story repository in {target}")
    started = time.monotonic()
    steps = run_demo(target, in_process_runner)
    section = 0
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            facts: DemoFacts = stop.value
            break
        if step.title:
            section += 1
            echo(f"\n{section}. {step.title}")
        for note in step.notes:
            echo(f"   {note}")
        if step.command is not None:
            echo(f"\n$ {step.command}")
            for text in (step.stdout, step.stderr):
                if text:
                    echo(text, nl=not text.endswith("\n"))
            if step.exit_code:
                echo(f"(exit {step.exit_code})")
    elapsed = time.monotonic() - started
    echo(f"\nDone in {elapsed:.1f}s. Explore further:")
    echo(f"  cd {target}")
    path_line = _path_hint()
    if path_line:
        echo(f"  {path_line}")
    for command in facts.explore:
        echo(f"  {command}")
    echo(
        f"Open the dashboard: agentver -C {target} serve, then http://127.0.0.1:8700/ (pip install 'agentver[web]')"
    )


def _path_hint() -> str | None:
    """An ``export PATH=...`` line when the ``agentver`` running now is not on PATH."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "agentver").exists():
        return None
    found = shutil.which("agentver")
    if found is not None and Path(found).parent == bin_dir:
        return None
    return f'export PATH="{bin_dir}{os.pathsep}$PATH"'
