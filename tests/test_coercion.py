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


def _samples(annotation: object) -> list[object]:
    import enum
    from pathlib import Path

    if annotation is int:
        return ["3", "-1", "0", "x", "1.5", "", 7]
    if annotation is bool:
        return ["true", "False", "yes", "off", "1", "maybe", True, False]
    if annotation is Path:
        return ["a/b", ".", Path("c")]
    if annotation == list[str]:
        return [("a", "b"), ["x"], ()]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [*(m.value for m in annotation), *(m.value.upper() for m in annotation), "bogus"]
    return ["x", "", "1", "é ü"]


def test_shortcut_agrees_with_typer_for_every_parameter() -> None:
    """Every command's parameters: the shortcut and Typer's own coercion give the same
    value, or both refuse. Runs on the lowest and the newest Typer (see .ci/run), so a
    Typer release in the allowed range that changes the semantics fails here."""
    import typer
    from conftest import load_gen_docs
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param
    from typer.core import _TyperParameter

    assert getattr(_TyperParameter.get_runtime_param, "_agentver", False), (
        f"the shortcut did not install on typer {typer.__version__}: agentver got slower"
    )
    compared = 0
    for path, command, ctx in load_gen_docs().walk_commands():
        for param in command.params:
            if not isinstance(param, _TyperParameter):
                continue
            ours = param.get_runtime_param()
            if type(ours).__name__ != "PlainParam":
                continue
            theirs = build_runtime_param(param.type_descriptor)
            assert type(theirs).__name__ != "PlainParam"
            for value in _samples(param.type_descriptor.annotation):
                outcomes = []
                for runtime in (ours, theirs):
                    try:
                        outcomes.append(("ok", runtime.coerce(value, param=param, ctx=ctx)))
                    except BadParameter:
                        outcomes.append(("refused", None))
                assert outcomes[0] == outcomes[1], (path, param.name, value, outcomes)
                compared += 1
    assert compared > 100


def test_unknown_typer_shape_patches_nothing() -> None:
    """A Typer whose internals differ (here: an extra dataclass field) is left alone."""
    import dataclasses

    from typer import _coercion
    from typer.core import _TyperParameter

    from agentver.cli import coercion

    @dataclasses.dataclass(frozen=True)
    class Changed(_coercion.RuntimeParam):  # type: ignore[misc]
        extra: int = 0

    assert coercion._shape_is_known(_coercion.RuntimeParam, _TyperParameter)
    assert not coercion._shape_is_known(Changed, _TyperParameter)
    assert not coercion._shape_is_known(None, _TyperParameter)

    class NoSlot:
        def get_runtime_param(self) -> None:
            return None

    assert not coercion._shape_is_known(_coercion.RuntimeParam, NoSlot)
