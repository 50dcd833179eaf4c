"""``sync``, ``verify`` and ``status``: git versus the runtime store."""

from __future__ import annotations

import sys
from typing import Any

import typer

from agentver.cli import output
from agentver.cli.common import JSON_OPTION, open_workspace
from agentver.cli.core import app
from agentver.errors import CheckFailed, UsageError
from agentver.store import READ_STATEMENT_TIMEOUT
from agentver.workspace import Workspace

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="Store URL (else AGENTVER_STORE, else `store` in agentver.yaml, else sqlite:///.agentver/runtime.db).",
)
ENVS_OPTION = typer.Option(
    None, "--env", "-e", help="Environment(s) to publish (repeatable; default all)."
)


def _environments(ws: Workspace, chosen: list[str] | None) -> list[str]:
    return [ws.environment(env) for env in chosen] if chosen else list(ws.settings.environments)


def _open_store(
    ws: Workspace, url: str | None, *, create_default: bool = False, reader: bool = False
) -> Any:
    """The store; a ``reader`` (status, verify) gives up on a PostgreSQL statement after
    READ_STATEMENT_TIMEOUT, lock waits included (a sync waits for the one before it)."""
    from agentver.settings import DEFAULT_STORE
    from agentver.store import open_store

    chosen = ws.settings.store_url(url)
    if create_default and chosen == DEFAULT_STORE:
        # The embedded default lives in .agentver/, which a repo without pointers may lack;
        # any other missing directory is more likely a typo and stays an error.
        (ws.root / ".agentver").mkdir(exist_ok=True)
    timeout = READ_STATEMENT_TIMEOUT if reader else None
    return open_store(chosen, ws.root, statement_timeout=timeout)


