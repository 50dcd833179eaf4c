"""The failpoint mechanism itself: parsing, actions, and one registry matching the code."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentver import failpoints
from agentver.errors import UsageError

PACKAGE = Path(failpoints.__file__).parent
CALL = re.compile(r"""failpoint\(\s*["']([a-z0-9_.]+)["']\s*\)""")


@pytest.fixture
def configured() -> Iterator[None]:
    yield
    failpoints.configure(None)


def call_sites() -> dict[str, list[str]]:
    sites: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "failpoints.py":
            continue
        for name in CALL.findall(path.read_text(encoding="utf-8")):
            sites.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    return sites


def test_every_call_is_registered_and_every_name_is_called_once() -> None:
    sites = call_sites()
    assert set(sites) == set(failpoints.NAMES), (
        f"unregistered: {sorted(set(sites) - set(failpoints.NAMES))}, "
        f"never called: {sorted(set(failpoints.NAMES) - set(sites))}"
    )
    assert {name: where for name, where in sites.items() if len(where) > 1} == {}
    assert len(failpoints.NAMES) == len(set(failpoints.NAMES))


def test_parse_accepts_the_three_actions() -> None:
    spec = "sync.before_commit=kill, sync.after_commit=raise,sync.after_head_lock=sleep(25)"
    assert failpoints.parse(spec) == {
        "sync.before_commit": "kill",
        "sync.after_commit": "raise",
        "sync.after_head_lock": "sleep(25)",
    }
    assert failpoints.parse("") == {}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("sync.before_comit=kill", "unknown failpoint 'sync.before_comit'"),
        ("sync.before_commit=explode", "cannot parse"),
        ("sync.before_commit", "cannot parse"),
        ("sync.before_commit=sleep(x)", "cannot parse"),
    ],
)
def test_parse_refuses_what_would_silently_inject_nothing(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        failpoints.parse(spec)


def test_unset_is_inert(configured: None) -> None:
    failpoints.configure(None)
    for name in failpoints.NAMES:
        failpoints.failpoint(name)  # nothing happens


def test_raise_and_sleep(configured: None) -> None:
    failpoints.configure("sync.after_commit=raise,sync.after_head_lock=sleep(50)")
    failpoints.failpoint("sync.before_commit")  # not enabled: nothing
    with pytest.raises(failpoints.FailpointError, match=r"sync\.after_commit"):
        failpoints.failpoint("sync.after_commit")
    started = time.monotonic()
    failpoints.failpoint("sync.after_head_lock")
    assert time.monotonic() - started >= 0.05


def test_a_bad_specification_is_reported_at_the_first_failpoint(configured: None) -> None:
    failpoints.configure("nonsense")
    with pytest.raises(UsageError, match="AGENTVER_FAILPOINTS"):
        failpoints.failpoint("sync.before_commit")


def test_kill_is_sigkill_from_the_environment() -> None:
    code = "from agentver.failpoints import failpoint; failpoint('sync.before_commit'); print('x')"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"AGENTVER_FAILPOINTS": "sync.before_commit=kill", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9 and proc.stdout == ""
