"""Pointer files: strict parsing, deterministic serialisation, reading committed vs on disk."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import Repo, RunCli
from hypothesis import given, settings
from hypothesis import strategies as st

from agentver import failpoints
from agentver.deploy.pointers import action_of, parse_pointer, pointer_path, serialize_pointer
from agentver.errors import PointerError
from agentver.models import ActiveVersion, Canary, Flag, Pointer
from agentver.workspace import Workspace

HASH = "3f2a00112233aabb"
COMMIT = "9c1e" + "0" * 36
SALT = "5c1d0e9a7b3f4a21"
PATH = ".agentver/deployments/production/support.yaml"

DESIGN_EXAMPLE = f"""\
agent: support
environment: production
active: {{version: 4, config_hash: {HASH}, commit: {COMMIT}}}
canary: {{version: 5, config_hash: 77b0aa00bb11cc22, percent: 10, salt: {SALT}, started_at: "2026-11-26T10:00:00Z", commit: {COMMIT}}}
flags:
  web_search_beta: {{enabled: true, percent: 20, users: [alice], add_tools: [web_search], remove_tools: []}}
"""


def parse(text: str | bytes, agent: str = "support", env: str = "production") -> Pointer:
    raw = text.encode() if isinstance(text, str) else text
    return parse_pointer(raw, PATH, env, agent)


def test_pointer_path() -> None:
    assert pointer_path("staging", "support") == ".agentver/deployments/staging/support.yaml"


def test_parse_design_example() -> None:
    pointer = parse(DESIGN_EXAMPLE)
    assert pointer.active == ActiveVersion(4, HASH, COMMIT)
    assert pointer.canary == Canary(
        5, "77b0aa00bb11cc22", COMMIT, 1000, SALT, "2026-11-26T10:00:00Z"
    )
    assert pointer.flags == {
        "web_search_beta": Flag("web_search_beta", True, 2000, ("alice",), ("web_search",), ())
    }


def test_percent_read_back_exactly() -> None:
    for text, bp in (("12.5", 1250), ("0.01", 1), ("100", 10000), ("33.33", 3333), ("0.1", 10)):
        doc = DESIGN_EXAMPLE.replace("percent: 10,", f"percent: {text},")
        assert parse(doc).canary.percent_bp == bp  # type: ignore[union-attr]


def test_empty_and_minimal_pointers() -> None:
    assert parse("agent: support\nenvironment: production\n") == Pointer("support", "production")
    minimal = parse("agent: support\nenvironment: production\nactive: null\nflags: {}\n")
    assert minimal.active is None and minimal.canary is None and dict(minimal.flags) == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("agent: support\nenvironment: production\nactive: [\n", ""),
        ("just text\n", "expected a mapping"),
        ("agent: other\nenvironment: production\n", "expected 'support'"),
        ("agent: support\nenvironment: staging\n", "expected 'production'"),
        ("agent: support\nenvironment: production\nextra: 1\n", "unknown key 'extra'"),
        ("agent: support\nagent: support\nenvironment: production\n", "duplicate"),
        (
            f"agent: support\nenvironment: production\nactive: {{version: 0, config_hash: {HASH}, commit: {COMMIT}}}\n",
            "active.version",
        ),
        (
            f"agent: support\nenvironment: production\nactive: {{version: true, config_hash: {HASH}, commit: {COMMIT}}}\n",
            "active.version",
        ),
        (
            f"agent: support\nenvironment: production\nactive: {{version: 1, config_hash: ABC, commit: {COMMIT}}}\n",
            "config_hash",
        ),
        (
            f"agent: support\nenvironment: production\nactive: {{version: 1, config_hash: {HASH}, commit: abc}}\n",
            "commit",
        ),
        (
            f"agent: support\nenvironment: production\nactive: {{version: 1, config_hash: {HASH}, commit: {COMMIT}, x: 1}}\n",
            "active.x",
        ),
        ("agent: support\nenvironment: production\nactive: 4\n", "must be a mapping"),
        (DESIGN_EXAMPLE.replace("percent: 10,", "percent: 0,"), "canary.percent"),
        (DESIGN_EXAMPLE.replace("percent: 10,", "percent: 12.345,"), "canary.percent"),
        (DESIGN_EXAMPLE.replace("percent: 10,", "percent: .nan,"), "not a finite number"),
        (DESIGN_EXAMPLE.replace("percent: 10,", 'percent: "10",'), "canary.percent"),
        (DESIGN_EXAMPLE.replace(f"salt: {SALT}", "salt: short"), "canary.salt"),
        (
            DESIGN_EXAMPLE.replace(
                'started_at: "2026-11-26T10:00:00Z"', "started_at: 2026-11-26T10:00:00Z"
            ),
            "read as a date",
        ),
        (DESIGN_EXAMPLE.replace("enabled: true", "enabled: 1"), "enabled"),
        (DESIGN_EXAMPLE.replace("percent: 20", "percent: 101"), "percent"),
        (DESIGN_EXAMPLE.replace("users: [alice]", "users: alice"), "users"),
        (
            DESIGN_EXAMPLE.replace("users: [alice]", "users: [alice], color: red"),
            "unknown key 'color'",
        ),
        (DESIGN_EXAMPLE.replace("web_search_beta:", "'bad name':"), "invalid flag name"),
        ("agent: support\nenvironment: production\nflags: [a]\n", "flags must be a mapping"),
    ],
)
def test_corrupt_pointers_are_errors_naming_the_file(text: str, fragment: str) -> None:
    with pytest.raises(PointerError) as info:
        parse(text)
    assert info.value.exit_code == 2
    assert info.value.message.startswith(f"corrupt pointer file {PATH}")
    assert fragment in info.value.message
    assert info.value.hint


def test_non_utf8_pointer_is_corrupt() -> None:
    with pytest.raises(PointerError, match="corrupt pointer file"):
        parse(b"agent: support\xff\n")


_hex16 = st.text("0123456789abcdef", min_size=16, max_size=16)
_hex40 = st.text("0123456789abcdef", min_size=40, max_size=40)
_bp = st.integers(1, 10_000)
_names = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), unique=True, max_size=3)
_flag_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@st.composite
def pointers(draw: Any) -> Pointer:
    active = draw(st.none() | st.builds(ActiveVersion, st.integers(1, 10**6), _hex16, _hex40))
    canary = draw(
        st.none()
        | st.builds(
            Canary,
            st.integers(1, 10**6),
            _hex16,
            _hex40,
            _bp,
            _hex16,
            st.just("2026-11-26T10:00:00Z"),
        )
    )
    flag_names = draw(st.lists(_flag_names, unique=True, max_size=3))
    flags = {
        name: Flag(
            name,
            draw(st.booleans()),
            draw(st.none() | _bp),
            tuple(draw(_names)),
            tuple(draw(_names)),
            tuple(draw(_names)),
        )
        for name in flag_names
    }
    agent = draw(st.sampled_from(["support", "123", "on", "null", "1_000", "0x1f", "true"]))
    environment = draw(st.sampled_from(["production", "1", "off", "yes"]))
    return Pointer(agent, environment, active, canary, flags)


@settings(max_examples=150, deadline=None)
@given(pointer=pointers())
def test_serialize_then_parse_round_trips(pointer: Pointer) -> None:
    # Names that YAML would read as numbers, booleans or null must be quoted.
    raw = serialize_pointer(pointer)
    back = parse(raw, pointer.agent, pointer.environment)
    assert back == pointer
    assert serialize_pointer(back) == raw  # deterministic bytes
    assert isinstance(yaml.safe_load(raw), dict)  # plain YAML any tool can read


def test_workspace_reads_disk_or_committed(repo: Repo, run_cli: RunCli) -> None:
    repo.commit_agent("support", {"model": "a", "system_prompt": "a"}, "v1")
    repo.commit_agent("support", {"model": "b", "system_prompt": "b"}, "v2")
    assert Workspace.open(repo.path).pointer("production", "support") == Pointer(
        "support", "production"
    )
    assert run_cli("deploy", "support", "1", cwd=repo.path).exit_code == 0
    assert run_cli("deploy", "support", "2", "--no-commit", cwd=repo.path).exit_code == 0
    ws = Workspace.open(repo.path)
    assert ws.pointer("production", "support").active.version == 2  # type: ignore[union-attr]
    assert ws.pointer("production", "support", committed=True).active.version == 1  # type: ignore[union-attr]


def test_action_of_reads_agentver_subjects_and_infers_others() -> None:
    empty = Pointer("support", "production")
    active = Pointer("support", "production", ActiveVersion(1, HASH, COMMIT))
    moved = Pointer("support", "production", ActiveVersion(2, HASH, COMMIT))
    canary = Canary(2, HASH, COMMIT, 1000, SALT, "2026-11-26T10:00:00Z")
    with_canary = Pointer("support", "production", active.active, canary)
    assert action_of("agentver(production): rollback support to v1", None, active) == "rollback"
    assert (
        action_of("agentver(prod): canary set support v2 to 5% (was 1%)", None, active)
        == "canary set"
    )
    assert action_of("agentver(prod): flag disable support x", None, active) == "flag disable"
    assert action_of("hand edit", None, None) == "delete"
    assert action_of("hand edit", None, active) == "deploy"
    assert action_of("hand edit", active, moved) == "deploy"
    assert action_of("hand edit", active, with_canary) == "canary start"
    assert action_of("hand edit", with_canary, active) == "canary abort"
    assert action_of("hand edit", empty, empty) == "edit"


# -- pointer writes check their own output (issue 12, finding 3) ----------------------


@pytest.fixture
def deployed_support(repo: Repo, run_cli: RunCli) -> Repo:
    text = "model: m1\nsystem_prompt: You are support.\ntools: [search_kb]\n"
    repo.commit_agent("support", text, "support v1")
    code, _, err = run_cli("deploy", "support", "1", cwd=repo.path)
    assert code == 0, err
    return repo


def _state(repo: Repo) -> tuple[str, bytes, str]:
    return (
        repo.head(),
        (repo.path / PATH).read_bytes(),
        repo.git("status", "--porcelain", "--untracked-files=all"),
    )


@pytest.mark.parametrize(
    "option",
    [
        ("--add-tools", "web\udcffsearch"),  # argv byte 0xff: not UTF-8
        ("--users", "alice,b\udcc3"),  # a truncated UTF-8 sequence
        ("--remove-tools", "tab\there"),
        ("--users", "zero\u200bwidth"),
    ],
)
def test_flag_arguments_that_would_not_read_back_are_refused(
    deployed_support: Repo, run_agentver: RunCli, option: tuple[str, str]
) -> None:
    """A real process gets the raw bytes as argv: exit 2, one error line, nothing written,
    and the pointer still reads (deploy, flag list and sync kept working)."""
    before = _state(deployed_support)
    args = ("flag", "set", "support", "beta", *option, "--create")
    code, out, err = run_agentver(*args, cwd=deployed_support.path)
    assert code == 2, (out, err)
    assert err.startswith(f"error: {option[0]}: ") and "is not a valid name" in err
    assert "Traceback" not in err
    assert _state(deployed_support) == before
    code, out, err = run_agentver("flag", "list", "support", "--json", cwd=deployed_support.path)
    assert code == 0 and '"flags": {}' in out, err


def test_a_pointer_that_does_not_read_back_is_never_committed(
    deployed_support: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is parsed back with the pointer reader before `git add`: a writer bug
    (simulated: the serializer drops the flag, or writes garbage) commits nothing."""
    from agentver.deploy import FlagChange, flag_set
    from agentver.deploy import transaction as transaction_module

    real = transaction_module.serialize_pointer
    before = _state(deployed_support)
    for broken in (
        lambda pointer: real(Pointer(pointer.agent, pointer.environment, pointer.active)),
        lambda pointer: real(pointer) + b"flags: [\n",
    ):
        monkeypatch.setattr(transaction_module, "serialize_pointer", broken)
        ws = Workspace.open(deployed_support.path)
        with pytest.raises(PointerError, match=f"refusing to commit {PATH}"):
            flag_set(ws, "support", "beta", FlagChange(users=("alice",)), create=True)
        assert _state(deployed_support) == before
        with pytest.raises(PointerError, match=f"refusing to commit {PATH}"):
            flag_set(ws, "support", "b", FlagChange(enabled=False), create=True, no_commit=True)
        assert _state(deployed_support) == before


