"""Every catalogue entry: exact exit code, one error line (or located findings), no
traceback, and nothing changed (HEAD, index, pointer files, store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .catalogue import CATALOGUE, by_id
from .runner import run_entry


def test_catalogue_is_large_and_covers_every_class() -> None:
    entries = by_id()
    assert len(entries) >= 60
    classes = {entry.klass for entry in CATALOGUE}
    assert classes >= {
        "yaml",
        "schema",
        "agent-id",
        "symlink",
        "ref",
        "percent",
        "repo-state",
        "pointer",
        "store",
    }


PARAMS = [
    pytest.param(
        entry,
        id=entry.id,
        marks=[pytest.mark.xfail(strict=True, reason=entry.known_bug)] if entry.known_bug else [],
    )
    for entry in CATALOGUE
]


@pytest.mark.parametrize("entry", PARAMS)
def test_entry(entry: object, tmp_path: Path) -> None:
    verdict = run_entry(entry, tmp_path)  # type: ignore[arg-type]
    if verdict.skipped:
        pytest.skip(verdict.skipped)
    result = verdict.result
    shown = (
        f"\nexit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        if result
        else ""
    )
    assert not verdict.traceback, f"traceback{shown}"
    assert not verdict.changed, f"a refusal changed state: {verdict.changed}{shown}"
    assert not verdict.problems, f"{verdict.problems}{shown}"
