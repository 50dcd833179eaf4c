"""Frozen value types shared by every layer. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 4096

Variant = Literal["stable", "canary"]


def percent_number(basis_points: int) -> int | float:
    """Basis points as the number users typed: 1000 -> 10, 1250 -> 12.5."""
    whole, rest = divmod(basis_points, 100)
    return whole if rest == 0 else basis_points / 100


@dataclass(frozen=True)
class AgentConfig:
    """One agent's configuration with defaults filled in (what gets hashed, plus extras)."""

    model: str
    system_prompt: str
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    tools: tuple[str, ...] = ()
    guardrails: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None

    def canonical(self) -> dict[str, Any]:
        """The object whose JSON is hashed (docs/design.md section 2)."""
        obj: dict[str, Any] = {
            "system_prompt": self.system_prompt,
            "model": self.model,
            "temperature": float(self.temperature),
            "max_tokens": int(self.max_tokens),
            "tools": sorted(self.tools),
            "guardrails": dict(self.guardrails),
        }
        if self.params:
            obj["params"] = dict(self.params)
        return obj

    def to_dict(self) -> dict[str, Any]:
        """The normalized config as shown by ``show``: defaults filled, tools in file order."""
        out: dict[str, Any] = {}
        if self.description is not None:
            out["description"] = self.description
        out.update(
            {
                "model": self.model,
                "system_prompt": self.system_prompt,
                "temperature": float(self.temperature),
                "max_tokens": int(self.max_tokens),
                "tools": list(self.tools),
                "guardrails": dict(self.guardrails),
            }
        )
        if self.params:
            out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class Version:
    """One version of an agent, derived from git history."""

    agent: str
    version: int
    config_hash: str
    commit: str
    created_by: str
    created_at: str
    change_description: str
    valid: bool  # schema + storable + policies at its commit (docs/design.md section 8)
    blob: str  # git blob id of the agent file at that commit
    problems: tuple[str, ...] = ()  # why it is not valid ("line 3, col 1: ..."); empty if valid

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "config_hash": self.config_hash,
            "commit": self.commit,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "change_description": self.change_description,
            "valid": self.valid,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ActiveVersion:
    version: int
    config_hash: str
    commit: str


@dataclass(frozen=True)
class Canary:
    version: int
    config_hash: str
    commit: str
    percent_bp: int  # basis points: 10% -> 1000
    salt: str
    started_at: str

    @property
    def percent(self) -> int | float:
        return percent_number(self.percent_bp)


@dataclass(frozen=True)
class Flag:
    name: str
    enabled: bool = True
    percent_bp: int | None = None
    users: tuple[str, ...] = ()
    add_tools: tuple[str, ...] = ()
    remove_tools: tuple[str, ...] = ()

    @property
    def percent(self) -> int | float | None:
        return None if self.percent_bp is None else percent_number(self.percent_bp)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "percent": self.percent,
            "users": list(self.users),
            "add_tools": list(self.add_tools),
            "remove_tools": list(self.remove_tools),
        }


@dataclass(frozen=True)
class Pointer:
    """What runs in one environment for one agent."""

    agent: str
    environment: str
    active: ActiveVersion | None = None
    canary: Canary | None = None
    flags: Mapping[str, Flag] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedConfig:
    """What one user gets: the answer of ``resolve`` in the CLI and the runtime library."""

    agent: str
    environment: str
    user: str
    version: int
    config_hash: str
    variant: Variant
    flags: tuple[str, ...]
    tools: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "environment": self.environment,
            "user": self.user,
            "version": self.version,
            "config_hash": self.config_hash,
            "variant": self.variant,
            "flags": list(self.flags),
            "tools": list(self.tools),
        }


@dataclass(frozen=True)
class Finding:
    """One problem found by ``validate``: printed as ``path:line:col: message``."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"
