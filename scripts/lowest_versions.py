"""Run the tests against the LOWEST dependency versions pyproject.toml allows.

Usage: python scripts/lowest_versions.py [--venv DIR] [PYTEST ARGS...]

Every runtime dependency ``name>=X`` is pinned to ``name==X`` in a constraints file; a
fresh virtual environment (on the oldest Python that ``requires-python`` allows, when
this machine has it, else this interpreter) gets agentver with those pins, and the
tests that exercise the dependencies (CLI, diff, coercion, hashing, history, validation)
run in it. A lower bound that is too low (``deepdiff>=7`` crashed on nested changes)
fails here. .ci/run calls this after the main suite.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The tests that exercise typer, rich, pyyaml, deepdiff and jsonschema; the store and
# reliability suites need no third-party code beyond the drivers and are left to the
# main run (which keeps .ci/run well under its time budget).
TESTS = [
    "tests/test_coercion.py",
    "tests/test_diff.py",
    "tests/test_cli_basics.py",
    "tests/test_cli_history.py",
    "tests/test_cli_manners.py",
    "tests/test_hashing.py",
    "tests/test_history.py",
    "tests/test_validate.py",
    "tests/test_config_loader.py",
    "tests/test_routing.py",
]
_LOWER = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def lowest_pins(requirements: list[str]) -> list[str]:
    """``["typer>=0.29,<0.30", "rich>=13.8"]`` -> ``["typer==0.29", "rich==13.8"]``.

    A requirement without a ``>=`` lower bound is an error: the lowest version would
    then be whatever the index happens to serve first, which tests nothing.
    """
    pins = []
    for requirement in requirements:
        match = _LOWER.match(requirement.split(";")[0])
        if match is None:
            raise ValueError(f"cannot read requirement {requirement!r}")
        name, _extras, spec = match.groups()
        lower = [
            part.strip()[2:].strip() for part in spec.split(",") if part.strip().startswith(">=")
        ]
        if len(lower) != 1:
            raise ValueError(f"{requirement!r} has no single >= lower bound")
        pins.append(f"{name}=={lower[0]}")
    return pins


def oldest_python(requires: str) -> str:
    """The oldest installed interpreter that ``requires-python`` (``>=3.X``) allows."""
    match = re.match(r">=\s*3\.(\d+)", requires)
    minor = int(match.group(1)) if match else sys.version_info.minor
    candidates = [shutil.which(f"python3.{minor}")]
    candidates += sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
    for candidate in candidates:
        if (
            candidate
            and subprocess.run([str(candidate), "--version"], capture_output=True).returncode == 0
        ):
            return str(candidate)
    return sys.executable


def project_table() -> dict[str, Any]:
    """``[project]`` of pyproject.toml (tomllib from 3.11; pip's vendored copy on 3.10)."""
    toml = importlib.import_module(
        "tomllib" if sys.version_info >= (3, 11) else "pip._vendor.tomli"
    )
    table: dict[str, Any] = toml.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv-lowest"))
    parser.add_argument("--print-pins", action="store_true", help="print the pins and stop")
    args, pytest_args = parser.parse_known_args(argv)
    project = project_table()
    pins = lowest_pins(project["dependencies"])
    if args.print_pins:
        print("\n".join(pins))
        return 0
    venv_dir = Path(args.venv)
    python = oldest_python(project.get("requires-python", ""))
    subprocess.run([python, "-m", "venv", "--clear", str(venv_dir)], check=True)
    constraints = venv_dir / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n", "utf-8")
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(
        [*pip, "-c", str(constraints), "-e", str(ROOT), "pytest", "hypothesis"], check=True
    )
    installed = subprocess.run(
        [str(venv_dir / "bin" / "python"), "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    for pin in pins:
        assert pin.lower().replace("_", "-") in installed.replace("_", "-"), f"{pin} not installed"
    print(f"lowest versions on {python}: " + ", ".join(pins), flush=True)
    tests = pytest_args or TESTS
    return subprocess.run(
        [str(venv_dir / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
