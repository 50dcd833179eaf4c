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
Verdict on the running canary: promote, continue or rollback, with the numbers behind it.

Counts come from the outcomes the runtime recorded (RuntimeClient.record_outcome) under
the running canary's salt, per arm, in the runtime store (--store, else AGENTVER_STORE,
else `store` in agentver.yaml); or from --metrics FILE, a JSON object
{"stable": {"requests": 2000, "errors": 40}, "canary": {"requests": 500, "errors": 9}}
(integers, 0 <= errors <= requests; extra keys ignored; an optional per-arm
"latency_mean_ms" feeds the latency check). Anything else in it is exit 2.

The rule (defaults): continue until each arm has 100 requests; rollback when the canary's
error rate is above 1.5x stable's and an always-valid one-sided test agrees at alpha
0.01; promote when it is at most 1.1x and a non-inferiority test shows it below the
rollback line at 0.05; else continue. Set it in agentver.yaml, globally and per agent:
canary: {min_requests: 200, agents: {support: {rollback_ratio: 1.3}}}. Keys:
rollback_ratio, promote_ratio, min_requests, alpha, promote_alpha, zero_error_floor,
latency_ratio (off by default). See docs/canary.md.

--apply carries the verdict out like `canary promote` / `canary abort` (one pointer
commit whose message records the verdict and its numbers); continue changes nothing.
--sync then publishes HEAD to the store like `agentver sync`. --exit-code exits 1 on
rollback (after printing the verdict).
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
    from agentver.canary_eval import apply_verdict, evaluate_canary, store_warnings, sync_store
    from agentver.store import open_store

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
        store = open_store(ws.settings.store_url(store_url), ws.root)
    try:
        if metrics is None:
            assert store is not None
            evaluation = evaluate_canary(ws, environment, agent, store=store)
            for message in store_warnings(store, ws.pointer(environment, agent)):
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
        out.print(
            f"  {name:<6} v{arm['version']:<4} requests {arm['requests']:>8}  errors "
            f"{arm['errors']:>6}  error rate {arm['error_rate'] * 100:6.2f}%",
            markup=False,
        )
    ratio = "n/a (stable has no errors)" if doc["ratio"] is None else f"{doc['ratio']:.2f}"
    stat = "n/a" if doc["statistic"] is None else f"{doc['statistic']:.2f}"
    p_value = "n/a" if doc["p_value"] is None else f"{doc['p_value']:.3g}"
    out.print(f"  ratio {ratio}  statistic z={stat}  always-valid p={p_value}", markup=False)
    latency = doc["latency"]
    if latency is not None:
        if latency["measured"]:
            out.print(
                f"  latency mean: canary {latency['canary_mean_ms']:.1f} ms vs stable "
                f"{latency['stable_mean_ms']:.1f} ms ({latency['ratio']:.2f}x, limit "
                f"{latency['limit']}x)",
                markup=False,
            )
        else:
            out.print("  latency: not measured yet", markup=False)
    out.print(f"verdict: {doc['verdict']} (rule: {doc['rule']})", markup=False)
    out.print(f"  {doc['reason']}", markup=False)
