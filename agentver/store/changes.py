"""Change feeds: how a runtime client learns, cheaply, that a sync has published something.

A runtime client reloads its whole state (a few ms) only when a feed says the store may
have changed, or when its TTL expires. Every feed answers one question,
``wait(timeout) -> bool``: block at most ``timeout`` seconds; True when a sync may have
happened since the last True. A False is never wrong (the TTL refresh is the fallback);
a spurious True costs one reload.

- ``ListenFeed`` (PostgreSQL): ``LISTEN agentver_sync`` on the refresh thread's own
  connection; sync sends ``NOTIFY agentver_sync, '<commit>'`` after its commit, so
  clients reload within milliseconds. One connection per client: fine for tens or
  hundreds of processes, not for thousands (``max_connections``; LISTEN does not pass a
  transaction pooler).
- ``DataVersionFeed`` (SQLite): ``PRAGMA data_version`` on one open connection, every
  ``interval`` seconds; it changes when any other connection commits, which outcome
  writes do too, so a change is confirmed by reading the head row before saying True.
- ``HeadPollFeed`` (both): every ``interval`` seconds, connect, read the head row, and
  disconnect: no connection is held between polls, so it fits a fleet of thousands
  behind a pooler (PgBouncer in transaction mode).

The head row is ``store_head`` (id 1), or on a store synced before it existed the newest
``sync_log`` entry: either way one primary-key lookup of a single row. Only this module
and the backends import database drivers.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from agentver.store.postgres import CLIENT_DEADLINE_MARGIN, PostgresStore, arm_deadline
from agentver.store.url import StoreURL, parse_store_url

CHANNEL = "agentver_sync"
HEAD_QUERIES = (
    "SELECT seq, head_commit FROM store_head WHERE id = 1",
    "SELECT seq, head_commit FROM sync_log ORDER BY seq DESC LIMIT 1",  # older stores
)
# After a listening connection drops, try again at most this often (the TTL covers the gap).
RECONNECT_INTERVAL = 2.0
# Longest single block inside wait(), so that close() is noticed promptly.
_SLICE = 0.25

Head = tuple[int, str] | None


class ChangeFeed(Protocol):
    name: str

    def wait(self, timeout: float) -> bool: ...

    @property
    def connected(self) -> bool: ...

    def stop(self) -> None:
        """Make a ``wait`` in another thread return soon (thread-safe)."""

    def close(self) -> None:
        """Release connections (from the thread that calls ``wait``)."""


class _Stoppable:
    def __init__(self) -> None:
        self._closed = threading.Event()

    def _sleep(self, seconds: float) -> None:
        self._closed.wait(max(0.0, seconds))

    def stop(self) -> None:
        self._closed.set()


class TtlFeed(_Stoppable):
    """No change detection: the TTL alone decides when to reload."""

    name = "ttl"
    connected = False

    def wait(self, timeout: float) -> bool:
        self._sleep(timeout)
        return False

    def close(self) -> None:
        self._closed.set()


class _HeadWatcher(_Stoppable):
    """Remembers the last head seen; ``_changed(head)`` says whether it moved."""

    def __init__(self) -> None:
        super().__init__()
        self._head: Head = None
        self._seen = False

    def _changed(self, head: Head) -> bool:
        # The first observation counts as a change: the client's state was loaded before
        # the feed started, and a sync in between must not wait for the TTL.
        changed = not self._seen or head != self._head
        self._head, self._seen = head, True
        return changed


def _head(row: Any) -> Head:
    return None if row is None or row[0] is None else (int(row[0]), str(row[1]))


def _sqlite_head(conn: sqlite3.Connection) -> Head:
    for query in HEAD_QUERIES:
        try:
            return _head(conn.execute(query).fetchone())
        except sqlite3.OperationalError:  # no such table: an older store, or never synced
            continue
    return None


def _sqlite_connect(path: Path, timeout: float) -> sqlite3.Connection:
    uri = f"file:{quote(str(path))}?mode=rw"
    return sqlite3.connect(
        uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
    )


class DataVersionFeed(_HeadWatcher):
    """SQLite: poll ``PRAGMA data_version`` on one open connection every ``interval``.

    The connection reads one file (inode): a store file replaced by a rename (built
    elsewhere, then moved into place) or deleted and recreated would never move its
    data_version. So each poll also compares the path's identity with the connected
    file's, and a new file is a change even if its head row looks the same."""

    name = "data_version"

    def __init__(self, path: Path, interval: float, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._interval = interval
        self._timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._file: tuple[int, int] | None = None  # (st_dev, st_ino) of the connected file

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self._path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def _poll(self) -> bool:
        try:
            identity = self._identity()
            if self._conn is not None and identity != self._file:
                self._drop()  # replaced or deleted: stop reading the old inode
                self._seen = False  # whatever the new file holds, reload it once
            if self._conn is None:
                if identity is None:
                    return False  # no store file (yet): the TTL refresh reports it
                self._conn = _sqlite_connect(self._path, self._timeout)
                self._file = identity
                self._version = None
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            if version == self._version:
                return False
            self._version = version
            return self._changed(_sqlite_head(self._conn))
        except sqlite3.Error:
            self._drop()
            return False

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            if self._poll():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._sleep(min(self._interval, remaining))
        return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    def close(self) -> None:
        self._closed.set()
        self._drop()


class _Postgres:
    """Connections for the PostgreSQL feeds (the same URL handling as the backend)."""

    def __init__(self, store_url: StoreURL, connect_timeout: float, statement_timeout: float):
        import psycopg

        self.psycopg: Any = psycopg
        self.store_url = store_url
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout

    def connect(self) -> Any:
        options = f"-cstatement_timeout={max(1, int(self.statement_timeout * 1000))}"
        if self.store_url.schema:
            options += f" -csearch_path={self.store_url.schema}"
        return self.psycopg.connect(
            self.store_url.conninfo,
            autocommit=True,
            connect_timeout=max(1, round(self.connect_timeout)),
            options=options,
            # A dead peer (cable pulled, host gone) is noticed within ~10 s.
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        )

    def head(self) -> Head:
        """Connect, read the head row, disconnect; bounded by the timeouts even if the
        network stalls (the server's statement_timeout cannot fire then)."""
        conn = self.connect()
        deadline = arm_deadline(conn, self.statement_timeout + CLIENT_DEADLINE_MARGIN)
        try:
            return self.head_on(conn)
        finally:
            deadline.cancel()
            conn.close()

    def head_on(self, conn: Any) -> Head:
        """The head row read on an open connection."""
        return pg_head(conn)


def pg_head(conn: Any) -> Head:
    """The head row read on an open PostgreSQL connection (autocommit)."""
    import psycopg

    for query in HEAD_QUERIES:
        try:
            return _head(conn.execute(query).fetchone())
        except psycopg.errors.UndefinedTable:
            continue  # an older store, or never synced
    return None


class ListenFeed(_HeadWatcher):
    """PostgreSQL: ``LISTEN agentver_sync`` on the connection of the refresh thread's own
    store, the one its reloads read through: one connection per client, and a reload
    after a notice needs no new connection (a connect storm across a fleet, otherwise).

    The channel is per database, so stores in other schemas of the same database notify
    it too: a notice is confirmed by reading this store's head row before saying True."""

    name = "listen"

    def __init__(self, store: PostgresStore) -> None:
        super().__init__()
        self._store = store
        self._conn: Any = None
        self._next_attempt = 0.0

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn is self._store.open_connection()

    def _listen(self) -> bool:
        """(Re)connect and LISTEN; True when the head moved meanwhile (notices missed while
        not listening), or on the first LISTEN (the state was loaded just before)."""
        if time.monotonic() < self._next_attempt:
            return False
        self._next_attempt = time.monotonic() + RECONNECT_INTERVAL
        try:
            with self._store.locked_connection(open=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                head = pg_head(conn)
        except Exception:  # StoreError or a driver error: the TTL covers the gap
            self._conn = None
            return False
        self._conn = conn
        return self._changed(head)

    def _notice(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a notice about this store; False if none (or the
        connection is gone: ``connected`` says which)."""
        with self._store.locked_connection() as conn:
            if conn is None or conn is not self._conn:
                self._conn = None  # dropped or replaced by a failed reload: LISTEN again
                return False
            try:
                # The generator holds the connection's own lock until closed: close it
                # before draining the rest, or the drain waits for that lock forever.
                notices = conn.notifies(timeout=timeout, stop_after=1)
                try:
                    noticed = next(notices, None) is not None
                finally:
                    notices.close()
                if not noticed:
                    return False
                list(conn.notifies(timeout=0.0))  # one reload answers a burst of syncs
                return self._changed(pg_head(conn))
            except Exception:  # the connection broke: reconnect (at most every 2 s)
                self._conn = None
                self._store.close()
                return False

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            if not self.connected and self._listen():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not self.connected:
                self._sleep(min(remaining, _SLICE))
            elif self._notice(min(remaining, _SLICE)):
                return True
        return False

    def close(self) -> None:
        self._closed.set()
        self._conn = None  # the connection is the store's; its owner closes it


class HeadPollFeed(_HeadWatcher):
    """Both backends: connect, read the head row, disconnect, every ``interval`` seconds."""

    name = "poll"
    connected = False  # by design: nothing is held between polls

    def __init__(self, read_head: Callable[[], Head], interval: float) -> None:
        super().__init__()
        self._read_head = read_head
        self._interval = interval
        self._next_poll = 0.0

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._closed.is_set():
            now = time.monotonic()
            if now >= self._next_poll:
                self._next_poll = now + self._interval
                try:
                    head = self._read_head()
                except Exception:  # an unreachable store: the TTL refresh reports it
                    head = self._head
                if self._changed(head):
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._sleep(min(remaining, self._next_poll - time.monotonic()))
        return False

    def close(self) -> None:
        self._closed.set()


def open_feed(
    url: str,
    repo_root: Path,
    mode: str,
    *,
    reader: object,
    interval: float,
    connect_timeout: float,
    statement_timeout: float,
) -> ChangeFeed:
    """The feed for ``mode`` ("auto", "listen", "data_version", "poll", "ttl").

    ``reader`` is the store the refresh thread reloads through: "listen" LISTENs on its
    connection (which then stays open)."""
    parsed = parse_store_url(url, repo_root)
    if mode == "ttl":
        return TtlFeed()
    if parsed.kind == "sqlite":
        assert parsed.path is not None
        path = parsed.path
        if mode in ("auto", "data_version"):
            return DataVersionFeed(path, interval, connect_timeout)
        if mode == "poll":

            def sqlite_head() -> Head:
                conn = _sqlite_connect(path, connect_timeout)
                try:
                    return _sqlite_head(conn)
                finally:
                    conn.close()

            return HeadPollFeed(sqlite_head, interval)
        raise ValueError(f"mode {mode!r} needs a PostgreSQL store")
    pg = _Postgres(parsed, connect_timeout, statement_timeout)
    if mode in ("auto", "listen"):
        assert isinstance(reader, PostgresStore)
        return ListenFeed(reader)
    if mode == "poll":
        return HeadPollFeed(pg.head, interval)
    raise ValueError(f"mode {mode!r} needs a SQLite store")
