"""``agentver report``: static HTML between two revisions, for CI artifacts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import Repo
from tests.web.conftest import git


def _v3_commit(root: Path) -> str:
    return git(root, "log", "--format=%H", "--grep", "^Lower temperature", "-1").strip()


def test_report_has_the_diff_and_the_pointer_changes(demo_repo: Path, run_cli: Any) -> None:
    out = demo_repo.parent / "report"
    result = run_cli(
        "-C", str(demo_repo), "report", "--base", _v3_commit(demo_repo), "--out", "../report"
    )
    assert result.exit_code == 0, result.stderr
    assert "1 changed agent(s), 2 pointer change(s)" in result.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [".agentver-report", "diff-support.html", "index.html", "style.css"]
    diff = (out / "diff-support.html").read_text()
    assert re.search(r'<td class="txt removed">.*?<del>Billing access: you can look up', diff, re.S)
    index = (out / "index.html").read_text()
    assert '<a href="diff-support.html">support</a>' in index
    assert "agentver(production): rollback support to v3" in index
    for html in (diff, index):  # static: no script, no absolute links, nothing fetched
        assert "<script" not in html
        assert not re.search(r'(href|src)="(/|https?:)', html)


def test_report_replaces_a_previous_report_but_no_other_folder(
    demo_repo: Path, run_cli: Any
) -> None:
    base = _v3_commit(demo_repo)
    args = ("-C", str(demo_repo), "report", "--base", base, "--out")
    assert run_cli(*args, "out").exit_code == 0
    (demo_repo / "out" / "stale.html").write_text("old")
    assert run_cli(*args, "out").exit_code == 0
    assert not (demo_repo / "out" / "stale.html").exists()
    (demo_repo / "mine").mkdir()
    (demo_repo / "mine" / "notes.txt").write_text("keep")
    refused = run_cli(*args, "mine")
    assert refused.exit_code == 2 and "holds no previous report" in refused.stderr
    assert sorted(p.name for p in (demo_repo / "mine").iterdir()) == ["notes.txt"]
    bad = run_cli(*args[:4], "no-such-rev", "--out", "x")
    assert bad.exit_code == 2 and "unknown git revision 'no-such-rev'" in bad.stderr
    assert not (demo_repo / "x").exists()


def test_report_escapes_prompts(repo: Repo, run_cli: Any) -> None:
    base = repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hi"}, "add")
    repo.commit_agent(
        "support", {"model": "gpt-4o", "system_prompt": "<script>alert(1)</script>"}, "x"
    )
    assert run_cli("-C", str(repo.path), "report", "--base", base, "--out", "r").exit_code == 0
    html = (repo.path / "r" / "diff-support.html").read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
