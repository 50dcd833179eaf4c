"""Forensics from the pointer's git history, and user resolution now or at a past time."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from agentver.deploy.pointers import PointerEvent
from agentver.errors import NotFound, UsageError
from agentver.models import Pointer, ResolvedConfig
from agentver.refs import checked_version
from agentver.routing import resolve
from agentver.workspace import Workspace


def parse_time(text: str) -> str:
    """A user-given time to ISO 8601 UTC (``...Z``); naive times are taken as UTC."""
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise UsageError(
            f"cannot read time {text!r}",
            "use ISO 8601, e.g. 2026-11-26T10:00:00Z or 2026-11-26",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_at(events: list[PointerEvent], when: str) -> PointerEvent | None:
    """The newest pointer commit whose committer date is at or before ``when``."""
    chosen = None
    for event in events:  # oldest first; dates compare as text in this fixed format
        if event.at <= when:
            chosen = event
    return chosen


def event_json(event: PointerEvent) -> dict[str, Any]:
    pointer = event.pointer
    version = None
    percent = None
    if pointer is not None:
        if event.action.startswith("canary") and pointer.canary:
            version, percent = pointer.canary.version, pointer.canary.percent
        elif pointer.active:
            version = pointer.active.version
    if event.action in ("canary promote",) and pointer and pointer.active:
        version, percent = pointer.active.version, None
    return {
        "at": event.at,
        "action": event.action,
        "version": version,
        "percent": percent,
        "by": event.by,
        "commit": event.commit,
    }


def resolve_user(
    ws: Workspace, environment: str, agent: str, user: str, at: str | None = None
) -> ResolvedConfig:
    """What ``user`` is served: from the pointer on disk, or as it was committed at ``at``."""
    pointer: Pointer | None
    if at is None:
        pointer = ws.pointer(environment, agent)
    else:
        event = state_at(ws.pointer_events(environment, agent), at)
        pointer = event.pointer if event else None
        if pointer is None:
            raise NotFound(f"nothing of {agent} was deployed in {environment} at {at}")
    if pointer.active is None:
        raise NotFound(
            f"{agent} has no active version in {environment}",
            f"agentver deploy {agent} <version> --env {environment}",
        )
    active = checked_version(
        ws, agent, pointer.active.version, pointer.active.config_hash, environment
    )
    canary_config = None
    if pointer.canary:
        canary = checked_version(
            ws, agent, pointer.canary.version, pointer.canary.config_hash, environment
        )
        canary_config = ws.config_of(canary)
    return resolve(pointer, user, ws.config_of(active), canary_config)
