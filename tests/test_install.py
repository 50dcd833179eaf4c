"""Install as a user would: ``python -m build`` makes an sdist and a wheel (the wheel is
built from the sdist, so a file missing from the sdist breaks it), the wheel goes into a
fresh virtual environment (dependencies from the machine's package index), and the
installed ``agentver`` runs ``demo`` and the README's runtime snippet from outside the
source tree. The slowest test of the suite (about half a minute) and the only proof that
the published artifacts work."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Captured before the autouse fixture swaps HOME: pip's download cache stays warm.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
_SKIP_COPY = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
)


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PIP_CACHE_DIR": PIP_CACHE, **env}
    full_env.pop("PYTHONPATH", None)
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("src") / "agentver"
    shutil.copytree(ROOT, source, ignore=_SKIP_COPY)
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], source)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_build_makes_a_complete_sdist_and_wheel(dist: Path) -> None:
    [sdist] = dist.glob("agentver-*.tar.gz")
    [wheel] = dist.glob("agentver-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
        assert "agentver = agentver.cli.entry:main" in archive.read(entry_points).decode()
    for packaged in ("schemas/agent.schema.json", "schemas/eval.schema.json", "py.typed"):
        assert f"agentver/{packaged}" in names, packaged
    assert not any(name.startswith("tests/") for name in names)
    assert "Requires-Dist: deepdiff>=8.1" in metadata
    assert "gitpython" not in metadata.lower()  # git is driven through its CLI
    with tarfile.open(sdist) as archive:
        members = {Path(m).relative_to(Path(m).parts[0]).as_posix() for m in archive.getnames()}
    assert {"pyproject.toml", "README.md", "agentver/schemas/agent.schema.json"} <= members


def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = _run([str(python), "-m", "pip", "install", "-q", str(wheel)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    where = _run([str(python), "-c", "import agentver; print(agentver.__file__)"], tmp_path)
    assert str(env_dir) in where.stdout, where  # the installed copy, not the source tree

    demo = tmp_path / "story"
    proc = _run([str(env_dir / "bin" / "agentver"), "demo", str(demo)], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "rollback" in proc.stdout and (demo / ".agentver" / "runtime.db").is_file()

    snippet = (
        "from agentver.runtime import RuntimeClient\n"
        "with RuntimeClient('sqlite:///.agentver/runtime.db', environment='production') as c:\n"
        "    config = c.resolve('support', 'alice')\n"
        "print(config.agent, config.variant, config.version >= 1)\n"
    )
    proc = _run([str(python), "-c", snippet], demo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == "support" and proc.stdout.split()[2] == "True"


def _lowest_versions_module() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("lowest", ROOT / "scripts" / "lowest_versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lowest_versions_pins_every_lower_bound() -> None:
    lowest: object = _lowest_versions_module()
    pins = lowest.lowest_pins(["typer>=0.29,<0.30", "rich>=13.8", "psycopg[binary]>=3.1"])  # type: ignore[attr-defined]
    assert pins == ["typer==0.29", "rich==13.8", "psycopg==3.1"]
    with pytest.raises(ValueError, match="no single >= lower bound"):
        lowest.lowest_pins(["deepdiff"])  # type: ignore[attr-defined]
    project = lowest.project_table()  # type: ignore[attr-defined]
    assert lowest.lowest_pins(project["dependencies"])  # type: ignore[attr-defined]
    # CI runs it after the main suite; every test file it names exists.
    assert "scripts/lowest_versions.py" in (ROOT / ".ci" / "run").read_text("utf-8")
    for test in lowest.TESTS:  # type: ignore[attr-defined]
        assert (ROOT / test).is_file(), test
