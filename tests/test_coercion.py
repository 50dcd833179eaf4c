"""Plain CLI parameters are coerced without pydantic, with the same results and errors."""

from __future__ import annotations

import subprocess
import sys

from conftest import Repo, RunCli

_PROBE = """
import io, contextlib, sys
sys.argv = ["agentver", *sys.argv[1:]]
from agentver.cli.entry import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print("pydantic" in sys.modules)
"""


def _imports_pydantic(repo: Repo, *args: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=repo.path, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_common_commands_never_import_pydantic(repo: Repo) -> None:
    repo.commit_agent("support", {"model": "m", "system_prompt": "a"}, "v1")
    repo.commit_agent("support", {"model": "m", "system_prompt": "b"}, "v2")
    for args in (
        ("history", "support", "--json", "-n", "1"),
        ("list", "--json"),
        ("show", "support", "1", "--json"),
        ("diff", "support", "1", "2", "--format", "json"),
    ):
        assert not _imports_pydantic(repo, *args), args


def test_plain_parameters_keep_their_errors(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", {"model": "m", "system_prompt": "a"}, "v1")
    result = run_cli("history", "support", "-n", "x", cwd=repo.path)
    assert result.exit_code == 2 and "'x' is not an integer" in result.stderr
    result = run_cli("history", "support", "-n", "0", cwd=repo.path)
    assert result.exit_code == 2 and "--limit must be at least 1" in result.stderr
    result = run_cli("diff", "support", "1", "1", "--format", "xml", cwd=repo.path)
    assert result.exit_code == 2 and "one of text, json, markdown" in result.stderr
    result = run_cli("history", "support", "-n", "1", "--json", cwd=repo.path)
    assert result.exit_code == 0 and '"version": 1' in result.stdout
