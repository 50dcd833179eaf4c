"""One opened config repository: git, settings, versions and pointers, loaded lazily."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from agentver.agentfile import check_agent_id
from agentver.deploy.pointers import PointerEvent, action_of, parse_pointer, pointer_path
from agentver.errors import NotFound
from agentver.gitrepo import GitRepo
from agentver.history import (
    AgentHistory,
    AgentSummary,
    HistoryIndex,
    Notify,
    load_version_config,
)
from agentver.models import AgentConfig, Pointer, Version
from agentver.parsecache import NO_CACHE, ParseCache
from agentver.settings import Settings, load_settings


class Workspace:
    def __init__(
        self,
        repo: GitRepo,
        settings: Settings,
        notify: Notify | None = None,
        cache: ParseCache = NO_CACHE,
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.notify = notify
        self.cache = cache

    @classmethod
    def open(cls, cwd: Path, notify: Notify | None = None) -> Workspace:
        repo = GitRepo.open(cwd)
        cache = ParseCache(repo.cache_dir / "parsed.json")
        return cls(repo, load_settings(repo.root, cache), notify, cache)

    @property
    def root(self) -> Path:
        return self.repo.root

    @cached_property
    def index(self) -> HistoryIndex:
        return HistoryIndex(self.repo, self.settings, self.notify)

    def history(self, agent: str) -> AgentHistory:
        return self.index.agent(check_agent_id(agent))

    def agents(self) -> dict[str, AgentHistory]:
        return self.index.all()

    def agent_summaries(self) -> dict[str, AgentSummary]:
        return self.index.summary()

    def config_of(self, version: Version) -> AgentConfig:
        return load_version_config(self.repo, self.settings, version)

    def environment(self, name: str | None) -> str:
        return self.settings.environment(name)

    # -- pointers -----------------------------------------------------------------------

    def pointer_file(self, environment: str, agent: str) -> Path:
        return self.root / pointer_path(environment, agent)

    def pointer(self, environment: str, agent: str, *, committed: bool = False) -> Pointer:
        """The pointer on disk (or as committed at HEAD); an empty pointer if none."""
        rel = pointer_path(environment, agent)
        raw: bytes | None
        if committed:
            blob = self.repo.blob_at(self.index.head, rel)
            raw = self.repo.read_blobs([blob]).get(blob) if blob else None
        else:
            path = self.root / rel
            raw = path.read_bytes() if path.is_file() else None
        if raw is None:
            return Pointer(agent, environment)
        return parse_pointer(raw, rel, environment, agent, self.cache)

    def pointer_events(self, environment: str, agent: str) -> list[PointerEvent]:
        """Every committed change of the pointer file, oldest first."""
        rel = pointer_path(environment, agent)
        log = list(self.repo.log_changes(self.index.head, [rel]))
        log.reverse()
        blobs = self.repo.read_blobs(c.blob for _, changes in log for c in changes if c.blob)
        events: list[PointerEvent] = []
        before: Pointer | None = None
        for info, changes in log:
            change = next((c for c in changes if c.path == rel), None)
            if change is None:
                continue
            after = None
            if change.blob:
                after = parse_pointer(
                    blobs[change.blob],
                    f"{rel} at {info.commit[:10]}",
                    environment,
                    agent,
                    self.cache,
                )
            events.append(
                PointerEvent(
                    info.commit,
                    info.committed_at,
                    info.author,
                    info.subject,
                    after,
                    action_of(info.subject, before, after),
                )
            )
            before = after
        return events

    def require_version(self, agent: str, number: int) -> Version:
        history = self.history(agent)
        if number < 1 or number > len(history.versions):
            raise NotFound(f"{agent} has no version {number}", history.range_text())
        return history.versions[number - 1]
