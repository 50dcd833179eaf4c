"""``agentver report``: the overview, the diffs and the pointer changes between two
revisions as static HTML files (no server, no script, no network), for CI artifacts.

The files are built in a temporary folder next to the target and moved into place at
the end, so a failed run leaves the previous report (or nothing), never half a report.
A folder is only replaced when it holds a previous report (its marker file).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentver.compare import diff_revisions
from agentver.deploy.pointers import POINTER_DIR, parse_pointer
from agentver.errors import NotFound, UsageError
from agentver.models import Pointer
from agentver.web import views
from agentver.web.render import STATIC, render
from agentver.web.worddiff import counts, side_by_side
from agentver.workspace import Workspace

MARKER = ".agentver-report"


@dataclass(frozen=True)
class ReportResult:
    index: Path
    base: str
    head: str
    changed_agents: int
    pointer_changes: int


def write_report(ws: Workspace, base: str, head: str | None, out: Path) -> ReportResult:
    base_commit = ws.repo.resolve_commit(base)
    if base_commit is None:
        raise NotFound(f"unknown git revision {base!r}", "fetch it first (CI: fetch-depth: 0)")
    head_commit = ws.repo.resolve_commit(head or "HEAD")
    if head_commit is None:
        raise NotFound(f"unknown git revision {head!r}")
    _check_target(out)
    diffs = diff_revisions(ws, base, head)
    pointer_rows = pointer_changes(ws, base_commit, head_commit)
    pointer_log = _pointer_log(ws, base_commit, head_commit)
    rows = views.overview(ws, None)
    common: dict[str, Any] = {
        "repo": ws.root.name,
        "head": head_commit,
        "environments": list(ws.settings.environments),
        "default_env": ws.settings.default_environment,
        "writes": False,
        "path": "",
        "static_report": True,
        "static_prefix": "",
        "home": "index.html",
    }
    pages: dict[str, str] = {}
    changed = []
    for diff in diffs:
        old, new = diff.from_side.config, diff.to_side.config
        prompt = side_by_side(old.system_prompt, new.system_prompt)
        name = f"diff-{diff.agent}.html"
        changed.append({"agent": diff.agent, "page": name, "changes": len(diff.changes)})
        pages[name] = render(
            "report_diff.html",
            **common,
            title=f"{diff.agent}: {base} → {head or 'HEAD'}",
            agent=diff.agent,
            diff=diff,
            sections=views.group_changes(diff.changes),
            prompt_rows=prompt,
            prompt_counts=counts(prompt),
            prompt_changed=old.system_prompt != new.system_prompt,
        )
    pages["index.html"] = render(
        "report_index.html",
        **common,
        title=f"agentver report {base} → {head or 'HEAD'}",
        base=base,
        base_commit=base_commit,
        head_name=head or "HEAD",
        at_head=head_commit == ws.index.head,
        rows=rows,
        store=None,
        changed=changed,
        changed_pages={item["agent"]: item["page"] for item in changed},
        pointer_rows=pointer_rows,
        pointer_log=pointer_log,
    )
    _write_atomically(out, pages)
    return ReportResult(out / "index.html", base_commit, head_commit, len(diffs), len(pointer_rows))


def pointer_changes(ws: Workspace, base: str, head: str) -> list[dict[str, Any]]:
    """Each pointer file that differs between the two commits, before and after."""
    rows = []
    for rel in ws.repo.changed_files(base, head, [f"{POINTER_DIR}/"]):
        parts = rel[len(POINTER_DIR) + 1 :].split("/")
        if len(parts) != 2 or not parts[1].endswith(".yaml"):
            continue
        env, agent = parts[0], parts[1][:-5]
        sides: list[Pointer | None] = []
        for commit in (base, head):
            blob = ws.repo.blob_at(commit, rel)
            if blob is None:
                sides.append(None)
                continue
            raw = ws.repo.read_blobs([blob])[blob]
            sides.append(parse_pointer(raw, f"{rel} at {commit[:10]}", env, agent, ws.cache))
        rows.append({"environment": env, "agent": agent, "before": sides[0], "after": sides[1]})
    return rows


def _pointer_log(ws: Workspace, base: str, head: str) -> list[dict[str, str]]:
    text = ws.repo.git(
        "log", "--format=%H%x00%an%x00%cI%x00%s", f"{base}..{head}", "--", f"{POINTER_DIR}/"
    )
    out = []
    for line in text.splitlines():
        commit, author, date, subject = ([*line.split("\x00"), "", "", ""])[:4]
        out.append({"commit": commit, "by": author, "at": date, "subject": subject})
    return out


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UsageError(
            f"{out} is not empty and holds no previous report; nothing written",
            "pick a new folder for --out",
        )


def _write_atomically(out: Path, pages: dict[str, str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, html in pages.items():
            (building / name).write_text(html, encoding="utf-8")
        shutil.copyfile(STATIC / "style.css", building / "style.css")
        (building / MARKER).write_text("written by agentver report\n", encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            old.rmdir()
            out.rename(old)
            building.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            building.rename(out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
