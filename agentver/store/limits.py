"""The store's own bound on what one version row may hold (the last line of defence).

The storable rule (agentver/storable.py, docs/design.md section 8) is what ``validate``
and history check; this bound is what the store itself guarantees no matter what it is
handed: a value the database would refuse (an integer beyond 64 bits, a NaN) or a row
so large it would cost the store and every reader hundreds of MB never reaches SQL. The
walk charges its work to a budget, so even a document of aliases that would expand to
gigabytes costs at most MAX_ROW_BYTES of work to refuse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agentver.models import AgentConfig

# What one agent_versions row may hold: 64-bit integers (BIGINT), finite floats, and at
# most MAX_ROW_BYTES of text in all. A YAML file of 504 KB whose anchors are referenced
# many times expands, once serialized, into hundreds of MB (docs/reliability.md); the
# bound is checked while serializing, so such a version costs at most this much memory.
MAX_ROW_BYTES = 4 * 1024 * 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Unstorable(ValueError):
    """A value the store cannot hold; the message says which and why."""


def _bounded(value: Any, budget: list[int], where: str) -> None:
    """Walk ``value`` as JSON would, charging its size to ``budget[0]``; raise once the
    budget is spent (an alias-expanded document is refused after MAX_ROW_BYTES of work,
    not after building it) or on an integer or float the store cannot hold."""
    budget[0] -= 8
    if budget[0] < 0:
        raise Unstorable(f"larger than {MAX_ROW_BYTES // (1024 * 1024)} MB once expanded")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Unstorable(f"{where}: integer {value} does not fit in 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, str):
        budget[0] -= len(value)
        if budget[0] < 0:
            raise Unstorable(f"larger than {MAX_ROW_BYTES // (1024 * 1024)} MB once expanded")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _bounded(key, budget, where)
            _bounded(item, budget, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _bounded(item, budget, f"{where}[{index}]")
        return
    raise Unstorable(f"{where}: a {type(value).__name__} is not a plain YAML value")


def unstorable_reason(config: AgentConfig) -> str | None:
    """Why the store cannot hold this config (None: it can). Cheap: bounded work."""
    budget = [MAX_ROW_BYTES]
    try:
        _bounded(config.system_prompt, budget, "system_prompt")
        _bounded(config.model, budget, "model")
        _bounded(config.temperature, budget, "temperature")
        _bounded(config.max_tokens, budget, "max_tokens")
        _bounded(list(config.tools), budget, "tools")
        _bounded(dict(config.guardrails), budget, "guardrails")
        _bounded(dict(config.params), budget, "params")
        _bounded(config.description, budget, "description")
    except Unstorable as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None
