"""`agentver eval`: runs a suite through a real HTTP provider, stores, reuses, reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Repo, RunCli
from fake_llm_server import FakeLLMServer

import agentver.cli.eval_cmd  # noqa: F401  (registers `eval` until commands.py imports it)

SUPPORT_V1 = {
    "model": "gpt-4o",
    "system_prompt": "You are Acme support.\nBilling: you may issue refunds for double charges.\n",
    "temperature": 0.2,
}
SUPPORT_NO_BILLING = {
    "model": "gpt-4o",
    "system_prompt": "You are Acme support.\nKeep answers short.\n",
    "temperature": 0.2,
}
SUITE = """\
cases:
  - id: billing-refund
    input: "I was charged twice. Can I get a refund?"
    golden: "I have issued a refund of the duplicate charge to your card."
    weight: 2
    repeat: 2
    assert:
      - contains: refund
      - not_contains: "can't help"
      - judge: {rubric: "Refunds the double charge", threshold: 0.8}
  - id: greeting
    input: "hello there"
    assert:
      - regex: "(?i)hello"
      - max_latency_ms: 5000
"""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def settings(base_url: str, **extra: Any) -> str:
    provider: dict[str, Any] = {"base_url": base_url, "retries": 0, "timeout": 10}
    provider.update(extra.pop("provider", {}))
    return yaml.safe_dump({"providers": {"fake": provider}, **extra}, sort_keys=False)


def setup_repo(repo: Repo, server: FakeLLMServer, **extra: Any) -> None:
    repo.write("agentver.yaml", settings(server.base_url, **extra))
    repo.write("evals/support.yaml", SUITE)
    repo.commit("settings and suite")
    repo.commit_agent("support", SUPPORT_V1, "support agent")


def eval_json(run_cli: RunCli, repo: Repo, *args: str) -> dict[str, Any]:
    code, out, err = run_cli("eval", "support", *args, "--json", cwd=repo.path)
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)  # stdout is exactly one JSON document
    return document


def agent_requests(server: FakeLLMServer) -> int:
    """Requests answering as the agent (the judge's are not counted)."""
    return server.count(lambda r: "impartial" not in r["body"]["messages"][0]["content"])


def test_eval_runs_stores_and_prints_table(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    code, out, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 0, err
    assert "evaluating candidate support v1 (latest" in err
    assert "2 cases, 3 runs via fake" in err
    for column in ("case", "weight", "pass rate", "pass^N", "score", "details"):
        assert column in out
    assert "billing-refund" in out and "2/2 (100%)" in out and "pass^2 yes" in out
    assert "suite score 1.000 (2 cases, 0 failing)" in out
    assert "no baseline" in out
    stored = list((repo.path / ".agentver" / "evals" / "support").glob("*.json"))
    assert len(stored) == 1
    document = json.loads(stored[0].read_text(encoding="utf-8"))
    assert document["config_hash"] == stored[0].name.split(".")[0]
    assert document["score"] == 1.0 and document["passed"] is True
    assert agent_requests(server) == 3  # 2 repeats + 1
    assert server.count() == 5  # plus one judge call per billing run


def test_second_run_reuses_and_force_runs_again(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    assert run_cli("eval", "support", cwd=repo.path).exit_code == 0
    before = server.count()
    code, out, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 0, err
    assert "reused stored result .agentver/evals/support/" in out
    assert "evaluating" not in err
    assert server.count() == before  # no model call at all
    code, out, err = run_cli("eval", "support", "--force", cwd=repo.path)
    assert code == 0, err
    assert "evaluating candidate" in err and "reused" not in out
    assert server.count() == before + 5


def test_json_shape_with_baseline_and_gate(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server, gate={"min_score": 0.9, "not_worse_than": "active"})
    first = eval_json(run_cli, repo)
    assert set(first) == {"agent", "candidate", "baseline", "gate"}
    assert first["agent"] == "support"
    assert first["baseline"] is None  # nothing deployed yet
    candidate = first["candidate"]
    assert candidate["ref"] == "latest" and candidate["version"] == 1
    assert candidate["reused"] is False
    assert candidate["path"].startswith(".agentver/evals/support/")
    assert (repo.path / candidate["path"]).is_file()
    for key in ("config_hash", "suite_hash", "settings_hash", "score", "passed", "cases"):
        assert key in candidate
    assert [c["id"] for c in candidate["cases"]] == ["billing-refund", "greeting"]
    assert first["gate"]["passed"] is True

    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 0, err
    repo.commit_agent("support", SUPPORT_NO_BILLING, "shorter prompt")
    second = eval_json(run_cli, repo)
    assert second["candidate"]["version"] == 2
    assert second["baseline"]["ref"] == "active" and second["baseline"]["version"] == 1
    assert second["baseline"]["reused"] is True
    refund = second["candidate"]["cases"][0]
    assert refund["passed"] is False and refund["pass_rate"] == 0.0
    assert refund["details"].startswith("run 1: contains:")
    assert second["candidate"]["score"] == pytest.approx(1 / 3, abs=1e-6)
    assert second["gate"]["passed"] is False
    assert "failing: billing-refund" in second["gate"]["message"]

    # An explicit candidate and `--baseline none`.
    third = eval_json(run_cli, repo, "v1", "--baseline", "none")
    assert third["candidate"]["version"] == 1 and third["baseline"] is None
    assert third["candidate"]["reused"] is True


def test_default_candidate_is_worktree_when_edited(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    repo.write("agents/support.yaml", yaml.safe_dump(SUPPORT_NO_BILLING))
    document = eval_json(run_cli, repo)
    assert document["candidate"]["ref"] == "worktree"
    assert document["candidate"]["version"] is None
    assert document["candidate"]["score"] < 1.0
    # Only reformatting the file (same config_hash) is not an edit: latest again.
    repo.write("agents/support.yaml", "# comment\n" + yaml.safe_dump(SUPPORT_V1))
    assert eval_json(run_cli, repo)["candidate"]["ref"] == "latest"


def test_no_gate_means_gate_null(repo: Repo, server: FakeLLMServer, run_cli: RunCli) -> None:
    setup_repo(repo, server)
    assert eval_json(run_cli, repo)["gate"] is None


def test_provider_down_is_exit_2_one_error_line(repo: Repo, run_cli: RunCli) -> None:
    with FakeLLMServer() as dead:
        base_url = dead.base_url  # a port nothing listens on once stopped
    repo.write("agentver.yaml", settings(base_url))
    repo.write("evals/support.yaml", SUITE)
    repo.commit_agent("support", SUPPORT_V1, "support agent")
    code, out, err = run_cli("eval", "support", "--json", cwd=repo.path)
    assert code == 2
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "provider fake" in errors[0] and "cannot connect" in errors[0]
    assert "Traceback" not in err
    assert not (repo.path / ".agentver" / "evals" / "support").exists()


def test_provider_timeout_is_exit_2(repo: Repo, server: FakeLLMServer, run_cli: RunCli) -> None:
    repo.write("agentver.yaml", settings(server.base_url, provider={"timeout": 0.3}))
    repo.write(
        "evals/support.yaml",
        "cases:\n  - id: slow\n    input: '[sleep 1] hi'\n    assert: [{contains: hi}]\n",
    )
    repo.commit_agent("support", SUPPORT_V1, "support agent")
    code, _, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 2
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: provider fake ({server.base_url}/chat/completions): timed out after 0.3s"
    ]


def test_missing_api_key_names_variable_and_never_prints_key(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server, provider={"api_key_env": "FAKE_LLM_KEY"})
    code, _, err = run_cli("eval", "support", cwd=repo.path, env={"FAKE_LLM_KEY": None})
    assert code == 2
    assert "FAKE_LLM_KEY is not set" in err
    server.api_key = "sk-right"
    code, _, err = run_cli("eval", "support", cwd=repo.path, env={"FAKE_LLM_KEY": "sk-wrong-123"})
    assert code == 2
    assert "HTTP 401" in err and "sk-wrong-123" not in err and "***" in err


def test_missing_suite_and_bad_reference_are_exit_2(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    repo.write("agentver.yaml", settings(server.base_url))
    repo.commit_agent("support", SUPPORT_V1, "support agent")
    code, _, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 2 and "evals/support.yaml does not exist" in err
    repo.write("evals/support.yaml", SUITE)
    code, _, err = run_cli("eval", "support", "v9", cwd=repo.path)
    assert code == 2 and "error: support has no version 9" in err
    code, _, err = run_cli("eval", "support", "--baseline", "active", cwd=repo.path)
    assert code == 2 and "nothing is deployed" in err  # asked for explicitly: must exist
    assert server.count() == 0


def test_gate_baseline_other_than_shown_baseline_is_evaluated(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server, gate={"not_worse_than": "v1"})
    repo.commit_agent("support", SUPPORT_NO_BILLING, "v2")
    document = eval_json(run_cli, repo, "--baseline", "none")
    assert document["baseline"] is None
    gate = document["gate"]
    assert gate["passed"] is False
    assert "worse than v1 (1.000)" in gate["message"]


def test_suite_file_path_helper_rejects_bad_agent_id(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", SUPPORT_V1, "support agent")
    code, _, err = run_cli("eval", "../etc", cwd=repo.path)
    assert code == 2 and "invalid agent id" in err
    assert not Path(repo.path.parent / "etc.yaml").exists()
