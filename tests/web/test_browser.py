"""The dashboard in a real browser: Debian's chromium driven by Playwright.

One server (``agentver serve --allow-writes`` as a real process) over one copy of the
demo repository serves the whole module; every page visited is saved as a PNG under
test-artifacts/web/ (docs/dashboard.md shows copies). Playwright's own browser download
cannot work offline, so the system Chromium is launched with an empty profile.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import playwright.sync_api as playwright_sync  # the dev extra installs it
import pytest

from tests.reliability.harness import LEAKY
from tests.web.conftest import artifact, git

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}

if not CHROMIUM.exists():  # .ci/run installs it; a developer machine may lack it
    pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)


@dataclass
class Served:
    url: str
    root: Path
    store: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _record(root: Path, env: str, outcomes: list[tuple[str, bool]]) -> None:
    """Outcomes for the running canary, as agent servers record them."""
    from agentver.store import Outcome, open_store
    from agentver.workspace import Workspace

    ws = Workspace.open(root)
    pointer = ws.pointer(env, "support")
    assert pointer.canary and pointer.active
    store = open_store(ws.settings.store_url(), root)
    try:
        rows = []
        for variant, ok in outcomes:
            slot = pointer.canary if variant == "canary" else pointer.active
            rows.append(
                Outcome(
                    "support",
                    env,
                    variant,
                    slot.version,
                    slot.config_hash,  # type: ignore[arg-type]
                    pointer.canary.salt,
                    ok,
                )
            )
        store.record_outcomes(rows)
    finally:
        store.close()


def _store_eval_results(root: Path) -> None:
    """Stored evaluation results for v2 and v3, as `agentver eval` writes them."""
    from agentver.evals.agent_eval import result_store
    from agentver.evals.results import CaseResult, EvalKey, RunResult, SuiteResult
    from agentver.workspace import Workspace

    ws = Workspace.open(root)
    for number, passing in ((2, 4), (3, 5)):
        version = ws.history("support").versions[number - 1]
        cases = tuple(
            CaseResult(f"case-{i}", 1.0, (RunResult(i < passing, "...", 40, ()),)) for i in range(5)
        )
        key = EvalKey("support", version.config_hash, "ab12cd34", "ef56ab78")
        result_store(ws).put(
            SuiteResult(key, cases, evaluated_at=f"2025-03-0{number + 5}T12:00:00Z")
        )


@pytest.fixture(scope="module")
def served(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("browser")
    root = base / "story"
    shutil.copytree(demo_template, root, symlinks=True)
    env = {key: value for key, value in os.environ.items() if key not in LEAKY}
    env.update(HOME=str(base), GIT_CONFIG_NOSYSTEM="1", PYTHONUNBUFFERED="1")

    def cli(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "agentver", "-C", str(root), *args],
            env=env, check=True, capture_output=True,
        )  # fmt: skip

    # A canary on staging with outcomes in the store, for the canary page.
    cli("canary", "start", "support", "v3", "--percent", "20", "--env", "staging")
    cli("sync")
    _record(root, "staging", [("stable", i % 40 != 0) for i in range(200)])
    _record(root, "staging", [("canary", i % 50 != 0) for i in range(120)])
    _store_eval_results(root)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "agentver", "-C", str(root), "serve", "--port", str(port),
         "--allow-writes"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.05)
        yield Served(f"http://127.0.0.1:{port}", root, "sqlite:///.agentver/runtime.db")
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with playwright_sync.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        nojs = driver.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile-nojs")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            java_script_enabled=False,
        )
        try:
            yield {"js": context, "nojs": nojs}
        finally:
            context.close()
            nojs.close()


@pytest.fixture
def page(browser: dict[str, object]) -> Iterator[object]:
    context = browser["js"]
    tab = context.new_page()  # type: ignore[attr-defined]
    yield tab
    tab.close()


def shot(page: object, name: str) -> None:
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    page.screenshot(path=str(artifact(name)), full_page=True)  # type: ignore[attr-defined]


def test_pick_two_versions_and_see_the_billing_paragraph_deleted(
    page: object, served: Served
) -> None:
    expect = playwright_sync.expect
    page.goto(served.url + "/")  # type: ignore[attr-defined]
    expect(page.get_by_role("link", name="support", exact=True)).to_be_visible()  # type: ignore[attr-defined]
    shot(page, "overview.png")
    page.get_by_role("link", name="support", exact=True).click()  # type: ignore[attr-defined]
    page.get_by_role("link", name="Compare versions").click()  # type: ignore[attr-defined]
    page.select_option("#a", "3")  # type: ignore[attr-defined]
    page.select_option("#b", "4")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Compare").click()  # type: ignore[attr-defined]
    page.wait_for_url("**/agents/support/diff?a=3&b=4")  # type: ignore[attr-defined]
    deleted = page.locator(
        "td.txt.removed del", has_text="Billing access: you can look up invoices"
    )  # type: ignore[attr-defined]
    expect(deleted).to_be_visible()
    # it jumps out: struck through on a red background, and nothing like it on the right
    style = deleted.evaluate(
        "e => [getComputedStyle(e).textDecorationLine, getComputedStyle(e.parentElement).backgroundColor]"
    )
    assert style[0] == "line-through" and style[1] == "rgb(255, 215, 213)"
    expect(page.locator("td.txt.added", has_text="Billing")).to_have_count(0)  # type: ignore[attr-defined]
    expect(page.locator("text=4 lines deleted")).to_be_visible()  # type: ignore[attr-defined]
    shot(page, "diff.png")


def test_follow_the_timeline(page: object, served: Served) -> None:
    expect = playwright_sync.expect
    page.goto(served.url + "/agents/support")  # type: ignore[attr-defined]
    timeline = page.locator("table.timeline")  # type: ignore[attr-defined]
    expect(timeline.locator("tbody tr")).to_have_count(5)
    expect(timeline.locator("tr#v3")).to_contain_text("production: active")
    expect(page.locator("figure.chart svg")).to_have_count(2)  # type: ignore[attr-defined]
    shot(page, "agent.png")
    timeline.get_by_role("link", name="diff v3 to v4").click()
    page.wait_for_url("**/agents/support/diff?a=3&b=4")  # type: ignore[attr-defined]
    page.go_back()  # type: ignore[attr-defined]
    timeline.locator("tr#v4").get_by_role("link", name="v4", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("support v4")  # type: ignore[attr-defined]
    expect(page.locator("pre.prompt-text")).to_contain_text("Keep answers short")  # type: ignore[attr-defined]
    shot(page, "version.png")
    page.get_by_role("link", name="← v3").click()  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", level=1)).to_have_text("support v3")  # type: ignore[attr-defined]


def test_canary_counts_refresh_without_reload(page: object, served: Served) -> None:
    expect = playwright_sync.expect
    page.goto(served.url + "/agents/support/canary?env=staging&refresh=600")  # type: ignore[attr-defined]
    requests = page.locator('[data-field="canary.requests"]')  # type: ignore[attr-defined]
    expect(requests).to_have_text("120")
    expect(page.locator('[data-field="stable.requests"]')).to_have_text("200")  # type: ignore[attr-defined]
    verdict = _verdict(served)
    expect(page.locator('[data-field="verdict"]')).to_have_text(verdict)  # type: ignore[attr-defined]
    page.evaluate("window.__sameDocument = true")  # type: ignore[attr-defined]
    _record(served.root, "staging", [("canary", False) for _ in range(30)])
    expect(requests).to_have_text("150", timeout=5000)
    expect(page.locator('[data-field="canary.errors"]')).to_have_text("33")  # type: ignore[attr-defined]
    # the verdict is the library's (`canary evaluate`) on the new counts
    expect(page.locator('[data-field="verdict"]')).to_have_text(_verdict(served))  # type: ignore[attr-defined]
    assert page.evaluate("window.__sameDocument") is True  # type: ignore[attr-defined]
    expect(page.locator("#refreshed")).to_contain_text("Live: updated")  # type: ignore[attr-defined]
    expect(page.locator('[data-field="stable.slow"]')).to_have_text("n/a")  # type: ignore[attr-defined]
    expect(page.locator(".updated")).to_have_count(0)  # type: ignore[attr-defined]
    shot(page, "canary.png")


def _verdict(served: Served) -> str:
    from agentver.canary.evaluate import evaluate_canary
    from agentver.store import open_store
    from agentver.workspace import Workspace

    ws = Workspace.open(served.root)
    store = open_store(served.store, served.root)
    try:
        return evaluate_canary(ws, "staging", "support", store=store).verdict.verdict
    finally:
        store.close()


def test_keyboard_navigation(page: object, served: Served) -> None:
    page.goto(served.url + "/")  # type: ignore[attr-defined]
    keyboard = page.keyboard  # type: ignore[attr-defined]
    keyboard.press("Tab")
    focused = "document.activeElement.textContent.trim()"
    assert page.evaluate(focused) == "Skip to content"  # type: ignore[attr-defined]
    keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"  # type: ignore[attr-defined]
    for _ in range(10):  # from the main content, Tab reaches the agent's link
        keyboard.press("Tab")
        if page.evaluate(focused) == "support":  # type: ignore[attr-defined]
            break
    else:
        pytest.fail("Tab never reached the support link")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")  # type: ignore[attr-defined]
    assert outline == "solid"  # the focus is visible
    keyboard.press("Enter")
    page.wait_for_url("**/agents/support")  # type: ignore[attr-defined]


def test_read_pages_work_without_javascript(browser: dict[str, object], served: Served) -> None:
    expect = playwright_sync.expect
    tab = browser["nojs"].new_page()  # type: ignore[attr-defined]
    try:
        tab.goto(served.url + "/agents/support/diff")
        tab.select_option("#a", "3")
        tab.select_option("#b", "5")
        tab.get_by_role("button", name="Compare").click()
        tab.wait_for_url("**/diff?a=3&b=5")
        expect(tab.locator("td.txt.removed del", has_text="Billing access")).to_be_visible()
        tab.goto(served.url + "/deployments")
        tab.fill("#at", "2025-03-10T22:00:00Z")
        tab.fill("#user", "alice")
        tab.get_by_role("button", name="Show").click()
        expect(tab.locator("#at-answer")).to_contain_text("with canary v5 at 10%")
        expect(tab.locator("#user-answer")).to_contain_text("User alice gets")
        shot(tab, "deployments.png")
        tab.goto(served.url + "/agents/support/canary?env=staging")
        expect(tab.locator('[data-field="verdict"]')).to_be_visible()
        expect(tab.locator("#refreshed")).to_have_text("Counts as of page load.")
        tab.goto(served.url + "/agents/support")
        expect(tab.locator("figure.chart svg")).to_have_count(2)  # drawn without a script
    finally:
        tab.close()


def test_canaries_evaluations_and_commit_pages(page: object, served: Served) -> None:
    expect = playwright_sync.expect
    page.goto(served.url + "/canary")  # type: ignore[attr-defined]
    expect(page.get_by_role("link", name="support")).to_have_attribute(
        "href", "/agents/support/canary?env=staging"
    )  # type: ignore[attr-defined]
    page.goto(served.url + "/evaluations?agent=support")  # type: ignore[attr-defined]
    expect(page.locator("tr#v3")).to_contain_text("100.0%")  # type: ignore[attr-defined]
    expect(page.locator("tr#v2")).to_contain_text("80.0%")  # type: ignore[attr-defined]
    shot(page, "evaluations.png")
    page.goto(served.url + "/deployments?agent=support&env=production")  # type: ignore[attr-defined]
    page.get_by_role("row", name="canary start").locator('a[href^="/commits/"]').click()  # type: ignore[attr-defined]
    expect(page.locator("pre.message")).to_contain_text(
        "agentver(production): canary start support v5 at 10%"
    )  # type: ignore[attr-defined]
    shot(page, "commit.png")


def test_write_without_the_token_is_refused(page: object, served: Served) -> None:
    head = git(served.root, "rev-parse", "HEAD")
    page.goto(served.url + "/")  # type: ignore[attr-defined]
    response = page.request.post(  # type: ignore[attr-defined]
        served.url + "/agents/support/actions",
        form={"action": "rollback", "env": "production", "ref": "previous"},
        headers={"Origin": served.url},
    )
    assert response.status == 403
    assert "form token" in response.text()
    assert git(served.root, "rev-parse", "HEAD") == head


def test_roll_back_from_the_browser(page: object, served: Served) -> None:
    expect = playwright_sync.expect
    page.goto(served.url + "/agents/support")  # type: ignore[attr-defined]
    production = page.get_by_role("article", name="production")  # type: ignore[attr-defined]
    # v2: older than the active v3 and valid (v4 and v5 lack the billing policy's phrase)
    production.get_by_label("version").select_option("2")
    production.get_by_role("button", name="Roll back…", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Roll back support in production?")  # type: ignore[attr-defined]
    expect(page.locator("#commit-message")).to_have_text(
        "agentver(production): rollback support to v2"
    )  # type: ignore[attr-defined]
    shot(page, "confirm.png")
    page.get_by_role("button", name="Roll back: commit").click()  # type: ignore[attr-defined]
    page.wait_for_url("**/agents/support?commit=*")  # type: ignore[attr-defined]
    commit = git(served.root, "rev-parse", "HEAD").strip()
    expect(page.locator(".notice")).to_contain_text(commit[:10])  # type: ignore[attr-defined]
    assert (
        git(served.root, "log", "-1", "--format=%s")
        == "agentver(production): rollback support to v2\n"
    )
    assert git(served.root, "show", "--name-only", "--format=", "HEAD").split() == [
        ".agentver/deployments/production/support.yaml"
    ]
    assert (
        "active: {version: 2,"
        in (served.root / ".agentver/deployments/production/support.yaml").read_text()
    )
    expect(page.locator("tr#v2")).to_contain_text("production: active")  # type: ignore[attr-defined]
    shot(page, "agent-after-rollback.png")
