"""What the read pages show, gathered from the library into plain values for templates.

Every rule comes from the library: versions and validity from ``history``, pointers and
their git log from ``Workspace``, diffs from ``compare``/``diff``, "what ran at T" and
per-user routing from ``audit``, stored evaluation results from ``evals.results``. This
module only selects and arranges.

Cost model of the overview (docs/benchmarks.md): the version lists come from the
history cache of HEAD (one JSON read), the pointers committed at HEAD from one
``git cat-file --batch`` per environment, the pointers on disk from small file reads
through the parse cache, and the store from one query for its pointers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agentver.compare import diff_refs
from agentver.deploy.pointers import pointer_path
from agentver.diff import MISSING, Change
from agentver.errors import AgentverError
from agentver.history import AgentHistory
from agentver.models import Pointer, Version
from agentver.publish import uncommitted_pointer_files
from agentver.web.chart import Chart, deployment_chart
from agentver.web.storeview import StoreState
from agentver.web.worddiff import Row, counts, side_by_side
from agentver.workspace import Workspace


@dataclass
class EnvCell:
    """One agent in one environment, for the overview table."""

    active: int | None = None
    active_valid: bool = True
    canary: int | None = None
    canary_percent: int | float | None = None
    uncommitted: bool = False  # the pointer on disk differs from HEAD's
    drift: str | None = None  # how the store differs from HEAD (None: same, or no store)


@dataclass
class AgentRow:
    agent: str
    versions: int
    latest: int | None
    latest_valid: bool
    present: bool
    warnings: int
    envs: dict[str, EnvCell] = field(default_factory=dict)
    behind: bool = False  # the store has not published this agent's newest commit yet

    @property
    def drift(self) -> list[str]:
        notes = [f"{env}: {cell.drift}" for env, cell in self.envs.items() if cell.drift]
        if self.behind:
            notes.append("newest version not published")
        return notes


def overview(
    ws: Workspace, store: StoreState | None, histories: dict[str, AgentHistory] | None = None
) -> list[AgentRow]:
    """One row per agent; ``histories`` when the caller holds them for this HEAD already.

    A pointer file that ``git status`` does not list is as committed at HEAD, so only
    the few with uncommitted edits are read from git (one status call, not one git
    process per pointer file)."""
    if histories is None:
        histories = ws.agents()
    environments = list(ws.settings.environments)
    dirty = set(uncommitted_pointer_files(ws))
    behind = _agents_behind(ws, store)
    rows: list[AgentRow] = []
    for name in sorted(histories):
        history = histories[name]
        latest = history.latest
        row = AgentRow(
            name,
            len(history.versions),
            latest.version if latest else None,
            latest.valid if latest else False,
            history.present,
            len(history.warnings),
            behind=name in behind,
        )
        for env in environments:
            pointer = ws.pointer(env, name)
            committed = (
                ws.pointer(env, name, committed=True)
                if pointer_path(env, name) in dirty
                else pointer
            )
            row.envs[env] = _env_cell(history, pointer, committed, store, env, name)
        rows.append(row)
    return rows


def _env_cell(
    history: AgentHistory,
    pointer: Pointer,
    committed: Pointer,
    store: StoreState | None,
    env: str,
    agent: str,
) -> EnvCell:
    cell = EnvCell()
    if pointer.active:
        cell.active = pointer.active.version
        cell.active_valid = _valid(history, pointer.active.version)
    if pointer.canary:
        cell.canary = pointer.canary.version
        cell.canary_percent = pointer.canary.percent
    empty = Pointer(agent, env)
    cell.uncommitted = pointer != committed
    if store is not None and store.problem is None:
        served = store.pointers.get((env, agent))
        if (served or empty) != committed:
            what = _short(served)
            cell.drift = f"store serves {what}" if served else "not in the store"
    return cell


def _valid(history: AgentHistory, number: int) -> bool:
    return 1 <= number <= len(history.versions) and history.versions[number - 1].valid


def _short(pointer: Pointer | None) -> str:
    if pointer is None or pointer.active is None:
        return "nothing"
    text = f"v{pointer.active.version}"
    if pointer.canary:
        text += f" + canary v{pointer.canary.version} {pointer.canary.percent}%"
    return text


def _agents_behind(ws: Workspace, store: StoreState | None) -> set[str]:
    """Agents whose file changed between the commit the store serves and HEAD."""
    if store is None or store.problem is not None or store.head_commit is None:
        return set()
    head = ws.index.head
    if store.head_commit == head:
        return set()
    if ws.repo.resolve_commit(store.head_commit) is None:
        return set(ws.agent_summaries())  # the store serves a commit git does not have
    folder = ws.settings.agents_dir
    changed = ws.repo.changed_files(store.head_commit, head, [f"{folder}/"])
    return {path[len(folder) + 1 : -5] for path in changed if path.endswith(".yaml")}


# -- one agent -----------------------------------------------------------------------


@dataclass
class EnvHistory:
    environment: str
    pointer: Pointer
    events: list[dict[str, Any]]
    chart: Chart | None


def agent_page(ws: Workspace, agent: str) -> dict[str, Any]:
    history = ws.history(agent)
    markers: dict[int, dict[str, str]] = {}
    envs: list[EnvHistory] = []
    from agentver.deploy.audit import event_json

    for env in ws.settings.environments:
        pointer = ws.pointer(env, agent)
        if pointer.active:
            markers.setdefault(pointer.active.version, {})[env] = "active"
        if pointer.canary:
            markers.setdefault(pointer.canary.version, {})[env] = "canary"
        events = ws.pointer_events(env, agent)
        rows = []
        for event in events:
            row = event_json(event)
            row["subject"] = event.subject
            rows.append(row)
        rows.reverse()  # newest first, like the version timeline
        envs.append(EnvHistory(env, pointer, rows, deployment_chart(events, len(history.versions))))
    scores = eval_scores(ws, agent, history.versions)
    return {
        "agent": agent,
        "history": history,
        "versions": list(reversed(history.versions)),
        "markers": markers,
        "envs": envs,
        "scores": scores,
    }


def version_page(ws: Workspace, agent: str, number: int) -> dict[str, Any]:
    history = ws.history(agent)
    version = history.get(number)
    config = ws.config_of(version)
    return {
        "agent": agent,
        "version": version,
        "count": len(history.versions),
        "config": config.to_dict(),
        "config_yaml": _pretty(config.to_dict()),
    }


def _pretty(data: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


# -- diff ----------------------------------------------------------------------------

SECTIONS = (
    ("Model settings", ("model", "temperature", "max_tokens", "description")),
    ("Tools", ("tools",)),
    ("Guardrails", ("guardrails",)),
    ("Params", ("params",)),
)


def diff_page(ws: Workspace, agent: str, a: str, b: str) -> dict[str, Any]:
    history = ws.history(agent)
    result, warnings = diff_refs(ws, agent, a, b, None)
    old, new = result.from_side.config, result.to_side.config
    rows = side_by_side(old.system_prompt, new.system_prompt)
    return {
        "agent": agent,
        "versions": list(reversed(history.versions)),
        "a": a,
        "b": b,
        "diff": result,
        "sections": group_changes(result.changes),
        "prompt_rows": rows,
        "prompt_counts": counts(rows),
        "prompt_changed": old.system_prompt != new.system_prompt,
        "warnings": warnings,
    }


def prompt_rows(old: str, new: str) -> list[Row]:
    return side_by_side(old, new)


def group_changes(changes: tuple[Change, ...]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Changes per section of the page, each with display text for old and new."""
    grouped: list[tuple[str, list[dict[str, Any]]]] = []
    for title, fields in SECTIONS:
        items = [
            {
                "field": change.field,
                "kind": change.kind,
                "old": _display(change.old),
                "new": _display(change.new),
            }
            for change in changes
            if change.field.split(".", 1)[0].split("[", 1)[0] in fields
        ]
        grouped.append((title, items))
    return grouped