# -- a pointer write stopped at any step (failpoints pointer.*) ------------------------


POINTER_STEPS = [name for name in failpoints.NAMES if name.startswith("pointer.")]


@pytest.mark.parametrize("action", ["kill", "raise"])
@pytest.mark.parametrize("name", POINTER_STEPS)
def test_a_pointer_write_stopped_at_any_step_converges(
    deployed_support: Repo, run_agentver: RunCli, name: str, action: str
) -> None:
    """Killed (SIGKILL: no cleanup) or failing at each step of the write: git holds no
    partial commit, the pointer file is the old one or the new one, whole, and the same
    command run again converges to the new state with a clean work tree."""
    repo = deployed_support
    old_head, old_bytes = repo.head(), (repo.path / PATH).read_bytes()
    args = ("flag", "set", "support", "beta", "--create", "--percent", "5")
    env = {"AGENTVER_FAILPOINTS": f"{name}={action}"}
    code, _, err = run_agentver(*args, cwd=repo.path, env=env)
    assert code == (-9 if action == "kill" else 2), err
    head = repo.head()
    if head != old_head:  # only after the commit: exactly one commit of the pointer alone
        assert name == "pointer.after_git_commit"
        assert repo.git("rev-parse", "HEAD^").strip() == old_head
        assert repo.git("diff", "--name-only", old_head, head).split() == [PATH]
    on_disk = parse((repo.path / PATH).read_bytes())
    assert on_disk in (parse(old_bytes), _with_beta(parse(old_bytes)))

    code, _, err = run_agentver(*args, cwd=repo.path)
    assert code == 0, err
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""
    assert repo.git("rev-list", "--count", f"{old_head}..HEAD").strip() == "1"
    assert parse(repo.git("show", f"HEAD:{PATH}")) == _with_beta(parse(old_bytes))


def _with_beta(pointer: Pointer) -> Pointer:
    return Pointer(
        pointer.agent, pointer.environment, pointer.active, None, {"beta": Flag("beta", True, 500)}
    )
