"""Recall and false-positive rate of agentver's secret scan on the corpus.

Run from the repository root: ``python tests/secrets_corpus/measure.py`` (add
``--misses`` to list what was missed or wrongly flagged). docs/secrets.md quotes it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import lookalikes, secrets

from agentver.secret_scan import scan_secrets


@dataclass(frozen=True)
class Figures:
    secrets: int
    found: int
    lookalikes: int
    flagged: int
    misses: tuple[str, ...]
    false_positives: tuple[str, ...]

    @property
    def recall(self) -> float:
        return self.found / self.secrets

    @property
    def false_positive_rate(self) -> float:
        return self.flagged / self.lookalikes


def measure() -> Figures:
    real = secrets()
    fake = lookalikes()
    misses = tuple(f"{family}: {text!r}" for family, text in real if not scan_secrets(text, "x"))
    wrong = tuple(f"{kind}: {text!r}" for kind, text in fake if scan_secrets(text, "x"))
    return Figures(len(real), len(real) - len(misses), len(fake), len(wrong), misses, wrong)


def main(argv: list[str]) -> int:
    figures = measure()
    print(
        f"secrets: {figures.found}/{figures.secrets} found, recall {figures.recall:.1%}\n"
        f"look-alikes: {figures.flagged}/{figures.lookalikes} flagged, "
        f"false-positive rate {figures.false_positive_rate:.1%}"
    )
    if "--misses" in argv:
        for line in (*figures.misses, *figures.false_positives):
            print(line[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
