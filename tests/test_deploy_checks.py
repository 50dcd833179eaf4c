"""No deploy path around the checks (issue 14): rollback only goes back, the gate's
settings come from HEAD, an invalid version (policy) is refused like a failing gate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import Repo, RunCli
from fake_llm_server import FakeLLMServer

import agentver.cli.eval_cmd  # noqa: F401  (registers `eval` until commands.py imports it)

BILLING = "Billing: you have read access to invoices and may refund duplicate charges.\n"
WITH_BILLING = {"model": "gpt-4o", "system_prompt": "You are Acme support.\n" + BILLING}
NO_BILLING = {"model": "gpt-4o", "system_prompt": "You are Acme support.\nKeep answers short.\n"}
REWORDED = {"model": "gpt-4o", "system_prompt": "You are Acme support, be brief.\n" + BILLING}
SUITE = """\
cases:
  - id: billing-refund
    input: "I was charged twice this month. Can I get a refund?"
    assert: [{contains: refund, ignore_case: true}, {not_contains: "can't help"}]
  - id: greeting
    input: "hello there"
    assert: [{contains: hello}]
"""
GATE = {"min_score": 0.9, "not_worse_than": "active"}
POINTERS = ".agentver/deployments"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def settings_text(server: FakeLLMServer, **sections: Any) -> str:
    config: dict[str, Any] = {"providers": {"fake": {"base_url": server.base_url, "retries": 0}}}
    config.update(sections)
    return yaml.safe_dump(config)


@pytest.fixture
def gated(repo: Repo, server: FakeLLMServer, run_cli: RunCli) -> Repo:
    """A gate on support; v1 (billing) evaluated and active; v2 lost the billing
    paragraph and fails the gate (evaluated, stored); v2 never ran."""
    repo.write("agentver.yaml", settings_text(server, gate=GATE))
    repo.write("evals/support.yaml", SUITE)
    repo.commit("settings and suite")
    repo.commit_agent("support", WITH_BILLING, "support v1")
    assert run_cli("eval", "support", "v1", cwd=repo.path).exit_code == 0
    assert run_cli("deploy", "support", "v1", cwd=repo.path).exit_code == 0
    repo.commit_agent("support", NO_BILLING, "shorter prompt")
    assert run_cli("eval", "support", "v2", cwd=repo.path).exit_code == 0
    code, _, err = run_cli("deploy", "support", "v2", cwd=repo.path)
    assert code == 1 and "evaluation gate" in err  # the gate refuses v2
    return repo


def pointer_subjects(repo: Repo) -> list[str]:
    return repo.git("log", "--format=%s", "--", POINTERS).splitlines()


def refused(repo: Repo, run_cli: RunCli, *args: str, code: int = 1) -> str:
    """``args`` exits ``code`` with one error line and changes nothing at all."""
    head, status = repo.head(), repo.git("status", "--porcelain", "--untracked-files=all")
    result = run_cli(*args, cwd=repo.path)
    assert result.exit_code == code, result
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in result.stderr
    assert repo.head() == head
    assert repo.git("status", "--porcelain", "--untracked-files=all") == status
    return result.stderr


# -- rollback only goes back ------------------------------------------------------


@pytest.mark.parametrize("ref", ["latest", "2", "v2"])
def test_rollback_to_a_newer_never_run_version_is_refused(
    gated: Repo, run_cli: RunCli, ref: str
) -> None:
    err = refused(gated, run_cli, "rollback", "support", ref)
    assert "error: rollback only goes back: v1 is active in production and support v2 " in err
    assert "never ran there" in err
    assert "hint: to release a new version, deploy it (through the evaluation gate): " in err
    assert "agentver deploy support 2 --env production" in err


def test_rollback_skips_the_gate_going_back(
    gated: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    """The design card: v5 is out, `agentver rollback support 4` works at once, even
    when the gate would refuse v4 today (its stored results are for an older suite)."""
    gated.commit_agent("support", REWORDED, "v3 reworded, billing kept")
    assert run_cli("eval", "support", "v3", cwd=gated.path).exit_code == 0
    assert run_cli("deploy", "support", "v3", cwd=gated.path).exit_code == 0
    gated.write(
        "evals/support.yaml", SUITE + "  - id: bye\n    input: bye\n    assert: [{contains: bye}]\n"
    )
    gated.commit("one more case")
    refused(gated, run_cli, "deploy", "support", "1")  # the gate: stale results for v1
    requests = server.count()
    code, _, err = run_cli("rollback", "support", "1", cwd=gated.path)
    assert code == 0, err
    assert pointer_subjects(gated)[0] == "agentver(production): rollback support to v1"
    assert server.count() == requests  # going back never evaluates
    # v3 ran here before: going "forward" to it again is a rollback too.
    code, _, err = run_cli("rollback", "support", "3", cwd=gated.path)
    assert code == 0, err
    code, _, err = run_cli("rollback", "support", cwd=gated.path)  # previous: v1
    assert code == 0 and pointer_subjects(gated)[0].endswith("rollback support to v1"), err


# -- gate and policies from HEAD's committed agentver.yaml -------------------------


def test_deleting_the_gate_locally_does_not_open_it(
    gated: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    gated.write("agentver.yaml", settings_text(server))  # gate: removed, not committed
    err = refused(gated, run_cli, "deploy", "support", "v2")
    assert "error: evaluation gate: evaluation of support v2 scored" in err
    assert "agentver.yaml has uncommitted changes to gate; deploy checks use the committed" in err
    refused(gated, run_cli, "canary", "start", "support", "v2", "--percent", "10")
    # Committed, the change applies (and is reviewable in git).
    gated.commit("drop the gate", "agentver.yaml")
    code, _, err = run_cli("deploy", "support", "v2", cwd=gated.path)
    assert code == 0 and "warning" not in err, err


def test_a_locally_trimmed_suite_does_not_open_the_gate(gated: Repo, run_cli: RunCli) -> None:
    """Delete the failing case locally, `agentver eval` stores a pass for that suite:
    the gate still judges the committed suite."""
    gated.write("evals/support.yaml", "cases:\n" + SUITE[SUITE.index("  - id: greeting") :])
    assert run_cli("eval", "support", "v2", cwd=gated.path).exit_code == 0
    err = refused(gated, run_cli, "deploy", "support", "v2")
    assert "error: evaluation gate: evals/support.yaml has uncommitted changes" in err
    assert "hint: commit the suite change" in err


def test_an_uncommitted_settings_edit_is_a_warning(
    gated: Repo, server: FakeLLMServer, run_cli: RunCli
) -> None:
    gated.write("agentver.yaml", settings_text(server, gate={"min_score": 0.1}))
    gated.commit_agent("support", REWORDED, "v3")
    run_cli("eval", "support", "v3", cwd=gated.path)
    code, _, err = run_cli("deploy", "support", "v3", cwd=gated.path)
    assert code == 0, err
    assert err.startswith(
        "warning: agentver.yaml has uncommitted changes to gate; deploy checks use the "
        "committed settings"
    )


# -- an invalid version (the billing policy) is refused like a failing gate ---------


@pytest.fixture
def policed(repo: Repo, run_cli: RunCli) -> Repo:
    """The original story: a policy requires "billing"; v1 has the paragraph, v2 (the
    edit that deleted it) breaks the policy; no gate at all."""
    repo.write("agentver.yaml", yaml.safe_dump({"policies": {"support": {"require": ["billing"]}}}))
    repo.commit("policy: support must keep billing")
    repo.commit_agent("support", WITH_BILLING, "support v1")
    repo.commit_agent("support", NO_BILLING, "shorter prompt")
    assert run_cli("deploy", "support", "v1", cwd=repo.path).exit_code == 0
    return repo


POLICY_ERROR = (
    'error: support v2 is invalid: policy: system prompt must contain "billing" '
    "(policy for support)"
)


def test_a_policy_violation_neither_deploys_nor_canaries(policed: Repo, run_cli: RunCli) -> None:
    for args in (("deploy", "support", "2"), ("canary", "start", "support", "2", "-p", "10")):
        err = refused(policed, run_cli, *args)
        assert err.startswith(POLICY_ERROR + "\n"), err
        assert 'override with --skip-gate --reason "..."' in err


def test_skip_gate_with_a_reason_overrides_and_is_recorded(policed: Repo, run_cli: RunCli) -> None:
    args = ("canary", "start", "support", "2", "-p", "10", "--skip-gate", "--reason", "INC-7")
    code, _, err = run_cli(*args, cwd=policed.path)
    assert code == 0, err
    assert pointer_subjects(policed)[0] == (
        "agentver(production): canary start support v2 at 10% (policy check skipped: INC-7)"
    )
    # Raising an invalid canary's share needs the same override.
    err = refused(policed, run_cli, "canary", "set", "support", "-p", "50")
    assert err.startswith(POLICY_ERROR)
    code, _, err = run_cli(
        "canary", "set", "support", "-p", "50", "--skip-gate", "--reason", "INC-7", cwd=policed.path
    )
    assert code == 0, err
    assert pointer_subjects(policed)[0].endswith("to 50% (was 10%) (policy check skipped: INC-7)")
    code, _, err = run_cli("canary", "abort", "support", cwd=policed.path)  # always possible
    assert code == 0, err


def test_rollback_refuses_an_invalid_version_too(policed: Repo, run_cli: RunCli) -> None:
    args = ("deploy", "support", "2", "--skip-gate", "--reason", "INC-7")
    assert run_cli(*args, cwd=policed.path).exit_code == 0
    policed.commit_agent("support", REWORDED, "v3 with billing")
    assert run_cli("deploy", "support", "3", cwd=policed.path).exit_code == 0
    err = refused(policed, run_cli, "rollback", "support", "2")  # older, but invalid
    assert err.startswith(POLICY_ERROR)
    code, _, err = run_cli(
        "rollback", "support", "2", "--skip-gate", "--reason", "INC-8", cwd=policed.path
    )
    assert code == 0, err
    assert pointer_subjects(policed)[0] == (
        "agentver(production): rollback support to v2 (policy check skipped: INC-8)"
    )


def test_policies_are_those_committed_with_the_version(repo: Repo, run_cli: RunCli) -> None:
    """Validity is fixed at the version's commit: a policy added later does not make an
    older version invalid, and an uncommitted policy applies to nothing."""
    repo.commit_agent("support", NO_BILLING, "support v1, no billing yet")
    repo.write("agentver.yaml", yaml.safe_dump({"policies": {"support": {"require": ["billing"]}}}))
    code, _, err = run_cli("deploy", "support", "1", cwd=repo.path)
    assert code == 0 and "uncommitted changes to policies" in err, err
    repo.commit("policy: support must keep billing", "agentver.yaml")
    repo.commit_agent("support", {**NO_BILLING, "temperature": 0.5}, "support v2")
    assert refused(repo, run_cli, "deploy", "support", "2").startswith(
        POLICY_ERROR.replace("v2", "v2")
    )


def test_an_unstorable_version_can_never_be_deployed(repo: Repo, run_cli: RunCli) -> None:
    """Schema and storable failures have no override: sync and the runtime would refuse
    the pointer, so --skip-gate cannot help (exit 2, nothing written)."""
    repo.commit_agent("support", WITH_BILLING, "v1")
    assert run_cli("deploy", "support", "1", cwd=repo.path).exit_code == 0
    repo.commit_agent("support", {**WITH_BILLING, "max_tokens": 2**64}, "v2 overflows")
    for extra in ((), ("--skip-gate", "--reason", "INC-9")):
        for args in (("deploy", "support", "2"), ("canary", "start", "support", "2", "-p", "5")):
            err = refused(repo, run_cli, *args, *extra, code=2)
            assert err.startswith(
                "error: support v2 does not pass the storable rule and can never be deployed: "
            ), err
    code, _, err = run_cli("rollback", "support", "2", cwd=repo.path)  # newer: not a rollback
    assert code == 1 and "rollback only goes back" in err
