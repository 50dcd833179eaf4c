"""Agent files: the agent id rule, the hashable config, and schema findings.

Two separate questions, on purpose (docs/design.md section 3): *can this be hashed?* decides
whether a commit is a version at all and never depends on today's schema; *does it pass
the schema?* decides whether that version is ``valid`` (deployable).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from agentver.config import Loaded, Path_, load_yaml, read_file
from agentver.errors import ConfigError, UsageError
from agentver.models import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, AgentConfig, Finding

AGENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def is_agent_id(name: str) -> bool:
    return AGENT_ID.fullmatch(name) is not None


def check_agent_id(name: str) -> str:
    """Return ``name`` if it is a valid agent id; never use an unchecked name in a path."""
    if not is_agent_id(name):
        raise UsageError(
            f"invalid agent id {name!r}",
            "agent ids are 1-63 characters of a-z, 0-9, '_' and '-', starting with a "
            "letter or digit",
        )
    return name


def read_worktree_file(root: Path, rel: str) -> bytes:
    """Bytes of ``root/rel``, refusing a path that a symlink leads outside the repository
    or into ``.git`` (reading it would show that file's content in our messages)."""
    path = root / rel
    real_root = root.resolve()
    real = path.resolve()
    inside = real == real_root or real_root in real.parents
    in_git_dir = real_root / ".git" in (real, *real.parents)
    if not inside or in_git_dir:
        raise UsageError(
            f"{rel} leads through a symlink to {real}, outside the repository's work tree "
            "or inside .git; refusing to read it",
            "agent files must be regular files in the repository",
        )
    return read_file(path, rel)  # a FIFO is refused, never waited on; bounded size


def parse_agent_blob(raw: bytes, path: str) -> tuple[Any, AgentConfig]:
    """The parsed document and its hashable config, for loops over many files.

    libyaml's fast path first (``fastyaml``); the located loader only when that path
    cannot vouch for the document, so every error still carries its line and column.
    """
    from agentver.fastyaml import fast_load

    ok, data = fast_load(raw)
    if ok:
        try:
            return data, agent_config(Loaded(path, data, ""))
        except ConfigError:
            pass  # re-parsed below to locate the error
    loaded, config = load_agent(raw, path)
    return loaded.data, config


def load_agent(raw: bytes, path: str) -> tuple[Loaded, AgentConfig]:
    loaded = load_yaml(raw, path)
    return loaded, agent_config(loaded)


def agent_config(loaded: Loaded) -> AgentConfig:
    """The hashable config: the hashed fields present or defaulted, with their JSON types."""
    data = loaded.data
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of agent settings at the top level", loaded.path)

    def need(key: str, kinds: tuple[type, ...], what: str, default: Any) -> Any:
        if key not in data:
            if default is _REQUIRED:
                raise ConfigError(f"missing required key {key!r}", loaded.path, 1, 1)
            return default
        value = data[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            line, col = loaded.locate((key,))
            raise ConfigError(f"{key} must be {what}", loaded.path, line, col)
        return value

    tools = need("tools", (list,), "a list of strings", [])
    if not all(isinstance(tool, str) for tool in tools):
        line, col = loaded.locate(("tools",))
        raise ConfigError("tools must be a list of strings", loaded.path, line, col)
    description = data.get("description")
    return AgentConfig(
        model=need("model", (str,), "a string", _REQUIRED),
        system_prompt=need("system_prompt", (str,), "a string", _REQUIRED),
        temperature=float(need("temperature", (int, float), "a number", DEFAULT_TEMPERATURE)),
        max_tokens=need("max_tokens", (int,), "an integer", DEFAULT_MAX_TOKENS),
        tools=tuple(tools),
        guardrails=need("guardrails", (dict,), "a mapping", {}),
        params=need("params", (dict,), "a mapping", {}),
        description=description if isinstance(description, str) else None,
    )


_REQUIRED = object()


@lru_cache(maxsize=1)
def agent_schema() -> dict[str, Any]:
    text = resources.files("agentver").joinpath("schemas/agent.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # ~100 ms to import: only commands that validate pay for it

    return jsonschema.Draft202012Validator(agent_schema())


def schema_findings(loaded: Loaded) -> list[Finding]:
    """Every schema violation, located, with a did-you-mean or quote-it hint."""
    if not isinstance(loaded.data, dict):
        kind = "empty" if loaded.data is None else type(loaded.data).__name__
        return [_at(loaded, (), f"expected a mapping of agent settings, got {kind}")]
    findings = [_explain(loaded, error) for error in _validator().iter_errors(loaded.data)]
    return sorted(findings, key=lambda f: (f.line, f.col, f.message))


def is_valid(data: Any) -> bool:
    """Passes the agent schema: the compiled yes/no check (``schema_findings`` explains)."""
    return isinstance(data, dict) and _compiled()(data)


@lru_cache(maxsize=1)
def _compiled() -> Any:
    from agentver.fastschema import compiled_check

    return compiled_check(json.dumps(agent_schema(), sort_keys=True))


_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "array": "a list",
    "object": "a mapping",
    "boolean": "true or false",
}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string"


def _explain(loaded: Loaded, error: Any) -> Finding:
    key_path: Path_ = tuple(error.absolute_path)
    dotted = _dotted(key_path)
    properties = agent_schema()["properties"]
    if error.validator == "additionalProperties" and not key_path:
        unknown = sorted(set(error.instance) - set(properties))
        key = unknown[0] if unknown else "?"
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        else:
            message += f"; allowed keys: {', '.join(sorted(properties))}"
        return _at(loaded, (key,), message, key=True)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return _at(loaded, key_path, f"missing required key {missing[0] if missing else ''!r}")
    if error.validator == "type":
        wanted = error.validator_value
        wanted_text = _TYPE_NAMES.get(wanted, str(wanted)) if isinstance(wanted, str) else wanted
        message = f"{dotted} must be {wanted_text}, got {_json_kind(error.instance)}"
        source = loaded.plain_scalars.get(key_path)
        if wanted == "string" and source is not None:
            message += f' ({source} was read as {json.dumps(error.instance)}); quote it: "{source}"'
        return _at(loaded, key_path, message)
    if error.validator == "uniqueItems":
        return _at(loaded, key_path, f"{dotted} lists the same item twice")
    return _at(loaded, key_path, f"{dotted}: {error.message}")


def _dotted(key_path: Path_) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "document"


def _at(loaded: Loaded, key_path: Path_, message: str, *, key: bool = False) -> Finding:
    line, col = loaded.locate(key_path, key=key)
    return Finding(loaded.path, line, col, message)
