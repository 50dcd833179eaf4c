"""``serve`` (the dashboard) and ``report`` (the same pages as static files).

The web stack is the ``agentver[web]`` extra: it is imported inside these commands
only, so no other command pays for it, and without it they exit 2 naming the extra.
"""

from __future__ import annotations

from pathlib import Path

import typer

from agentver.cli import output
from agentver.cli.common import open_workspace
from agentver.cli.core import app, cwd_of
from agentver.errors import UsageError


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None,
        "--host",
        help="Address to listen on (default 127.0.0.1); anything but loopback prints a warning.",
    ),
    port: int = typer.Option(8700, "--port", help="TCP port to listen on."),
    store_url: str | None = typer.Option(
        None,
        "--store",
        help="Store URL for drift and canary counts (default as for `agentver sync`).",
    ),
    allow_writes: bool = typer.Option(
        False,
        "--allow-writes",
        help="Offer deploy, rollback and canary promote/abort buttons (off by default).",
    ),
) -> None:
    """Open the dashboard: versions, diffs, deployments, canaries and evaluations."""
    from agentver.web import require_extra

    require_extra("serve", ("starlette", "uvicorn", "jinja2"))
    if not 1 <= port <= 65535:
        raise UsageError(f"invalid port {port}", "use a port between 1 and 65535")
    ws = open_workspace(ctx)
    from agentver.web.security import Guard, is_loopback
    from agentver.web.server import bind, serve

    chosen = host or "127.0.0.1"
    if not is_loopback(chosen.strip("[]")):
        output.warn(
            f"listening on {chosen}, not loopback: anyone who can reach it can read every "
            "agent's prompts" + (" and change what runs (--allow-writes)" if allow_writes else "")
        )
    sock = bind(chosen, port)
    guard = Guard(chosen, port, allow_writes)
    shown = f"[{chosen}]" if ":" in chosen else chosen
    mode = "writes on" if allow_writes else "read-only"
    output.note(
        f"agentver dashboard for {ws.root} at http://{shown}:{port}/ ({mode}; Ctrl-C to stop)"
    )
    try:
        serve(ws.root, sock, guard, store_url)
    finally:
        sock.close()


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    base: str = typer.Option(
        ..., "--base", help="Git revision to compare from (e.g. origin/main)."
    ),
    head: str | None = typer.Option(
        None, "--head", help="Git revision to compare to (default HEAD)."
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Folder to write the HTML files to (created; a previous report is replaced).",
    ),
) -> None:
    """Write the overview, the diffs and the deployment changes between two revisions as
    static HTML files (no server, no network): for CI artifacts and pull-request review."""
    from agentver.web import require_extra

    require_extra("report", ("jinja2",))
    ws = open_workspace(ctx)
    from agentver.web.report import write_report

    target = out if out.is_absolute() else cwd_of(ctx) / out
    result = write_report(ws, base, head, target)
    output.note(
        f"report: {result.changed_agents} changed agent(s), {result.pointer_changes} pointer "
        f"change(s) between {result.base[:10]} and {result.head[:10]}: {result.index}"
    )
