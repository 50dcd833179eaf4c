"""The evaluation sections of ``agentver.yaml``: ``providers:``, ``eval:`` and ``gate:``.

Parsed from the plain mapping the config loader returns; every problem is a
``UsageError`` naming the offending key. Secrets are never stored here: a provider
names the environment variable that holds its API key, and the key is read at call time.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agentver.errors import UsageError

PROVIDER_TYPES = ("openai", "command")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AGENT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_GATE_KEYS = frozenset({"min_score", "not_worse_than"})


@dataclass(frozen=True)
class ProviderSettings:
    """One entry of ``providers:``. ``type`` is ``openai`` (chat-completions) or ``command``."""

    name: str
    type: str
    base_url: str = ""
    model: str | None = None  # overrides the agent's model when set
    api_key_env: str | None = None
    command: tuple[str, ...] = ()
    cwd: Path | None = None  # where a command provider runs (the repository root)
    timeout: float = 60.0
    retries: int = 2
    backoff: float = 0.5
    concurrency: int = 4

    def identity(self) -> dict[str, Any]:
        """What can change the answers, hence part of the stored-result key.

        Timeouts, retries and concurrency do not change answers, so they are left out,
        and so is anything secret (credentials in the URL are stripped).
        """
        if self.type == "command":
            return {"type": self.type, "command": list(self.command), "model": self.model}
        return {
            "type": self.type,
            "base_url": strip_credentials(self.base_url),
            "model": self.model,
        }


@dataclass(frozen=True)
class GateSettings:
    """``min_score`` in 0..1 (1.0 when neither key is given); ``not_worse_than`` a reference."""

    min_score: float | None = None
    not_worse_than: str | None = None

    @property
    def effective_min_score(self) -> float | None:
        if self.min_score is None and self.not_worse_than is None:
            return 1.0
        return self.min_score


@dataclass(frozen=True)
class EvalSettings:
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    provider: str | None = None  # name of the provider that answers as the agent
    judge: str | None = None  # name of the judge provider (default: ``provider``)
    judge_model: str | None = None
    gates: Mapping[str, GateSettings] = field(default_factory=dict)  # agent or "*"

    def agent_provider(self) -> ProviderSettings:
        return self._named(self.provider, "eval.provider")

    def judge_provider(self) -> ProviderSettings:
        return self._named(self.judge or self.provider, "eval.judge")

    def _named(self, name: str | None, key: str) -> ProviderSettings:
        if not self.providers:
            raise UsageError(
                "no evaluation provider configured",
                hint="add a `providers:` section to agentver.yaml (see docs/evals.md)",
            )
        if name is None:
            if len(self.providers) == 1:
                return next(iter(self.providers.values()))
            raise UsageError(
                f"{key} is not set and several providers are configured",
                hint=f"set {key} to one of: {', '.join(sorted(self.providers))}",
            )
        if name not in self.providers:
            raise UsageError(f"{key}: unknown provider {name!r}")
        return self.providers[name]

    def gate_for(self, agent: str) -> GateSettings | None:
        """The gate for ``agent``: its own entry over the ``"*"`` entry; None when neither."""
        specific = self.gates.get(agent)
        default = self.gates.get("*")
        if specific is None or default is None:
            return specific or default
        return GateSettings(
            min_score=specific.min_score if specific.min_score is not None else default.min_score,
            not_worse_than=specific.not_worse_than or default.not_worse_than,
        )


def strip_credentials(url: str) -> str:
    """``https://user:secret@host/v1`` -> ``https://host/v1`` (for keys and messages)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def parse_eval_settings(raw: Mapping[str, object], *, root: Path | None = None) -> EvalSettings:
    """Parse ``providers:``, ``eval:`` and ``gate:`` of agentver.yaml (other keys ignored).

    ``root`` is the repository root; command providers run there.
    """
    providers = _parse_providers(raw.get("providers"), root)
    eval_raw = _mapping(raw.get("eval"), "eval")
    _no_unknown(eval_raw, {"provider", "judge", "judge_model"}, "eval")
    provider = _opt_str(eval_raw.get("provider"), "eval.provider")
    judge = _opt_str(eval_raw.get("judge"), "eval.judge")
    for key, name in (("eval.provider", provider), ("eval.judge", judge)):
        if name is not None and name not in providers:
            raise UsageError(f"{key}: unknown provider {name!r}")
    return EvalSettings(
        providers=providers,
        provider=provider,
        judge=judge,
        judge_model=_opt_str(eval_raw.get("judge_model"), "eval.judge_model"),
        gates=_parse_gates(raw.get("gate")),
    )


