"""Every failpoint x action x backend, on every run (issue 12 finding #10).

Deterministic: the fault fires at a named step, not after a random delay. The cases
come from the one registry (agentver/failpoints.py) through tests/reliability/matrix.py,
whose docstring lists the invariants each case checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import matrix

ROOT = Path(__file__).resolve().parents[2]
CASES = matrix.all_cases()


def _param(case: matrix.Case) -> object:
    marks = [pytest.mark.postgres] if case.backend == "postgres" else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[matrix.Fixture]:
    with matrix.fixture(tmp_path_factory.mktemp("matrix")) as built:
        yield built


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_failpoint(fx: matrix.Fixture, case: matrix.Case) -> None:
    if case.backend == "postgres":
        from tests.store_kill_driver import pg_admin

        pg_admin().close()  # skips (or fails under CI) without a server
    result = matrix.run_case(fx, case)
    assert result.problems == [], result.problems
    assert result.state in ("old", "new")


def test_the_kill_sweep_has_at_least_100_kills() -> None:
    assert sum(1 for case in CASES if case.action == "kill") >= 100


def test_docs_table_is_generated_from_the_registry() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert matrix.replace_doc_section(text) == text, (
        "docs/reliability.md is out of date: run python -m bench.reliability --write-docs"
    )
