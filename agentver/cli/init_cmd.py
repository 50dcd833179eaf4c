"""``agentver init [DIR]``: scaffold a config repository.

Python equivalent: ``agentver.init.init_repository(directory)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from agentver.cli.core import app, cwd_of


@app.command("init")
def init_command(
    ctx: typer.Context,
    directory: Path = typer.Argument(
        Path("."), metavar="DIR", help="Folder to set up (default: the current one)."
    ),
) -> None:
    """Create agentver.yaml, agents/ with an example agent and .agentver/; never overwrites.

    Runs git init when DIR is not inside a git work tree.
    """
    from agentver.init import init_repository

    cwd = cwd_of(ctx)
    target = cwd / directory
    result = init_repository(target)
    shown = os.path.relpath(target, cwd)
    prefix = "" if shown == "." else f"{shown}/"
    echo = typer.echo  # plain text: a path with [brackets] is not markup
    if result.git_initialized:
        echo(f"initialized git repository in {shown}")
    for rel in result.created:
        echo(f"created      {prefix}{rel}")
    for rel in result.gitignore_added:
        echo(f"added        {rel} to {prefix}.gitignore")
    for rel in result.kept:
        echo(f"exists, kept {prefix}{rel}")
    for rel in result.skipped:
        echo(f"not created  {prefix}{rel} (the repository already has agents)")
    echo("\nnext:")
    if shown != ".":
        echo(f"  cd {shown}")
    for step in result.next_steps():
        echo(f"  {step}")
