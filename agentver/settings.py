"""``agentver.yaml``: repository settings with defaults (docs/design.md section 2)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agentver.config import Loaded, load_yaml
from agentver.errors import ConfigError, NotFound, UsageError
from agentver.parsecache import NO_CACHE, ParseCache

SETTINGS_FILE = "agentver.yaml"
DEFAULT_STORE = "sqlite:///.agentver/runtime.db"
_ENV_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")

# Sections parsed by their own modules (policy, canary rule, evals) from the raw mapping.
_KNOWN_KEYS = {
    "agents_dir": "folder holding agents/<agent_id>.yaml (default: agents)",
    "environments": "list of environment names (default: [production])",
    "default_environment": "environment used when --env is not given",
    "store": "runtime store URL (default: sqlite:///.agentver/runtime.db)",
    "policies": "require/forbid phrases per agent, '*' for all",
    "canary": "canary evaluation thresholds",
    "gate": "evaluation gate",
    "providers": "LLM providers for evaluations",
    "eval": "evaluation settings",
    "commit_graph": "write git's commit-graph for fast history (default: true)",
    "watch": "canary watch: bot author, git remote, push attempts, claim lease",
    "secrets": "allow: fingerprints of known false positives of the secret scan",
}


@dataclass(frozen=True)
class Settings:
    agents_dir: str = "agents"
    environments: tuple[str, ...] = ("production",)
    default_environment: str = "production"
    store: str = DEFAULT_STORE
    commit_graph: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict)
    path: str = SETTINGS_FILE

    def environment(self, name: str | None) -> str:
        """The environment to act on; an unconfigured name is exit 2."""
        chosen = name or self.default_environment
        if chosen not in self.environments:
            raise NotFound(
                f"unknown environment {chosen!r}",
                f"configured environments: {', '.join(self.environments)} (in {self.path})",
            )
        return chosen

    def store_url(self, option: str | None = None) -> str:
        """--store, else AGENTVER_STORE, else agentver.yaml, else the SQLite default."""
        return option or os.environ.get("AGENTVER_STORE") or self.store


def load_settings(root: Path, cache: ParseCache = NO_CACHE) -> Settings:
    path = root / SETTINGS_FILE
    if not path.is_file():
        return Settings()
    raw = path.read_bytes()
    cached = cache.get(raw)
    if cached is not None:
        try:
            return settings_from_loaded(Loaded(SETTINGS_FILE, cached, ""))
        except ConfigError:
            pass  # parse again below, for the exact line and column
    loaded = load_yaml(raw, SETTINGS_FILE)
    settings = settings_from_loaded(loaded)
    cache.put(raw, loaded.data)
    return settings


def settings_from_loaded(loaded: Loaded) -> Settings:
    """The settings of a parsed ``agentver.yaml``; a located ConfigError when unusable."""
    data = loaded.data
    if data is None:
        return Settings()
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of settings", SETTINGS_FILE)

    def bad(key: str, message: str) -> ConfigError:
        line, col = loaded.locate((key,))
        return ConfigError(f"{key}: {message}", SETTINGS_FILE, line, col)

    for key in data:
        if key not in _KNOWN_KEYS:
            line, col = loaded.locate((key,), key=True)
            close = difflib.get_close_matches(key, list(_KNOWN_KEYS), n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KNOWN_KEYS)}"
            )
            raise ConfigError(f"unknown setting {key!r}", SETTINGS_FILE, line, col, hint)

    agents_dir = data.get("agents_dir", "agents")
    if not isinstance(agents_dir, str) or not _is_relative_inside(agents_dir):
        raise bad("agents_dir", "must be a relative folder inside the repository")
    environments = data.get("environments", ["production"])
    if (
        not isinstance(environments, list)
        or not environments
        or not all(isinstance(env, str) and _is_env_name(env) for env in environments)
        or len(set(environments)) != len(environments)
    ):
        raise bad("environments", "must be a non-empty list of unique names (a-z, 0-9, - and _)")
    fallback = "production" if "production" in environments else environments[0]
    default_env = data.get("default_environment", fallback)
    if not isinstance(default_env, str) or default_env not in environments:
        raise bad("default_environment", f"{default_env!r} is not in environments")
    store = data.get("store", DEFAULT_STORE)
    if not isinstance(store, str) or not store:
        raise bad("store", "must be a store URL such as sqlite:///.agentver/runtime.db")
    commit_graph = data.get("commit_graph", True)
    if not isinstance(commit_graph, bool):
        raise bad("commit_graph", "must be true or false")
    return Settings(
        agents_dir=str(PurePosixPath(agents_dir)),
        environments=tuple(environments),
        default_environment=default_env,
        store=store,
        commit_graph=commit_graph,
        raw=data,
    )


def _is_env_name(name: str) -> bool:
    return 0 < len(name) <= 63 and set(name) <= _ENV_NAME_CHARS and name[0] not in "-_"


def _is_relative_inside(folder: str) -> bool:
    posix = PurePosixPath(folder)
    return (
        bool(folder) and not posix.is_absolute() and ".." not in posix.parts and "\\" not in folder
    )


def require_section(settings: Settings, key: str) -> Any:
    """A raw section for a module that parses its own settings (policies, canary...)."""
    value = settings.raw.get(key)
    if value is not None and not isinstance(value, (dict, list)):
        raise UsageError(f"{SETTINGS_FILE}: {key} must be a mapping")
    return value
