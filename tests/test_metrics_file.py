"""The ``--metrics FILE`` of ``canary evaluate`` goes through the hardened loader
(issue 14): hostile files are one ``error:`` line and exit 2, never a traceback, an
internal error or a hang; ``agentver validate`` reports the same problems first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentver.canary.metrics import parse_metrics, read_metrics
from agentver.errors import AgentverError
from tests.conftest import Repo, RunCli
from tests.test_canary_evaluate import setup_canary

BIG = 10**400
INT64_MAX = 2**63 - 1


def arms(stable: object, canary: object) -> str:
    return json.dumps({"stable": stable, "canary": canary})


HOSTILE = [
    # (file content, words in the error)
    (
        '{"stable": {"requests": 1e400, "errors": 0}, "canary": {"requests": 1, "errors": 0}}',
        ["stable.requests: 1e400 is not a finite number", ":1:25:"],
    ),
    (
        '{"stable": {"requests": NaN, "errors": 0}, "canary": {"requests": 1, "errors": 0}}',
        ["stable.requests: NaN is not a finite number"],
    ),
    (
        '{"stable": {"requests": 5, "errors": -Infinity}, "canary": {"requests": 1, "errors": 0}}',
        ["-Infinity is not a finite number"],
    ),
    (
        arms({"requests": -4, "errors": 0}, {"requests": 1, "errors": 0}),
        ["stable.requests must be a non-negative integer, got -4"],
    ),
    (
        arms({"requests": 4, "errors": 5}, {"requests": 1, "errors": 0}),
        ["stable.errors (5) exceeds stable.requests (4)"],
    ),
    (
        arms({"requests": True, "errors": 0}, {"requests": 1, "errors": 0}),
        ["stable.requests must be a non-negative integer, got true"],
    ),
    (
        arms({"requests": 4, "errors": False}, {"requests": 1, "errors": 0}),
        ["stable.errors must be a non-negative integer, got false"],
    ),
    # beyond 64 bits: the statistics used to raise OverflowError / ZeroDivisionError
    (
        arms({"requests": 100_000, "errors": 5}, {"requests": BIG, "errors": 3 * 10**399}),
        ["canary.requests must be at most 2**63-1", "401-digit"],
    ),
    (
        arms({"requests": BIG, "errors": 5}, {"requests": BIG, "errors": 3}),
        ["stable.requests must be at most 2**63-1"],
    ),
    (
        arms({"requests": INT64_MAX + 1, "errors": 0}, {"requests": 1, "errors": 0}),
        ["stable.requests must be at most 2**63-1"],
    ),
    (
        '{"stable": {"requests": 1' + "0" * 5000 + ', "errors": 0}, "canary": {}}',
        ["is too large to read"],
    ),
    (
        arms(
            {"requests": 9, "errors": 0, "scored": 2, "score_sum": 1e300},
            {"requests": 1, "errors": 0},
        ),
        ["stable.score_sum must be a number from 0 to stable.scored (2)"],
    ),
    (
        arms(
            {"requests": 9, "errors": 0, "scored": None, "score_sum": 1},
            {"requests": 1, "errors": 0},
        ),
        ["stable.scored must be a non-negative integer, got null"],
    ),
    (
        '{"stable": {"requests": 1, "requests": 2, "errors": 0}, "canary": {}}',
        ["duplicate key 'requests'", ":1:28:"],
    ),
    ("[" * 70 + "]" * 70, ["nests deeper than 64 levels"]),
    ("[" * 100_000, ["nests deeper than 64 levels"]),
    ("[" + "0," * 150_000 + "0]", ["more than 100,000 values"]),
    # YAML is not JSON: an alias bomb is refused by the parser at once
    ('a: &a ["lol","lol"]\nb: [*a,*a]\n', ["not valid JSON"]),
    ('<<<<<<< ours\n{"stable": {}}\n=======\n{}\n>>>>>>> theirs\n', ["merge conflict"]),
    ('{"stable": {"requests": 1, "errors": 0}}\x00', ["NUL byte"]),
]


@pytest.mark.parametrize(("text", "words"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_metrics_are_one_error_line_exit_2(
    repo: Repo, run_cli: RunCli, tmp_path: Path, text: str, words: list[str]
) -> None:
    setup_canary(repo, run_cli)
    path = tmp_path / "metrics.json"
    path.write_text(text)
    code, out, err = run_cli("canary", "evaluate", "support", "--metrics", str(path), cwd=repo.path)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith(f"error: {path}:") and "internal error" not in err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    # validate reports it first, located, as a finding (exit 1)
    code, out, err = run_cli("validate", "--metrics", str(path), cwd=repo.path)
    assert code == 1, (out, err)
    assert words[0] in out and str(path) in out
    assert "Traceback" not in err


def test_invalid_utf8_and_huge_file(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"stable": {"note": "\xff"}}')
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (3 * 1024 * 1024) + b"{}")
    for path, words in ((bad, "not valid UTF-8"), (huge, "3,145,730 bytes; the limit is")):
        code, _, err = run_cli(
            "canary", "evaluate", "support", "--metrics", str(path), cwd=repo.path
        )
        assert code == 2 and words in err and err.count("\n") == 1, err


def test_a_fifo_is_refused_without_blocking(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    """A FIFO with no writer used to block `canary evaluate` (and validate) forever."""
    setup_canary(repo, run_cli)
    fifo = tmp_path / "metrics.json"
    os.mkfifo(fifo)
    for args in (
        ("canary", "evaluate", "support", "--metrics", str(fifo)),
        ("validate", "--metrics", str(fifo)),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "agentver", *args],
            cwd=repo.path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == (1 if args[0] == "validate" else 2), proc.stderr
        assert "not a regular file" in proc.stderr + proc.stdout
        assert "Traceback" not in proc.stderr


def test_unreadable_directory_and_missing(repo: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    setup_canary(repo, run_cli)
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)  # ELOOP: unreadable for root too
    folder = tmp_path / "folder.json"
    folder.mkdir()
    for path, words in ((loop, "cannot read"), (folder, "is a directory")):
        code, _, err = run_cli(
            "canary", "evaluate", "support", "--metrics", str(path), cwd=repo.path
        )
        assert code == 2 and words in err and "Traceback" not in err, err
        code, out, err = run_cli("validate", "--metrics", str(path), cwd=repo.path)
        assert code == 1 and words in out, (out, err)  # a finding: the file is unusable
        with pytest.raises(AgentverError, match=words):
            read_metrics(path)
    missing = tmp_path / "nope.json"
    code, _, err = run_cli(
        "canary", "evaluate", "support", "--metrics", str(missing), cwd=repo.path
    )
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli("validate", "--metrics", str(missing), cwd=repo.path)
    assert code == 2 and "no such file" in err


def test_valid_json_means_what_the_standard_says() -> None:
    """What json.loads accepts still parses: compact separators, tabs, a BOM, surrogate
    escapes in an ignored key (json.dumps writes an emoji so), 64-bit counts."""
    good = {"stable": {"requests": INT64_MAX, "errors": 1}, "canary": {"requests": 5, "errors": 0}}
    compact = json.dumps({**good, "note": "\U0001f680"}, separators=(",", ":"))
    assert "\\ud83d" in compact
    tabbed = json.dumps(good, indent="\t")
    for text in (compact, tabbed, "\ufeff" + compact):
        stable, canary = parse_metrics(text.encode("utf-8"), "m.json")
        assert (stable.requests, canary.requests) == (INT64_MAX, 5)
