"""The ``--metrics FILE`` format (docs/design.md sections 7 and 8).

``{"stable": {"requests": int, "errors": int}, "canary": {...}}``, each arm optionally
with ``"slow": int`` (requests over the latency threshold) and ``"score_sum": number,
"scored": int`` (quality scores in [0, 1]); extra keys are ignored. Counts are 64-bit
(``<= 2**63 - 1``, the storable rule: beyond that the statistics cannot be computed).

The file is read and parsed by the hardened loader (``config.read_file``,
``jsonload.load_json``: size, FIFOs, UTF-8, duplicate keys, non-finite numbers, depth);
``metrics_problems`` is the one list of rules, which ``canary evaluate`` raises the
first of (exit 2) and ``agentver validate`` reports in full.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentver.canary.rule import ArmStats
from agentver.config import Loaded, Path_, read_file
from agentver.errors import ConfigError
from agentver.jsonload import load_json
from agentver.models import Finding

HINT = 'expected {"stable": {"requests": 1000, "errors": 12}, "canary": {...}}'
ARMS = ("stable", "canary")
COUNT_MAX = 2**63 - 1


@dataclass(frozen=True)
class MetricsProblem:
    key_path: Path_  # where in the document (located through Loaded.locate)
    message: str
    hint: str | None = None


def read_metrics(path: Path, shown: str | None = None) -> tuple[ArmStats, ArmStats]:
    """(stable, canary) from the metrics file at ``path``; every problem is exit 2."""
    shown = str(path) if shown is None else shown
    return parse_metrics(read_file(path, shown), shown)


def parse_metrics(raw: bytes | str, source: str) -> tuple[ArmStats, ArmStats]:
    """(stable, canary) from the metrics JSON ``raw``; ``source`` names it in messages."""
    loaded = load_json(raw.encode("utf-8") if isinstance(raw, str) else raw, source)
    problems = metrics_problems(loaded)
    if problems:
        first = problems[0]
        line, col = loaded.locate(first.key_path)
        raise ConfigError(first.message, source, line, col, first.hint)
    data = loaded.data
    return _arm_stats(data["stable"]), _arm_stats(data["canary"])


def metrics_findings(raw: bytes, path: str) -> list[Finding]:
    """Everything ``canary evaluate --metrics`` would refuse in this file, located."""
    try:
        loaded = load_json(raw, path)
    except ConfigError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return [Finding(path, exc.line, exc.col, exc.reason + hint)]
    found = []
    for problem in metrics_problems(loaded):
        line, col = loaded.locate(problem.key_path)
        found.append(Finding(path, line, col, problem.message))
    return found


def metrics_problems(loaded: Loaded) -> list[MetricsProblem]:
    """Every rule of the format the document breaks, in document order of the arms."""
    data = loaded.data
    if not isinstance(data, dict):
        return [MetricsProblem((), "metrics must be a JSON object", HINT)]
    problems: list[MetricsProblem] = []
    for arm in ARMS:
        if arm not in data:
            problems.append(MetricsProblem((), f"missing {arm!r}", HINT))
        elif not isinstance(data[arm], dict):
            problems.append(MetricsProblem((arm,), f"{arm!r} must be an object", HINT))
        else:
            problems.extend(_arm_problems(data[arm], arm))
    return problems


def _count_problem(counts: dict[str, Any], arm: str, key: str) -> MetricsProblem | None:
    value = counts[key]
    where = f"{arm}.{key}"
    if isinstance(value, bool) or not isinstance(value, int):
        return MetricsProblem(
            (arm, key), f"{where} must be a non-negative integer, got {_shown(value)}", HINT
        )
    if value < 0:
        return MetricsProblem((arm, key), f"{where} must be a non-negative integer, got {value}")
    if value > COUNT_MAX:
        return MetricsProblem(
            (arm, key),
            f"{where} must be at most 2**63-1 (a 64-bit count), got a "
            f"{len(str(value))}-digit number",
        )
    return None


def _arm_problems(counts: dict[str, Any], arm: str) -> list[MetricsProblem]:
    problems: list[MetricsProblem] = []
    good: dict[str, int] = {}  # the counts that passed, for the comparisons
    for key in ("requests", "errors"):
        if key not in counts:
            problems.append(MetricsProblem((arm,), f"missing {arm}.{key}", HINT))
            continue
        problem = _count_problem(counts, arm, key)
        if problem is None:
            good[key] = counts[key]
        else:
            problems.append(problem)
    for key in ("slow", "scored"):
        if key in counts and (key == "scored" or counts[key] is not None):  # "slow": null = absent
            problem = _count_problem(counts, arm, key)
            if problem is None:
                good[key] = counts[key]
            else:
                problems.append(problem)
    if "requests" in good:
        for key in ("errors", "slow", "scored"):
            if key in good and good[key] > good["requests"]:
                problems.append(
                    MetricsProblem(
                        (arm, key),
                        f"{arm}.{key} ({good[key]}) exceeds {arm}.requests ({good['requests']})",
                    )
                )
    if ("scored" in counts) != ("score_sum" in counts):
        problems.append(
            MetricsProblem((arm,), f"{arm} needs both score_sum and scored, or neither")
        )
    elif "score_sum" in counts and "scored" in good:
        raw = counts["score_sum"]
        scored = good["scored"]
        if (
            isinstance(raw, bool)
            or not isinstance(raw, (int, float))
            or not math.isfinite(raw)
            or not 0 <= raw <= scored
        ):
            problems.append(
                MetricsProblem(
                    (arm, "score_sum"),
                    f"{arm}.score_sum must be a number from 0 to {arm}.scored ({scored}), "
                    f"got {_shown(raw)}",
                    "scores are in [0, 1], so their sum is at most their count",
                )
            )
    return problems


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _arm_stats(counts: dict[str, Any]) -> ArmStats:
    """An arm that passed ``metrics_problems``."""
    scored = "scored" in counts
    return ArmStats(
        counts["requests"],
        counts["errors"],
        slow=counts.get("slow"),
        scored=counts["scored"] if scored else 0,
        score_sum=float(counts["score_sum"]) if scored else 0.0,
    )
