"""CLI manners (issue 15): how agentver behaves around pipes, help, completion and odd
working directories, tested through the real ``python -m agentver`` process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AGENT = {"model": "gpt-4o", "system_prompt": "You are the support agent. Help with billing."}


def test_python_dash_m_works_inside_dot_git(repo: Any, run_agentver: Any) -> None:
    """The history cache used to live in .git/agentver/, a folder named like the package:
    run from inside .git, ``python -m agentver`` imported that folder and crashed."""
    repo.commit_agent("support", AGENT, "add support")
    code, out, err = run_agentver("history", "support", "--json", cwd=repo.path)
    assert code == 0, err
    assert not (repo.path / ".git" / "agentver").exists()
    assert (repo.path / ".git" / "agentver-cache").is_dir()  # the cache is still written

    code, out, err = run_agentver("--version", cwd=repo.path / ".git")
    assert code == 0, err
    assert out.startswith("agentver ")
    code, out, err = run_agentver("-C", "..", "list", "--json", cwd=repo.path / ".git")
    assert code == 0, err
    assert '"agent": "support"' in out
    code, out, err = run_agentver("list", cwd=repo.path / ".git")
    assert code == 2
    assert err.startswith("error: ") and "inside the git directory" in err
    assert "Traceback" not in err


def test_cache_folder_name_is_not_importable(repo: Any) -> None:
    from agentver.gitrepo import CACHE_DIRNAME

    assert not CACHE_DIRNAME.isidentifier()  # can never shadow a Python package
    assert Path(CACHE_DIRNAME).name == CACHE_DIRNAME


def test_unsupported_platform_is_one_error_line(tmp_path: Path) -> None:
    """Without fcntl (Windows), every command exits 2 with one error and a hint."""
    import subprocess
    import sys

    probe = (
        "import sys; sys.modules['fcntl'] = None; sys.argv = ['agentver', *sys.argv[1:]]\n"
        "from agentver.cli.entry import main; main()\n"
    )
    for args in (["list"], ["deploy", "support", "v1"], ["--version"]):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert lines[0].startswith("error: agentver runs on Linux and macOS"), proc.stderr
        assert lines[1].startswith("hint: ") and len(lines) == 2
