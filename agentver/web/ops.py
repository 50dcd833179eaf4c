"""Deployments, canaries and commits as the dashboard shows them (library calls only).

``audit`` answers "what ran at time T" and "which variant did this user get";
the canary verdict is ``canary.evaluate.evaluate_canary`` on the store's outcomes, exactly
what ``agentver canary evaluate`` prints, and the same document feeds the canary page
and its live refresh.
"""

from __future__ import annotations

import re
from typing import Any

from agentver.deploy.audit import event_json, parse_time, resolve_user, state_at
from agentver.errors import AgentverError, NotFound, StoreError
from agentver.web.storeview import opened
from agentver.workspace import Workspace

_COMMIT = re.compile(r"[0-9a-f]{7,40}")
MAX_COMMIT_TEXT = 200_000


def deployments_page(
    ws: Workspace, agent: str, env: str, at_text: str, user: str
) -> dict[str, Any]:
    events = ws.pointer_events(env, agent)
    rows = []
    for event in reversed(events):
        row = event_json(event)
        row["subject"] = event.subject
        rows.append(row)
    page: dict[str, Any] = {
        "agent": agent,
        "environment": env,
        "events": rows,
        "at": at_text,
        "user": user,
        "at_state": None,
        "resolved": None,
        "errors": [],
    }
    when = None
    if at_text:
        try:
            when = parse_time(at_text)
            found = state_at(events, when)
            pointer = found.pointer if found else None
            page["at_state"] = {
                "at": when,
                "commit": found.commit if found else None,
                "active": pointer.active.version if pointer and pointer.active else None,
                "canary": pointer.canary if pointer else None,
            }
        except AgentverError as exc:
            page["errors"].append(_message(exc))
    if user:
        try:
            page["resolved"] = resolve_user(ws, env, agent, user, when)
        except AgentverError as exc:
            page["errors"].append(_message(exc))
    return page


def _message(exc: AgentverError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def running_canaries(ws: Workspace) -> list[dict[str, Any]]:
    out = []
    for agent in sorted(ws.agent_summaries()):
        for env in ws.settings.environments:
            pointer = ws.pointer(env, agent)
            if pointer.canary and pointer.active:
                out.append(
                    {
                        "agent": agent,
                        "environment": env,
                        "active": pointer.active.version,
                        "canary": pointer.canary.version,
                        "percent": pointer.canary.percent,
                        "started_at": pointer.canary.started_at,
                    }
                )
    return out


def canary_document(
    ws: Workspace, env: str, agent: str, store_option: str | None
) -> dict[str, Any]:
    """The verdict document of ``canary evaluate --json`` plus what the page needs.

    ``running`` is False when no canary runs; ``problem`` says why there is no verdict
    (no store, not synced, unreachable)."""
    from agentver.canary.evaluate import evaluate_canary, store_warnings

    pointer = ws.pointer(env, agent)
    base: dict[str, Any] = {
        "agent": agent,
        "environment": env,
        "running": pointer.canary is not None and pointer.active is not None,
        "active": pointer.active.version if pointer.active else None,
        "problem": None,
        "warnings": [],
        "evaluation": None,
    }
    if not base["running"]:
        return base
    assert pointer.canary is not None
    base["canary"] = {
        "version": pointer.canary.version,
        "percent": pointer.canary.percent,
        "started_at": pointer.canary.started_at,
        "salt": pointer.canary.salt,
    }
    with opened(ws, store_option) as (store, problem):
        if store is None:
            base["problem"] = problem
            return base
        try:
            evaluation = evaluate_canary(ws, env, agent, store=store)
            base["warnings"] = store_warnings(store, pointer)
        except StoreError as exc:
            base["problem"] = _message(exc)
            return base
        base["evaluation"] = evaluation.to_json()
    return base


def commit_page(ws: Workspace, sha: str) -> dict[str, Any]:
    """One commit: its metadata and patch, as git shows it (links from the audit log)."""
    if not _COMMIT.fullmatch(sha):
        raise NotFound(f"{sha!r} is not a commit id")
    commit = ws.repo.resolve_commit(sha)
    if commit is None:
        raise NotFound(f"unknown commit {sha}")
    meta = ws.repo.git("show", "-s", "--format=%H%x00%an <%ae>%x00%cI%x00%B", commit)
    full, author, date, message = ([*meta.split("\x00"), "", "", ""])[:4]
    patch = ws.repo.git("show", "--format=", "--stat", "--patch", "--no-color", commit)
    truncated = len(patch) > MAX_COMMIT_TEXT
    return {
        "commit": full.strip(),
        "author": author,
        "date": date,
        "message": message.strip(),
        "patch": patch[:MAX_COMMIT_TEXT],
        "truncated": truncated,
    }
