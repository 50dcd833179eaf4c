"""``schemas/agentver.schema.json``: every section of agentver.yaml, used by ``validate``,
and the editor hint ``init`` writes (checked with a real JSON Schema validator)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import Repo, RunCli

from agentver import settings
from agentver.canary import settings as canary_settings
from agentver.evals import settings as eval_settings
from agentver.init import init_repository

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "agentver.schema.json").read_text())
HINT = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
GOOD = "model: gpt-4o\nsystem_prompt: You help with billing.\n"


def test_the_packaged_copy_is_the_schema() -> None:
    packaged = ROOT / "agentver" / "schemas" / "agentver.schema.json"
    assert packaged.read_bytes() == (ROOT / "schemas" / "agentver.schema.json").read_bytes()
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_knows_every_key_the_code_reads() -> None:
    """A key added to a settings parser without the schema fails here (drift test)."""
    properties = SCHEMA["properties"]
    assert set(properties) == set(settings._KNOWN_KEYS)
    rule_keys = set(SCHEMA["$defs"]["canary_rule"]["properties"])
    assert rule_keys == set(canary_settings._KEYS)
    assert set(properties["canary"]["properties"]) == rule_keys | {"agents"}
    assert set(SCHEMA["$defs"]["gate_entry"]["properties"]) == set(eval_settings._GATE_KEYS)
    provider = set(SCHEMA["$defs"]["provider"]["properties"])
    assert provider == {
        f.name for f in eval_settings.ProviderSettings.__dataclass_fields__.values()
    } - {
        "name",
        "cwd",
    }
    assert set(properties["eval"]["properties"]) == {"provider", "judge", "judge_model"}


def hinted_schema(file: Path) -> dict[str, Any]:
    """The schema named by the file's first-line hint, resolved as the editor does."""
    match = HINT.match(file.read_text().splitlines()[0])
    assert match, file
    target = (file.parent / match.group(1)).resolve()
    assert target.is_file(), target
    schema: dict[str, Any] = json.loads(target.read_text())
    return schema


@pytest.mark.parametrize("agents_dir", [None, "configs/agents"])
def test_init_hints_resolve_in_the_new_repository(tmp_path: Path, agents_dir: str | None) -> None:
    root = tmp_path / "proj"
    if agents_dir:  # init keeps an existing agentver.yaml and puts the agent where it says
        root.mkdir()
        (root / "agentver.yaml").write_text(
            f"# yaml-language-server: $schema=.agentver/schemas/agentver.schema.json\nagents_dir: {agents_dir}\n"
        )
    init_repository(root)
    for rel in ("agentver.yaml", f"{agents_dir or 'agents'}/assistant.yaml"):
        file = root / rel
        schema = hinted_schema(file)
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(file.read_text()))
    assert hinted_schema(root / "agentver.yaml")["$id"].endswith("/agentver.schema.json")
    # and the schema does reject what validate rejects
    bad = {"environments": [], "canary": {"alpha": 2}}
    errors = list(
        jsonschema.Draft202012Validator(hinted_schema(root / "agentver.yaml")).iter_errors(bad)
    )
    assert len(errors) == 2


SECTION_PROBLEMS = {
    "unknown top-level key": (
        "polices: {}\n",
        "1:1: unknown setting 'polices'",
    ),
    "canary unknown key": (
        "canary:\n  rollback_ration: 2\n",
        "2:3: unknown setting 'canary.rollback_ration' (did you mean 'rollback_ratio'?)",
    ),
    "canary out of range": (
        "canary:\n  alpha: 0.9\n",
        "2:10: canary.alpha: 0.9 is greater than or equal",
    ),
    "canary per agent": (
        "canary:\n  agents:\n    support: {min_requests: 0}\n",
        "3:29: canary.agents.support.min_requests: 0 is less than the minimum of 1",
    ),
    "canary cross-key rule": (
        "canary:\n  promote_ratio: 3\n  rollback_ratio: 2\n",
        "1:1: canary: 'promote_ratio' (3) must not exceed 'rollback_ratio' (2)",
    ),
    "gate mixed forms": (
        "gate:\n  min_score: 0.5\n  support: {min_score: 1}\n",
        "2:3: gate: either",
    ),
    "gate score range": (
        "gate:\n  min_score: 2\n",
        "2:14: gate.min_score: 2 is greater than the maximum",
    ),
    "provider without base_url": (
        "providers:\n  local: {model: m}\n",
        "2:10: providers.local: 'base_url' is a required",
    ),
    "provider key in env name": (
        "providers:\n  local: {base_url: 'https://x', api_key_env: 'sk-abc'}\n",
        "providers.local.api_key_env: 'sk-abc' does not match",
    ),
    "eval names an unknown provider": (
        "providers:\n  local: {base_url: 'https://x'}\neval:\n  provider: remote\n",
        "1:1: eval.provider: unknown provider 'remote'",
    ),
    "policy required and forbidden": (
        "policies:\n  '*': {forbid: [billing]}\n  support: {require: [billing]}\n",
        '1:1: policies.support: "billing" is both required and forbidden',
    ),
    "default environment not listed": (
        "environments: [staging]\ndefault_environment: production\n",
        "2:22: default_environment: 'production' is not in environments",
    ),
    "storable": (
        "canary:\n  min_requests: 0x64\n",
        "2:17: storable: canary.min_requests: 0x64 is a hexadecimal",
    ),
    "bad tag": ("store: !!binary abc\n", "1:8: unsupported tag"),
}


# Settings without which no command can run (they decide where agents are and which
# environments exist): validate refuses them like every command, exit 2.
UNUSABLE = {"unknown top-level key", "default environment not listed", "bad tag"}


@pytest.mark.parametrize("kind", sorted(SECTION_PROBLEMS))
def test_validate_checks_every_section(kind: str, repo: Repo, run_cli: RunCli) -> None:
    text, expected = SECTION_PROBLEMS[kind]
    repo.commit_agent("support", GOOD, "add")
    repo.write("agentver.yaml", text)
    code, out, err = run_cli("validate", cwd=repo.path)
    assert "Traceback" not in err
    if kind in UNUSABLE:  # agents cannot be found or named: exit 2, the same located error
        assert (code, out) == (2, ""), err
        assert err.startswith("error: agentver.yaml:") and expected in err.splitlines()[0]
        return
    assert code == 1, (out, err)
    assert any(
        line.startswith("agentver.yaml:") and expected in line for line in out.splitlines()
    ), out


def test_a_good_agentver_yaml_with_every_section_passes(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", GOOD, "add")
    repo.write(
        "agentver.yaml",
        "agents_dir: agents\nenvironments: [staging, production]\ndefault_environment: staging\n"
        "store: sqlite:///.agentver/runtime.db\ncommit_graph: false\n"
        "policies:\n  '*': {forbid: [as an AI language model]}\n  support: {require: [billing]}\n"
        "canary:\n  rollback_ratio: 2\n  latency_threshold_ms: null\n  agents:\n    support: {min_requests: 50}\n"
        "gate:\n  '*': {min_score: 0.8}\n  support: {not_worse_than: active}\n"
        "providers:\n  local: {base_url: 'http://127.0.0.1:9', api_key_env: LOCAL_KEY, timeout: 5}\n"
        "  script: {type: command, command: [python, answer.py]}\n"
        "eval:\n  provider: local\n  judge: script\n  judge_model: small\n",
    )
    code, out, err = run_cli("validate", cwd=repo.path)
    assert (code, out) == (0, ""), err
