"""bench/bench_store.py on a tiny scale: every figure and its floor come out, nothing is
written with --no-write, and the PostgreSQL schemas it makes are dropped. The full run
is ``python -m bench.bench_store``."""

from __future__ import annotations

import pytest
import store_kill_driver as fx

from bench import bench_store

TINY = ["--agents", "2", "--versions", "3", "--runs", "1", "--no-write"]
SCHEMAS = (
    "SELECT nspname FROM pg_namespace"
    " WHERE nspname LIKE 'bench!_%' ESCAPE '!' OR nspname LIKE 'floor!_%' ESCAPE '!'"
)


def rows_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("| (")]


def test_every_figure_has_its_floor_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = bench_store.RESULTS.read_bytes()
    assert bench_store.main([*TINY, "--skip-pg"]) == 0
    rows = rows_of(capsys.readouterr().out)
    assert [row.split("|")[1].strip() for row in rows] == ["(1)", "(2)", "(3)"]
    assert all("SQLite" in row for row in rows)
    assert bench_store.RESULTS.read_bytes() == before


@pytest.mark.postgres
def test_postgres_schemas_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    admin = fx.pg_admin()
    try:
        existing = set(admin.execute(SCHEMAS).fetchall())
        assert bench_store.main([*TINY, "--pg", fx.PG_BASE]) == 0
        assert len(rows_of(capsys.readouterr().out)) == 6
        assert set(admin.execute(SCHEMAS).fetchall()) <= existing
    finally:
        admin.close()
