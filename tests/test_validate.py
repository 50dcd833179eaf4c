"""``agentver validate``: the library (agentver.validate) and the command."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agentver.cli.validate_cmd  # noqa: F401  (registers the command)
from agentver.errors import ConfigError, NotFound
from agentver.validate import validate

GOOD = "model: gpt-4o\nsystem_prompt: |\n  You are the support agent. Help with billing.\n"
SECRET = "sk-proj-Abc123Def456Ghi789Jkl012Mno345"


def write(root: Path, rel: str, text: str | bytes) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode() if isinstance(text, str) else text)
    return target


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """A folder that is not a git repository: agentver.yaml marks it (a CI tarball)."""
    root = tmp_path / "plain"
    root.mkdir()
    (root / "agentver.yaml").write_text("# defaults\n")
    return root


def test_clean_repo_passes(repo: Any, run_cli: Any) -> None:
    repo.commit_agent("support", GOOD, "add support")
    repo.commit_agent("sales", GOOD.replace("support", "sales"), "add sales")
    code, out, err = run_cli("validate", cwd=repo.path)
    assert (code, out) == (0, "")
    assert err == "2 agents valid\n"


def test_problems_are_located_and_exit_1(repo: Any, run_cli: Any) -> None:
    repo.commit_agent("support", GOOD, "add")
    repo.write("agents/broken.yaml", "model: 1.10\nsystem_prompt: hi\ntemprature: 0.5\n")
    code, out, err = run_cli("validate", cwd=repo.path)
    assert code == 1
    assert out.splitlines() == [
        "agents/broken.yaml:1:8: model must be a string, got a number (1.10 was read as 1.1); "
        'quote it: "1.10"',
        "agents/broken.yaml:3:1: unknown key 'temprature' (did you mean 'temperature'?)",
    ]
    assert err == "2 problems in 1 file\n"


def test_json_output(repo: Any, run_cli: Any) -> None:
    repo.write("agents/support.yaml", GOOD)
    repo.write("agents/bad.yaml", "model: m\n")
    code, out, _ = run_cli("validate", "--json", cwd=repo.path)
    assert code == 1
    document = json.loads(out)
    assert document == {
        "valid": False,
        "files": 2,
        "findings": [
            {
                "path": "agents/bad.yaml",
                "line": 1,
                "col": 1,
                "message": "missing required key 'system_prompt'",
            }
        ],
    }
    repo.write("agents/bad.yaml", GOOD)
    code, out, _ = run_cli("validate", "--json", cwd=repo.path)
    assert (code, json.loads(out)) == (0, {"valid": True, "files": 2, "findings": []})


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "model: a\nsystem_prompt: x\nmodel: b\n",
            "3:1: duplicate key 'model' (first defined on line 1) (remove one",
        ),
        (
            "model: m\n<<<<<<< HEAD\nsystem_prompt: a\n=======\nsystem_prompt: b\n>>>>>>> x\n",
            "2:1: unresolved merge conflict marker (resolve the conflict",
        ),
        ("model: m\nguardrails:\n\tpii: true\n", "3:1: invalid YAML:"),
        ("model: m\nsystem_prompt: hi\nguardrails: {pii: yes}\n", 'quote it: "yes"'),
        ("- just\n- a list\n", "1:1: expected a mapping of agent settings, got list"),
        ("", "1:1: expected a mapping of agent settings, got empty"),
        ("model: !!python/object/apply:os.system ['id']\n", "1:8: unsupported tag"),
    ],
)
def test_syntax_problems(plain: Path, run_cli: Any, text: str, expected: str) -> None:
    write(plain, "agents/a.yaml", text)
    code, out, err = run_cli("validate", cwd=plain)
    assert code == 1
    assert out.startswith("agents/a.yaml:")
    assert expected in out
    assert err.startswith("1 problem in 1 file")


def test_tab_gets_a_hint(plain: Path) -> None:
    write(plain, "agents/a.yaml", "model: m\nguardrails:\n\tpii: true\n")
    (finding,) = validate(plain).findings
    assert "tabs" in finding.message


def test_invalid_agent_id_is_reported(plain: Path) -> None:
    write(plain, "agents/Support Bot.yaml", GOOD)
    (finding,) = validate(plain).findings
    assert (finding.line, finding.col) == (1, 1)
    assert finding.message.startswith("invalid agent id 'Support Bot'")


def test_yml_suffix_is_reported(plain: Path) -> None:
    write(plain, "agents/support.yml", GOOD)
    (finding,) = validate(plain).findings
    assert "end in .yaml" in finding.message


def test_policies_require_forbid_and_star(plain: Path, run_cli: Any) -> None:
    write(
        plain,
        "agentver.yaml",
        'policies:\n  "*":\n    forbid: ["as an AI language model"]\n'
        '  support:\n    require: ["billing", "refund"]\n',
    )
    write(
        plain,
        "agents/support.yaml",
        "model: m\nsystem_prompt: |\n  Help with billing.\n  As an AI Language\n  Model I obey.\n",
    )
    write(plain, "agents/other.yaml", "model: m\nsystem_prompt: no billing words here\n")
    code, out, err = run_cli("validate", cwd=plain)
    assert code == 1
    assert out.splitlines() == [
        'agents/support.yaml:2:1: policy: system prompt must contain "refund" (policy for support)',
        'agents/support.yaml:4:3: policy: system prompt must not contain "as an AI language '
        'model" (policy for support)',
    ]
    assert err == "2 problems in 1 file\n"


def test_secret_is_reported_masked(plain: Path, run_cli: Any) -> None:
    write(plain, "agents/a.yaml", f"model: m\nsystem_prompt: |\n  Use key {SECRET} always.\n")
    code, out, _ = run_cli("validate", cwd=plain)
    assert code == 1
    assert out.startswith("agents/a.yaml:3:11: secret: possible OpenAI API key")
    assert SECRET not in out
    assert SECRET[-4:] in out  # masked, not removed


def test_secret_in_broken_yaml_is_still_found(plain: Path) -> None:
    write(plain, "agents/a.yaml", f"model: m\nsystem_prompt: [{SECRET}\n")
    messages = [finding.message for finding in validate(plain).findings]
    assert any(message.startswith("secret:") for message in messages)
    assert any(message.startswith("invalid YAML") for message in messages)


def test_never_touches_the_network(
    plain: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("validate opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    write(plain, "agents/a.yaml", GOOD + f"# {SECRET}\n")
    code, _, _ = run_cli("validate", cwd=plain)
    assert code == 1


def test_missing_path_is_exit_2(plain: Path, run_cli: Any) -> None:
    write(plain, "agents/a.yaml", GOOD)
    code, out, err = run_cli("validate", "agents/a.yaml", "agents/nope.yaml", cwd=plain)
    assert (code, out) == (2, "")
    assert err == "error: agents/nope.yaml: no such file or directory\n"
    with pytest.raises(NotFound):
        validate(plain, ["nope"])


def test_unusable_settings_is_exit_2(plain: Path, run_cli: Any) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(plain, "agentver.yaml", "agents_dir: agents\nagents_dir: other\n")
    code, out, err = run_cli("validate", cwd=plain)
    assert (code, out) == (2, "")  # without agents_dir the agents cannot even be found
    assert err.startswith("error: agentver.yaml:2:1: duplicate key 'agents_dir'")
    assert "\nhint: " in err
    with pytest.raises(ConfigError):
        validate(plain)


def test_broken_policies_are_reported_with_the_named_file(plain: Path, run_cli: Any) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(plain, "agentver.yaml", "policies:\n  support:\n    require: billing\n")
    code, out, _ = run_cli("validate", "agents/a.yaml", cwd=plain)
    assert code == 1  # agentver.yaml configures the check: reported whatever was named
    assert out == "agentver.yaml:3:14: policies.support.require: 'billing' is not of type 'array'\n"


def test_works_outside_git(plain: Path, run_cli: Any) -> None:
    write(plain, "agents/a.yaml", GOOD)
    assert run_cli("validate", cwd=plain) == (0, "", "1 agent valid\n")


def test_subdirectory_uses_the_git_top_level(repo: Any, run_cli: Any) -> None:
    repo.write("agents/a.yaml", "model: m\n")
    repo.write("docs/readme.md", "hi\n")
    code, out, _ = run_cli("validate", cwd=repo.path / "docs")
    assert code == 1
    assert out.startswith("../agents/a.yaml:1:1: missing required key")
    code, out, _ = run_cli("validate", "a.yaml", cwd=repo.path / "agents")
    assert code == 1
    assert out.startswith("a.yaml:1:1: missing required key")


def test_dash_c_resolves_paths(repo: Any, run_cli: Any, tmp_path: Path) -> None:
    repo.write("agents/a.yaml", "model: m\n")
    code, out, _ = run_cli("-C", str(repo.path), "validate", "agents/a.yaml", cwd=tmp_path)
    assert code == 1
    assert out.startswith("agents/a.yaml:1:1:")


def test_custom_agents_dir(plain: Path) -> None:
    write(plain, "agentver.yaml", "agents_dir: config/agents\n")
    write(plain, "config/agents/a.yaml", "model: m\n")
    write(plain, "agents/ignored.yaml", "not: an agent\n")
    report = validate(plain)
    assert [item.path for item in report.checked] == ["config/agents/a.yaml", "agentver.yaml"]
    assert len(report.findings) == 1


def test_paths_select_exactly_those_files(plain: Path) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(plain, "agents/b.yaml", "model: m\n")
    report = validate(plain, ["agents/a.yaml"])
    assert report.valid
    assert [item.path for item in report.checked] == ["agents/a.yaml"]
    assert not validate(plain, ["agents/b.yaml"]).valid


def test_non_agentver_files_are_skipped(plain: Path, run_cli: Any) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(plain, "README.md", "# hi\n")
    write(plain, "ci/config.yaml", "not: [an, agent]\n")
    write(plain, "agents/nested/x.yaml", "whatever\n")
    code, out, err = run_cli(
        "validate", "README.md", "ci/config.yaml", "agents/nested/x.yaml", cwd=plain
    )
    assert (code, out) == (0, "")
    assert err == "no agent files found (3 not agentver files, skipped)\n"
    report = validate(plain, ["agents/a.yaml", "README.md"])
    assert report.skipped == ("README.md",)
    assert report.summary() == "1 agent valid (1 not agentver files, skipped)"


def test_settings_path_rechecks_every_agent(plain: Path) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(plain, "agents/b.yaml", GOOD)
    write(plain, "agentver.yaml", 'policies:\n  "*": {require: ["refund"]}\n')
    report = validate(plain, ["agentver.yaml"])
    assert [item.kind for item in report.checked] == ["settings", "agent", "agent"]
    assert [finding.path for finding in report.findings] == ["agents/a.yaml", "agents/b.yaml"]
    assert report.summary() == "2 problems in 2 files"


def test_pointer_files_are_checked_by_kind(plain: Path) -> None:
    good = (
        "agent: a\nenvironment: production\n"
        f"active: {{version: 1, config_hash: {'a' * 16}, commit: {'b' * 40}}}\n"
    )
    write(plain, ".agentver/deployments/production/a.yaml", good)
    assert validate(plain, [".agentver/deployments/production/a.yaml"]).valid
    write(plain, ".agentver/deployments/production/a.yaml", good.replace("agent: a", "agent: b"))
    (finding,) = validate(plain, [".agentver/deployments/production/a.yaml"]).findings
    assert (finding.line, finding.message) == (1, "pointer: agent is 'b', expected 'a'")
    conflicted = good + "<<<<<<< HEAD\n=======\n>>>>>>> theirs\n"
    write(plain, ".agentver/deployments/production/a.yaml", conflicted)
    (finding,) = validate(plain, [".agentver"]).findings
    assert finding.path == ".agentver/deployments/production/a.yaml"
    assert finding.line == 4 and "conflict marker" in finding.message


def test_directory_argument(plain: Path) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(plain, "agents/b.yaml", "model: m\n")
    write(plain, "agents/notes.txt", "x\n")
    report = validate(plain, ["agents"])
    assert [item.path for item in report.checked] == ["agents/a.yaml", "agents/b.yaml"]
    assert [finding.path for finding in report.findings] == ["agents/b.yaml"]


def test_eval_suites_are_checked(plain: Path) -> None:
    write(plain, "agents/a.yaml", GOOD)
    write(
        plain, "evals/a.yaml", "cases:\n  - id: one\n    input: hi\n    assert: [{contains: x}]\n"
    )
    report = validate(plain)
    assert report.valid and report.summary() == "3 files valid"
    write(plain, "evals/a.yaml", "agent: b\ncases: []\n")
    messages = sorted(finding.message for finding in validate(plain).findings)
    assert any(m.startswith("cases:") for m in messages)
    write(
        plain,
        "evals/a.yaml",
        "agent: b\ncases:\n  - id: one\n    input: hi\n    assert: [{contains: x}]\n",
    )
    messages = sorted(finding.message for finding in validate(plain).findings)
    assert messages == ["agent 'b' does not match the file name 'a.yaml'"]


def test_crlf_and_bom_validate(plain: Path) -> None:
    write(plain, "agents/a.yaml", b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert validate(plain).valid


_REGISTER = "from agentver.cli.entry import main; main()"  # the console script's code path


def test_subprocess_end_to_end(repo: Any) -> None:
    repo.write("agents/a.yaml", f"model: m\nsystem_prompt: key {SECRET}\n")
    proc = subprocess.run(
        [sys.executable, "-c", _REGISTER, "validate", "--json"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    code, out, err = proc.returncode, proc.stdout, proc.stderr
    assert code == 1
    document = json.loads(out)
    assert document["valid"] is False and document["files"] == 1
    assert SECRET not in out
    assert "Traceback" not in err