@app.command("sync")
def sync_cmd(
    ctx: typer.Context,
    store_url: str | None = STORE_OPTION,
    envs: list[str] | None = ENVS_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; write nothing."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace stored versions that disagree with git; allow an older HEAD.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every new version."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish HEAD's versions and committed pointers to the runtime store, in one transaction.

    Compare-and-swap: a HEAD that does not descend from the commit the store serves
    changes nothing and exits 1. A version the store cannot hold is skipped, and a pointer
    naming one is refused for its agent alone: sync exits 1 after publishing the rest.
    Uncommitted changes to agents_dir or environments in agentver.yaml are refused (exit 2).
    """
    from agentver.publish import (
        check_committed_layout,
        check_not_stale,
        describe_plan,
        uncommitted_pointer_files,
        up_to_date,
        write_snapshot,
    )
    from agentver.store import SyncPlan

    ws = open_workspace(ctx)
    environments = _environments(ws, envs)
    check_committed_layout(ws)
    store = _open_store(ws, store_url, create_default=not dry_run)
    try:
        for rel in uncommitted_pointer_files(ws):
            output.warn(f"{rel} has uncommitted changes; sync publishes the committed version")
        check_not_stale(ws, store, force=force)
        if not force and up_to_date(ws, store, environments):
            # The store was synced from HEAD: no per-version work (docs/benchmarks.md).
            plan = SyncPlan(head_commit=ws.index.head, previous_head=ws.index.head)
        else:
            with output.progress(f"reading versions from git for {store.url}") as step:
                plan = write_snapshot(
                    ws,
                    store,
                    environments,
                    force=force,
                    dry_run=dry_run,
                    on_read=lambda snapshot: step(
                        f"{'planning' if dry_run else 'writing'} {len(snapshot.index)} versions"
                    ),
                )
    finally:
        store.close()
    lines = describe_plan(plan, verbose=verbose)
    if as_json:
        output.print_json(
            {
                "store": store.url,
                "head": plan.head_commit,
                "dry_run": dry_run,
                "applied": plan.applied,
                "new_versions": [
                    {"agent": v.agent, "version": v.version} for v in plan.new_versions
                ],
                "conflicts": [
                    {"agent": c.agent, "version": c.version, "fields": list(c.fields)}
                    for c in plan.changed_versions
                ],
                "orphaned": [{"agent": c.agent, "version": c.version} for c in plan.orphaned],
                "pointer_changes": [
                    {"environment": p.environment, "agent": p.agent} for p in plan.pointer_changes
                ],
                "skipped": [
                    {
                        "agent": s.agent,
                        "version": s.version,
                        "commit": s.commit,
                        "path": s.path,
                        "reason": s.reason,
                    }
                    for s in plan.skipped
                ],
                "refused_pointers": [
                    {"environment": r.environment, "agent": r.agent, "reason": r.reason}
                    for r in plan.refused_pointers
                ],
            }
        )
    else:
        # Plain lines (no rich: its import alone is a tenth of a one-commit sync).
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        if plan.nothing_to_do:
            output.note(f"{store.url} is up to date with {plan.head_commit[:10]}; nothing written")
        elif dry_run:
            output.note(
                f"dry run: {len(plan.new_versions)} new versions, "
                f"{len(plan.pointer_changes)} pointer changes; nothing written"
            )
        else:
            output.note(
                f"synced {plan.head_commit[:10]} to {store.url}: "
                f"{len(plan.new_versions)} new version(s), {len(plan.pointer_changes)} pointer change(s)"
                + (f", {len(plan.replaced)} replaced (--force)" if plan.replaced else "")
            )
    for skip in plan.skipped:
        output.warn(
            f"skipped {skip.agent} v{skip.version} ({skip.path} at {skip.commit[:10]}): {skip.reason}"
        )
    for refused in plan.refused_pointers:
        output.warn(
            f"not published: pointer {refused.environment}/{refused.agent}: {refused.reason};"
            " the store keeps its previous pointer for this agent"
        )
    if plan.skipped or plan.refused_pointers:
        raise CheckFailed(
            f"{len(plan.skipped)} version(s) skipped and {len(plan.refused_pointers)} pointer(s)"
            " refused; everything else was " + ("planned" if dry_run else "published"),
            hint=(
                "point the refused pointers at a valid version (`agentver deploy`)"
                if plan.refused_pointers
                else "a version that is not storable stays skipped while it is in history;"
                " deploy any other version"
            ),
        )


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    store_url: str | None = STORE_OPTION,
    no_store: bool = typer.Option(
        False, "--no-store", help="Check pointer files against git only."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute hashes from git; compare with pointer files and the store. Exit 1 on any mismatch.

    A PostgreSQL store that does not answer a read within 5 s (a lock another session
    holds, a stalled server) is exit 2, like an unreachable one.
    """
    from agentver.publish import verify

    ws = open_workspace(ctx)
    if no_store and store_url:
        raise UsageError("--no-store and --store contradict each other")
    store = None if no_store else _open_store(ws, store_url, reader=True)
    try:
        report = verify(ws, store, list(ws.settings.environments))
    finally:
        if store is not None:
            store.close()
    if as_json:
        output.print_json(
            {
                "ok": not report.problems,
                "checked_versions": report.checked_versions,
                "checked_pointers": report.checked_pointers,
                "problems": [p.__dict__ for p in report.problems],
            }
        )
    else:
        for problem in report.problems:
            where = (
                f"{problem.environment}/{problem.agent}" if problem.environment else problem.agent
            )
            output.console().print(f"{problem.kind}: {where}: {problem.message}", markup=False)
    for skip in report.skipped:
        output.warn(
            f"{skip.agent} v{skip.version} ({skip.path} at {skip.commit[:10]}) is not storable"
            f" and never published: {skip.reason}"
        )
    if report.problems:
        raise CheckFailed(f"{len(report.problems)} mismatch(es) between git and the store")
    if not as_json:
        output.note(
            f"ok: {report.checked_pointers} pointers and {report.checked_versions} stored versions match git"
        )


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    store_url: str | None = STORE_OPTION,
    exit_code: bool = typer.Option(
        False,
        "--exit-code",
        help="Exit 1 on any drift, including versions in git not yet in the store.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Per environment and agent: what git says versus what the store serves.

    Corrupt store rows are named and make it exit 1; with --exit-code so does any drift
    (the same comparison as `verify`). A PostgreSQL store that does not answer a read
    within 5 s (a lock another session holds, a stalled server) is exit 2.
    """
    from agentver.publish import VerifyReport, committed_pointers, store_drift
    from agentver.store import StoreNotInitialized

    ws = open_workspace(ctx)
    environments = list(ws.settings.environments)
    store = _open_store(ws, store_url, reader=True)
    report = VerifyReport()
    try:
        try:
            served = {(p.environment, p.agent): p for p in store.pointers()}
            last = store.last_sync()
            drift = store_drift(ws, store, environments, report=report)
        except StoreNotInitialized:
            served, last = {}, None
            drift = []
    finally:
        store.close()
    on_disk = {
        (env, agent): ws.pointer(env, agent)
        for env in environments
        for agent in sorted(ws.agent_summaries())
    }
    committed = {(p.environment, p.agent): p for p in committed_pointers(ws, environments, [])}
    rows: list[dict[str, Any]] = []
    for key in sorted(set(on_disk) | set(served) | set(committed)):
        env, agent = key
        if env not in environments:
            continue
        git_state = _state(on_disk.get(key))
        store_state = _state(served.get(key))
        if git_state == {"active": None, "canary": None} and store_state == git_state:
            continue
        uncommitted = _state(on_disk.get(key)) != _state(committed.get(key))
        rows.append(
            {
                "environment": env,
                "agent": agent,
                "git": git_state,
                "store": store_state,
                "in_sync": git_state == store_state and not uncommitted,
                "uncommitted": uncommitted,
            }
        )
    behind = [d for d in drift if d.kind == "behind"]
    corrupt = [d for d in drift if d.kind == "corrupt"]
    # Synced means the store serves what HEAD says; a HEAD that moved without touching
    # agents or pointers is not drift (the next sync only records the new commit).
    synced = last is not None and not drift
    document = {
        "store": store.url,
        "last_sync": {"commit": last.head_commit, "at": last.synced_at} if last else None,
        "head": ws.index.head,
        "synced": synced,
        "agents": rows,
        "drift": [d.__dict__ for d in drift],
    }
    if as_json:
        output.print_json(document)
    else:
        out = output.console()
        out.print(
            f"store {store.url}: "
            + (
                f"last sync {last.head_commit[:10]} at {last.synced_at}" if last else "never synced"
            ),
            markup=False,
        )
        if not synced:
            out.print(
                f"not synced: HEAD {ws.index.head[:10]}"
                + (f", {len(behind)} version(s) in git not in the store" if behind else "")
                + " (run agentver sync)",
                markup=False,
            )
        for problem in drift:
            if problem.kind not in ("behind", "pointer-drift"):
                out.print(f"{problem.kind}: {problem.agent}: {problem.message}", markup=False)
        output.print_table(
            ("environment", "agent", "git", "store", ""),
            (
                (
                    row["environment"],
                    row["agent"],
                    _text(row["git"]),
                    _text(row["store"]),
                    _mark(row),
                )
                for row in rows
            ),
        )
    if corrupt:
        raise CheckFailed(f"{len(corrupt)} corrupt row(s) in the store")
    drifted = not synced or any(not row["in_sync"] for row in rows)
    if exit_code and drifted:
        raise CheckFailed("the store does not serve HEAD", hint="run `agentver sync`")


def _mark(row: dict[str, Any]) -> str:
    if row["in_sync"]:
        return "in sync"
    return "uncommitted" if row["uncommitted"] else "DRIFT: run agentver sync"


def _state(pointer: Any) -> dict[str, Any]:
    if pointer is None:
        return {"active": None, "canary": None}
    canary = pointer.canary
    return {
        "active": pointer.active.version if pointer.active else None,
        "canary": {"version": canary.version, "percent": canary.percent} if canary else None,
    }


def _text(state: dict[str, Any]) -> str:
    text = f"v{state['active']}" if state["active"] else "-"
    if state["canary"]:
        text += f" + canary v{state['canary']['version']} {state['canary']['percent']}%"
    return text
