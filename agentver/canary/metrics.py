"""The ``--metrics FILE`` format (docs/design.md sections 7 and 8).

``{"stable": {"requests": int, "errors": int}, "canary": {...}}``, each arm optionally
with ``"slow": int`` (requests over the latency threshold) and ``"score_sum": number,
"scored": int`` (quality scores in [0, 1]); extra keys are ignored; anything else wrong
is a UsageError naming the file and the field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agentver.canary.rule import ArmStats
from agentver.errors import UsageError

HINT = 'expected {"stable": {"requests": 1000, "errors": 12}, "canary": {...}}'


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(
            f"{where} must be a non-negative integer, got {json.dumps(value)}", hint=HINT
        )
    if value < 0:
        raise UsageError(f"{where} must be a non-negative integer, got {value}")
    return value


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _at_most(value: int | float, limit: int, where: str, limit_name: str) -> None:
    if value > limit:
        raise UsageError(f"{where} ({value}) exceeds {limit_name} ({limit})")


def _arm(counts: dict[str, Any], arm: str, source: str) -> ArmStats:
    found: dict[str, int] = {}
    for key in ("requests", "errors"):
        if key not in counts:
            raise UsageError(f"{source}: missing {arm}.{key}", hint=HINT)
        found[key] = _count(counts[key], f"{source}: {arm}.{key}")
    requests = found["requests"]
    _at_most(found["errors"], requests, f"{source}: {arm}.errors", f"{arm}.requests")
    slow = None
    if counts.get("slow") is not None:
        slow = _count(counts["slow"], f"{source}: {arm}.slow")
        _at_most(slow, requests, f"{source}: {arm}.slow", f"{arm}.requests")
    scored, score_sum = 0, 0.0
    if ("scored" in counts) != ("score_sum" in counts):
        raise UsageError(f"{source}: {arm} needs both score_sum and scored, or neither")
    if "scored" in counts:
        scored = _count(counts["scored"], f"{source}: {arm}.scored")
        _at_most(scored, requests, f"{source}: {arm}.scored", f"{arm}.requests")
        raw = counts["score_sum"]
        if (
            isinstance(raw, bool)
            or not isinstance(raw, (int, float))
            or not math.isfinite(raw)
            or not 0 <= raw <= scored
        ):
            raise UsageError(
                f"{source}: {arm}.score_sum must be a number from 0 to {arm}.scored "
                f"({scored}), got {json.dumps(raw)}",
                hint="scores are in [0, 1], so their sum is at most their count",
            )
        score_sum = float(raw)
    return ArmStats(requests, found["errors"], slow=slow, scored=scored, score_sum=score_sum)


def parse_metrics(text: str, source: str) -> tuple[ArmStats, ArmStats]:
    """(stable, canary) from the metrics JSON ``text``; ``source`` names it in messages."""
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}", hint=HINT
        ) from exc
    except ValueError as exc:  # duplicate key from the hook
        raise UsageError(f"{source}: not valid metrics: {exc}", hint=HINT) from exc
    except RecursionError:  # "[[[[..." a hundred thousand deep
        raise UsageError(f"{source}: metrics JSON nests too deeply", hint=HINT) from None
    if not isinstance(data, dict):
        raise UsageError(f"{source}: metrics must be a JSON object", hint=HINT)
    arms: list[ArmStats] = []
    for arm in ("stable", "canary"):
        if arm not in data:
            raise UsageError(f"{source}: missing {arm!r}", hint=HINT)
        counts = data[arm]
        if not isinstance(counts, dict):
            raise UsageError(f"{source}: {arm!r} must be an object", hint=HINT)
        arms.append(_arm(counts, arm, source))
    return arms[0], arms[1]
