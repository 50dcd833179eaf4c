"""Canonical JSON and ``config_hash`` (docs/design.md section 2). Written once, used everywhere."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agentver.models import AgentConfig

# json.dumps(obj, sort_keys=True) builds this encoder on every call (~1 us; a cold
# history hashes every file of the repository's history).
_ENCODE = json.JSONEncoder(sort_keys=True).encode


def canonical_json(obj: Any) -> str:
    # Python's default separators and ensure_ascii: hashes computed elsewhere with the
    # original reference formula, json.dumps(obj, sort_keys=True), match byte for byte.
    return _ENCODE(obj)


def hash_canonical(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:16]


def config_hash(config: AgentConfig) -> str:
    return hash_canonical(config.canonical())
