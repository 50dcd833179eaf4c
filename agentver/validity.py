"""Validity of a version: schema + storable (+ policies), and what deploy paths ask.

docs/design.md section 8 makes validity one notion. The schema and the storable rule
depend on the agent file's content alone, so history computes them once per blob
(agentver.history.analyze_blob) and every Version carries ``valid`` and, when it is
not, its ``problems`` ("line 3, col 13: storable: max_tokens: ...").

Numbering never depends on any of this (section 3): a version that breaks a rule is
still a version, reported ``valid: false`` with its ``problems``.

For the deploy paths: :func:`require_valid` raises :class:`InvalidVersion` (exit 1,
like a failing eval gate) naming the reasons; the caller decides whether
``--skip-gate --reason`` overrides it.
"""

from __future__ import annotations

from agentver.errors import CheckFailed
from agentver.models import Version

# Bump when a rule changes meaning: the per-blob caches of history are keyed by it.
RULES_VERSION = "1"


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
