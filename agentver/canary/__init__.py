"""Canary analysis: the verdict on a running canary (docs/canary.md).

- ``agentver.canary.stats``: the mathematics, pure functions on counts;
- ``agentver.canary.settings``: ``CanaryRule``, the ``canary:`` settings of agentver.yaml;
- ``agentver.canary.rule``: ``decide(stable, canary, rule) -> Verdict``, the verdict
  with its evidence (``ArmStats`` carry errors, slow requests and quality scores);
- ``agentver.canary.metrics``: the ``--metrics FILE`` format;
- ``agentver.canary.evaluate``: reading settings and outcomes, judging, applying.

This package's ``__init__`` imports only the pure parts (no git, no store).
"""

from agentver.canary.rule import ArmStats, Evidence, Verdict, VerdictName, decide
from agentver.canary.settings import CanaryRule

__all__ = ["ArmStats", "CanaryRule", "Evidence", "Verdict", "VerdictName", "decide"]
