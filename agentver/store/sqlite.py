"""SQLite backend: the embedded default. WAL, a busy timeout, writes under BEGIN IMMEDIATE.

A connection is opened per operation: cheap for SQLite, and a store file that is moved
away or replaced is noticed at once instead of being read through an old file handle.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from agentver.errors import StoreError
from agentver.store.sql import SqlStore
from agentver.store.sqltx import Tx

DEFAULT_BUSY_TIMEOUT = 5.0


class SqliteStore(SqlStore):
    def __init__(self, path: Path, masked_url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        super().__init__(masked_url)
        self.path = path
        self.busy_timeout = busy_timeout

    def _connect(self, create: bool) -> sqlite3.Connection:
        if not self.path.parent.is_dir():
            raise self._missing_directory()
        if self.path.is_dir():
            raise StoreError(f"cannot open store {self.url}: {self.path} is a directory")
        mode = "rwc" if create else "rw"
        uri = f"file:{quote(str(self.path))}?mode={mode}"
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            return sqlite3.connect(
                uri,
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _missing_directory(self) -> StoreError:
        return StoreError(
            f"cannot open store {self.url}: directory {self.path.parent} does not exist",
            hint="create the directory (`agentver init` creates .agentver/) or fix the URL",
        )

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        lowered = text.lower()
        if "locked" in lowered or "busy" in lowered:
            return StoreError(
                f"store {self.url} is locked by another writer (waited {self.busy_timeout:g}s)",
                hint="retry when the other sync has finished",
            )
        if "readonly" in lowered or "read-only" in lowered:
            return StoreError(
                f"store {self.url} is read-only",
                hint="make the database file and its directory writable",
            )
        if "malformed" in lowered:  # a SQLite file, damaged: truncated, half-copied
            return StoreError(
                f"store {self.url} is not a valid SQLite database ({text})",
                hint="the file is damaged: restore it, or move it away and run"
                " `agentver sync` to rebuild it from git (recorded outcomes are lost then)",
            )
        if "not a database" in lowered:
            return StoreError(
                f"store {self.url} is not a valid SQLite database ({text})",
                hint="point the store URL at an agentver runtime database",
            )
        return StoreError(
            f"cannot use store {self.url}: {text}",
            hint="check the path and permissions of the store file",
        )

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, begin: str) -> Iterator[Tx]:
        try:
            try:
                conn.execute(begin)
                yield Tx(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        finally:
            conn.close()

    @contextmanager
    def _read(self) -> Iterator[Tx | None]:
        if not self.path.exists():
            if not self.path.parent.is_dir():
                raise self._missing_directory()
            yield None
            return
        conn = self._connect(create=False)
        # A deferred transaction: in WAL mode every SELECT in it sees one snapshot.
        with self._transaction(conn, "BEGIN") as tx:
            yield tx

    @contextmanager
    def _write(self, create: bool = False) -> Iterator[Tx]:
        if not create and not self.path.exists():
            if not self.path.parent.is_dir():
                raise self._missing_directory()
            raise self._not_initialized()
        conn = self._connect(create=create)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            conn.close()
            raise self._error(exc) from None
        with self._transaction(conn, "BEGIN IMMEDIATE") as tx:
            yield tx

    def _table_exists(self, tx: Tx, name: str) -> bool:
        rows = tx.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return bool(rows)
