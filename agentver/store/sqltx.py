"""A thin wrapper over a DB-API connection inside a transaction.

SQL is written once with ``?`` placeholders; the PostgreSQL backend turns them into
``%s``. No statement in this package contains a literal ``?`` or ``%``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class Tx:
    def __init__(self, conn: Any, placeholder: str = "?") -> None:
        self._conn = conn
        self._placeholder = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.cursor()
        try:
            cur.execute(self._sql(sql), tuple(params))
            return [tuple(row) for row in cur.fetchall()]
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self._conn.cursor()
        try:
            cur.execute(self._sql(sql), tuple(params))
        finally:
            cur.close()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in rows]
        if not batch:
            return
        cur = self._conn.cursor()
        try:
            cur.executemany(self._sql(sql), batch)
        finally:
            cur.close()
