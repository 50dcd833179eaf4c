"""Every refusal that a file's content can cause in eval, deploy, canary or sync is
reported by ``validate`` first (issue 14: "validate passed" means the commands will not
refuse). Each case writes one file, commits it, and shows both sides: validate names the
file (a located finding, or the located error when the settings are unusable), and the
command refuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Repo, RunCli, _invoke_in_process

GOOD = "model: gpt-4o\nsystem_prompt: You help with billing.\n"
SUITE = "cases:\n  - id: one\n    input: hi\n    assert: [{contains: x}]\n"
POINTER = ".agentver/deployments/production/support.yaml"
BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


@dataclass(frozen=True)
class Case:
    path: str  # the file whose content causes the refusal
    text: str
    command: tuple[str, ...]  # the command that refuses it
    reported: str  # what validate says (a fragment of its finding or error)
    setup: Callable[[Repo], None] = lambda repo: None


def deployed(repo: Repo) -> None:
    repo.commit_agent("support", GOOD, "v1")


def canary_running(repo: Repo) -> None:
    repo.commit_agent("support", GOOD, "v1")
    repo.commit_agent("support", GOOD + "temperature: 0.2\n", "v2")
    for args in (
        ("deploy", "support", "1"),
        ("canary", "start", "support", "2", "--percent", "10"),
    ):
        code, _, err = _invoke_in_process(args, repo.path, None)
        assert code == 0, err


CASES = {
    # agent files
    "agent fails the schema": Case(
        "agents/support.yaml",
        GOOD + "temperature: 9\n",
        ("deploy", "support", "latest"),
        "temperature: 9",
    ),
    "agent integer beyond 64 bits": Case(
        "agents/support.yaml",
        GOOD + "max_tokens: 99999999999999999999\n",
        ("deploy", "support", "latest"),
        "storable: max_tokens",
    ),
    "agent integer beyond 64 bits (sync)": Case(
        "agents/support.yaml",
        GOOD + "max_tokens: 99999999999999999999\n",
        ("sync",),
        "storable: max_tokens",
    ),
    "agent hex in guardrails": Case(
        "agents/support.yaml",
        GOOD + "guardrails: {limit: 0x1F}\n",
        ("deploy", "support", "latest"),
        "0x1F is a hexadecimal number",
    ),
    "agent explicit tag": Case(
        "agents/support.yaml",
        GOOD + "model_notes: !!str 12\n",
        ("deploy", "support", "latest"),
        "unknown key",
    ),
    "agent tag that cannot convert": Case(
        "agents/support.yaml",
        GOOD + "max_tokens: !!int abc\n",
        ("deploy", "support", "latest"),
        "cannot be read",
    ),
    "agent alias bomb": Case(
        "agents/support.yaml", GOOD + BOMB, ("deploy", "support", "latest"), "alias"
    ),
    "agent breaks a committed policy": Case(
        "agents/support.yaml",
        "model: gpt-4o\nsystem_prompt: You help.\n",
        ("deploy", "support", "latest"),
        'policy: system prompt must contain "billing"',
        lambda repo: (
            repo.write("agentver.yaml", 'policies:\n  support: {require: ["billing"]}\n'),
            repo.commit("policy"),
        ),
    ),
    # agentver.yaml
    "settings unusable": Case(
        "agentver.yaml", "agents_dri: agents\n", ("list",), "unknown setting"
    ),
    "settings gate": Case(
        "agentver.yaml",
        "gate:\n  min_score: 2\n",
        ("deploy", "support", "latest"),
        "gate.min_score",
        deployed,
    ),
    "settings providers": Case(
        "agentver.yaml",
        "providers:\n  local: {model: m}\n",
        ("eval", "support"),
        "'base_url' is a required property",
        lambda repo: (
            deployed(repo),
            repo.write("evals/support.yaml", SUITE),
            repo.commit("suite"),
        ),
    ),
    "settings several providers": Case(
        "agentver.yaml",
        "providers:\n  a: {base_url: 'http://127.0.0.1:9'}\n  b: {base_url: 'http://127.0.0.1:9'}\n",
        ("eval", "support"),
        "eval.provider is not set",
        lambda repo: (
            deployed(repo),
            repo.write("evals/support.yaml", SUITE),
            repo.commit("suite"),
        ),
    ),
    "settings canary": Case(
        "agentver.yaml",
        "canary:\n  alpha: 2\n",
        ("canary", "evaluate", "support", "--metrics", "metrics.json"),
        "canary.alpha",
        canary_running,
    ),
    "settings store URL": Case(
        "agentver.yaml", 'store: "ftp://x"\n', ("sync",), "store: unsupported store URL"
    ),
    "settings store URL (SQLite)": Case(
        "agentver.yaml",
        'store: "sqlite://runtime.db"\n',
        ("sync",),
        "store: invalid SQLite store URL",
    ),
    "settings gate reference": Case(
        "agentver.yaml",
        "gate:\n  not_worse_than: the-old-one\n",
        ("deploy", "support", "latest"),
        "gate.not_worse_than",
        lambda repo: (
            repo.write("evals/support.yaml", SUITE),
            repo.commit("suite"),
            deployed(repo),
        ),
    ),
    # pointer files
    "pointer conflict markers": Case(
        POINTER,
        "<<<<<<< ours\nagent: support\n=======\nagent: other\n>>>>>>> theirs\n",
        ("deploy", "support", "latest"),
        "merge conflict marker",
        deployed,
    ),
    "pointer conflict markers (sync)": Case(
        POINTER,
        "<<<<<<< ours\nagent: support\n=======\n>>>>>>> theirs\n",
        ("sync",),
        "merge conflict",
        deployed,
    ),
    "pointer wrong structure": Case(
        POINTER,
        "agent: support\nenvironment: production\nactive: 4\n",
        ("deploy", "support", "latest"),
        "pointer:",
        deployed,
    ),
    # evaluation suites (eval and the gate load them the same way)
    "suite undefined variable": Case(
        "evals/support.yaml",
        'cases:\n  - id: one\n    input: "hi {{ who }}"\n    assert: [{contains: x}]\n',
        ("eval", "support"),
        "undefined variable 'who'",
        deployed,
    ),
    "suite alias bomb": Case(
        "evals/support.yaml", BOMB + SUITE, ("eval", "support"), "alias", deployed
    ),
    "suite date": Case(
        "evals/support.yaml", "when: 2026-01-01\n" + SUITE, ("eval", "support"), "date", deployed
    ),
    # the metrics file of `canary evaluate --metrics` (every refusal: test below)
    "metrics file": Case(
        "metrics.json",
        '{"stable": {"requests": 10, "errors": 11}, "canary": {"requests": 5, "errors": 0}}',
        ("canary", "evaluate", "support", "--metrics", "metrics.json"),
        "stable.errors (11) exceeds stable.requests (10)",
        canary_running,
    ),
    "suite for the gate": Case(
        "evals/support.yaml",
        "cases:\n  - id: one\n    input: hi\n    assert: [{regex: '(open'}]\n",
        ("deploy", "support", "latest"),
        "invalid regular expression",
        lambda repo: (
            repo.write("agentver.yaml", "gate:\n  min_score: 0.5\n"),
            repo.commit("gate"),
            deployed(repo),
        ),
    ),
}


METRICS = '{"stable": {"requests": 500, "errors": 5}, "canary": {"requests": 500, "errors": 5}}'
REFUSALS = {
    "agent breaks a committed policy": 'is invalid: policy: system prompt must contain "billing"',
    "agent fails the schema": "support v1",
    "agent integer beyond 64 bits": "support v1",
    "agent hex in guardrails": "support v1",
    "agent explicit tag": "support v1",
    "agent alias bomb": "support has no versions",
    "agent tag that cannot convert": "support has no versions",
    "settings unusable": "unknown setting 'agents_dri'",
    "settings gate": "gate.min_score",
    "settings providers": "providers.local",
    "settings canary": "'alpha' must be between 0 and 0.5",
    "settings several providers": "eval.provider is not set and several providers",
    "settings store URL": "unsupported store URL ftp://x",
    "settings store URL (SQLite)": "expected three slashes",
    "settings gate reference": "unknown version reference 'the-old-one'",
    "pointer conflict markers": "corrupt pointer file",
    "pointer conflict markers (sync)": "corrupt pointer file",
    "pointer wrong structure": "corrupt pointer file",
    "suite undefined variable": "undefined variable 'who'",
    "suite alias bomb": "alias bomb",
    "suite date": "is read as a date",
    "suite for the gate": "invalid regular expression",
    "metrics file": "stable.errors (11) exceeds stable.requests (10)",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_reports_it_before_the_command_refuses(
    name: str, repo: Repo, run_cli: RunCli
) -> None:
    case = CASES[name]
    case.setup(repo)
    if not (repo.path / "agents" / "support.yaml").exists() and case.path != "agents/support.yaml":
        repo.commit_agent("support", GOOD, "v1")
    repo.write(case.path, case.text)
    repo.commit(f"edit {case.path}")

    code, out, err = run_cli("validate", cwd=repo.path)
    assert code in (1, 2), (out, err)
    shown = out if code == 1 else err
    lines = [line for line in shown.splitlines() if case.path in line]
    assert lines and any(case.reported in line for line in lines), shown
    assert "Traceback" not in err

    if case.path != "metrics.json":
        (repo.path / "metrics.json").write_text(METRICS)
    code, out, err = run_cli(*case.command, cwd=repo.path)
    assert code != 0, (case.command, out, err)
    assert "Traceback" not in err
    assert REFUSALS.get(name, "") in err  # the refusal is about that content


def test_every_kind_of_file_is_enumerated() -> None:
    kinds = {Path(case.path).parts[0] for case in CASES.values()}
    assert kinds == {"agents", "agentver.yaml", ".agentver", "evals", "metrics.json"}
    commands = {case.command[0] for case in CASES.values()}
    assert commands == {"deploy", "sync", "eval", "canary", "list"}


def arm(requests: object = 10, errors: object = 1, **more: object) -> dict[str, object]:
    return {"requests": requests, "errors": errors, **more}


def metrics(stable: object = None, canary: object = None) -> str:
    import json

    return json.dumps({"stable": stable or arm(), "canary": canary or arm()})


# Every refusal `canary evaluate --metrics` can make from the file's content: the
# loader's (config.decode, jsonload.load_json) and the format's (canary.metrics), as
# (content, what both validate and canary evaluate say).
METRICS_REFUSALS: list[tuple[str | bytes, str]] = [
    (b" " * (1024 * 1024 + 1), "the limit is 1,048,576"),
    (b'{"stable": 1}\x00', "NUL byte"),
    ("<<<<<<< ours\n{}\n=======\n{}\n>>>>>>> theirs\n", "merge conflict marker"),
    (b'{"stable": "\xff"}', "not valid UTF-8"),
    ("{not json", "not valid JSON"),
    ('{"stable": {}, "stable": {}}', "duplicate key 'stable'"),
    (metrics(arm(requests=float("nan"))), "stable.requests: NaN is not a finite number"),
    (metrics(arm(errors=float("-inf"))), "stable.errors: -Infinity is not a finite number"),
    (metrics(arm()).replace("10", "1e999", 1), "1e999 is not a finite number"),
    (metrics(arm()).replace("10", "1" + "0" * 5000, 1), "is too large to read"),
    ("[" * 100_000, "nests deeper than 64 levels"),
    ("[" * 66 + "]" * 66, "nests deeper than 64 levels"),
    ("[" + "0," * 100_000 + "0]", "more than 100,000 values"),
    ("[1, 2]", "metrics must be a JSON object"),
    ('{"stable": {"requests": 1, "errors": 0}}', "missing 'canary'"),
    (metrics(canary=5), "'canary' must be an object"),
    (
        '{"stable": {"requests": 1}, "canary": {"requests": 1, "errors": 0}}',
        "missing stable.errors",
    ),
    (metrics(arm(requests=10.0)), "stable.requests must be a non-negative integer, got 10.0"),
    (metrics(arm(requests="10")), 'stable.requests must be a non-negative integer, got "10"'),
    (metrics(arm(errors=True)), "stable.errors must be a non-negative integer, got true"),
    (metrics(arm(errors=None)), "stable.errors must be a non-negative integer, got null"),
    (metrics(canary=arm(errors=-1)), "canary.errors must be a non-negative integer, got -1"),
    (metrics(arm(requests=2**63, errors=0)), "stable.requests must be at most 2**63-1"),
    (metrics(arm(errors=11)), "stable.errors (11) exceeds stable.requests (10)"),
    (metrics(arm(slow=11)), "stable.slow (11) exceeds stable.requests (10)"),
    (metrics(arm(slow="x")), 'stable.slow must be a non-negative integer, got "x"'),
    (metrics(arm(scored=11, score_sum=1)), "stable.scored (11) exceeds stable.requests (10)"),
    (metrics(arm(scored=None, score_sum=1)), "stable.scored must be a non-negative integer"),
    (metrics(arm(score_sum=1)), "stable needs both score_sum and scored, or neither"),
    (metrics(arm(scored=2, score_sum=2.5)), "stable.score_sum must be a number from 0 to"),
    (metrics(arm(scored=2, score_sum="1")), "stable.score_sum must be a number from 0 to"),
]


def test_validate_reports_every_metrics_refusal_first(repo: Repo, run_cli: RunCli) -> None:
    """`validate` (no arguments: metrics.json at the top level is checked by default)
    reports each refusal of `canary evaluate --metrics metrics.json`, with the same words."""
    canary_running(repo)
    path = repo.path / "metrics.json"
    path.write_text(METRICS)
    assert run_cli("validate", cwd=repo.path).exit_code == 0
    assert (
        run_cli("canary", "evaluate", "support", "--metrics", "metrics.json", cwd=repo.path)[0] == 0
    )
    for content, words in METRICS_REFUSALS:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")
        code, out, err = run_cli("validate", cwd=repo.path)
        assert code == 1, (words, out, err)
        assert any(
            line.startswith("metrics.json:") and words in line for line in out.splitlines()
        ), (words, out)
        code, out, err = run_cli(
            "canary", "evaluate", "support", "--metrics", "metrics.json", cwd=repo.path
        )
        assert code == 2 and out == "", (words, out, err)
        assert err.startswith("error: metrics.json") and words in err, (words, err)
        assert "Traceback" not in err and "internal error" not in err
