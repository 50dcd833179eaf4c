"""Fuzz targets: each feeds one input to product code; only agentver's own errors may
escape. Used by ``test_fuzz.py`` (hypothesis) and ``bench/reliability.py`` (counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentver.errors import AgentverError

AGENT = "support"
POINTER = ".agentver/deployments/production/support.yaml"


class Escaped(AssertionError):
    """A non-agentver exception escaped a target: a bug."""


def _guard(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except AgentverError:
        return None
    except RecursionError as exc:  # a subclass of RuntimeError: still a bug
        raise Escaped(f"RecursionError: {exc}") from exc
    except Exception as exc:
        raise Escaped(f"{type(exc).__name__}: {exc}") from exc


def yaml_loader(raw: bytes) -> None:
    from agentver.agentfile import agent_config, schema_findings
    from agentver.config import load_yaml

    loaded = _guard(load_yaml, raw, "agents/support.yaml")
    if loaded is not None:
        _guard(agent_config, loaded)
        _guard(schema_findings, loaded)


def validator(raw: bytes) -> None:
    from agentver.validate import agent_findings

    findings = _guard(agent_findings, raw, "agents/support.yaml", AGENT, {})
    for finding in findings or ():
        if finding.line < 1 or finding.col < 1:
            raise Escaped(f"finding without a location: {finding}")


def pointer_reader(raw: bytes) -> None:
    from agentver.deploy.pointers import parse_pointer

    _guard(parse_pointer, raw, POINTER, "production", AGENT)


def percent_parser(text: str) -> None:
    from agentver.routing import parse_percent

    points = _guard(parse_percent, text)
    if points is not None and not 1 <= points <= 10_000:
        raise Escaped(f"parse_percent({text!r}) = {points}, outside (0, 100%]")


def reference_parser(root: Path, text: str) -> None:
    from agentver.refs import resolve_target
    from agentver.workspace import Workspace

    ws = Workspace.open(root)
    _guard(resolve_target, ws, AGENT, text, None)


def agent_id_in_paths(root: Path, text: str) -> None:
    """An agent id from the command line never escapes ``agents/`` or the pointer dir."""
    from agentver.agentfile import is_agent_id
    from agentver.deploy.pointers import pointer_path

    path = _guard(pointer_path, "production", text)
    if path is not None and not is_agent_id(text):
        raise Escaped(f"pointer_path accepted {text!r}")


# Characters and tokens that make YAML parsers stumble (shared by the hypothesis tests
# and `python -m bench.reliability`).
YAML_TOKENS: list[str] = [
    "model",
    "system_prompt",
    "temperature",
    "tools",
    ":",
    ": ",
    "- ",
    "\n",
    "  ",
    "\t",
    "&a ",
    "*a",
    "!!python/object:os.system ",
    "!!binary ",
    "!tag ",
    "<<: ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    '"',
    "#",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "yes",
    "no",
    "~",
    "1.10",
    "2024-01-01",
    ".nan",
    "-.inf",
    "0x1F",
    "0o17",
    "1e400",
    "\ufeff",
    "\r\n",
    "\x00",
    "\x85",
    "\u2028",
    "<<<<<<< ",
    "=======",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
]
