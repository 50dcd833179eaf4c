"""``agentver validate [PATH...]``: the lint command and the pre-commit hook entry point.

Python equivalent: ``agentver.validate.validate(cwd, paths)``.
"""

from __future__ import annotations

import sys

import typer

from agentver.cli import output
from agentver.cli.core import app, cwd_of


@app.command("validate")
def validate_command(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        None,
        metavar="PATH",
        help="Files or folders to check (default: the whole repository: agents, eval suites, "
        "pointer files, agentver.yaml and metrics files at the top level). The repository is "
        "found from the paths, as git does; a path outside any agentver repository is exit 2. "
        "Files that are not agentver files are skipped, so a hook can pass what was staged.",
        show_default=False,
    ),
    metrics: list[str] = typer.Option(
        [],
        "--metrics",
        metavar="FILE",
        help="Check FILE as a `canary evaluate --metrics` file, whatever its name and "
        "wherever it is (repeatable). Without it, metrics files are those named "
        "metrics.json or *.metrics.json.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """Check YAML syntax, duplicate keys, schemas, storable values, agent ids, policies
    and secrets: everything that would make deploy, canary, eval or sync refuse a file.

    Prints every problem as path:line:col: message and exits 1 if there is any.

    Metrics files (the JSON of `canary evaluate --metrics FILE`) are checked by the rules
    `canary evaluate` reads them with: files named metrics.json or *.metrics.json at the
    repository's top level by default, any such file you name, and any --metrics FILE.
    """
    from agentver.validate import validate

    report = validate(cwd_of(ctx), paths or (), metrics)
    if as_json:
        output.print_json(report.to_json())
    else:
        for finding in report.findings:
            sys.stdout.write(f"{finding}\n")
        sys.stdout.flush()
    output.note(report.summary())
    if not report.valid:
        raise typer.Exit(1)
