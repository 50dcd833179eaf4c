"""``canary evaluate``: the verdict on a running canary, and ``--apply`` to act on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agentver.cli import output
from agentver.cli.common import ENV_OPTION, JSON_OPTION, NO_COMMIT_OPTION, open_workspace
from agentver.cli.deploy_cmds import canary_app
from agentver.errors import CheckFailed, UsageError

EVALUATE_HELP = """\
Verdict on the running canary: promote, continue or rollback, with the evidence behind it.

Counts come from the outcomes the runtime recorded (RuntimeClient.record_outcome) under
the running canary's salt, per arm, in the runtime store (--store, else AGENTVER_STORE,
else `store` in agentver.yaml); or from --metrics FILE, a JSON object
{"stable": {"requests": 2000, "errors": 40}, "canary": {"requests": 500, "errors": 9}}
(integers, 0 <= errors <= requests; optional per arm "slow" (requests over the latency
threshold) and "score_sum" with "scored" (quality scores in [0, 1]); extra keys
ignored). Anything else in it is exit 2.

The test (defaults) is exact and anytime-valid: rollback when the canary's error rate is
shown above 1.5x stable's (e-value >= 1/alpha, alpha 0.01, so false rollbacks stay under
1% however often this runs); promote when it is shown at most 1.1x stable's, or its own
rate below 0.5%, at 0.05; a canary failing half of 20+ requests while stable fails under
5% is rolled back at once; else continue (and continue until each arm has 100
requests). latency_threshold_ms and quality_tolerance add "slow" requests and the mean
quality score as metrics. Set it in agentver.yaml, globally and per agent:
canary: {min_requests: 200, agents: {support: {rollback_ratio: 1.3}}}. Keys:
rollback_ratio, promote_ratio, min_requests, alpha, promote_alpha, zero_error_floor,
latency_threshold_ms, quality_tolerance. See docs/canary.md.

--apply carries the verdict out like `canary promote` / `canary abort` (one pointer
commit whose message records the verdict and its evidence); continue changes nothing.
--sync then publishes HEAD to the store like `agentver sync`. --exit-code exits 1 on
rollback (after printing the verdict). A PostgreSQL store that does not answer a
statement within 5 s (a lock another session holds, a stalled server) is exit 2.
"""


@canary_app.command("evaluate", help=EVALUATE_HELP)
def canary_evaluate_cmd(
    ctx: typer.Context,
    agent: str = typer.Argument(..., help="Agent id."),
    env: str | None = ENV_OPTION,
    store_url: str | None = typer.Option(
        None,
        "--store",
        help="Store URL to read outcomes from (and to --sync); default as for `agentver sync`.",
    ),
    metrics: Path | None = typer.Option(
        None,
        "--metrics",
        help='JSON file of per-arm counts: {"stable": {"requests", "errors"}, "canary": {...}}.',
        dir_okay=False,
    ),
    apply: bool = typer.Option(
        False, "--apply", help="Promote or abort the canary as the verdict says (one commit)."
    ),
    sync: bool = typer.Option(
        False, "--sync", help="With --apply: publish the new pointer to the store."
    ),
    no_commit: bool = NO_COMMIT_OPTION,
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 1 when the verdict is rollback."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    from agentver.canary.evaluate import apply_verdict, evaluate_canary, store_warnings, sync_store
    from agentver.store import READ_STATEMENT_TIMEOUT, open_store

    if sync and not apply:
        raise UsageError("--sync publishes what --apply commits; add --apply")
    if sync and no_commit:
        raise UsageError("--sync publishes committed pointers only; drop --no-commit")
    if no_commit and not apply:
        raise UsageError("--no-commit only applies with --apply")
    if metrics is not None and store_url is not None and not sync:
        raise UsageError("give either --store or --metrics as the source of the counts")
    ws = open_workspace(ctx)
    environment = ws.environment(env)
    store = None
    if metrics is None or sync:
        # Bounded: a lock held on the outcomes or pointers must not hang the verdict.
        store = open_store(
            ws.settings.store_url(store_url), ws.root, statement_timeout=READ_STATEMENT_TIMEOUT
        )
    try:
        if metrics is None:
            assert store is not None
            evaluation = evaluate_canary(ws, environment, agent, store=store)
            for message in store_warnings(store, ws.pointer(environment, agent)):
                output.warn(message)
            for message in evaluation.metrics.warnings():
                output.warn(message)
        else:
            evaluation = evaluate_canary(ws, environment, agent, metrics_file=metrics)
        document = evaluation.to_json()
        if not as_json:
            _print_verdict(document)
        applied: dict[str, Any] | None = None
        synced: dict[str, Any] | None = None
        if apply:
            outcome = apply_verdict(ws, evaluation, no_commit=no_commit)
            if outcome is not None:
                applied = {
                    "action": outcome.message.split(": ", 1)[-1].splitlines()[0],
                    "changed": outcome.changed,
                    "commit": outcome.commit,
                }
                if not as_json:
                    where = "not committed" if no_commit else (outcome.commit or "")[:10]
                    output.note(f"applied: {applied['action']} [{where}]")
            elif not as_json:
                output.note("applied: nothing to do (continue)")
            if sync and outcome is not None and outcome.changed:
                assert store is not None
                plan = sync_store(ws, store)
                synced = {
                    "store": store.url,
                    "head": plan.head_commit,
                    "pointer_changes": len(plan.pointer_changes),
                }
                if not as_json:
                    output.note(f"synced {plan.head_commit[:10]} to {store.url}")
    finally:
        if store is not None:
            store.close()
    if as_json:
        output.print_json({**document, "applied": applied, "synced": synced})
    if exit_code and evaluation.verdict.verdict == "rollback":
        raise CheckFailed(f"canary verdict for {agent} in {environment} is rollback")


def _print_verdict(doc: dict[str, Any]) -> None:
    out = output.console()
    canary, stable = doc["canary"], doc["stable"]
    out.print(
        f"{doc['agent']} in {doc['environment']}: canary v{canary['version']} at "
        f"{doc['percent']}% vs stable v{stable['version']} ({doc['source']})",
        markup=False,
    )
    for name, arm in (("stable", stable), ("canary", canary)):
        line = (
            f"  {name:<6} v{arm['version']:<4} requests {arm['requests']:>8}  errors "
            f"{arm['errors']:>6}  error rate {arm['error_rate'] * 100:6.2f}%"
        )
        if arm["slow"] is not None:
            line += f"  slow {arm['slow']}"
        if arm["score_mean"] is not None:
            line += f"  mean score {arm['score_mean']:.3f} ({arm['scored']} scored)"
        out.print(line, markup=False)
    ratio = "n/a (stable has no errors)" if doc["ratio"] is None else f"{doc['ratio']:.2f}"
    out.print(f"  error-rate ratio {ratio}", markup=False)
    for test in doc["evidence"]["tests"]:
        e_value = "" if test["e_value"] is None else f"e={test['e_value']:.3g}  "
        mark = "rejected" if test["rejected"] else "not yet"
        out.print(
            f"  {test['metric']:<7} {test['test']:<13} {e_value}always-valid p={test['p_value']:.3g}"
            f"  needs {test['threshold']}  [{mark}]  (against: {test['null']})",
            markup=False,
        )
    decided_by = doc["evidence"]["metric"] or "-"
    out.print(
        f"verdict: {doc['verdict']} (rule: {doc['rule']}, metric: {decided_by})", markup=False
    )
    out.print(f"  {doc['reason']}", markup=False)
