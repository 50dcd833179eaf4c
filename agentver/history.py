"""Versions of agents, derived from the first-parent history of HEAD (docs/design.md section 3).

Cost model (see docs/benchmarks.md): one ``git log --raw`` pass gives every commit and
blob id that touched the agents folder; the blobs not seen before are read in one
``git cat-file --batch``; each blob is hashed once, ever (a blob id never changes
content, so that cache never needs invalidating). The finished version lists are cached
per HEAD commit, so a warm command is a JSON read. Caches live under
``.git/agentver-cache/`` and deleting them changes no output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from agentver.agentfile import (
    agent_config,
    agent_schema,
    is_agent_id,
    is_valid,
    parse_agent_blob,
    schema_findings,
)
from agentver.blobcache import SHARD_DIGITS, BlobCache, BlobInfo, write_cache_file
from agentver.config import Loaded, load_yaml
from agentver.errors import AgentverError, ConfigError, NotFound
from agentver.fastyaml import fast_load
from agentver.gitrepo import CommitInfo, FileChange, GitRepo
from agentver.hashing import config_hash
from agentver.models import AgentConfig, Version
from agentver.parallel import even_chunks, jobs_for, parallel_slices
from agentver.rowspool import RowSpool, Spooled, flush, spool, sweep
from agentver.settings import SETTINGS_FILE, Settings
from agentver.storable import MAX_FILE_BYTES, storable_problems, value_problems
from agentver.store.rows import Prepared, content_row, prepare
from agentver.validity import RULES_VERSION, PolicyChecker

# 2: versions stored as rows (list --json reads ~16k of them); 3: validity with reasons;
# 4: the summary names each agent's unstorable versions
CACHE_FORMAT = "4"
_KEEP_CACHED_HEADS = 8
_MAX_EXTEND = 2000  # new first-parent commits beyond which a full pass is as cheap
# The store rows of the files history parsed are kept in memory for sync's reuse up to
# this much YAML source, so that a 100,000-version history stays within its memory
# bound (docs/benchmarks.md); beyond it, a sync spools them to disk (rowspool.py) and
# anything else drops them.
_MAX_PARSED_BYTES = 16 * 1024 * 1024
_ANALYZE_CHUNK = 8192  # files read and parsed at once (several forks of parallel_map)
Notify = Callable[[str], None]


@dataclass
class AgentHistory:
    agent: str
    versions: list[Version] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    present: bool = False  # the file exists at HEAD (False: retired or never committed)

    @property
    def latest(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    def get(self, number: int) -> Version:
        if 1 <= number <= len(self.versions):
            return self.versions[number - 1]
        raise NotFound(f"{self.agent} has no version {number}", f"{self.range_text()}")

    def range_text(self) -> str:
        if not self.versions:
            return f"{self.agent} has no versions yet"
        if len(self.versions) == 1:
            return f"{self.agent} has version 1"
        return f"{self.agent} has versions 1-{len(self.versions)}"


@dataclass(frozen=True)
class AgentSummary:
    agent: str
    versions: int
    latest: int | None
    present: bool
    warnings: list[str]
    invalid: list[int] = field(default_factory=list)  # numbers of the invalid versions
    # numbers of the versions the store cannot hold (a "storable:" problem): sync skips
    # them with a warning, so a no-change sync must not take its fast path while any exist
    unstorable: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, history: AgentHistory) -> AgentSummary:
        latest = history.latest.version if history.latest else None
        return cls(
            history.agent,
            len(history.versions),
            latest,
            history.present,
            history.warnings,
            [v.version for v in history.versions if not v.valid],
            [v.version for v in history.versions if storable_problem(v) is not None],
        )


def storable_problem(version: Version) -> str | None:
    """Why history found ``version`` not storable (None: it did not): sync skips it."""
    return next((p for p in version.problems if "storable:" in p), None)


def _known_prompt(parsed: dict[str, Prepared], blob: str) -> str | None:
    content = parsed.get(blob, (None, None))[0]
    return content[0] if content is not None else None  # system_prompt (rows.py)


def analyze_blob(raw: bytes, path: str) -> BlobInfo:
    """Hash one file's content; an unparseable or unhashable file is not a version.

    A hashable file is a version whatever today's rules say (docs/design.md section 3);
    the schema and the storable rule only decide whether it is valid, and why not.
    """
    return _analyze(raw, path)[0]


def _analyze_item(item: tuple[bytes, str]) -> tuple[BlobInfo, Prepared | None]:
    # The store's row content is computed here, in the pool, while the config is at hand:
    # what crosses the pipe is a tuple of strings, and sync's own process only inserts.
    info, config = _analyze(*item)
    if config is None:
        return info, None
    # A valid file kept the storable rule (64-bit integers, finite floats, at most 1 MiB
    # of JSON), which implies the store's own, looser bound (store/limits.py): no need
    # to walk it again.
    return info, ((content_row(config), None) if info.valid else prepare(config))


def _analyze_info_only(item: tuple[bytes, str]) -> tuple[BlobInfo, None]:
    # Once sync's budget of prepared rows is spent, a worker does not send them back.
    return _analyze(*item)[0], None


Analyzed = tuple[str, BlobInfo, Prepared | Spooled | None, int]


def _analyze_blobs(
    repo: GitRepo,
    paths: dict[str, str],
    budget: list[int],
    spool_dir: str | None,
    blobs: Sequence[str],
) -> list[Analyzed]:
    """(blob, facts, store row, size) for each of ``blobs`` git has: read
    ``_ANALYZE_CHUNK`` at a time, store rows kept while their files total ``budget[0]``
    (this process's own: a forked worker spends its copy), then written to ``spool_dir``
    (where they are: ``Spooled``) or, without one, dropped (None)."""
    out: list[Analyzed] = []
    spooled = False
    for chunk in even_chunks(blobs, _ANALYZE_CHUNK):
        for blob, raw in repo.read_blobs(chunk).items():
            item = (raw, paths[blob])
            row: Prepared | Spooled | None
            if budget[0] > 0:
                info, row = _analyze_item(item)
                budget[0] -= len(raw) if row is not None else 0
            elif spool_dir is not None:
                info, prepared = _analyze_item(item)
                row = spool(spool_dir, prepared) if prepared is not None else None
                spooled = True
            else:
                info, row = _analyze_info_only(item)
            out.append((blob, info, row, len(raw)))
    if spooled and spool_dir is not None and not flush(spool_dir):
        out = [(blob, info, None if isinstance(row, int) else row, n) for blob, info, row, n in out]
    return out


def _analyze(raw: bytes, path: str) -> tuple[BlobInfo, AgentConfig | None]:
    # Fast path (issue 16): libyaml's constructor, the compiled schema check and the
    # storable rule on the plain value. Only a file without "!" (no explicit tags) that
    # passes all three is vouched for here; anything else is parsed again with
    # locations, so an invalid version's reasons carry their line and column.
    if b"!" not in raw and len(raw) <= MAX_FILE_BYTES:
        ok, data = fast_load(raw)
        if ok:
            try:
                config = agent_config(Loaded(path, data, ""))
            except ConfigError:
                pass  # located below
            else:
                if is_valid(data) and not value_problems(data):
                    return BlobInfo(config_hash(config), True, None), config
    try:
        loaded = load_yaml(raw, path)
        config = agent_config(loaded)
        digest = config_hash(config)
    except ConfigError as exc:
        return BlobInfo(None, False, f"line {exc.line}, col {exc.col}: {exc.reason}"), None
    problems = [(f.line, f.col, f.message) for f in schema_findings(loaded)]
    problems += [(p.line, p.col, p.message) for p in storable_problems(loaded)]
    reasons = tuple(f"line {line}, col {col}: {message}" for line, col, message in sorted(problems))
    return BlobInfo(digest, not reasons, None, reasons), config


def agent_path(settings: Settings, agent: str) -> str:
    return f"{settings.agents_dir}/{agent}.yaml"


class HistoryIndex:
    """Computes and caches version lists for one repository at one HEAD."""

    def __init__(self, repo: GitRepo, settings: Settings, notify: Notify | None = None) -> None:
        self.repo = repo
        self.settings = settings
        self.notify = notify or (lambda message: None)
        self.head = repo.require_full_history()
        schema_digest = hashlib.sha256(
            json.dumps(agent_schema(), sort_keys=True).encode()
        ).hexdigest()
        key = hashlib.sha256(
            f"{CACHE_FORMAT}:{settings.agents_dir}:{schema_digest}".encode()
        ).hexdigest()
        self.cache_root = repo.cache_dir
        self.cache_dir = self.cache_root / "history" / f"{self.head}-{key[:12]}"
        rules = f"{schema_digest[:12]}-r{RULES_VERSION}"
        self.blob_cache = BlobCache(self.cache_root / f"blobs{SHARD_DIGITS}-{rules}")
        self._memo: dict[str, AgentHistory] = {}
        # Store rows of the blobs this process parsed, by blob id, so that sync does not
        # parse a blob a second time; bounded, since a cold history can hold 100,000.
        self._parsed: dict[str, Prepared] = {}
        self._parsed_bytes = 0
        # Set by sync (spool_rows): the rows beyond that budget go to disk instead.
        self._spool_rows = False
        self._spooled: list[tuple[RowSpool, dict[str, Spooled]]] = []
        # Not a bound method: the index must not be in a reference cycle, so that a
        # dropped workspace closes its spool files at once, not at the next collection
        # of cycles (a long-running `canary watch --sync` opens one per sync).
        self.policies = PolicyChecker(
            repo,
            self.cache_root / f"policies-r{RULES_VERSION}.json",
            functools.partial(_known_prompt, self._parsed),
        )
        self._held: list[Callable[[], None]] | None = None  # see held_cache_writes
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None

    @property
    def spool_rows(self) -> bool:
        """Whether store rows beyond the memory budget are spooled to disk (sync sets it:
        rowspool.py). Setting it removes the spool directories of killed syncs, even when
        this one parses nothing and so makes no spool of its own."""
        return self._spool_rows

    @spool_rows.setter
    def spool_rows(self, on: bool) -> None:
        if on and not self._spool_rows:
            sweep()
        self._spool_rows = on

    @contextlib.contextmanager
    def held_cache_writes(self) -> Iterator[Callable[[], None]]:
        """Within: the history and blob cache writes are held back until the yielded
        ``start`` runs them on a thread. A cold sync starts it as its store transaction
        begins, whose inserts and fsync release the GIL: the ~130 ms of cache writes then
        overlap them (issue 16). Every write has finished when the block exits, and a
        cache read (or a fork) in between waits for them first."""
        self._held = []
        try:
            yield self._start_writer
        finally:
            self._start_writer()
            self.settle()

    def _start_writer(self) -> None:
        held, self._held = self._held, None
        if held:
            self._writer = threading.Thread(target=self._run_writes, args=(held,))
            self._writer.start()

    def _run_writes(self, writes: list[Callable[[], None]]) -> None:
        try:
            for write in writes:
                write()
        except BaseException as exc:  # raised again by settle(), in the calling thread
            self._writer_error = exc

    def _cache_write(self, write: Callable[[], None]) -> None:
        if self._held is not None:
            self._held.append(write)
        else:
            write()

    def settle(self) -> None:
        """Wait for cache writes in flight (held ones are run now)."""
        if self._held:
            held, self._held = self._held, []
            for write in held:
                write()
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        error, self._writer_error = self._writer_error, None
        if error is not None:
            raise error

    # -- public -----------------------------------------------------------------------

    def agent(self, agent: str) -> AgentHistory:
        """One agent's versions; NotFound if the agent never existed at HEAD's history."""
        if agent in self._memo:
            return self._memo[agent]
        history = _decoded(self._read_cache(f"{agent}.json"), _history_from_json)
        if history is None:
            path = agent_path(self.settings, agent)
            computed = self._compute([path])
            history = computed.get(agent, AgentHistory(agent))
            self._cache_write(lambda: self._write_cache({agent: history}, all_agents=False))
        if not history.versions and not history.present and not history.warnings:
            raise NotFound(
                f"unknown agent {agent!r}: no {agent_path(self.settings, agent)} in the history of HEAD",
                self._known_agents_hint(),
            )
        self._memo[agent] = history
        return history

    def summary(self) -> dict[str, AgentSummary]:
        """Counts per agent without loading every version (what ``list`` needs)."""
        cached = self._read_cache("_summary.json")
        rows = cached.get("agents") if isinstance(cached, dict) else None
        if isinstance(rows, dict):
            try:
                return {name: AgentSummary(name, *row) for name, row in rows.items()}
            except TypeError:
                pass  # wrong shape: recompute
        return {name: AgentSummary.of(h) for name, h in self.all().items()}

    def all(self) -> dict[str, AgentHistory]:
        """Every agent that has a file at HEAD or had versions (retired agents included)."""
        histories = _decoded(self._read_cache("_all.json"), _histories_from_json)
        if histories is None:
            extended = self._extend_previous()
            computed, reuse = (
                (self._compute([f"{self.settings.agents_dir}/"]), None)
                if extended is None
                else (extended[0], (extended[1], extended[2]))
            )
            self._cache_write(lambda: self._write_cache(computed, all_agents=True, reuse=reuse))
            histories = computed
        else:
            self._mark_latest()  # the next HEAD extends the one in use now
        self._memo.update(histories)
        return histories

    # -- computing ----------------------------------------------------------------------

    def _extend_previous(self) -> tuple[dict[str, AgentHistory], Path, set[str]] | None:
        """Every agent's versions from the last HEAD whose lists are cached, plus the commits
        since, when that HEAD is on HEAD's first-parent line (the usual pull or merge):
        a sync after one new commit then reads one commit's changes, not the whole log.
        Also returns that HEAD's cache folder and the agents the new commits changed."""
        marker = self.cache_root / "history" / "_latest"
        try:
            name = marker.read_text("utf-8").strip()
        except OSError:
            return None
        previous_head, _, key = name.partition("-")
        if key != self.cache_dir.name.partition("-")[2] or previous_head == self.head:
            return None
        if not self.repo.first_parent_descends(previous_head, self.head, _MAX_EXTEND):
            return None
        try:
            data = json.loads((self.cache_dir.parent / name / "_all.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        histories = _decoded(data, _histories_from_json)
        if histories is None:
            return None
        new = self._events(f"{previous_head}..{self.head}", [f"{self.settings.agents_dir}/"])
        for agent, (path, events, blobs) in new.items():
            histories[agent] = _build(agent, path, events, blobs, histories.get(agent))
        # Policies apply to the new commits only (an older version keeps the verdict of
        # the settings committed with it), so an agent not in ``new`` is unchanged.
        self.policies.apply({agent: histories[agent] for agent in new}, self.settings)
        return histories, self.cache_dir.parent / name, set(new)

    def _compute(self, pathspecs: list[str]) -> dict[str, AgentHistory]:
        histories = {
            agent: _build(agent, path, events, blobs)
            for agent, (path, events, blobs) in self._events(self.head, pathspecs).items()
        }
        return self.policies.apply(histories, self.settings)

    def _events(
        self, revisions: str, pathspecs: list[str]
    ) -> dict[str, tuple[str, list[tuple[CommitInfo, FileChange]], dict[str, BlobInfo]]]:
        """Per agent: its file, the changes to it in ``revisions`` oldest first, blob facts."""
        wants_graph = self.settings.commit_graph and not self.repo.has_commit_graph()
        if wants_graph and self.repo.write_commit_graph():
            self.notify(
                "note: wrote git's commit-graph for fast history "
                "(once; set `commit_graph: false` in agentver.yaml to opt out)"
            )
        per_file: dict[str, list[tuple[CommitInfo, FileChange]]] = {}
        # every commit of the log with the agentver.yaml blob it committed ("" = untouched):
        # a version's policies are those committed at its commit (docs/design.md §8)
        timeline: list[tuple[str, str | None]] = []
        for info, changes in self.repo.log_changes(revisions, [*pathspecs, SETTINGS_FILE]):
            settings_blob: str | None = ""
            for change in changes:
                if change.path == SETTINGS_FILE:
                    settings_blob = change.blob
                    continue
                per_file.setdefault(change.path, []).append((info, change))
            timeline.append((info.commit, settings_blob))
        base, _, _ = revisions.rpartition("..")
        start = self.repo.blob_at(base, SETTINGS_FILE) if base else None
        self.policies.settings_timeline(start, reversed(timeline))
        blobs = self._blob_infos(per_file)
        out: dict[str, tuple[str, list[tuple[CommitInfo, FileChange]], dict[str, BlobInfo]]] = {}
        prefix = f"{self.settings.agents_dir}/"
        for path, events in sorted(per_file.items()):
            name = path[len(prefix) :] if path.startswith(prefix) else ""
            if "/" in name or not name.endswith(".yaml"):
                continue  # nested folders and other files are not agents
            agent = name[: -len(".yaml")]
            if not is_agent_id(agent):
                continue  # `validate` reports bad file names; history ignores them
            out[agent] = (path, list(reversed(events)), blobs)
        return out

    def _blob_infos(
        self, per_file: dict[str, list[tuple[CommitInfo, FileChange]]]
    ) -> dict[str, BlobInfo]:
        wanted = {
            change.blob: path
            for path, events in per_file.items()
            for _, change in events
            if change.blob
        }
        self.settle()  # before reading the blob cache, and before the pool forks
        infos = self.blob_cache.get(wanted)
        missing = [blob for blob in wanted if blob not in infos]
        # Each process of the pool reads and parses its own share of the files, a chunk at
        # a time (100,000 files are never all in memory at once), and keeps store rows
        # for sync up to its share of the budget (issue 16).
        share = max(0, _MAX_PARSED_BYTES - self._parsed_bytes) // jobs_for(len(missing))
        rows = RowSpool.create() if self._spool_rows and missing else None
        try:
            analyzed = parallel_slices(
                functools.partial(
                    _analyze_blobs,
                    self.repo,
                    wanted,
                    [share],
                    rows.directory if rows else None,
                ),
                missing,
            )
        finally:
            if rows:
                rows.adopt()
        new: dict[str, BlobInfo] = {}
        spooled: dict[str, Spooled] = {}
        for blob, info, row, size in analyzed:
            new[blob] = info
            if isinstance(row, int):  # Spooled
                spooled[blob] = row
            elif row is not None:
                self._parsed[blob] = row
                self._parsed_bytes += size
        if rows and spooled:
            self._spooled.append((rows, spooled))
        elif rows:
            rows.close()
        if new:
            self._cache_write(lambda: self.blob_cache.put(new))
            infos.update(new)
        return infos

    def prepared(self, blob: str) -> Prepared | None:
        """The store row content of ``blob`` if this process parsed it (None: parse it)."""
        row = self._parsed.get(blob)
        if row is None:
            for rows, where in self._spooled:
                if blob in where:
                    return rows.read(where[blob])
        return row

    # -- caches -------------------------------------------------------------------------

    def _known_agents_hint(self) -> str:
        folder = self.repo.root / self.settings.agents_dir
        names = (
            sorted(p.stem for p in folder.glob("*.yaml") if is_agent_id(p.stem))
            if folder.is_dir()
            else []
        )
        if names:
            return f"known agents: {', '.join(names)}"
        return f"agents live in {self.settings.agents_dir}/<agent>.yaml; commit one first"

    def _read_cache(self, name: str) -> Any:
        self.settle()
        try:
            return json.loads((self.cache_dir / name).read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def _write_cache(
        self,
        histories: dict[str, AgentHistory],
        *,
        all_agents: bool,
        reuse: tuple[Path, set[str]] | None = None,
    ) -> None:
        """Write each agent's list (and with ``all_agents`` the whole set and summary).

        ``reuse``: (an earlier HEAD's cache folder, the agents changed since): the file of
        an unchanged agent is linked from there instead of serialized again, and every
        list is serialized once (``_all.json`` is assembled from the agents' texts)."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            texts: list[str] = []
            for agent, history in histories.items():
                target = self.cache_dir / f"{agent}.json"
                text = None
                if reuse is not None and agent not in reuse[1]:
                    text = _reuse(reuse[0] / f"{agent}.json", target)
                if text is None:
                    text = _dumps(_history_to_json(history))
                    write_cache_file(target, text)
                texts.append(text)
            if all_agents:
                write_cache_file(self.cache_dir / "_all.json", f'{{"agents":[{",".join(texts)}]}}')
                summary = {
                    name: list(dataclasses.astuple(AgentSummary.of(h)))[1:]
                    for name, h in histories.items()
                }
                _atomic_write(self.cache_dir / "_summary.json", {"agents": summary})
                self._mark_latest()
            self._prune()
        except OSError:
            pass  # a cache is an optimisation: a read-only .git must not fail a command

    def _mark_latest(self) -> None:
        marker = self.cache_dir.parent / "_latest"
        try:
            if not marker.exists() or marker.read_text("utf-8") != self.cache_dir.name:
                marker.write_text(self.cache_dir.name, "utf-8")
        except OSError:
            pass  # an optimisation only

    def _prune(self) -> None:
        heads = sorted(
            self.cache_dir.parent.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for stale in heads[_KEEP_CACHED_HEADS:]:
            shutil.rmtree(stale, ignore_errors=True)


def _build(
    agent: str,
    path: str,
    events: list[tuple[CommitInfo, FileChange]],
    blobs: dict[str, BlobInfo],
    previous: AgentHistory | None = None,
) -> AgentHistory:
    """An agent's history from its changes, oldest first, continuing ``previous`` if given."""
    history = AgentHistory(agent)
    if previous is not None:
        history.versions = list(previous.versions)
        history.warnings = list(previous.warnings)
        history.present = previous.present
    last_hash = history.versions[-1].config_hash if history.versions else None
    for info, change in events:  # oldest first
        if change.blob is None:
            history.present = False  # retired; numbering continues if it comes back
            continue
        history.present = True
        blob = blobs.get(change.blob)
        if blob is None or blob.config_hash is None:
            reason = blob.error if blob else "blob missing from the repository"
            history.warnings.append(
                f"{path} at commit {info.commit[:10]} ({info.subject!r}) cannot be read as "
                f"an agent config, {reason}; it is not a version"
            )
            continue
        if blob.config_hash == last_hash:
            continue  # formatting, comments or description only
        last_hash = blob.config_hash
        history.versions.append(
            _version_from_row(  # in _VERSION_FIELDS order; a cold history builds ~16k
                [
                    agent,
                    len(history.versions) + 1,
                    blob.config_hash,
                    info.commit,
                    info.author,
                    info.committed_at,
                    info.subject,
                    blob.valid,
                    change.blob,
                    blob.problems,
                ]
            )
        )
    return history


_VERSION_FIELDS = tuple(f.name for f in fields(Version))
_T = TypeVar("_T")


def _decoded(data: Any, decode: Callable[[Any], _T]) -> _T | None:
    """A cache entry decoded, or None when absent or not what this code wrote (a cache
    is never the source of truth: an unexpected shape is a miss, not a crash)."""
    if data is None:
        return None
    try:
        return decode(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _history_to_json(history: AgentHistory) -> dict[str, Any]:
    return {
        "agent": history.agent,
        "present": history.present,
        "warnings": history.warnings,
        # A Version's __dict__ is in field order (dataclass __init__, _version_from_row).
        "versions": [list(v.__dict__.values()) for v in history.versions],
    }


_VERSION_FIELDS_ORDER = (
    "agent",
    "version",
    "config_hash",
    "commit",
    "created_by",
    "created_at",
    "change_description",
    "valid",
    "blob",
    "problems",
)
assert _VERSION_FIELDS == _VERSION_FIELDS_ORDER, "update _version_from_row with Version"


def _version_from_row(
    row: Any, _new: Any = object.__new__, _set: Any = object.__setattr__
) -> Version:
    if not isinstance(row, list) or len(row) != 10:
        raise ValueError("not a version row")
    # Bypasses the frozen dataclass __init__: the same object, ~4x faster (a sync after
    # one commit decodes every version of the previous HEAD's cached lists).
    version: Version = _new(Version)
    _set(
        version,
        "__dict__",
        {
            "agent": row[0],
            "version": row[1],
            "config_hash": row[2],
            "commit": row[3],
            "created_by": row[4],
            "created_at": row[5],
            "change_description": row[6],
            "valid": row[7],
            "blob": row[8],
            "problems": tuple(row[9]),  # JSON gave a list
        },
    )
    return version


def _history_from_json(data: dict[str, Any]) -> AgentHistory:
    return AgentHistory(
        agent=str(data["agent"]),
        versions=[_version_from_row(row) for row in data["versions"]],
        warnings=[str(w) for w in data["warnings"]],
        present=bool(data["present"]),
    )


def _histories_from_json(data: dict[str, Any]) -> dict[str, AgentHistory]:
    return {item["agent"]: _history_from_json(item) for item in data["agents"]}


def _dumps(document: Any) -> str:
    # dumps, not dump: json.dump streams through the pure-Python encoder
    return json.dumps(document, separators=(",", ":"))


def _atomic_write(path: Path, document: Any) -> None:
    write_cache_file(path, _dumps(document))


def _reuse(source: Path, target: Path) -> str | None:
    """The text of an earlier HEAD's cache file, linked (else copied) to ``target``;
    None when there is no such file."""
    try:
        text = source.read_text("utf-8")
    except OSError:
        return None
    try:
        target.unlink(missing_ok=True)
        os.link(source, target)
    except OSError:
        write_cache_file(target, text)
    return text


def load_version_config(repo: GitRepo, settings: Settings, version: Version) -> AgentConfig:
    """The AgentConfig of a stored version (reads its blob)."""
    raw = repo.read_blobs([version.blob]).get(version.blob)
    if raw is None:
        raise AgentverError(f"blob {version.blob} of {version.agent} v{version.version} is missing")
    return parse_agent_blob(raw, agent_path(settings, version.agent))[1]
