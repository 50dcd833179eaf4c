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


def _warm(cwd: Path) -> None:
    """One run first: the one-time commit-graph note is not what these tests look at."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "agentver", "list"], cwd=cwd, capture_output=True)


def _closed_pipe_run(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``python -m agentver ARGS`` with stdout a pipe whose reader is already gone."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "agentver", *args],
            cwd=cwd,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


def test_output_into_a_closed_pipe_exits_0_quietly(repo: Any) -> None:
    for number in range(1, 4):
        repo.commit_agent("support", {**AGENT, "system_prompt": f"v{number} " * 400}, "edit")
    _warm(repo.path)
    for args in (
        ["show", "support"],  # rich text
        ["history", "support"],  # a table
        ["show", "support", "--json"],  # plain writes
        ["diff", "support", "1", "3"],
    ):
        for _ in range(2):  # the failure was intermittent (6-8 runs of 8): more than once
            code, err = _closed_pipe_run(args, repo.path)
            assert (code, err) == (0, ""), args


def test_head_of_a_pipeline(repo: Any) -> None:
    """The issue's own reproduction: ``agentver show support | head -1``, 8 times."""
    import shlex
    import subprocess
    import sys

    repo.commit_agent("support", {**AGENT, "system_prompt": "line\n" * 5000}, "long prompt")
    _warm(repo.path)
    command = f"{shlex.quote(sys.executable)} -m agentver show support | head -1"
    for _ in range(8):
        proc = subprocess.run(
            ["bash", "-c", command + "; exit ${PIPESTATUS[0]}"],
            cwd=repo.path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
        assert proc.stdout.count("\n") == 1


def test_errors_still_fail_into_a_closed_pipe(repo: Any) -> None:
    repo.commit_agent("support", AGENT, "add")
    _warm(repo.path)
    code, err = _closed_pipe_run(["show", "nosuch"], repo.path)
    assert code == 2 and err.startswith("error: ")


def test_tables_into_a_pipe_are_neither_padded_nor_wrapped(repo: Any, run_agentver: Any) -> None:
    long_subject = "Rewrite the refund paragraph " + "and more " * 40
    repo.commit_agent("support", AGENT, "add support")
    repo.commit_agent("support", {**AGENT, "temperature": 0.2}, long_subject.strip())
    for args in (["history", "support"], ["list"]):
        code, out, err = run_agentver(*args, cwd=repo.path)
        assert code == 0, err
        lines = out.splitlines()
        assert all(line == line.rstrip() for line in lines), args  # no padding
        assert all(line.strip() for line in lines), args  # no wrapped continuation lines
    code, out, _ = run_agentver("history", "support", cwd=repo.path)
    [newest] = [line for line in out.splitlines() if line.startswith("v2 ")]
    assert newest.endswith(long_subject.strip()) and len(newest) > 300
    assert len(out.splitlines()) == 3  # header + two versions


def _complete(cwd: Path, words: str) -> list[str]:
    """Bash completion through the real program, as the installed completion script asks."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "_AGENTVER_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    program = Path(sys.executable).parent / "agentver"  # the console script completion calls
    proc = subprocess.run([str(program)], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout.split()


def test_completion_offers_agents_versions_and_environments(repo: Any, run_cli: Any) -> None:
    repo.write("agentver.yaml", "environments: [staging, production]\n")
    repo.commit("settings", "agentver.yaml")
    repo.commit_agent("support", AGENT, "v1")
    repo.commit_agent("support", {**AGENT, "temperature": 0.1}, "v2")
    repo.commit_agent("sales", AGENT, "sales v1")
    assert (
        run_cli(
            "flag", "set", "support", "beta", "--create", "--users", "al", cwd=repo.path
        ).exit_code
        == 0
    )

    assert _complete(repo.path, "agentver history ") == ["sales", "support"]
    assert _complete(repo.path, "agentver deploy su") == ["support"]
    refs = _complete(repo.path, "agentver deploy support ")
    assert refs[:2] == ["v2", "v1"] and "latest" in refs and "previous" in refs
    assert _complete(repo.path, "agentver canary start support v2 --env ") == [
        "staging",
        "production",
    ]
    assert _complete(repo.path, "agentver diff support ")[:2] == ["v2", "v1"]
    assert _complete(repo.path, "agentver flag rm support ") == ["beta"]
    # -C is honoured, and outside a repository completion offers nothing, silently.
    assert _complete(repo.path.parent, f"agentver -C {repo.path.name} show ") == [
        "sales",
        "support",
    ]
    assert _complete(repo.path.parent, "agentver show ") == []


def test_a_full_stdout_is_one_error_line_and_exit_2(repo: Any) -> None:
    """``agentver list > /dev/full`` (stdout on a full disk) ended in "internal error"
    (and, at exit, a traceback). Now: one error line naming the cause, exit 2, whichever
    way the command writes (rich tables, JSON, help, raw bytes), buffered or not."""
    import os
    import subprocess
    import sys

    repo.commit_agent("support", AGENT, "add support")
    for unbuffered in ("1", ""):
        env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
        for args in (["list"], ["list", "--json"], ["--help"], ["show", "support"]):
            with open("/dev/full", "w") as full:
                proc = subprocess.run(
                    [sys.executable, "-m", "agentver", *args],
                    cwd=repo.path,
                    stdout=full,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    check=False,
                )
            assert proc.returncode == 2, (args, proc.stderr)
            assert "Traceback" not in proc.stderr, (args, proc.stderr)
            errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
            assert errors == ["error: could not write output: No space left on device"], (
                args,
                proc.stderr,
            )
