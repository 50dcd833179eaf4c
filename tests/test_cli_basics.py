"""The CLI's shell: version, help, -C, unknown commands and the error model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agentver
import agentver.cli.init_cmd  # registers the command
import agentver.cli.validate_cmd  # registers the command
from agentver.cli.app import app

# A real process with our commands registered even before commands.py imports them.
_MAIN = "from agentver.cli.entry import main; main()"  # the console script's code path


def test_version(run_cli: Any, run_agentver: Any) -> None:
    assert run_cli("--version") == (0, f"agentver {agentver.__version__}\n", "")
    code, out, _ = run_agentver("--version")
    assert (code, out) == (0, f"agentver {agentver.__version__}\n")


def test_help_lists_commands(run_cli: Any) -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    assert "Usage:" in out and "validate" in out and "init" in out and "-C" in out


def test_python_dash_m(run_agentver: Any) -> None:
    code, out, err = run_agentver("--help")
    assert code == 0, err
    assert out.startswith("Usage: ") and "-C PATH" in out


def test_no_arguments_shows_help(run_cli: Any) -> None:
    code, out, err = run_cli()
    assert code == 2  # like git: no command is a usage error, with the help on stderr
    assert "Usage:" in err and "validate" in err
    assert out == ""


def _command_paths() -> list[tuple[str, ...]]:
    import typer.main

    from agentver.cli.app import _register

    _register()
    paths: list[tuple[str, ...]] = []

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return paths


def test_every_command_has_help(run_cli: Any) -> None:
    paths = _command_paths()
    assert ("validate",) in paths and ("init",) in paths
    for path in paths:
        code, out, err = run_cli(*path, "--help")
        assert code == 0, (path, err)
        assert out.startswith("Usage: "), path
        summary = out.split("\n\n", 2)[1].strip() if "\n\n" in out else ""
        assert summary, f"{' '.join(path)} has no help text"


def test_dash_c_missing_dir_is_exit_2(run_cli: Any, tmp_path: Path) -> None:
    code, out, err = run_cli("-C", str(tmp_path / "missing"), "validate")
    assert (code, out) == (2, "")
    assert "is not a directory" in err
    assert "Traceback" not in err


def test_dash_c_runs_there(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text("model: m\nsystem_prompt: p\n")
    assert run_cli("-C", str(tmp_path), "validate") == (0, "", "1 agent valid\n")


def test_unknown_command_is_exit_2(run_cli: Any) -> None:
    code, out, err = run_cli("frobnicate")
    assert code == 2
    assert "No such command" in err
    assert out == ""


def test_unknown_option_is_exit_2(run_cli: Any) -> None:
    code, _, err = run_cli("validate", "--frobnicate")
    assert code == 2
    assert "--frobnicate" in err


def _broken_repo(tmp_path: Path) -> Path:
    (tmp_path / "agentver.yaml").write_text("agents_dir: a\nagents_dir: b\n")
    return tmp_path


def test_errors_are_one_line_plus_hint_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN, "validate"],
        cwd=_broken_repo(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("error: agentver.yaml:2:1: duplicate key 'agents_dir'")
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTVER_DEBUG", "1")
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN, "validate"],
        cwd=_broken_repo(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr
    assert "error: agentver.yaml:2:1: duplicate key" in proc.stderr
