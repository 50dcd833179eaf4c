"""The judge: a model that scores an answer 0..1 against a rubric and the golden answer."""

from __future__ import annotations

import json
import re
from typing import Any

from agentver.evals.providers import ProviderError

# Part of the stored-result key: bump it when the prompt below changes meaning.
JUDGE_PROMPT_VERSION = 1

JUDGE_SYSTEM_PROMPT = (
    "You are an impartial evaluation judge. You grade an assistant's answer against a "
    "rubric and, when given, a reference answer. Reply with only a JSON object "
    '{"score": <number from 0 to 1>, "reason": "<one sentence>"}.'
)

_OBJECT_RE = re.compile(r"\{.*\}", re.DOTALL)
_SCORE_RE = re.compile(r"score\W{0,5}(\d+(?:\.\d+)?)", re.IGNORECASE)


def judge_request(
    model: str, rubric: str, question: str, golden: str | None, answer: str
) -> dict[str, Any]:
    parts = [
        f"<rubric>\n{rubric}\n</rubric>",
        f"<question>\n{question}\n</question>",
        f"<golden>\n{golden}\n</golden>" if golden is not None else "(no reference answer)",
        f"<answer>\n{answer}\n</answer>",
        'Reply with only {"score": <0..1>, "reason": "..."}.',
    ]
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
            {"role": "user", "content": "\n\n".join(parts)},
        ],
        "temperature": 0.0,
        "max_tokens": 300,
    }


def parse_judge_reply(content: str) -> tuple[float, str]:
    """``(score, reason)`` from the judge's reply; ProviderError when there is no score."""
    score: Any = None
    reason = ""
    found = _OBJECT_RE.search(content)
    if found:
        try:
            data = json.loads(found.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            score = data.get("score")
            reason = str(data.get("reason", ""))
    if score is None:
        match = _SCORE_RE.search(content)
        score = float(match.group(1)) if match else None
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise ProviderError(f"judge reply has no score: {content[:120]!r}")
    if not 0.0 <= score <= 1.0:
        raise ProviderError(f"judge score {score} is outside 0..1")
    return float(score), reason