def _parse_providers(value: object, root: Path | None) -> dict[str, ProviderSettings]:
    out: dict[str, ProviderSettings] = {}
    for name, entry in _mapping(value, "providers").items():
        key = f"providers.{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise UsageError(f"{key}: provider names are letters, digits, '_', '.', '-'")
        spec = _mapping(entry, key)
        ptype = spec.get("type", "openai")
        if ptype not in PROVIDER_TYPES:
            raise UsageError(f"{key}.type: expected one of {', '.join(PROVIDER_TYPES)}")
        common = ProviderSettings(
            name=name,
            type=str(ptype),
            model=_opt_str(spec.get("model"), f"{key}.model"),
            timeout=_number(spec.get("timeout", 60.0), f"{key}.timeout", low=0.0),
            retries=_integer(spec.get("retries", 2), f"{key}.retries", low=0, high=10),
            backoff=_number(spec.get("backoff", 0.5), f"{key}.backoff", low=0.0, strict=False),
            concurrency=_integer(spec.get("concurrency", 4), f"{key}.concurrency", 1, 64),
        )
        shared = {"type", "model", "timeout", "retries", "backoff", "concurrency"}
        if ptype == "openai":
            _no_unknown(spec, shared | {"base_url", "api_key_env"}, key)
            base_url = _opt_str(spec.get("base_url"), f"{key}.base_url")
            if base_url is None or urlsplit(base_url).scheme not in ("http", "https"):
                raise UsageError(f"{key}.base_url: an http(s) URL is required")
            api_key_env = _opt_str(spec.get("api_key_env"), f"{key}.api_key_env")
            if api_key_env is not None and not _ENV_RE.match(api_key_env):
                raise UsageError(
                    f"{key}.api_key_env: the name of an environment variable, not the key",
                    hint="put the key in an environment variable and name it here",
                )
            out[name] = replace(common, base_url=base_url.rstrip("/"), api_key_env=api_key_env)
        else:
            _no_unknown(spec, shared | {"command"}, key)
            command = _command(spec.get("command"), f"{key}.command")
            out[name] = replace(common, command=command, cwd=root)
    return out


def _parse_gates(value: object) -> dict[str, GateSettings]:
    gate = _mapping(value, "gate")
    if not gate:
        return {}
    if set(gate) <= _GATE_KEYS:  # the short form: one gate for every agent
        return {"*": _gate(gate, "gate")}
    if set(gate) & _GATE_KEYS:
        raise UsageError(
            "gate: mixes gate settings with per-agent entries",
            hint='put shared settings under gate: {"*": {...}}',
        )
    out: dict[str, GateSettings] = {}
    for agent, entry in gate.items():
        if not isinstance(agent, str) or (agent != "*" and not _AGENT_RE.match(agent)):
            raise UsageError(f"gate.{agent}: not an agent id or '*'")
        out[agent] = _gate(_mapping(entry, f"gate.{agent}"), f"gate.{agent}")
    return out


def _gate(spec: Mapping[str, object], key: str) -> GateSettings:
    _no_unknown(spec, _GATE_KEYS, key)
    min_score = spec.get("min_score")
    return GateSettings(
        min_score=None
        if min_score is None
        else _number(min_score, f"{key}.min_score", low=0.0, high=1.0, strict=False),
        not_worse_than=_opt_str(spec.get("not_worse_than"), f"{key}.not_worse_than"),
    )


def _mapping(value: object, key: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{key}: expected a mapping")
    return value


def _no_unknown(spec: Mapping[str, object], allowed: set[str] | frozenset[str], key: str) -> None:
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        raise UsageError(
            f"{key}.{unknown[0]}: unknown key", hint=f"known keys: {', '.join(sorted(allowed))}"
        )


def _opt_str(value: object, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{key}: expected a non-empty string")
    return value


def _number(
    value: object, key: str, *, low: float, high: float | None = None, strict: bool = True
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{key}: expected a number")
    too_low = value <= low if strict else value < low
    if too_low or (high is not None and value > high):
        bounds = f"{'>' if strict else '>='} {low:g}" + (f" and <= {high:g}" if high else "")
        raise UsageError(f"{key}: must be {bounds}")
    return float(value)


def _integer(value: object, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{key}: expected an integer from {low} to {high}")
    return value


def _command(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = shlex.split(value)
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        parts = list(value)
    else:
        raise UsageError(f"{key}: expected a command line or a list of arguments")
    if not parts:
        raise UsageError(f"{key}: the command is empty")
    return tuple(parts)
