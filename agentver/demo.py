"""``agentver demo``: build the story repository and yield each step (docs/design.md section 1).

A support agent gets five versions; the fourth deletes the paragraph about billing
access, which the policy check flags (the edit is committed anyway, as a careless one
would be). v3 goes to production, v5 becomes a 10% canary, a few users are resolved, the
canary is promoted, the diff shows the deleted paragraph, a rollback restores v3, and a
sync publishes the state to the embedded SQLite store that an agent reads through
``agentver.runtime.RuntimeClient``.

Every step runs the real CLI (through a ``Runner``: in-process for ``agentver demo``, a
``python -m agentver`` subprocess by default) inside the demo folder and nowhere else.
Commits use a fixed demo identity and advancing dates passed through the environment of
the demo's own git and agentver processes; the user's git config is never touched.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from agentver.demo_story import (
    AGENT,
    BAD_VERSION,
    CANARY_PERCENT,
    CLOCK_START,
    DEMO_EMAIL,
    DEMO_NAME,
    SETTINGS_YAML,
    SHARE_SAMPLE,
    STORE_URL,
    USER_POOL,
    VERSIONS,
)
from agentver.errors import AgentverError, UsageError
from agentver.gitrepo import git_env
from agentver.init import GITIGNORE_LINES
from agentver.models import Canary


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


# Runs ``agentver <args>`` in the demo folder with these environment overrides (None
# unsets a variable) and returns what it printed.
Runner = Callable[[Path, Sequence[str], Mapping[str, str | None]], CommandResult]


@dataclass(frozen=True)
class Step:
    """One thing the demo did. ``command`` is the line to type after ``cd DIR`` (None
    for steps that are narration only, such as the demo's own git commits)."""

    title: str  # a new section when non-empty
    notes: tuple[str, ...] = ()
    command: str | None = None
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


@dataclass
class DemoFacts:
    """What the story established, for the final summary and for tests."""

    directory: Path
    versions: int = 0
    resolved_users: list[str] = field(default_factory=list)  # shown with `resolve`
    canary_users: list[str] = field(default_factory=list)
    stable_users: list[str] = field(default_factory=list)
    canary_share: float = 0.0  # share of SHARE_SAMPLE users routed to the canary
    explore: list[str] = field(default_factory=list)


class DemoError(AgentverError):
    """A demo step did not behave as the story expects (a bug in agentver or the demo)."""


def subprocess_runner(
    directory: Path, args: Sequence[str], env: Mapping[str, str | None]
) -> CommandResult:
    """Run ``python -m agentver -C DIR ...`` as a real process."""
    full_env = _merged_env(env)
    proc = subprocess.run(
        [sys.executable, "-m", "agentver", "-C", str(directory), *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


def _merged_env(env: Mapping[str, str | None]) -> dict[str, str]:
    full = git_env()
    for key, value in env.items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return full


def prepare_directory(directory: Path) -> Path:
    """Create ``directory`` if needed; refuse (exit 2) a file or a non-empty folder."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(
            f"{directory} is not empty; the demo only writes into an empty folder",
            "pick a new folder, or run `agentver demo` without DIR for a temporary one",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror}") from None
    return directory.resolve()


class _Story:
    def __init__(self, directory: Path, runner: Runner, facts: DemoFacts) -> None:
        self.root = directory
        self.runner = runner
        self.facts = facts
        self.clock = 0

    def tick(self, hours: int = 24) -> dict[str, str | None]:
        """Environment for the next commit: demo identity, the clock advanced."""
        self.clock += hours
        date = (CLOCK_START + timedelta(hours=self.clock)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "GIT_AUTHOR_NAME": DEMO_NAME,
            "GIT_AUTHOR_EMAIL": DEMO_EMAIL,
            "GIT_COMMITTER_NAME": DEMO_NAME,
            "GIT_COMMITTER_EMAIL": DEMO_EMAIL,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            # The demo reads and writes its own store only, never one set for the user.
            "AGENTVER_STORE": None,
        }

    def git(self, *args: str, hours: int = 0) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=_merged_env(self.tick(hours)),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DemoError(f"git {args[0]} failed in the demo folder: {proc.stderr.strip()}")
        return proc.stdout

    def write(self, rel: str, text: str) -> None:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))

    def commit(self, message: str, *, no_verify: bool = False) -> None:
        self.git("add", "-A")
        flags = ["--no-verify"] if no_verify else []
        self.git("commit", "-q", *flags, "-m", message, hours=24)

    def agentver(self, title: str, args: Sequence[str], *notes: str, expect: int = 0) -> Step:
        result = self.runner(self.root, args, self.tick(6))
        command = "agentver " + shlex.join(args)
        if result.exit_code != expect:
            raise DemoError(
                f"demo step `{command}` exited {result.exit_code} (expected {expect}): "
                + (result.stderr.strip() or result.stdout.strip())[-500:]
            )
        return Step(title, notes, command, result.stdout, result.stderr, result.exit_code)

    def commit_version(self, number: int, *, no_verify: bool = False) -> str:
        message, text = VERSIONS[number - 1]
        self.write(f"agents/{AGENT}.yaml", text)
        self.commit(message, no_verify=no_verify)
        self.facts.versions = number
        flag = " --no-verify" if no_verify else ""
        return f"v{number}: git commit{flag} -m {shlex.quote(message)}"


def run_demo(
    directory: Path, runner: Runner = subprocess_runner
) -> Generator[Step, None, DemoFacts]:
    """Build the story in the empty ``directory`` and yield each step as it runs.

    The generator's return value (``StopIteration.value``) is the ``DemoFacts``.
    Raises UsageError for a non-empty folder before writing anything.
    """
    root = prepare_directory(directory)
    facts = DemoFacts(directory=root)
    story = _Story(root, runner, facts)
    yield from _build(story)
    yield from _deploy(story)
    yield from _publish(story)
    return facts


def _build(story: _Story) -> Iterator[Step]:
    story.git("init", "-q")
    story.git("symbolic-ref", "HEAD", "refs/heads/main")
    # Local settings of the demo repository only, so pasted commands can commit too.
    story.git("config", "user.name", DEMO_NAME)
    story.git("config", "user.email", DEMO_EMAIL)
    story.git("config", "commit.gpgsign", "false")
    story.write("agentver.yaml", SETTINGS_YAML)
    story.write(".gitignore", "".join(f"{line}\n" for line in GITIGNORE_LINES))
    story.commit("Set up agentver: staging and production, a billing policy")
    done = [story.commit_version(number) for number in (1, 2, 3)]
    yield Step(
        "A support agent, one git commit per change (agents/support.yaml)",
        ("agentver.yaml: environments staging and production; support must mention billing", *done),
    )
    yield story.agentver(
        "",
        ["history", AGENT],
        "Every commit that changes the config's hash is a version: nobody types numbers.",
    )

    message, text = VERSIONS[BAD_VERSION - 1]
    story.write(f"agents/{AGENT}.yaml", text)
    yield story.agentver(
        "A careless edit: 'Tighten the support prompt' deletes the billing paragraph",
        ["validate"],
        "The policy check (also a pre-commit hook) catches it before the commit:",
        expect=1,
    )
    story.commit(message, no_verify=True)
    facts = story.facts
    facts.versions = BAD_VERSION
    cheaper = story.commit_version(5)
    yield Step(
        "",
        (
            "Committed anyway, as a careless edit would be:",
            f"v4: git commit --no-verify -m {shlex.quote(message)}",
            "and a cheaper model on top of it:",
            cheaper,
        ),
    )
    yield story.agentver("", ["list"])


def _deploy(story: _Story) -> Iterator[Step]:
    yield story.agentver(
        "Deploy: a pointer file per environment, moved by one commit",
        ["deploy", AGENT, "v3"],
        "Production runs v3; staging gets the newest version.",
    )
    # v5 breaks the billing policy: agentver refuses it unless the reason is recorded.
    override = ["--skip-gate", "--reason", "terse prompt, looks fine"]
    yield story.agentver("", ["deploy", AGENT, "v5", "--env", "staging", *override])
    yield story.agentver(
        "Canary: v5 for 10% of production users (the policy check overridden, on record)",
        ["canary", "start", AGENT, "v5", "--percent", CANARY_PERCENT, *override],
    )
    canary = _running_canary(story.root)
    chosen, share = _pick_users(canary)
    story.facts.canary_share = share
    for user in chosen:
        in_canary = user in _canary_members(canary, chosen)
        (story.facts.canary_users if in_canary else story.facts.stable_users).append(user)
    story.facts.resolved_users = chosen
    notes = (
        f"Of {SHARE_SAMPLE} users (user-0001 ... user-{SHARE_SAMPLE:04d}), "
        f"{round(share * SHARE_SAMPLE)} ({share:.1%}) land in the canary.",
        "Routing hashes the canary's salt with the user id: a user always gets the same answer.",
    )
    for index, user in enumerate(chosen):
        yield story.agentver(
            "Who gets what" if index == 0 else "",
            ["resolve", AGENT, "--user", user],
            *(notes if index == 0 else ()),
        )
    yield story.agentver(
        "Error rates look fine (a refusal is not an error), so the canary is promoted",
        ["canary", "promote", AGENT],
    )
    yield story.agentver(
        "Billing tickets pile up. What changed between v3 and v5?",
        ["diff", AGENT, "v3", "v5"],
        "The billing paragraph is gone: the agent now refuses billing questions.",
    )
    yield story.agentver(
        "Roll back: the previous active version, one commit",
        ["rollback", AGENT],
    )
    yield story.agentver(
        "",
        ["deployments", AGENT],
        "The pointer's git log is the audit trail: who, when, which version.",
    )
    yield story.agentver(
        "Feature flags change tools without a new version",
        [
            "flag",
            "set",
            AGENT,
            "human_handoff",
            "--create",
            "--users",
            story.facts.stable_users[0],
            "--add-tools",
            "escalate_to_human",
        ],
    )


def _publish(story: _Story) -> Iterator[Step]:
    yield story.agentver(
        "Publish to the runtime store agents read (embedded SQLite here, PostgreSQL for fleets)",
        ["sync"],
        "In CI this runs on every merge to main.",
    )
    yield story.agentver("", ["status"])
    snippet = runtime_snippet(story.facts.resolved_users)
    proc = subprocess.run(
        [sys.executable, "-"],
        input=snippet,
        cwd=story.root,
        env=_merged_env(story.tick(0)),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DemoError(f"the runtime snippet failed: {proc.stderr.strip()[-500:]}")
    yield Step(
        "An agent server reads the store, never git",
        (
            f"After the rollback everyone gets v3, {story.facts.canary_users[0]} (in the canary"
            f" before) too; the flag adds a tool for {story.facts.stable_users[0]}.",
        ),
        f"python - <<'EOF'\n{snippet}EOF",
        proc.stdout,
        proc.stderr,
        0,
    )
    story.facts.explore = explore_commands(story.facts)


def runtime_snippet(users: Sequence[str]) -> str:
    """The Python an agent server runs; printed by the demo and executed as printed."""
    return (
        "from agentver.runtime import RuntimeClient\n"
        "\n"
        f'client = RuntimeClient("{STORE_URL}", environment="production")\n'
        f"for user in {list(users)!r}:\n"
        f'    config = client.resolve("{AGENT}", user)\n'
        '    print(user, f"v{config.version}", config.variant, config.config_hash,'
        ' config.config["model"], config.tools)\n'
        "client.close()\n"
    )


def explore_commands(facts: DemoFacts) -> list[str]:
    """Commands to try after ``cd DIR``; each works on the finished demo repository."""
    user = facts.stable_users[0] if facts.stable_users else USER_POOL[0]
    return [
        f"agentver history {AGENT}",
        f"agentver show {AGENT} v{BAD_VERSION}",
        f"agentver diff {AGENT} v3 v{BAD_VERSION} --format markdown",
        f"agentver resolve {AGENT} --user {user} --env staging",
        f"agentver canary status {AGENT}",
        f"agentver flag list {AGENT}",
        "agentver validate",
        "agentver verify",
        "git log --oneline",
    ]


def _running_canary(root: Path) -> Canary:
    from agentver.workspace import Workspace

    pointer = Workspace.open(root).pointer("production", AGENT)
    if pointer.canary is None:
        raise DemoError("the canary did not start")
    return pointer.canary


def _canary_members(canary: Canary, users: Sequence[str]) -> set[str]:
    from agentver.routing import in_canary

    return {user for user in users if in_canary(canary, AGENT, user)}


def _pick_users(canary: Canary) -> tuple[list[str], float]:
    """Three users to resolve: two stable and one in the canary, in pool order, plus the
    measured canary share. The salt is random, so which names fall where changes."""
    pool = [*USER_POOL, *(f"user-{n:04d}" for n in range(1, SHARE_SAMPLE + 1))]
    members = _canary_members(canary, pool)
    stable = [user for user in pool if user not in members][:2]
    in_canary = [user for user in pool if user in members][:1]
    chosen = sorted(stable + in_canary, key=pool.index)
    sample = pool[len(USER_POOL) :]
    share = sum(1 for user in sample if user in members) / len(sample)
    return chosen, share
