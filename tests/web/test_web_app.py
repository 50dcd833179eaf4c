"""The dashboard through Starlette's test client: pages, escaping, write protection.

The browser tests (test_browser.py) show the same pages to a real Chromium; these check
the rules behind them quickly and precisely.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Repo
from tests.web.conftest import git

ORIGIN = {"origin": "http://127.0.0.1:8700"}


def test_overview_shows_each_agent_with_its_deployments(demo_repo: Path, client_for: Any) -> None:
    page = client_for(demo_repo).get("/")
    assert page.status_code == 200
    html = page.text
    row = re.search(
        r"<tr>\s*<th scope=\"row\"><a href=\"/agents/support\">support</a>.*?</tr>", html, re.S
    )
    assert row, html
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    text = [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in cells]
    # versions, latest, validity, staging, production, git vs store
    assert text[0] == "5" and text[1] == "v5"
    # v5 breaks the billing policy committed with it: invalid, deployed to staging anyway
    # with --skip-gate --reason (the demo records why)
    assert text[2] == "invalid" and text[3].split() == ["v5", "invalid"] and text[4] == "v3"
    assert text[5] == "in sync"  # the demo synced its store at the end


def test_overview_shows_drift_after_an_unpublished_deploy(
    demo_repo: Path, client_for: Any, run_cli: Any
) -> None:
    assert run_cli("-C", str(demo_repo), "deploy", "support", "v2").exit_code == 0
    html = client_for(demo_repo).get("/").text
    assert "HEAD not published yet" in html
    assert "production: store serves v3" in html


def test_overview_marks_uncommitted_pointer_edits(
    demo_repo: Path, client_for: Any, run_cli: Any
) -> None:
    assert run_cli("-C", str(demo_repo), "deploy", "support", "v2", "--no-commit").exit_code == 0
    client = client_for(demo_repo)
    html = client.get("/").text
    assert html.count('title="the pointer file has uncommitted edits">uncommitted') == 1
    assert "in sync" in html  # the store is compared with HEAD, which did not move
    git(demo_repo, "checkout", "--", ".agentver")
    assert "uncommitted</span>" not in client.get("/").text


def test_diff_shows_the_deleted_billing_paragraph(demo_repo: Path, client_for: Any) -> None:
    html = client_for(demo_repo).get("/agents/support/diff?a=3&b=4").text
    deleted = re.findall(r'<td class="txt removed">(.*?)</td>', html, re.S)
    assert any("<del>Billing access: you can look up invoices" in cell for cell in deleted), deleted
    assert not re.search(r'<td class="txt added">[^<]*Billing', html)
    # the replaced first line: changed words only
    assert "<ins>Acme Cloud&#39;s</ins>" in html
    # model settings of v4 -> v5
    html = client_for(demo_repo).get("/agents/support/diff?a=4&b=5").text
    assert (
        "<del><code>gpt-4o</code></del>" in html and "<ins><code>gpt-4o-mini</code></ins>" in html
    )


def test_diff_of_unknown_version_is_an_error_page(demo_repo: Path, client_for: Any) -> None:
    page = client_for(demo_repo).get("/agents/support/diff?a=1&b=99")
    assert page.status_code == 404
    assert "support has no version 99" in page.text


def test_script_in_a_prompt_renders_as_text(repo: Repo, client_for: Any) -> None:
    evil = '<script>alert("pwned")</script> and <img src=x onerror=alert(1)>'
    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hello"}, "add")
    repo.commit_agent(
        "support", {"model": "gpt-4o", "system_prompt": evil, "tools": ["<b>x</b>"]}, evil
    )
    client = client_for(repo.path)
    for url in ("/", "/agents/support", "/agents/support/v/2", "/agents/support/diff?a=1&b=2"):
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>x" not in html, url
    assert (
        "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;"
        in client.get("/agents/support/v/2").text
    )
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_foreign_host_header_is_refused(demo_repo: Path, client_for: Any) -> None:
    client = client_for(demo_repo)
    page = client.get("/", headers={"host": "attacker.example:8700"})
    assert page.status_code == 421
    assert client.get("/", headers={"host": "localhost:8700"}).status_code == 200


def _confirm(client: Any, query: str) -> dict[str, str]:
    page = client.get(f"/agents/support/confirm?{query}")
    assert page.status_code == 200, page.text
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))


def test_writes_are_off_by_default(demo_repo: Path, client_for: Any) -> None:
    client = client_for(demo_repo)
    head = git(demo_repo, "rev-parse", "HEAD")
    assert client.get("/agents/support/confirm?action=rollback&env=production").status_code == 403
    form = {"action": "rollback", "env": "production", "ref": "previous", "token": "x"}
    assert client.post("/agents/support/actions", data=form, headers=ORIGIN).status_code == 403
    assert "Roll back" not in client.get("/agents/support").text
    assert git(demo_repo, "rev-parse", "HEAD") == head


def test_write_needs_the_token_and_our_origin(demo_repo: Path, client_for: Any) -> None:
    client = client_for(demo_repo, allow_writes=True)
    head = git(demo_repo, "rev-parse", "HEAD")
    form = _confirm(client, "action=rollback&env=production&ref=2")
    assert form["token"] == client.guard.token
    url = "/agents/support/actions"
    no_token = {k: v for k, v in form.items() if k != "token"}
    refused = client.post(url, data=no_token, headers=ORIGIN, follow_redirects=False)
    assert refused.status_code == 403 and "form token" in refused.text
    wrong = client.post(
        url, data={**form, "token": "guess"}, headers=ORIGIN, follow_redirects=False
    )
    assert wrong.status_code == 403
    cross = client.post(
        url, data=form, headers={"origin": "http://evil.example"}, follow_redirects=False
    )
    assert cross.status_code == 403 and "Origin" in cross.text
    no_origin = client.post(url, data=form, follow_redirects=False)
    assert no_origin.status_code == 403
    assert git(demo_repo, "rev-parse", "HEAD") == head
    done = client.post(url, data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303
    assert (
        git(demo_repo, "log", "-1", "--format=%s")
        == "agentver(production): rollback support to v2\n"
    )
    assert (
        done.headers["location"]
        == f"/agents/support?commit={git(demo_repo, 'rev-parse', 'HEAD').strip()}"
    )
    assert git(demo_repo, "status", "--porcelain") == ""


def test_a_pointer_changed_since_the_confirmation_is_not_overwritten(
    demo_repo: Path, client_for: Any, run_cli: Any
) -> None:
    client = client_for(demo_repo, allow_writes=True)
    form = _confirm(client, "action=deploy&env=production&ref=2")
    assert run_cli("-C", str(demo_repo), "deploy", "support", "v1").exit_code == 0
    head = git(demo_repo, "rev-parse", "HEAD")
    page = client.post("/agents/support/actions", data=form, headers=ORIGIN)
    assert page.status_code == 400 and "changed since the confirmation page" in page.text
    assert git(demo_repo, "rev-parse", "HEAD") == head


def test_confirmation_applies_the_cli_checks(repo: Repo, client_for: Any) -> None:
    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hi"}, "add")
    repo.commit_agent(
        "support", {"model": "gpt-4o", "system_prompt": "Hi", "temperature": 9}, "hot"
    )
    client = client_for(repo.path, allow_writes=True)
    page = client.get("/agents/support/confirm?action=deploy&env=production&ref=2")
    assert page.status_code == 400
    assert "does not pass the schema and can never be deployed" in page.text
    page = client.get("/agents/support/confirm?action=promote&env=production")
    assert page.status_code == 400 and "no canary running" in page.text


def test_deployments_page_answers_time_and_user(demo_repo: Path, client_for: Any) -> None:
    client = client_for(demo_repo)
    # The demo: v3 deployed 2025-03-10 09:00, canary v5 at 21:00, promoted on the 11th.
    html = client.get(
        "/deployments?agent=support&env=production&at=2025-03-10T22:00:00Z&user=alice"
    ).text
    answer = re.search(r'<p class="answer" id="at-answer">(.*?)</p>', html, re.S)
    assert answer and re.search(
        r"ran\s+<a[^>]*>v3</a>\s*, with canary v5 at 10% \(pointer commit", answer.group(1)
    )
    user = re.search(r'<p class="answer" id="user-answer">(.*?)</p>', html, re.S)
    assert user and re.search(r">(stable|canary)<", user.group(1))
    assert html.count('href="/commits/') >= 5


def test_commit_page_rejects_odd_ids(demo_repo: Path, client_for: Any) -> None:
    client = client_for(demo_repo)
    assert client.get("/commits/--all").status_code == 404
    head = git(demo_repo, "rev-parse", "HEAD").strip()
    assert "flag set support human_handoff" in client.get(f"/commits/{head}").text


@pytest.mark.parametrize("url", ["/canary", "/evaluations", "/agents/support/v/1"])
def test_other_read_pages(demo_repo: Path, client_for: Any, url: str) -> None:
    assert client_for(demo_repo).get(url).status_code == 200


def test_evaluations_show_the_score_of_each_version_with_a_result(
    demo_repo: Path, client_for: Any
) -> None:
    from agentver.evals.agent_eval import result_store
    from agentver.evals.results import CaseResult, EvalKey, RunResult, SuiteResult
    from agentver.workspace import Workspace

    ws = Workspace.open(demo_repo)
    v3 = ws.history("support").versions[2]
    runs = (RunResult(True, "ok", 5, ()), RunResult(False, "no", 5, ()))
    result = SuiteResult(
        EvalKey("support", v3.config_hash, "ab12cd34", "ef56ab78"),
        (CaseResult("billing", 1.0, runs), CaseResult("greeting", 1.0, runs[:1])),
        evaluated_at="2025-03-08T10:00:00Z",
    )
    result_store(ws).put(result)
    client = client_for(demo_repo)
    html = client.get("/evaluations?agent=support").text
    row = re.search(r'<tr id="v3">(.*?)</tr>', html, re.S)
    assert row and "75.0%" in row.group(1), html  # (0.5 + 1) / 2
    assert re.search(r'<tr id="v4">.*?no result', html, re.S)
    timeline = client.get("/agents/support").text
    assert re.search(r'<tr id="v3">.*?>75%</a>', timeline, re.S)