def _display(value: Any) -> str | None:
    if value is MISSING:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- evaluations ---------------------------------------------------------------------


def eval_scores(ws: Workspace, agent: str, versions: list[Version]) -> dict[int, dict[str, Any]]:
    """version number -> its newest stored evaluation result (score, passed, when)."""
    from agentver.evals.agent_eval import result_store
    from agentver.evals.results import EvalResultError

    results = result_store(ws)
    folder = results.root / agent
    if not folder.is_dir():
        return {}
    stored = {path.name.split(".", 1)[0] for path in folder.glob("*.json")}
    scores: dict[int, dict[str, Any]] = {}
    for version in versions:
        if version.config_hash not in stored:
            continue
        try:
            found = results.for_config(agent, version.config_hash)
        except EvalResultError as exc:
            scores[version.version] = {"error": exc.message}
            continue
        if found:
            newest = max(found, key=lambda r: r.evaluated_at)
            scores[version.version] = {
                "score": newest.score,
                "passed": newest.passed,
                "evaluated_at": newest.evaluated_at,
                "suite": newest.key.suite_hash,
                "cases": len(newest.cases),
                "results": len(found),
            }
    return scores


def agents_with_results(ws: Workspace) -> list[str]:
    from agentver.evals.agent_eval import result_store

    folder = result_store(ws).root
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.json")))


def safe(call: Any, *args: Any) -> tuple[Any, str | None]:
    """(result, None) or (None, the error's message): a page section that cannot be
    computed says why instead of failing the whole page."""
    try:
        return call(*args), None
    except AgentverError as exc:
        return None, exc.message + (f" ({exc.hint})" if exc.hint else "")
