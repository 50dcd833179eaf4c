"""The store logic shared by the SQL backends; a backend supplies connections and errors."""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

from agentver.errors import IntegrityError
from agentver.failpoints import failpoint
from agentver.hashing import config_hash
from agentver.models import Pointer, Version
from agentver.store import migrations
from agentver.store.base import (
    ArmCounts,
    CorruptRow,
    Outcome,
    RuntimeState,
    SkippedVersion,
    Snapshot,
    StaleSync,
    StoredVersion,
    StoreNotInitialized,
    SyncPlan,
    SyncRecord,
    VersionConflict,
)
from agentver.store.outcome_checks import checked_outcome
from agentver.store.plan import AUTHORSHIP, BATCH, INDEX_SELECT, compute_plan
from agentver.store.rows import (
    DEPLOYMENT_COLUMNS,
    FIELD_NAMES,
    FLAG_COLUMNS,
    VERSION_COLUMNS,
    VERSION_SELECT,
    decode_row,
    insert_sql,
    normalize_row,
    pointer_rows,
    pointers_from_rows,
    row_key,
    version_id,
    version_row,
)
from agentver.store.sqltx import Tx

OUTCOME_INSERT = insert_sql(
    "agent_outcomes",
    (
        "agent_id",
        "environment",
        "variant",
        "version_number",
        "config_hash",
        "salt",
        "ok",
        "latency_ms",
        "recorded_at",
    ),
)
OUTCOME_SCORE_INSERT = insert_sql(
    "agent_outcomes",
    (
        "agent_id",
        "environment",
        "variant",
        "version_number",
        "config_hash",
        "salt",
        "ok",
        "latency_ms",
        "recorded_at",
        "score",
    ),
)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class SqlStore(abc.ABC):
    """Implements the Store protocol over ``_read``/``_write`` transactions.

    Sync is one compare-and-swap transaction (docs/design.md section 8): it locks the
    store's head row (``store_head``, id 1), asks the snapshot whether HEAD descends from
    the commit in it, writes everything and updates the row, then commits. A stale sync
    raises StaleSync before any write. A failpoint sits after each statement group.
    """

    # Appended to the head row's SELECT inside sync: PostgreSQL row-locks it; SQLite's
    # BEGIN IMMEDIATE already holds the database's single write lock.
    _LOCK_HEAD_ROW = ""

    def __init__(self, masked_url: str) -> None:
        self._masked_url = masked_url
        # One operation at a time per Store object (a runtime client shares it
        # between the caller's thread and its flush thread).
        self._lock = threading.RLock()

    @property
    def url(self) -> str:
        return self._masked_url

    # -- backend hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Tx | None]:
        """A consistent read-only transaction; None when the store does not exist yet."""

    @abc.abstractmethod
    def _write(self, create: bool = False) -> AbstractContextManager[Tx]:
        """A write transaction, serialized with other writers; commits on success.

        Only sync passes ``create``: other writers never create a store."""

    @abc.abstractmethod
    def _table_exists(self, tx: Tx, name: str) -> bool: ...

    def close(self) -> None:  # noqa: B027 - backends with a connection override it
        """Release connections. The store can still be used afterwards (it reconnects)."""

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------

    def _schema(self, tx: Tx | None) -> int:
        return 0 if tx is None else migrations.current_version(tx, self._table_exists)

    def _require_schema(self, tx: Tx | None) -> Tx:
        if tx is None or self._schema(tx) == 0:
            raise self._not_initialized()
        return tx

    def _not_initialized(self) -> StoreNotInitialized:
        return StoreNotInitialized(
            f"store {self._masked_url} has not been synced yet",
            hint="run `agentver sync` to create and fill it",
        )

    def _scan(self, tx: Tx) -> tuple[list[StoredVersion], list[CorruptRow]]:
        """Every row decoded on its own: a corrupt row is reported, never raised, so one
        bad row does not hide the others (verify, status, the runtime)."""
        good: list[StoredVersion] = []
        bad: list[CorruptRow] = []
        for row in tx.query(f"SELECT {VERSION_SELECT} FROM agent_versions"):
            decoded = decode_row(row)
            if isinstance(decoded, StoredVersion):
                good.append(decoded)
            else:
                bad.append(decoded)
        good.sort(key=lambda s: (s.version.agent, s.version.version))
        return good, bad

    def _stored_index(self, tx: Tx) -> dict[tuple[str, int], tuple[Any, ...]]:
        """Every row's index columns (no config): what sync compares with git."""
        index = {}
        for row in tx.query(f"SELECT {INDEX_SELECT} FROM agent_versions"):
            number = row[2]
            index[(row[1], number) if type(number) is int else row_key(row)] = row
        return index

    def _full_rows(self, tx: Tx, ids: Iterable[str] | None) -> Iterable[tuple[Any, ...]]:
        """Whole rows with these version_ids (None: every row), BATCH rows at a time."""
        if ids is None:
            last = ""
            while True:
                rows = tx.query(
                    f"SELECT {VERSION_SELECT} FROM agent_versions WHERE version_id > ?"
                    f" ORDER BY version_id LIMIT {BATCH}",
                    (last,),
                )
                yield from rows
                if len(rows) < BATCH:
                    return
                last = rows[-1][0]
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            marks = ", ".join("?" for _ in chunk)
            yield from tx.query(
                f"SELECT {VERSION_SELECT} FROM agent_versions WHERE version_id IN ({marks})",
                chunk,
            )

    def _unsound(
        self, tx: Tx, ids: Iterable[str] | None, git: Mapping[tuple[str, int], Version]
    ) -> dict[tuple[str, int], tuple[str, ...]]:
        """Rows among ``ids`` (None: all) whose content does not decode or does not hash to
        their own config_hash, or whose authorship differs from ``git``'s version (not in
        the hash, nor in the index): the index cannot vouch for them."""
        unsound: dict[tuple[str, int], tuple[str, ...]] = {}
        for row in self._full_rows(tx, ids):
            decoded = decode_row(row)
            if not isinstance(decoded, StoredVersion) or (
                config_hash(decoded.config) != decoded.version.config_hash
            ):
                unsound[row_key(row)] = ("content",)
                continue
            theirs = git.get(row_key(row))
            edited = tuple(
                name
                for name in AUTHORSHIP
                if theirs is not None and getattr(decoded.version, name) != getattr(theirs, name)
            )
            if edited:
                unsound[row_key(row)] = edited
        return unsound

    def _head(self, tx: Tx, lock: bool = False) -> tuple[str | None, int]:
        """(published commit, seq) from the head row; the sync log on a schema-1 store."""
        if self._schema(tx) < migrations.STORE_HEAD_VERSION:
            last = self._last_sync(tx)
            return (last.head_commit, last.seq) if last else (None, 0)
        clause = self._LOCK_HEAD_ROW if lock else ""
        rows = tx.query(f"SELECT head_commit, seq FROM store_head WHERE id = 1{clause}")
        if not rows:
            return None, 0
        return rows[0][0], int(rows[0][1])

    def _notify(self, tx: Tx, head_commit: str) -> None:  # noqa: B027 - PostgreSQL only
        """Tell listening clients (PostgreSQL NOTIFY; delivered only when we commit)."""

    def _pointers(self, tx: Tx, environment: str | None) -> list[Pointer]:
        where, params = ("WHERE environment = ?", (environment,)) if environment else ("", ())
        deployments = tx.query(
            f"SELECT {', '.join(DEPLOYMENT_COLUMNS)} FROM agent_deployments {where}", params
        )
        flags = tx.query(f"SELECT {', '.join(FLAG_COLUMNS)} FROM agent_flags {where}", params)
        return pointers_from_rows(deployments, flags)

    def _last_sync(self, tx: Tx) -> SyncRecord | None:
        rows = tx.query(
            "SELECT seq, head_commit, synced_at, versions_added, versions_replaced,"
            " pointers_changed, forced FROM sync_log ORDER BY seq DESC LIMIT 1"
        )
        if not rows:
            return None
        seq, head, at, added, replaced, changed, forced = rows[0]
        return SyncRecord(int(seq), head, at, int(added), int(replaced), int(changed), bool(forced))

    # -- sync ------------------------------------------------------------------------

    def plan(self, snapshot: Snapshot) -> SyncPlan:
        """The dry run: what ``sync`` would write. Creates nothing."""
        with self._lock, self._read() as tx:
            version = self._schema(tx)
            if tx is None or version == 0:
                stored: dict[tuple[str, int], tuple[Any, ...]] = {}
                plan = compute_plan(snapshot, stored, [], None, migrations.pending(0))
                pointers: list[Pointer] = []
            else:
                stored, pointers = self._stored_index(tx), self._pointers(tx, None)
                previous = self._head(tx)[0]
                pending = migrations.pending(version)
                plan = self._compare(tx, snapshot, stored, pointers, previous, pending, False)
            # Load what sync would write (and drop it): a version only loading finds
            # unstorable is reported here too.
            late = self._stream(snapshot, self._to_write(plan), None)
            return self._after_late_skips(plan, snapshot, stored, pointers, late)

    def sync(self, snapshot: Snapshot, *, force: bool = False) -> SyncPlan:
        """Publish ``snapshot`` in one compare-and-swap transaction (migrations included).

        Raises StaleSync, writing nothing, when the store's head is not an ancestor of
        ``snapshot.head_commit`` (unless ``force``). A stored version that disagrees with
        git raises IntegrityError unless ``force``, which replaces (or deletes) it and
        deletes orphaned rows; the returned plan lists what was replaced.

        Versions are compared by their index (number, commit, hash, blob...); the content
        of the rows the committed pointers name, and of those the store serves, is checked
        against its hash (every row's with ``force``: the repair). Configs are loaded, a batch at a time, only for the
        rows written, so memory does not grow with the history.
        """
        with self._lock, self._write(create=True) as tx:
            now = utc_now()
            version = self._schema(tx)
            applied = migrations.apply(tx, version, now)
            failpoint("sync.after_migrations")
            previous, seq = self._head(tx, lock=True)
            failpoint("sync.after_head_lock")
            self._check_descends(snapshot, previous, force)
            stored, pointers = self._stored_index(tx), self._pointers(tx, None)
            plan = self._compare(tx, snapshot, stored, pointers, previous, applied, force)
            if plan.changed_versions and not force:
                first = plan.changed_versions[0]
                raise IntegrityError(
                    f"store has {len(plan.changed_versions)} version(s) that disagree with git"
                    f" (first: {first.agent} v{first.version}: {', '.join(first.fields)});"
                    " history was rewritten or the store was edited",
                    hint="check with `agentver verify`; `agentver sync --force` replaces them",
                )
            if plan.nothing_to_do and not (force and plan.orphaned):
                return plan
            removed = plan.changed_versions + (plan.orphaned if force else ())
            # By version_id: it identifies a row even when its number column is corrupt.
            tx.executemany(
                "DELETE FROM agent_versions WHERE version_id = ?",
                [(c.row_id,) for c in removed if c.row_id is not None],
            )
            failpoint("sync.after_version_deletes")
            late = self._stream(snapshot, self._to_write(plan), tx)
            failpoint("sync.after_version_inserts")
            plan = self._after_late_skips(plan, snapshot, stored, pointers, late)
            self._apply(tx, snapshot, plan, now, seq + 1, force)
            self._notify(tx, plan.head_commit)
            failpoint("sync.before_commit")
        failpoint("sync.after_commit")
        return dataclasses.replace(plan, applied=True, forced=force)

    def _compare(
        self,
        tx: Tx,
        snapshot: Snapshot,
        stored: dict[tuple[str, int], tuple[Any, ...]],
        pointers: list[Pointer],
        previous: str | None,
        pending: tuple[int, ...],
        force: bool,
    ) -> SyncPlan:
        """The plan from the store's index; conflicts then named column by column."""
        # The rows the committed pointers will serve, and those the store serves now (a
        # refused pointer, or an environment no longer configured, keeps them served).
        named = {
            version_id(p.agent, slot.version)
            for p in (*snapshot.pointers, *pointers)
            for slot in (p.active, p.canary)
            if slot is not None
        }
        git = {(v.agent, v.version): v for v in snapshot.git_versions()}
        unsound = self._unsound(tx, None if force else named, git)
        plan = compute_plan(snapshot, stored, pointers, previous, pending, unsound)
        if not plan.changed_versions:
            return plan
        return dataclasses.replace(plan, changed_versions=self._detailed(tx, snapshot, plan))

    def _detailed(self, tx: Tx, snapshot: Snapshot, plan: SyncPlan) -> tuple[VersionConflict, ...]:
        """Conflicts with the columns that differ, content included (git's configs of the
        few conflicting versions are loaded for it)."""
        with_git = [c for c in plan.changed_versions if c.git is not None]
        ids = [c.row_id for c in with_git if c.row_id is not None]
        rows = {row[0]: normalize_row(row) for row in self._full_rows(tx, ids)}
        git_rows: dict[str, tuple[Any, ...]] = {}
        for item in snapshot.configs(c.git for c in with_git if c.git is not None):
            if not isinstance(item, SkippedVersion):
                git_rows[version_id(item.version.agent, item.version.version)] = version_row(item)
        out: list[VersionConflict] = []
        for conflict in plan.changed_versions:
            git_row, db_row = git_rows.get(conflict.row_id or ""), rows.get(conflict.row_id or "")
            if git_row is not None and db_row is not None and len(db_row) == len(git_row):
                fields = tuple(
                    name for name, a, b in zip(FIELD_NAMES, git_row, db_row, strict=True) if a != b
                )
                if fields:
                    conflict = dataclasses.replace(conflict, fields=fields)
            out.append(conflict)
        return tuple(out)

    @staticmethod
    def _to_write(plan: SyncPlan) -> list[Version]:
        return [*plan.new_versions, *(c.git for c in plan.changed_versions if c.git is not None)]

    @staticmethod
    def _stream(snapshot: Snapshot, wanted: list[Version], tx: Tx | None) -> list[SkippedVersion]:
        """Insert the rows of ``wanted`` (only load them when ``tx`` is None), BATCH at a
        time, so that no more configs than that are alive at once; returns the versions
        loading found the store cannot hold."""
        late: list[SkippedVersion] = []
        batch: list[tuple[Any, ...]] = []
        sql = insert_sql("agent_versions", VERSION_COLUMNS)
        for item in snapshot.configs(wanted):
            if isinstance(item, SkippedVersion):
                late.append(item)
                continue
            if tx is not None:
                batch.append(version_row(item))
                if len(batch) >= BATCH:
                    tx.executemany(sql, batch)
                    batch.clear()
        if tx is not None:
            tx.executemany(sql, batch)
        return late

    @staticmethod
    def _after_late_skips(
        plan: SyncPlan,
        snapshot: Snapshot,
        stored: dict[tuple[str, int], tuple[Any, ...]],
        pointers: list[Pointer],
        late: list[SkippedVersion],
    ) -> SyncPlan:
        """The plan once loading found versions unstorable: they are skipped, and a
        pointer naming one is refused for its agent alone (like any unstorable version)."""
        if not late:
            return plan
        again = compute_plan(
            dataclasses.replace(snapshot, skipped=(*snapshot.skipped, *late)),
            stored,
            pointers,
            plan.previous_head,
            plan.migrations,
        )
        return dataclasses.replace(
            again, changed_versions=plan.changed_versions, orphaned=plan.orphaned
        )

    def _check_descends(self, snapshot: Snapshot, previous: str | None, force: bool) -> None:
        if force or previous is None or previous == snapshot.head_commit:
            return
        if snapshot.descends_from is None or snapshot.descends_from(previous):
            return
        raise StaleSync(
            f"HEAD {snapshot.head_commit[:10]} does not descend from {previous[:10]}, which "
            f"store {self._masked_url} already serves; nothing written",
            hint="an older job finished late, or this clone is behind: fetch and sync the "
            "newest commit (`agentver sync --force` publishes HEAD anyway)",
        )

    def _apply(
        self, tx: Tx, snapshot: Snapshot, plan: SyncPlan, now: str, seq: int, force: bool
    ) -> None:
        """Everything but the versions (``sync`` streamed those in): validity updates,
        pointers, the sync log and the head row."""
        tx.executemany(
            "UPDATE agent_versions SET valid = ? WHERE agent_id = ? AND version_number = ?",
            [(v.valid, v.agent, v.version) for v in plan.revalidated],
        )
        failpoint("sync.after_revalidate")
        deployments: list[tuple[object, ...]] = []
        flags: list[tuple[object, ...]] = []
        keys = [(change.environment, change.agent) for change in plan.pointer_changes]
        tx.executemany("DELETE FROM agent_deployments WHERE environment = ? AND agent_id = ?", keys)
        tx.executemany("DELETE FROM agent_flags WHERE environment = ? AND agent_id = ?", keys)
        for change in plan.pointer_changes:
            if change.new is not None:
                rows = pointer_rows(change.new, now, snapshot.synced_by)
                deployments += rows[0]
                flags += rows[1]
        tx.executemany(insert_sql("agent_deployments", DEPLOYMENT_COLUMNS), deployments)
        tx.executemany(insert_sql("agent_flags", FLAG_COLUMNS), flags)
        failpoint("sync.after_pointer_writes")
        tx.execute(
            "INSERT INTO sync_log (seq, head_commit, synced_at, versions_added,"
            " versions_replaced, pointers_changed, forced) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                plan.head_commit,
                now,
                len(plan.new_versions),
                len(plan.changed_versions) + (len(plan.orphaned) if force else 0),
                len(plan.pointer_changes),
                force,
            ),
        )
        if self._schema(tx) >= migrations.STORE_HEAD_VERSION:  # else an older schema in tests
            tx.execute(
                "UPDATE store_head SET head_commit = ?, seq = ?, synced_at = ? WHERE id = 1",
                (plan.head_commit, seq, now),
            )
        failpoint("sync.after_head_write")

    # -- readers ---------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._lock, self._read() as tx:
            return self._schema(tx)

    def last_sync(self) -> SyncRecord | None:
        """The newest sync log entry (None before the first sync)."""
        with self._lock, self._read() as tx:
            if tx is None or self._schema(tx) == 0:
                return None
            return self._last_sync(tx)

    def head_commit(self) -> str | None:
        """The published commit: one primary-key lookup of the head row (poll mode reads
        ``SELECT head_commit FROM store_head WHERE id = 1``). None before the first sync."""
        with self._lock, self._read() as tx:
            if tx is None or self._schema(tx) == 0:
                return None
            return self._head(tx)[0]

    def versions(self) -> list[StoredVersion]:
        """Every stored version, ordered by agent and number. A corrupt row raises
        IntegrityError naming it; ``scan_versions`` reports such rows instead."""
        good, bad = self.scan_versions()
        if bad:
            first = bad[0]
            raise IntegrityError(
                f"store {self._masked_url} has {len(bad)} corrupt version row(s)"
                f" (first: {first.agent} v{first.version}: {first.reason})",
                hint="`agentver verify` lists them; `agentver sync --force` rewrites them from git",
            )
        return good

    def scan_versions(self) -> tuple[list[StoredVersion], list[CorruptRow]]:
        """(decodable versions ordered by agent and number, corrupt rows)."""
        with self._lock, self._read() as tx:
            return self._scan(self._require_schema(tx))

    def pointers(self, environment: str | None = None) -> list[Pointer]:
        with self._lock, self._read() as tx:
            return self._pointers(self._require_schema(tx), environment)

    def load_runtime_state(self, environment: str) -> RuntimeState:
        """Pointers of one environment and the versions they name, in one transaction.

        A corrupt version row is left out of ``versions`` and listed in ``corrupt``: the
        runtime keeps serving every other agent (and its last good state of that one)."""
        with self._lock, self._read() as tx:
            tx = self._require_schema(tx)
            pointers = self._pointers(tx, environment)
            rows = tx.query(
                f"SELECT {', '.join('v.' + c for c in VERSION_COLUMNS)} FROM agent_versions v"
                " JOIN agent_deployments d ON d.agent_id = v.agent_id"
                " AND d.version_number = v.version_number WHERE d.environment = ?",
                (environment,),
            )
            head = self._head(tx)[0]
        versions = {}
        corrupt = []
        for row in rows:
            decoded = decode_row(row)
            if isinstance(decoded, StoredVersion):
                versions[(decoded.version.agent, decoded.version.version)] = decoded
            elif decoded not in corrupt:
                corrupt.append(decoded)
        return RuntimeState(
            environment=environment,
            pointers={p.agent: p for p in pointers},
            versions=versions,
            head_commit=head,
            corrupt=tuple(corrupt),
        )

    # -- outcomes --------------------------------------------------------------------

    def record_outcomes(self, outcomes: Sequence[Outcome]) -> int:
        """Append outcomes in one transaction; returns how many were written.

        A store not yet migrated to the score column (no ``agentver sync`` since this
        agentver) takes the outcomes without their scores rather than losing them all.
        A value ``RuntimeClient.record_outcome`` would refuse is refused here too (the same
        check: TypeError or ValueError), before anything is written.
        """
        for outcome in outcomes:
            checked_outcome(outcome, "outcome", outcome.ok, outcome.latency_ms, outcome.score)
        return self._insert_outcomes(outcomes)

    def _insert_outcomes(self, outcomes: Sequence[Outcome]) -> int:
        """Write outcomes as given, unchecked (what record_outcomes did before it checked)."""
        if not outcomes:
            return 0
        now = utc_now()
        rows = [
            (
                o.agent,
                o.environment,
                o.variant,
                o.version,
                o.config_hash,
                o.salt,
                bool(o.ok),
                o.latency_ms,
                o.at or now,
                o.score,
            )
            for o in outcomes
        ]
        with self._lock, self._write() as tx:
            tx = self._require_schema(tx)
            failpoint("outcomes.before_insert")
            if self._schema(tx) >= migrations.OUTCOME_SCORE_VERSION:
                tx.executemany(OUTCOME_SCORE_INSERT, rows)
            else:
                tx.executemany(OUTCOME_INSERT, [row[:-1] for row in rows])
            failpoint("outcomes.before_commit")
        return len(rows)

    def outcome_counts(
        self, agent: str, environment: str, salt: str, *, slow_ms: float | None = None
    ) -> dict[str, ArmCounts]:
        """Per variant ("stable", "canary"): totals of outcomes recorded under ``salt``;
        ``slow`` counts latencies over ``slow_ms`` (0 when None). Outcomes with a value
        today's record_outcome refuses (stored by an older agentver) are left out and
        counted in ``ignored``."""
        with self._lock, self._read() as tx:
            tx = self._require_schema(tx)
            has_score = self._schema(tx) >= migrations.OUTCOME_SCORE_VERSION
            scores = "SUM(score), COUNT(score)" if has_score else "0, 0"
            # BETWEEN is false for NaN (PostgreSQL sorts it above infinity) and infinity.
            valid = "(latency_ms IS NULL OR latency_ms BETWEEN 0 AND 1e308)"
            if has_score:
                valid += " AND (score IS NULL OR score BETWEEN 0 AND 1)"
            params = (agent, environment, salt)
            where = "WHERE agent_id = ? AND environment = ? AND salt = ?"
            totals = tx.query(
                "SELECT variant, COUNT(*), SUM(CASE WHEN ok THEN 0 ELSE 1 END),"
                " COUNT(latency_ms), AVG(latency_ms), MAX(latency_ms),"
                " SUM(CASE WHEN latency_ms > ? THEN 1 ELSE 0 END),"
                f" {scores} FROM agent_outcomes {where} AND {valid} GROUP BY variant",
                (slow_ms, *params),
            )
            ignored = dict(
                tx.query(
                    f"SELECT variant, COUNT(*) FROM agent_outcomes {where} AND NOT ({valid})"
                    " GROUP BY variant",
                    params,
                )
            )
            version_rows = tx.query(
                "SELECT DISTINCT variant, version_number FROM agent_outcomes"
                " WHERE agent_id = ? AND environment = ? AND salt = ?",
                params,
            )
        counts = {variant: ArmCounts(0, 0) for variant in ("stable", "canary")}
        for variant, requests, errors, lat_n, lat_mean, lat_max, slow, score_sum, scored in totals:
            numbers = tuple(sorted(int(n) for v, n in version_rows if v == variant))
            counts[variant] = ArmCounts(
                requests=int(requests),
                errors=int(errors or 0),
                latency_count=int(lat_n),
                latency_mean_ms=None if lat_mean is None else float(lat_mean),
                latency_max_ms=None if lat_max is None else float(lat_max),
                versions=numbers,
                slow=int(slow or 0),
                scored=int(scored or 0),
                score_sum=float(score_sum or 0.0),
            )
        for variant, count in ignored.items():
            counts[variant] = dataclasses.replace(
                counts.get(variant, ArmCounts(0, 0)), ignored=int(count)
            )
        return counts
