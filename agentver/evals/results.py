"""Evaluation results and their storage under ``.agentver/evals/``.

One JSON file per key (agent, config_hash, suite hash, provider+judge settings hash):
``.agentver/evals/<agent>/<config_hash>.<suite_hash>.<settings_hash>.json``, written
atomically with sorted keys and a trailing newline so it can be committed and reviewed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentver.deploy.files import atomic_write
from agentver.errors import AgentverError

RESULT_FORMAT = 1
_AGENT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HEX_RE = re.compile(r"^[0-9a-f]{8,64}$")


class EvalResultError(AgentverError):
    """A stored evaluation result cannot be read or written (exit 2)."""


@dataclass(frozen=True)
class EvalKey:
    agent: str
    config_hash: str
    suite_hash: str
    settings_hash: str

    def __post_init__(self) -> None:
        # These become a file path: never let odd text through.
        if not _AGENT_RE.match(self.agent):
            raise EvalResultError(f"invalid agent id {self.agent!r}")
        for name in ("config_hash", "suite_hash", "settings_hash"):
            if not _HEX_RE.match(getattr(self, name)):
                raise EvalResultError(f"invalid {name} {getattr(self, name)!r}")

    @property
    def filename(self) -> str:
        return f"{self.config_hash}.{self.suite_hash}.{self.settings_hash}.json"

    def __str__(self) -> str:
        return (
            f"{self.agent}@{self.config_hash} "
            f"(suite {self.suite_hash}, settings {self.settings_hash})"
        )


@dataclass(frozen=True)
class AssertionResult:
    kind: str
    passed: bool
    message: str
    score: float | None = None  # judge score

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "passed": self.passed,
            "message": self.message,
            "score": self.score,
        }


@dataclass(frozen=True)
class RunResult:
    """One run of one case (a case with ``repeat: N`` has N runs)."""

    passed: bool
    output: str
    latency_ms: int
    assertions: tuple[AssertionResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "output": self.output,
            "latency_ms": self.latency_ms,
            "assertions": [a.to_json() for a in self.assertions],
        }


@dataclass(frozen=True)
class CaseResult:
    id: str
    weight: float
    runs: tuple[RunResult, ...]

    @property
    def repeat(self) -> int:
        return len(self.runs)

    @property
    def pass_rate(self) -> float:
        return sum(run.passed for run in self.runs) / len(self.runs)

    @property
    def pass_all(self) -> bool:
        """pass^N: every one of the N runs passed (a flaky case passes some, not all)."""
        return all(run.passed for run in self.runs)

    @property
    def passed(self) -> bool:
        return self.pass_all

    @property
    def score(self) -> float:
        return self.pass_rate

    @property
    def details(self) -> str:
        """The first failure, for tables; empty when every run passed."""
        for index, run in enumerate(self.runs):
            for check in run.assertions:
                if not check.passed:
                    prefix = f"run {index + 1}: " if len(self.runs) > 1 else ""
                    return f"{prefix}{check.kind}: {check.message}"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "weight": self.weight,
            "repeat": self.repeat,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 6),
            "pass_all": self.pass_all,
            "score": round(self.score, 6),
            "details": self.details,
            "runs": [run.to_json() for run in self.runs],
        }


@dataclass(frozen=True)
class SuiteResult:
    key: EvalKey
    cases: tuple[CaseResult, ...]
    provider: Mapping[str, Any] = field(default_factory=dict)  # identity, no secrets
    judge: Mapping[str, Any] | None = None
    evaluated_at: str = ""
    reused: bool = False  # came from the store; not serialized

    @property
    def agent(self) -> str:
        return self.key.agent

    @property
    def config_hash(self) -> str:
        return self.key.config_hash

    @property
    def score(self) -> float:
        """Weighted mean of case scores, in 0..1."""
        total = sum(case.weight for case in self.cases)
        if total == 0:
            return 0.0
        return sum(case.weight * case.score for case in self.cases) / total

    @property
    def passed(self) -> bool:
        return all(case.passed for case in self.cases)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "agent": self.key.agent,
            "config_hash": self.key.config_hash,
            "suite_hash": self.key.suite_hash,
            "settings_hash": self.key.settings_hash,
            "provider": dict(self.provider),
            "judge": None if self.judge is None else dict(self.judge),
            "evaluated_at": self.evaluated_at,
            "score": round(self.score, 6),
            "passed": self.passed,
            "cases": [case.to_json() for case in self.cases],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuiteResult:
        """Inverse of ``to_json``; KeyError/TypeError/ValueError on a malformed document."""
        if data.get("format") != RESULT_FORMAT:
            raise ValueError(f"unknown result format {data.get('format')!r}")
        key = EvalKey(data["agent"], data["config_hash"], data["suite_hash"], data["settings_hash"])
        cases = tuple(
            CaseResult(
                id=str(case["id"]),
                weight=float(case["weight"]),
                runs=tuple(
                    RunResult(
                        passed=bool(run["passed"]),
                        output=str(run["output"]),
                        latency_ms=int(run["latency_ms"]),
                        assertions=tuple(
                            AssertionResult(
                                str(a["type"]),
                                bool(a["passed"]),
                                str(a["message"]),
                                None if a["score"] is None else float(a["score"]),
                            )
                            for a in run["assertions"]
                        ),
                    )
                    for run in case["runs"]
                ),
            )
            for case in data["cases"]
        )
        return cls(key, cases, dict(data["provider"]), data["judge"], str(data["evaluated_at"]))


class ResultStore:
    """Stored results under a directory (normally ``<repo>/.agentver/evals``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, key: EvalKey) -> Path:
        return self.root / key.agent / key.filename

    def get(self, key: EvalKey) -> SuiteResult | None:
        path = self.path_for(key)
        if not path.exists():
            return None
        result = self._read(path)
        if result.key != key:
            raise EvalResultError(f"{path}: holds the result for {result.key}, not {key}")
        return result

    def put(self, result: SuiteResult) -> Path:
        path = self.path_for(result.key)
        text = json.dumps(result.to_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        try:
            atomic_write(path, text.encode("utf-8"))
        except OSError as exc:
            raise EvalResultError(f"cannot write {path}: {exc}") from None
        return path

    def for_config(self, agent: str, config_hash: str) -> list[SuiteResult]:
        """Every stored result for one config (any suite or settings), for hints."""
        folder = self.root / agent
        if not _AGENT_RE.match(agent) or not folder.is_dir():
            return []
        return [self._read(p) for p in sorted(folder.glob(f"{config_hash}.*.json"))]

    def _read(self, path: Path) -> SuiteResult:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return SuiteResult.from_json(data)
        except (
            OSError,
            UnicodeDecodeError,
            ValueError,
            KeyError,
            TypeError,
            EvalResultError,
        ) as exc:
            raise EvalResultError(
                f"{path}: corrupt evaluation result ({type(exc).__name__}: {exc})",
                hint="delete the file and run the evaluation again",
            ) from None
