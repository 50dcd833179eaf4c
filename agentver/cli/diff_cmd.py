"""``diff``: what changed between two versions, or across a pull request."""

from __future__ import annotations

import enum

import typer

from agentver.cli import output
from agentver.cli.common import ENV_OPTION, open_workspace
from agentver.cli.core import app
from agentver.errors import UsageError


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@app.command("diff")
def diff(
    ctx: typer.Context,
    args: list[str] | None = typer.Argument(
        None,
        metavar="[AGENT] [A] [B]",
        help="Agent and two versions (default: active, or latest, -> worktree).",
    ),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="Output format."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when there are differences."),
    base: str | None = typer.Option(
        None,
        "--base",
        help="Review a pull request: every agent and every deployment changed since this git revision.",
    ),
    head: str | None = typer.Option(
        None, "--head", help="With --base: the newer revision (default HEAD)."
    ),
    env: str | None = ENV_OPTION,
) -> None:
    """Field changes and a line diff of the system prompt between two versions."""
    # render_diff imports rich (~75 ms): only the text and markdown formats load it.
    from agentver.compare import default_refs, diff_refs, review_revisions, split_arguments

    if as_json:
        fmt = Format.json
    ws = open_workspace(ctx)
    if base is not None:
        if args:
            raise UsageError("--base compares every agent; do not name agents or versions with it")
        review = review_revisions(ws, base, head)
        if fmt is Format.json:
            output.print_json(review.to_json())
        elif fmt is Format.markdown:
            from agentver.cli.render_review import render_review_markdown

            typer.echo(render_review_markdown(review), nl=False)
        else:
            from agentver.cli.render_review import render_review_text

            render_review_text(review, output.console())
        differs = bool(review.agents or review.deployments)
    else:
        if head is not None:
            raise UsageError("--head needs --base")
        agent, refs = split_arguments(ws, list(args or []))
        a, b = default_refs(ws, agent, refs, env)
        result, warnings = diff_refs(ws, agent, a, b, env)
        for message in warnings:
            output.warn(message)
        if fmt is Format.json:
            output.print_json(result.to_json())
        elif fmt is Format.markdown:
            from agentver.cli.render_diff import render_markdown

            typer.echo(render_markdown([result]), nl=False)
        else:
            from agentver.cli.render_diff import render_text

            render_text(result, output.console())
        differs = not result.identical  # versions differ: their config_hash differs
    if exit_code and differs:
        raise typer.Exit(1)
