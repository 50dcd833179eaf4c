"""Options of the reliability suite.

``--reliability-runs N`` (or ``AGENTVER_RELIABILITY_RUNS=N``) sets how many SIGKILL runs
each fault test makes: 20 by default (CI), 100 or more for the long mode. The option
works when pytest is pointed at this folder (``pytest tests/reliability ...``); the
environment variable works everywhere.
"""

from __future__ import annotations

import os

import pytest

DEFAULT_RUNS = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-runs",
        type=int,
        default=None,
        help="SIGKILL runs per fault test (default 20, env AGENTVER_RELIABILITY_RUNS).",
    )


@pytest.fixture
def reliability_runs(request: pytest.FixtureRequest) -> int:
    option = request.config.getoption("--reliability-runs", default=None)
    if option is not None:
        return int(option)
    return int(os.environ.get("AGENTVER_RELIABILITY_RUNS", DEFAULT_RUNS))
