"""PostgreSQL backend (psycopg 3, the ``agentver[postgres]`` extra).

One connection per Store, in autocommit mode with explicit BEGIN/COMMIT; a broken
connection is dropped and reopened on the next operation. Readers use REPEATABLE READ so
their several SELECTs see one snapshot. Sync takes a transaction-scoped advisory lock (so
the first syncs' migrations run one after the other) and then ``SELECT ... FOR UPDATE`` on
the head row; after its writes it queues ``NOTIFY agentver_sync, '<commit>'``, which
PostgreSQL delivers when (and only if) the transaction commits.

With ``statement_timeout`` (the runtime client sets it) every statement is bounded twice:
by the server's ``statement_timeout`` (a lock wait, a slow plan) and by a client-side
deadline a second later that shuts the socket down (a stalled network, where the server
never sees the statement and its timeout cannot fire).
"""

from __future__ import annotations

import os
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from agentver.errors import StoreError
from agentver.store.sql import SqlStore
from agentver.store.sqltx import Tx
from agentver.store.url import StoreURL, scrub

DEFAULT_CONNECT_TIMEOUT = 5
# How much later than the server's statement_timeout the client gives up on the socket.
CLIENT_DEADLINE_MARGIN = 1.0
INSTALL_HINT = "install the PostgreSQL extra: pip install 'agentver[postgres]'"


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        return None
    return psycopg


def shutdown_socket(conn: Any) -> None:
    """Unblock whatever waits on ``conn``'s socket (from another thread): the waiting call
    fails with a broken connection, which the next operation replaces."""
    try:
        sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
    except Exception:  # already closed: nothing waits on it
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def arm_deadline(conn: Any, seconds: float) -> threading.Timer:
    """A started timer that shuts ``conn``'s socket after ``seconds``; cancel it when done."""
    timer = threading.Timer(seconds, shutdown_socket, (conn,))
    timer.daemon = True
    timer.start()
    return timer


NOTIFY_CHANNEL = "agentver_sync"


class PostgresStore(SqlStore):
    _LOCK_HEAD_ROW = " FOR UPDATE"

    def __init__(
        self,
        store_url: StoreURL,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float | None = None,
    ):
        super().__init__(store_url.masked)
        psycopg = _driver()
        if psycopg is None:
            raise StoreError(
                f"store {store_url.masked} needs the psycopg driver, which is not installed",
                hint=INSTALL_HINT,
            )
        self._psycopg = psycopg
        self._store_url = store_url
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._conn: Any = None
        # Different schemas in one database sync independently.
        self._lock_key = zlib.crc32((store_url.schema or "public").encode()) & 0x7FFFFFFF

    def _error(self, exc: Exception, deadline_fired: bool = False) -> StoreError:
        message = scrub(str(exc), self._store_url)
        timeout = self._statement_timeout
        if timeout is not None and (
            deadline_fired or isinstance(exc, self._psycopg.errors.QueryCanceled)
        ):
            return StoreError(
                f"store {self.url} did not answer within {timeout:g} s: {message}",
                hint="another session may hold a lock on its tables (a migration, a long"
                " transaction), or the server or the network is stalled",
            )
        if isinstance(exc, self._psycopg.OperationalError):
            return StoreError(
                f"cannot reach store {self.url}: {message}",
                hint="check that PostgreSQL is running and the host, port, database and user",
            )
        return StoreError(f"store {self.url} failed: {message}")

    def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._conn = None
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": self._connect_timeout}
        options = []
        if self._store_url.schema:
            options.append(f"-csearch_path={self._store_url.schema}")
        if self._statement_timeout is not None:
            options.append(f"-cstatement_timeout={max(1, int(self._statement_timeout * 1000))}")
        if options:
            kwargs["options"] = " ".join(options)
        try:
            self._conn = self._psycopg.connect(self._store_url.conninfo, **kwargs)
        except self._psycopg.Error as exc:
            raise self._error(exc) from None
        return self._conn

    def _deadline(self, conn: Any) -> threading.Timer | None:
        if self._statement_timeout is None:
            return None
        return arm_deadline(conn, self._statement_timeout + CLIENT_DEADLINE_MARGIN)

    @contextmanager
    def _transaction(self, begin: str, create: bool = False) -> Iterator[Tx]:
        conn = self._connection()
        deadline = self._deadline(conn)
        try:
            try:
                conn.execute(begin)
                tx = Tx(conn, "%s")
                if create:
                    # Only sync creates: the advisory lock serializes the first syncs, whose
                    # migrations run before any head row exists to lock. Outcome writers
                    # never wait for it.
                    tx.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_key,))
                    if self._store_url.schema:
                        tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._store_url.schema}"')
                yield tx
                conn.execute("COMMIT")
            except BaseException:
                if not conn.closed and not conn.broken:
                    conn.execute("ROLLBACK")
                raise
        except self._psycopg.Error as exc:
            if conn.broken:
                self.close()
            # A timer not cancelled yet has finished only by firing: it cut the socket.
            fired = deadline is not None and deadline.finished.is_set()
            raise self._error(exc, fired) from None
        finally:
            if deadline is not None:
                deadline.cancel()

    @contextmanager
    def _read(self) -> Iterator[Tx | None]:
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as tx:
            yield tx

    @contextmanager
    def _write(self, create: bool = False) -> Iterator[Tx]:
        with self._transaction("BEGIN", create) as tx:
            yield tx

    def _notify(self, tx: Tx, head_commit: str) -> None:
        # Queued by the transaction, delivered by PostgreSQL only once it commits: a
        # listener is never told about a sync that rolled back (docs/runtime.md).
        tx.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, head_commit))

    def _table_exists(self, tx: Tx, name: str) -> bool:
        rows = tx.query("SELECT to_regclass(?::text) IS NOT NULL", (name,))
        return bool(rows[0][0])

    @contextmanager
    def locked_connection(self, open: bool = False) -> Iterator[Any]:
        """The store's connection (opened if ``open``, else None when there is none),
        held exclusively: the runtime's LISTEN shares it with the reloads it triggers
        (agentver/store/changes.py), never in the middle of one. Raises StoreError."""
        with self._lock:
            if open:
                yield self._connection()
            else:
                yield self.open_connection()

    def open_connection(self) -> Any:
        """The store's connection if one is open and usable, else None."""
        conn = self._conn
        return conn if conn is not None and not conn.closed and not conn.broken else None

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(self._psycopg.Error):
                    conn.close()
