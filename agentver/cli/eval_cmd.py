"""``agentver eval``: run an agent's evaluation suite, show the scores and the gate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from agentver.cli import output
from agentver.cli.common import ENV_OPTION, JSON_OPTION, open_workspace
from agentver.cli.core import app
from agentver.refs import REF_FORMS

if TYPE_CHECKING:
    from agentver.evals.agent_eval import EvalReport, Evaluated


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id (its suite is evals/<agent>.yaml)."),
    ref: str | None = typer.Argument(
        None,
        help=f"Candidate: {REF_FORMS} (default: worktree if the file was edited, else latest).",
    ),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        "-b",
        help="Version to compare with (default: active, if any; `none` for no baseline).",
    ),
    env: str | None = ENV_OPTION,
    as_json: bool = JSON_OPTION,
    force: bool = typer.Option(
        False, "--force", help="Run again even when a result is stored for the same key."
    ),
) -> None:
    """Evaluate a version against its suite and compare it with a baseline.

    Results are stored under .agentver/evals/ keyed by config_hash, suite and provider
    settings, and reused. Exit 0 whatever the score; the gate applies at deploy time.
    """
    from agentver.evals.agent_eval import evaluate_agent

    ws = open_workspace(ctx)
    report = evaluate_agent(ws, agent, ref, baseline, env, force=force, notify=output.note)
    if as_json:
        for evaluated in (report.candidate, report.baseline):
            if evaluated is not None and evaluated.result.reused:
                output.note(f"{evaluated.target.label}: {_stored(evaluated)}")
        output.print_json(report.to_json())
        return
    _render(report)


def _render(report: EvalReport) -> None:
    from rich.table import Table
    from rich.text import Text

    out = output.console()

    def side(title: str, evaluated: Evaluated) -> None:
        result = evaluated.result
        target = evaluated.target
        where = _stored(evaluated)
        out.print(
            Text(
                f"{title}: {report.agent} {target.label} ({evaluated.ref}), "
                f"config_hash {target.config_hash}; {where}",
                style="bold",
            )
        )
        table = Table(box=None, pad_edge=False)
        for column, justify in (
            ("case", "left"),
            ("weight", "right"),
            ("pass rate", "right"),
            ("pass^N", "left"),
            ("score", "right"),
            ("details", "left"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for case in result.cases:
            passed_runs = sum(run.passed for run in case.runs)
            table.add_row(
                Text(case.id, style="green" if case.passed else "red"),
                f"{case.weight:g}",
                f"{passed_runs}/{case.repeat} ({case.pass_rate:.0%})",
                f"pass^{case.repeat} {'yes' if case.pass_all else 'no'}",
                f"{case.score:.3f}",
                Text(case.details.replace("\n", " ")[:160]),
            )
        out.print(table)
        failing = sum(not case.passed for case in result.cases)
        out.print(f"suite score {result.score:.3f} ({len(result.cases)} cases, {failing} failing)")
        out.print("")

    side("candidate", report.candidate)
    if report.baseline is not None:
        side("baseline", report.baseline)
        delta = report.candidate.result.score - report.baseline.result.score
        out.print(
            f"candidate {report.candidate.result.score:.3f} vs baseline "
            f"{report.baseline.result.score:.3f} ({delta:+.3f})"
        )
    else:
        out.print("no baseline to compare with")
    if report.gate is not None:
        verdict = "passed" if report.gate.passed else "refused"
        out.print(
            Text(
                f"gate {verdict}: {report.gate.message}",
                style="green" if report.gate.passed else "red",
            )
        )
        if report.gate.hint:
            out.print(f"hint: {report.gate.hint}")


def _stored(evaluated: Evaluated) -> str:
    verb = "reused stored result" if evaluated.result.reused else "stored"
    return f"{verb} {evaluated.relpath}"
