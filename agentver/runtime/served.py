"""What a runtime client serves: per agent, its pointer, its routing and resolved templates.

A refresh turns a ``RuntimeState`` into ``Entry`` objects once; ``resolve`` then only
routes the user (``routing.Router``: at most one sha256 for the canary and one per percent
flag) and copies a template. Users with the same (variant, flags on) share one template
and one immutable config, so a resolve allocates one small object and no dict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from agentver import routing
from agentver.errors import IntegrityError
from agentver.hashing import config_hash
from agentver.models import AgentConfig, Pointer, ResolvedConfig, Variant
from agentver.store import CorruptPointer, RuntimeState

log = logging.getLogger("agentver.runtime")


class FrozenDict(dict[str, Any]):
    """A read-only dict: ``ResolvedConfig.config`` is shared by every user of a template.

    A dict subclass (not a MappingProxyType) so that ``json.dumps`` and ``dict(config)``
    keep working; every mutating method raises TypeError.
    """

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("ResolvedConfig.config is read-only; copy it with dict(config)")

    __setitem__ = __delitem__ = __ior__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A read-only list (equal to a list with the same items; ``json.dumps`` takes it)."""

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("ResolvedConfig.config is read-only; copy it with list(...)")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _readonly
    append = extend = insert = pop = remove = clear = sort = reverse = _readonly

    def __copy__(self) -> list[Any]:
        return list(self)

    def __reduce__(self) -> tuple[type, tuple[list[Any]]]:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """A deeply read-only copy that compares equal to the original: dicts become
    FrozenDict, lists FrozenList; tuples and scalars are already immutable."""
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(item) for item in value)
    if isinstance(value, tuple):
        return tuple(freeze(item) for item in value)
    return value


@dataclass(eq=False)
class Entry:
    """One agent as served. ``broken`` is set when its stored content cannot be served
    (hash mismatch, missing or corrupt row, corrupt pointer rows) and it has no earlier
    good state."""

    pointer: Pointer
    active_config: AgentConfig | None
    canary_config: AgentConfig | None
    router: routing.Router
    broken: str | None = None
    # Resolved templates by routing key (routing.Router.route), filled on first use.
    templates: dict[int, ResolvedConfig] = field(default_factory=dict)

    def first_of_kind(self, user_id: str, key: int) -> ResolvedConfig:
        """Resolve through routing.resolve (the CLI's code) and keep it as the template
        of routing key ``key``; off the hot path, once per (variant, flags on)."""
        if self.broken is not None or self.active_config is None:
            raise IntegrityError(
                f"refusing to serve {self.pointer.agent!r}: {self.broken or 'no active version'}",
                hint="run `agentver verify` and `agentver sync --force` to repair the store",
            )
        resolved = routing.resolve(self.pointer, user_id, self.active_config, self.canary_config)
        template = ResolvedConfig(
            agent=resolved.agent,
            environment=resolved.environment,
            user="",
            version=resolved.version,
            config_hash=resolved.config_hash,
            variant=resolved.variant,
            flags=resolved.flags,
            tools=resolved.tools,
            config=freeze(resolved.config),
        )
        # Cache only when routing.resolve agrees with what the key says.
        variant: Variant = "canary" if key & 1 else "stable"
        if (resolved.variant, resolved.flags) == (variant, self.router.flag_names(key)):
            self.templates[key] = template
        return template


def _entry(
    pointer: Pointer, state: RuntimeState, bad: Mapping[tuple[str, int | str], str]
) -> Entry:
    if isinstance(pointer, CorruptPointer):
        return Entry(
            pointer=pointer,
            active_config=None,
            canary_config=None,
            router=routing.Router.of(pointer.agent, None, {}),
            broken=f"its pointer row in the store is corrupt ({pointer.reason})",
        )
    problems = []
    configs: list[AgentConfig | None] = []
    for role, ref in (("active", pointer.active), ("canary", pointer.canary)):
        if ref is None:
            configs.append(None)
            continue
        stored = state.versions.get((pointer.agent, ref.version))
        if stored is None:
            reason = bad.get((pointer.agent, ref.version), "is missing from the store")
            problems.append(f"{role} v{ref.version} {reason}")
            configs.append(None)
            continue
        actual = config_hash(stored.config)
        if actual != ref.config_hash or actual != stored.version.config_hash:
            problems.append(
                f"stored v{ref.version} content hashes to {actual}, not {ref.config_hash}"
            )
        configs.append(stored.config)
    return Entry(
        pointer=pointer,
        active_config=configs[0],
        canary_config=configs[1],
        router=routing.Router.of(pointer.agent, pointer.canary, pointer.flags),
        broken="; ".join(problems) or None,
    )


def build_entries(
    state: RuntimeState,
    old: Mapping[str, Entry],
    bad_versions: Mapping[tuple[str, int | str], str] | None = None,
) -> tuple[dict[str, Entry], tuple[str, ...]]:
    """The entries to serve for ``state``, and the agents served from an older state.

    An agent whose new state is broken keeps its previous good entry (logged as an
    error); one that has none is served as broken (resolve raises IntegrityError for it
    alone). An unchanged pointer keeps its entry, so its warm templates survive.
    """
    entries: dict[str, Entry] = {}
    stale: list[str] = []
    for agent, pointer in state.pointers.items():
        entry = _entry(pointer, state, bad_versions or {})
        previous = old.get(agent)
        if entry.broken is not None:
            log.error("agentver: not serving the new state of %s: %s", agent, entry.broken)
            if previous is not None and previous.broken is None:
                entry = previous
                stale.append(agent)
        elif previous is not None and previous.broken is None and previous.pointer == pointer:
            entry = previous
        entries[agent] = entry
    return entries, tuple(stale)
