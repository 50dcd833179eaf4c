"""Validity of a version: schema + storable + the policies committed at its commit.

docs/design.md section 8 makes validity one notion. The schema and the storable rule
depend on the agent file's content alone, so history computes them once per blob
(agentver.history.analyze_blob). Policies depend on the pair (agent file, the
``agentver.yaml`` committed at the version's commit): :class:`PolicyChecker` checks
each pair once, ever, and caches the answer under ``.git/agentver-cache/`` keyed by the
two blob ids (a blob id never changes content, so the cache never needs invalidating
and deleting it changes no output). Every Version carries ``valid`` and, when it is
not, its ``problems`` ("line 3, col 13: storable: max_tokens: ...").

Numbering never depends on any of this (section 3): a version that breaks a rule is
still a version, reported ``valid: false`` with its ``problems``.

For the deploy paths: :func:`require_valid` raises :class:`InvalidVersion` (exit 1,
like a failing eval gate) naming the reasons; the caller decides whether
``--skip-gate --reason`` overrides it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from agentver.config import load_yaml
from agentver.errors import AgentverError, CheckFailed
from agentver.models import Version
from agentver.policy import Policy, check_policy, normalize, parse_policies, policies_for

if TYPE_CHECKING:
    from agentver.gitrepo import GitRepo
    from agentver.history import AgentHistory
    from agentver.settings import Settings

_SETTINGS_FILE = "agentver.yaml"

# Bump when a rule changes meaning: the per-blob caches of history are keyed by it.
RULES_VERSION = "2"  # 2: policies of the committed agentver.yaml


class InvalidVersion(CheckFailed):
    """A version that breaks the schema, the storable rule or a policy (exit 1)."""

    def __init__(self, version: Version) -> None:
        shown = "; ".join(version.problems[:3]) or "invalid"
        more = len(version.problems) - 3
        if more > 0:
            shown += f" (and {more} more)"
        super().__init__(
            f"{version.agent} v{version.version} is not valid: {shown}",
            f"see `agentver show {version.agent} {version.version}`; override with "
            "--skip-gate --reason TEXT (recorded in the commit message)",
        )
        self.version = version


def require_valid(version: Version) -> None:
    """Raise :class:`InvalidVersion` unless ``version`` is valid (docs/design.md §8)."""
    if not version.valid:
        raise InvalidVersion(version)


def validity_reasons(version: Version) -> tuple[str, ...]:
    """Why ``version`` is not valid (empty when it is): "line 3, col 1: policy: ..."."""
    return version.problems if not version.valid else ()


POLICY_MARK = ": policy: "  # how a policy reason reads: "line 2, col 1: policy: ..."


def policy_reasons(version: Version) -> tuple[str, ...]:
    """The policy findings among the reasons: deployable with ``--skip-gate --reason``."""
    return tuple(p for p in validity_reasons(version) if POLICY_MARK in p)


def unservable_reasons(version: Version) -> tuple[str, ...]:
    """Schema and storable reasons: the store and the runtime cannot serve such a version,
    so no override deploys it and ``sync`` skips it (a policy reason does neither).
    An invalid version without recorded reasons counts as unservable: never guess."""
    if version.valid:
        return ()
    if not version.problems:
        return ("not valid (no reason recorded)",)
    return tuple(p for p in version.problems if POLICY_MARK not in p)


def _passes_fast(raw: bytes, policy: Policy) -> bool:
    """True when the prompt surely meets ``policy`` (libyaml's fast path, no locations);
    False means "check it with the located loader", which then reports where."""
    from agentver.fastyaml import fast_load

    ok, data = fast_load(raw)
    prompt = data.get("system_prompt") if ok and isinstance(data, dict) else None
    return isinstance(prompt, str) and _meets(prompt, policy)


def _meets(prompt: str, policy: Policy) -> bool:
    """The same test as agentver.policy.check_policy, without locating anything."""
    text = normalize(prompt)
    return all(normalize(p) in text for p in policy.require) and not any(
        normalize(p) in text for p in policy.forbid
    )


class PolicyChecker:
    """Policies of the ``agentver.yaml`` committed at each version's commit."""

    def __init__(
        self,
        repo: GitRepo,
        cache_path: Path,
        known_prompt: Callable[[str], str | None] = lambda blob: None,
    ) -> None:
        self.repo = repo
        self.cache_path = cache_path
        # the prompt of a blob history parsed a moment ago (None: read it again)
        self.known_prompt = known_prompt
        self._cache: dict[str, list[str]] | None = None
        self._dirty = False
        self._settings_at: dict[str, str | None] = {}
        self._parsed: dict[str, Mapping[str, Policy] | str] = {}

    def settings_timeline(
        self, start: str | None, commits_oldest_first: Iterable[tuple[str, str | None]]
    ) -> None:
        """Record, for every commit of the log, the settings blob current at it.

        ``start`` is the ``agentver.yaml`` blob before the first of them (None: none);
        ``commits_oldest_first`` lists each commit of the log once, with the blob it
        committed (``None``: deleted), or ``""`` when it did not touch that file.
        """
        current = start
        for commit, blob in commits_oldest_first:
            if blob != "":
                current = blob
            self._settings_at[commit] = current

    def apply(
        self, histories: dict[str, AgentHistory], settings: Settings
    ) -> dict[str, AgentHistory]:
        """Add each version's policy problems to its validity (in place; returned)."""
        pending: dict[str, tuple[Version, Policy, str]] = {}
        for history in histories.values():
            for version in history.versions:
                settings_blob = self._settings_at.get(version.commit)
                if settings_blob is None:
                    continue  # no agentver.yaml at that commit: no policies
                key = f"{version.agent}:{version.blob}:{settings_blob}"
                if key in self._load():
                    continue
                policies = self._policies(settings_blob)
                if isinstance(policies, str):
                    self._store(key, [f"line 1, col 1: policy: {policies}"])
                    continue
                policy = policies_for(version.agent, policies)
                prompt = self.known_prompt(version.blob)
                if not (policy.require or policy.forbid) or (
                    prompt is not None and _meets(prompt, policy)
                ):
                    self._store(key, [])
                    continue
                pending[key] = (version, policy, f"{settings.agents_dir}/{version.agent}.yaml")
        if pending:
            self._check(pending)
        for history in histories.values():
            history.versions = [self._with_policies(v) for v in history.versions]
        self._save()
        return histories

    # -- internals ----------------------------------------------------------------------

    def _with_policies(self, version: Version) -> Version:
        settings_blob = self._settings_at.get(version.commit)
        if settings_blob is None:
            return version
        found = self._load().get(f"{version.agent}:{version.blob}:{settings_blob}", [])
        # idempotent: a version from an earlier computation may carry them already
        found = [problem for problem in found if problem not in version.problems]
        if not found:
            return version
        problems = (*version.problems, *found)
        return replace(version, valid=False, problems=problems)

    def _check(self, pending: dict[str, tuple[Version, Policy, str]]) -> None:
        contents = self.repo.read_blobs({v.blob for v, _, _ in pending.values()})
        for key, (version, policy, path) in pending.items():
            raw = contents.get(version.blob)
            if raw is not None and _passes_fast(raw, policy):
                self._store(key, [])  # the common case: no located parse needed
                continue
            try:
                loaded = load_yaml(raw or b"", path)
            except AgentverError:
                self._store(key, [])  # hashable before, so this cannot happen; stay quiet
                continue
            data = loaded.data if isinstance(loaded.data, dict) else {}
            prompt = data.get("system_prompt")
            if not isinstance(prompt, str):
                self._store(key, [])
                continue
            line, col = loaded.locate(("system_prompt",), key=True)
            findings = check_policy(version.agent, prompt, policy, path, loaded.text, line, col)
            self._store(key, [f"line {f.line}, col {f.col}: {f.message}" for f in findings])

    def _policies(self, settings_blob: str) -> Mapping[str, Policy] | str:
        """The policies of one committed agentver.yaml, or why it cannot be read."""
        if settings_blob not in self._parsed:
            raw = self.repo.read_blobs([settings_blob]).get(settings_blob, b"")
            try:
                data = load_yaml(raw, _SETTINGS_FILE).data
                section = data.get("policies") if isinstance(data, dict) else None
                self._parsed[settings_blob] = parse_policies(section, _SETTINGS_FILE)
            except AgentverError as exc:
                self._parsed[settings_blob] = (
                    f"the agentver.yaml committed with this version cannot be read: {exc.message}"
                )
        return self._parsed[settings_blob]

    def _load(self) -> dict[str, list[str]]:
        if self._cache is None:
            try:
                data = json.loads(self.cache_path.read_text("utf-8"))
                valid = isinstance(data, dict) and all(
                    isinstance(v, list) and all(isinstance(i, str) for i in v)
                    for v in data.values()
                )
                self._cache = data if valid else {}
            except (OSError, ValueError):
                self._cache = {}
        return self._cache

    def _store(self, key: str, problems: list[str]) -> None:
        self._load()[key] = problems
        self._dirty = True

    def _save(self) -> None:
        if not self._dirty:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._load(), handle, separators=(",", ":"))
            os.replace(tmp, self.cache_path)
            self._dirty = False
        except OSError:
            pass  # a cache is an optimisation: a read-only .git must not fail a command
