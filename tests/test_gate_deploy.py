"""The evaluation gate end to end: `deploy` and `canary start` refuse, `eval`, then allow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import Repo, RunCli
from fake_llm_server import FakeLLMServer

import agentver.cli.eval_cmd  # noqa: F401  (registers `eval` until commands.py imports it)

BILLING = "Billing: you have read access to invoices and may refund duplicate charges.\n"
V1 = {"model": "gpt-4o", "system_prompt": "You are Acme support.\n" + BILLING}
V2 = {"model": "gpt-4o", "system_prompt": "You are Acme support.\nKeep answers short.\n"}
V3 = {
    "model": "gpt-4o",
    "system_prompt": "You are Acme support.\nKeep answers short.\n" + BILLING,
}
SUITE = """\
cases:
  - id: billing-refund
    input: "I was charged twice this month. Can I get a refund?"
    golden: "I have issued a refund of the duplicate charge to your card."
    weight: 2
    assert:
      - contains: refund
        ignore_case: true
      - not_contains: "can't help"
      - judge: {rubric: "Resolves the double charge with a refund", threshold: 0.8}
  - id: greeting
    input: "hello there"
    assert: [{contains: hello}]
"""
GATE = {"min_score": 0.9, "not_worse_than": "active"}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def setup_repo(repo: Repo, server: FakeLLMServer, gate: Any = GATE) -> None:
    config: dict[str, Any] = {"providers": {"fake": {"base_url": server.base_url, "retries": 0}}}
    if gate is not None:
        config["gate"] = gate
    repo.write("agentver.yaml", yaml.safe_dump(config))
    repo.write("evals/support.yaml", SUITE)
    repo.commit("settings and suite")
    repo.commit_agent("support", V1, "support agent with billing access")


def pointer_log(repo: Repo) -> list[str]:
    return repo.git("log", "--format=%B%x00", "--", ".agentver/deployments").split("\0\n")[:-1]


def test_gate_refuses_unevaluated_then_allows_after_eval(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    head = repo.head()
    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 1
    assert "error: evaluation gate: no stored evaluation of support v1 (config_hash " in err
    assert "hint: run `agentver eval support v1`" in err
    assert repo.head() == head and pointer_log(repo) == []
    assert server.count() == 0  # the gate never calls a model

    assert run_cli("eval", "support", "v1", cwd=repo.path).exit_code == 0
    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 0, err
    assert pointer_log(repo) == ["agentver(production): deploy support v1\n"]


def test_canary_start_is_gated_too(repo: Repo, server: FakeLLMServer, run_cli: RunCli) -> None:
    setup_repo(repo, server)
    run_cli("eval", "support", "v1", cwd=repo.path)
    assert run_cli("deploy", "support", "v1", cwd=repo.path).exit_code == 0
    repo.commit_agent("support", V3, "reword")
    code, _, err = run_cli("canary", "start", "support", "v2", "--percent", "10", cwd=repo.path)
    assert code == 1 and "no stored evaluation of support v2" in err
    assert run_cli("eval", "support", cwd=repo.path).exit_code == 0
    code, _, err = run_cli("canary", "start", "support", "v2", "--percent", "10", cwd=repo.path)
    assert code == 0, err


def test_skip_gate_reason_goes_into_commit_message(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    code, _, err = run_cli(
        "deploy",
        "support",
        "v1",
        "--skip-gate",
        "--reason",
        "incident 42:\nprovider outage",
        cwd=repo.path,
    )
    assert code == 0, err
    assert pointer_log(repo) == [
        "agentver(production): deploy support v1 "
        "(evaluation gate skipped: incident 42: provider outage)\n"
    ]
    assert server.count() == 0


def test_skip_gate_without_reason_is_exit_2(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    for extra in ([], ["--reason", "  "]):
        code, _, err = run_cli("deploy", "support", "v1", "--skip-gate", *extra, cwd=repo.path)
        assert code == 2
        assert 'error: --skip-gate needs --reason "..."' in err
    code, _, err = run_cli("deploy", "support", "v1", "--reason", "why", cwd=repo.path)
    assert code == 2 and "--reason is only used with --skip-gate" in err
    assert pointer_log(repo) == []


def test_no_gate_deploys_without_evaluation(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server, gate=None)
    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 0, err


def test_gate_on_canary_with_no_canary_applies_min_score_only(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server, gate={"min_score": 0.5, "not_worse_than": "canary"})
    assert run_cli("eval", "support", "v1", cwd=repo.path).exit_code == 0
    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 0, err  # no canary to compare with: not "unknown canary" (exit 2)


def test_edited_suite_invalidates_stored_results(
    repo: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    setup_repo(repo, server)
    assert run_cli("eval", "support", "v1", cwd=repo.path).exit_code == 0
    repo.write("evals/support.yaml", SUITE.replace("weight: 2", "weight: 3"))
    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 1 and "evals/support.yaml has uncommitted changes" in err
    repo.commit("heavier billing case", "evals/support.yaml")
    code, _, err = run_cli("deploy", "support", "v1", cwd=repo.path)
    assert code == 1
    assert "stored results exist for an older suite or other provider settings" in err


def test_billing_story(repo: Repo, server: FakeLLMServer, run_cli: RunCli) -> None:
    """v2 loses the billing paragraph: the gate refuses it because the billing case
    failed; v3 puts the paragraph back and is deployed."""
    setup_repo(repo, server)
    assert run_cli("eval", "support", cwd=repo.path).exit_code == 0
    assert run_cli("deploy", "support", "v1", cwd=repo.path).exit_code == 0

    repo.commit_agent("support", V2, "shorter support prompt")
    code, out, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 0, err  # eval reports; the gate acts at deploy time
    assert "candidate: support v2 (latest)" in out and "baseline: support v1 (active)" in out
    refund_row = next(line for line in out.splitlines() if line.startswith("billing-refund"))
    assert "0/1 (0%)" in refund_row and "contains: 'refund' not found" in refund_row
    assert "gate refused: evaluation of support v2 scored 0.333" in out
    code, _, err = run_cli("deploy", "support", "v2", cwd=repo.path)
    assert code == 1
    assert err.startswith(
        "error: evaluation gate: evaluation of support v2 scored 0.333, "
        "below the gate's min_score 0.9; failing: billing-refund\n"
    )

    repo.commit_agent("support", V3, "restore the billing paragraph")
    code, out, err = run_cli("eval", "support", cwd=repo.path)
    assert code == 0, err
    assert "gate passed: evaluation of support v3 scored 1.000, not worse than active" in out
    code, _, err = run_cli("deploy", "support", "v3", cwd=repo.path)
    assert code == 0, err
    assert pointer_log(repo)[0] == "agentver(production): deploy support v3\n"
    code, out, _ = run_cli("canary", "status", "support", "--json", cwd=repo.path)
    assert '"active": 3' in out
