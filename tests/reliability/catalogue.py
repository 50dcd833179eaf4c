"""The catalogue: bad inputs and bad states, as data.

Each ``Entry`` builds a state in a temporary folder (``setup``), runs one command, and
says what must come out: the exact exit code and either one ``error:`` line matching
``expect`` (kind ``error``), located ``path:line:col:`` findings on stdout one of which
matches ``expect`` (kind ``findings``, for ``validate``), a no-op note (kind ``noop``),
Click's own usage error (kind ``usage``), or, for the runtime store until the ``sync``
command exists, an ``AgentverError`` raised by the library (kind ``library``).
Whatever the kind, nothing may change: HEAD, the index, pointer files, the store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import (
    AGENT,
    PROJECT_ROOT,
    V1,
    base_repo,
    git,
    init_repo,
    pointer_bytes,
    write,
)

POINTER = f".agentver/deployments/production/{AGENT}.yaml"
AGENT_FILE = f"agents/{AGENT}.yaml"


@dataclass
class Ctx:
    """What a setup built: the working directory and anything to clean up afterwards."""

    cwd: Path
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    watch: list[Path] = field(default_factory=list)  # extra paths outside tmp to snapshot


Setup = Callable[[Path], Ctx]
Action = Callable[[Ctx], None]


@dataclass(frozen=True)
class Entry:
    id: str
    klass: str  # the class of bad input in issue 8 it covers
    setup: Setup
    argv: tuple[str, ...] = ()
    exit_code: int = 2
    expect: str = ""  # regex searched in the error line / findings / note
    kind: str = "error"  # error | findings | usage | noop | library
    action: Action | None = None  # kind "library": must raise AgentverError
    needs: str | None = None  # a CLI command that must exist (else skipped, listed)
    env: tuple[tuple[str, str | None], ...] = ()  # environment overrides (None unsets)
    known_bug: str | None = None  # reported, not fixed here: a strict xfail until it is


# -- setups ---------------------------------------------------------------------------


def base(tmp: Path) -> Ctx:
    return Ctx(base_repo(tmp / "repo"))


def agent_text(data: str | bytes, name: str = AGENT) -> Setup:
    """The base repository with ``agents/<name>.yaml`` replaced in the work tree."""

    def setup(tmp: Path) -> Ctx:
        ctx = base(tmp)
        write(ctx.cwd, f"agents/{name}.yaml", data)
        return ctx

    return setup


def pointer_text(data: str | bytes, *, committed: bool = True) -> Setup:
    def setup(tmp: Path) -> Ctx:
        ctx = base(tmp)
        write(ctx.cwd, POINTER, data)
        if committed:
            git(ctx.cwd, "commit", "-q", "-m", "hand edit", "--", POINTER)
        return ctx

    return setup


def symlink(target: Callable[[Path], str], name: str = "evil") -> Setup:
    def setup(tmp: Path) -> Ctx:
        ctx = base(tmp)
        link = ctx.cwd / "agents" / f"{name}.yaml"
        os.symlink(target(ctx.cwd), link)
        return ctx

    return setup


def outside_secret(root: Path) -> str:
    secret = root.parent / "secret.yaml"
    secret.write_text("model: stolen\nsystem_prompt: OUTSIDE-SECRET\n")
    return str(secret)


def plain_dir(tmp: Path) -> Ctx:
    where = tmp / "plain"
    where.mkdir()
    write(where, AGENT_FILE, V1)
    return Ctx(where)


def bare_repo(tmp: Path) -> Ctx:
    ctx = base(tmp)
    bare = tmp / "bare.git"
    git(tmp, "clone", "-q", "--bare", str(ctx.cwd), str(bare))
    return Ctx(bare)


def empty_repo(tmp: Path) -> Ctx:
    root = tmp / "empty"
    init_repo(root)
    write(root, AGENT_FILE, V1)
    return Ctx(root)


def shallow_clone(tmp: Path) -> Ctx:
    ctx = base(tmp)
    clone = tmp / "shallow"
    git(tmp, "clone", "-q", "--depth", "1", f"file://{ctx.cwd}", str(clone))
    git(clone, "config", "commit.gpgsign", "false")
    return Ctx(clone)


def detached(tmp: Path) -> Ctx:
    ctx = base(tmp)
    git(ctx.cwd, "checkout", "-q", "--detach", "HEAD")
    return ctx


def git_marker(name: str, content: str = "") -> Setup:
    """A merge/cherry-pick/rebase in progress, as git records it in .git."""

    def setup(tmp: Path) -> Ctx:
        ctx = base(tmp)
        head = git(ctx.cwd, "rev-parse", "HEAD").strip()
        path = ctx.cwd / ".git" / name
        if name.startswith("rebase"):
            path.mkdir()
            (path / "head-name").write_text("refs/heads/main\n")
            (path / "onto").write_text(head + "\n")
        else:
            path.write_text((content or head) + "\n")
        return ctx

    return setup


def real_merge_conflict(tmp: Path) -> Ctx:
    """A real ``git merge`` stopped on a conflict (in README.md)."""
    ctx = base(tmp)
    root = ctx.cwd
    git(root, "checkout", "-q", "-b", "other", "HEAD~1")
    write(root, "README.md", "theirs\n")
    git(root, "commit", "-q", "-am", "other edit")
    git(root, "checkout", "-q", "main")
    write(root, "README.md", "ours\n")
    git(root, "commit", "-q", "-am", "our edit")
    proc = git(root, "merge", "other", check=False)
    assert (root / ".git" / "MERGE_HEAD").exists(), proc
    return ctx


def index_lock(tmp: Path) -> Ctx:
    ctx = base(tmp)
    (ctx.cwd / ".git" / "index.lock").write_bytes(b"")
    return ctx


def killed_in_commit(tmp: Path) -> Ctx:
    """What a kill inside ``git commit`` leaves: index.lock and an uncommitted pointer."""
    ctx = uncommitted_pointer(tmp)
    (ctx.cwd / ".git" / "index.lock").write_bytes(b"")
    return ctx


def no_identity(tmp: Path) -> Ctx:
    ctx = base(tmp)
    git(ctx.cwd, "config", "--unset", "user.email")
    git(ctx.cwd, "config", "--unset", "user.name")
    git(ctx.cwd, "config", "user.useConfigOnly", "true")
    return ctx


def uncommitted_pointer(tmp: Path) -> Ctx:
    ctx = base(tmp)
    path = ctx.cwd / POINTER
    path.write_bytes(path.read_bytes() + b"# my note\n")
    return ctx


def staged_pointer_v2(tmp: Path) -> Ctx:
    ctx = base(tmp)
    write(ctx.cwd, POINTER, pointer_bytes(ctx.cwd, 2))
    git(ctx.cwd, "add", POINTER)
    return ctx


def renumbered_pointer(tmp: Path) -> Ctx:
    """The pointer names a version whose hash is not in HEAD's history."""
    ctx = base(tmp)
    text = (ctx.cwd / POINTER).read_text()
    import re

    text = re.sub(r'config_hash: "[0-9a-f]{16}"', 'config_hash: "0123456789abcdef"', text)
    write(ctx.cwd, POINTER, text)
    git(ctx.cwd, "commit", "-q", "-m", "tamper", "--", POINTER)
    return ctx


def with_canary(tmp: Path) -> Ctx:
    ctx = base(tmp)
    text = (ctx.cwd / POINTER).read_text()
    v2 = pointer_bytes(ctx.cwd, 2).decode().split("active: ")[1].strip()
    canary = (
        v2[:-1] + ', percent: 10, salt: "0123456789abcdef", started_at: "2026-01-02T00:00:00Z"}'
    )
    write(ctx.cwd, POINTER, text + f"canary: {canary}\n")
    git(ctx.cwd, "commit", "-q", "-m", "canary", "--", POINTER)
    return ctx


def settings_text(data: str) -> Setup:
    def setup(tmp: Path) -> Ctx:
        ctx = base(tmp)
        write(ctx.cwd, "agentver.yaml", data)
        return ctx

    return setup


def agents_dir_symlink(tmp: Path) -> Ctx:
    ctx = base(tmp)
    outside = tmp / "outside-agents"
    outside.mkdir()
    write(outside, "stolen.yaml", "model: x\nsystem_prompt: OUTSIDE-SECRET\n")
    os.symlink(outside, ctx.cwd / "linked")
    write(ctx.cwd, "agentver.yaml", "agents_dir: linked\n")
    return ctx


# -- the runtime store (library level until `agentver sync` exists) --------------------


def _snapshot_for_store() -> object:
    """A deterministic snapshot from the store tests' builder (tests/store_kill_driver.py)."""
    import importlib

    tests_dir = str(Path(__file__).resolve().parents[1])
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    driver = importlib.import_module("store_kill_driver")
    return driver.make_snapshot(2, 2, "A")


def _sync(url: str, root: Path, timeout: float = 0.3) -> None:
    import dataclasses

    from agentver.store import open_store

    # Published as the repository's HEAD (when root is one), so a later `agentver sync`
    # there is not refused as stale.
    snapshot: Any = _snapshot_for_store()
    head = git(root, "rev-parse", "HEAD", check=False).strip()
    if head:
        snapshot = dataclasses.replace(snapshot, head_commit=head)
    store = open_store(url, root, timeout=timeout)
    try:
        store.sync(snapshot)
    finally:
        store.close()


def synced_store(tmp: Path) -> Ctx:
    ctx = base(tmp)
    _sync("sqlite:///.agentver/runtime.db", ctx.cwd)
    return ctx


def locked_store(tmp: Path) -> Ctx:
    """Another process holds an exclusive SQLite lock for the whole run."""
    ctx = synced_store(tmp)
    db = ctx.cwd / ".agentver" / "runtime.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"

    def release() -> None:
        holder.kill()
        holder.wait()

    ctx.cleanup.append(release)
    return ctx


def readonly_store(tmp: Path) -> Ctx:
    """A synced store in a folder an unprivileged user can read but not write."""
    ctx = synced_store(tmp)
    shared = Path(tempfile.mkdtemp(prefix="agentver-ro-"))
    db = shared / "runtime.db"
    db.write_bytes((ctx.cwd / ".agentver" / "runtime.db").read_bytes())
    db.chmod(0o444)
    shared.chmod(0o555)
    ctx.watch.append(shared)

    def remove() -> None:
        shared.chmod(0o755)
        db.unlink(missing_ok=True)
        for leftover in shared.iterdir():
            leftover.unlink()
        shared.rmdir()

    ctx.cleanup.append(remove)
    return ctx


def store_action(url: str, timeout: float = 0.3) -> Action:
    def act(ctx: Ctx) -> None:
        _sync(url, ctx.cwd, timeout)

    return act


def _drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def readonly_action(ctx: Ctx) -> None:
    """Sync into the read-only store; as root, in a child process dropped to nobody."""
    from agentver.errors import StoreError

    db = ctx.watch[0] / "runtime.db"
    url = f"sqlite:///{db}"
    if os.geteuid() != 0:
        _sync(url, ctx.cwd)
        return
    code = (
        "import sys\n"
        "from tests.reliability.catalogue import _sync\n"
        "from agentver.errors import AgentverError\n"
        "from pathlib import Path\n"
        "try:\n"
        f"    _sync({url!r}, Path('/'))\n"
        "except AgentverError as exc:\n"
        "    print(exc.exit_code, exc.message)\n"
        "    sys.exit(3)\n"
    )
    # The venv's interpreter may live under /root; the system one of the same minor
    # version runs the same code with the venv's packages on the path.
    import site
    import sysconfig

    version = sysconfig.get_python_version()
    python = Path(f"/usr/bin/python{version}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *site.getsitepackages()])
    proc = subprocess.run(
        [str(python) if python.exists() else sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
        preexec_fn=_drop_to_nobody,
        timeout=60,
    )
    if proc.returncode == 3:
        code_text, _, message = proc.stdout.strip().partition(" ")
        error = StoreError(message)
        error.exit_code = int(code_text)
        raise error
    raise AssertionError(f"sync as nobody did not refuse: {proc.returncode} {proc.stderr}")


# -- hostile documents ----------------------------------------------------------------

ALIAS_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    + "model: gpt-4o\nsystem_prompt: hi\n"
)
DEEP_LIST = "model: gpt-4o\nsystem_prompt: hi\nparams:\n  deep: " + "[" * 500 + "]" * 500 + "\n"
DEEP_MAP = "model: gpt-4o\nsystem_prompt: hi\nparams: " + "{a: " * 200 + "1" + "}" * 200 + "\n"
HUGE = "model: gpt-4o\nsystem_prompt: |\n" + ("  lorem ipsum dolor sit amet\n" * 80_000)
PY_TAG = 'model: !!python/object/apply:os.system ["touch /tmp/agentver-pwned"]\nsystem_prompt: hi\n'
PY_NAME = "model: !!python/name:os.system\nsystem_prompt: hi\n"
CUSTOM_TAG = "model: !vault gpt-4o\nsystem_prompt: hi\n"
DUPLICATE = "model: gpt-4o\nsystem_prompt: hi\nmodel: gpt-3.5\n"
CONFLICT = (
    "model: gpt-4o\n<<<<<<< HEAD\nsystem_prompt: a\n=======\nsystem_prompt: b\n>>>>>>> other\n"
)
TABS = "model: gpt-4o\nguardrails:\n\tpii_redaction: true\nsystem_prompt: hi\n"
NON_STRING_KEY = "model: gpt-4o\nsystem_prompt: hi\n1: one\n"
COMPLEX_KEY = "model: gpt-4o\nsystem_prompt: hi\n? [a, b]\n: c\n"
DATE = "model: 2024-05-01\nsystem_prompt: hi\n"
YES = "model: gpt-4o\nsystem_prompt: hi\nguardrails: {pii_redaction: yes}\n"
FLOAT_MODEL = "model: 1.10\nsystem_prompt: hi\n"
MERGE_KEY = "base: &b {model: gpt-4o}\n<<: *b\nsystem_prompt: hi\n"
MULTI_DOC = "model: gpt-4o\nsystem_prompt: hi\n---\nmodel: other\n"
UNCLOSED = 'model: "gpt-4o\nsystem_prompt: hi\n'
NAN_TEMP = "model: gpt-4o\nsystem_prompt: hi\ntemperature: .nan\n"

SEEDS_FOR_FUZZ = [
    V1,
    DUPLICATE,
    TABS,
    CONFLICT,
    PY_TAG,
    DEEP_MAP[:400],
    ALIAS_BOMB,
    DATE,
    MERGE_KEY,
]

NO_IDENTITY_ENV = tuple(
    (name, None)
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
    )
)


def findings(entry_id: str, klass: str, data: str | bytes, expect: str, name: str = AGENT) -> Entry:
    return Entry(
        entry_id,
        klass,
        agent_text(data, name),
        ("validate", f"agents/{name}.yaml"),
        1,
        expect,
        "findings",
        needs="validate",
    )


def worktree_error(entry_id: str, klass: str, data: str | bytes, expect: str) -> Entry:
    """The same bad file read by a command that needs it: one located error, exit 2."""
    return Entry(entry_id, klass, agent_text(data), ("diff", AGENT, "1", "worktree"), 2, expect)


def percent(entry_id: str, value: str, argv_head: Sequence[str] | None = None) -> Entry:
    head = tuple(argv_head or ("canary", "start", AGENT, "2"))
    return Entry(entry_id, "percent", base, (*head, f"--percent={value}"), 2, r"invalid percent")


CATALOGUE: list[Entry] = [
    # -- malformed and hostile YAML: validate reports located findings (exit 1) ...
    findings("yaml-alias-bomb", "yaml", ALIAS_BOMB, r"alias bomb|nodes"),
    findings("yaml-deep-list", "yaml", DEEP_LIST, r"deeper than"),
    findings("yaml-deep-map", "yaml", DEEP_MAP, r"deeper than"),
    findings("yaml-huge-file", "yaml", HUGE, r"limit is"),
    findings("yaml-python-tag", "yaml", PY_TAG, r"unsupported tag"),
    findings("yaml-python-name-tag", "yaml", PY_NAME, r"unsupported tag"),
    findings("yaml-custom-tag", "yaml", CUSTOM_TAG, r"unsupported tag"),
    findings("yaml-duplicate-key", "yaml", DUPLICATE, r"^agents/support\.yaml:3:1: duplicate key"),
    findings("yaml-nul-byte", "yaml", b"model: gpt-4o\nsystem_prompt: h\x00i\n", r":2:17: .*NUL"),
    findings(
        "yaml-utf16-bom", "yaml", "model: x\nsystem_prompt: hi\n".encode("utf-16"), r"NUL|UTF-8"
    ),
    findings(
        "yaml-utf8-bom-duplicate",
        "yaml",
        b"\xef\xbb\xbf" + DUPLICATE.encode(),
        r":3:1: duplicate key",
    ),
    findings(
        "yaml-crlf-duplicate",
        "yaml",
        DUPLICATE.replace("\n", "\r\n").encode(),
        r":3:1: duplicate key",
    ),
    findings("yaml-tabs", "yaml", TABS, r":3:\d+: .*(tab|YAML)"),
    findings("yaml-conflict-markers", "yaml", CONFLICT, r":2:1: unresolved merge conflict"),
    findings("yaml-non-string-key", "yaml", NON_STRING_KEY, r":3:1: key 1 is not a string"),
    findings("yaml-complex-key", "yaml", COMPLEX_KEY, r"not a string"),
    findings("yaml-date", "yaml", DATE, r":1:8: 2024-05-01 is read as a date"),
    findings("yaml-yes-boolean", "yaml", YES, r"YAML 1\.1"),
    findings("yaml-float-model", "yaml", FLOAT_MODEL, r'quote it: "1\.10"'),
    findings("yaml-merge-key", "yaml", MERGE_KEY, r"merge keys"),
    findings("yaml-multi-document", "yaml", MULTI_DOC, r"invalid YAML|single|document"),
    findings("yaml-unclosed-quote", "yaml", UNCLOSED, r"invalid YAML"),
    findings("yaml-invalid-utf8", "yaml", b"model: gpt-4o\nsystem_prompt: \xff\xfe\n", r"UTF-8"),
    findings("yaml-nan", "yaml", NAN_TEMP, r"not a finite number"),
    findings("yaml-empty-file", "yaml", "", r"mapping|empty"),
    findings("yaml-top-level-list", "yaml", "- model: gpt-4o\n", r"mapping"),
    # ... and a command that needs the file refuses with one located error (exit 2).
    worktree_error("yaml-alias-bomb-diff", "yaml", ALIAS_BOMB, r"alias bomb"),
    worktree_error("yaml-deep-list-diff", "yaml", DEEP_LIST, r"deeper than"),
    worktree_error("yaml-huge-file-diff", "yaml", HUGE, r"limit is"),
    worktree_error("yaml-python-tag-diff", "yaml", PY_TAG, r":1:8: unsupported tag"),
    worktree_error("yaml-duplicate-key-diff", "yaml", DUPLICATE, r":3:1: duplicate key"),
    worktree_error("yaml-nul-byte-diff", "yaml", b"model: x\x00\n", r":1:9: .*NUL"),
    worktree_error("yaml-conflict-diff", "yaml", CONFLICT, r":2:1: unresolved merge conflict"),
    worktree_error("yaml-date-diff", "yaml", DATE, r"read as a date"),
    # -- schema violations (validate: exit 1, located)
    findings(
        "schema-missing-model", "schema", "system_prompt: hi\n", r"missing required key 'model'"
    ),
    findings(
        "schema-missing-prompt", "schema", "model: x\n", r"missing required key 'system_prompt'"
    ),
    findings(
        "schema-temperature-high",
        "schema",
        "model: x\nsystem_prompt: hi\ntemperature: 3\n",
        r":3:14: ",
    ),
    findings(
        "schema-temperature-string",
        "schema",
        "model: x\nsystem_prompt: hi\ntemperature: hot\n",
        r"temperature must be a number",
    ),
    findings(
        "schema-max-tokens-zero",
        "schema",
        "model: x\nsystem_prompt: hi\nmax_tokens: 0\n",
        r":3:13: ",
    ),
    findings(
        "schema-max-tokens-float",
        "schema",
        "model: x\nsystem_prompt: hi\nmax_tokens: 1.5\n",
        r"max_tokens must be an integer",
    ),
    findings(
        "schema-tools-duplicate",
        "schema",
        "model: x\nsystem_prompt: hi\ntools: [a, a]\n",
        r"same item twice",
    ),
    findings(
        "schema-tools-not-list",
        "schema",
        "model: x\nsystem_prompt: hi\ntools: a\n",
        r"tools must be a list",
    ),
    findings(
        "schema-unknown-key-typo",
        "schema",
        "model: x\nsystem_prompt: hi\ntemprature: 0.5\n",
        r":3:1: unknown key 'temprature' \(did you mean 'temperature'\?\)",
    ),
    findings(
        "schema-guardrails-list",
        "schema",
        "model: x\nsystem_prompt: hi\nguardrails: [a]\n",
        r"guardrails must be a mapping",
    ),
    Entry(
        "schema-invalid-version-deploy",
        "schema",
        base,
        ("deploy", AGENT, "3"),
        2,
        r"v3 does not pass the schema",
    ),
    Entry(
        "schema-invalid-version-canary",
        "schema",
        base,
        ("canary", "start", AGENT, "3", "--percent", "10"),
        2,
        r"v3 does not pass the schema",
    ),
    # -- agent names that must never become paths
    Entry("name-dotdot", "agent-id", base, ("show", "../../etc/passwd"), 2, r"invalid agent id"),
    Entry("name-slash", "agent-id", base, ("show", "agents/support"), 2, r"invalid agent id"),
    Entry(
        "name-leading-dash", "agent-id", base, ("show", "--", "-support"), 2, r"invalid agent id"
    ),
    Entry("name-newline", "agent-id", base, ("show", "sup\nport"), 2, r"invalid agent id"),
    Entry("name-unicode", "agent-id", base, ("show", "süpport"), 2, r"invalid agent id"),
    Entry("name-uppercase", "agent-id", base, ("history", "Support"), 2, r"invalid agent id"),
    Entry("name-too-long", "agent-id", base, ("history", "a" * 64), 2, r"invalid agent id"),
    Entry("name-nul", "agent-id", base, ("deployments", "sup\x00port"), 2, r"invalid agent id"),
    Entry(
        "name-dotdot-deploy",
        "agent-id",
        base,
        ("deploy", "../support", "1"),
        2,
        r"invalid agent id",
    ),
    Entry(
        "name-dotdot-flag", "agent-id", base, ("flag", "set", "..", "beta"), 2, r"invalid agent id"
    ),
    Entry(
        "name-unknown-agent",
        "agent-id",
        base,
        ("deploy", "billing", "1"),
        2,
        r"unknown agent 'billing'",
    ),
    findings("name-bad-file-stem", "agent-id", V1, r"agent id", name="Bad.Name"),
    findings("name-unicode-file-stem", "agent-id", V1, r"agent id", name="süpport"),
    Entry(
        "flag-name-path", "agent-id", base, ("flag", "set", AGENT, "../x"), 2, r"invalid flag name"
    ),
    # -- symlinked agent files
    Entry(
        "symlink-outside-repo",
        "symlink",
        symlink(outside_secret),
        ("show", "evil", "worktree"),
        2,
        r"symlink",
    ),
    Entry(
        "symlink-into-git-dir",
        "symlink",
        symlink(lambda root: "../.git/config"),
        ("show", "evil", "worktree"),
        2,
        r"symlink",
    ),
    Entry(
        "symlink-existing-agent-diff",
        "symlink",
        lambda tmp: _replace_with_link(tmp),
        ("diff", AGENT, "1", "worktree"),
        2,
        r"symlink",
    ),
    Entry(
        "symlink-validate",
        "symlink",
        symlink(outside_secret),
        ("validate", "agents/evil.yaml"),
        1,
        r"symlink",
        "findings",
        needs="validate",
    ),
    Entry(
        "symlink-agents-dir",
        "symlink",
        agents_dir_symlink,
        ("show", "stolen", "worktree"),
        2,
        r"symlink|outside",
    ),
    # -- references
    Entry("ref-zero", "ref", base, ("show", AGENT, "v0"), 2, r"unknown version reference 'v0'"),
    Entry("ref-too-high", "ref", base, ("show", AGENT, "99"), 2, r"support has no version 99"),
    Entry(
        "ref-huge-number", "ref", base, ("show", AGENT, "9" * 30), 2, r"unknown version reference"
    ),
    Entry(
        "ref-unknown-word", "ref", base, ("show", AGENT, "newest"), 2, r"unknown version reference"
    ),
    Entry(
        "ref-unknown-rev",
        "ref",
        base,
        ("show", AGENT, "@no-such-branch"),
        2,
        r"unknown git revision",
    ),
    Entry(
        "ref-option-injection",
        "ref",
        base,
        ("show", AGENT, "@--output=/tmp/x"),
        2,
        r"unknown git revision",
    ),
    Entry(
        "ref-shell-chars",
        "ref",
        base,
        ("show", AGENT, "1; rm -rf /"),
        2,
        r"unknown version reference",
    ),
    Entry("ref-no-previous", "ref", base, ("rollback", AGENT), 2, r"no previous active version"),
    Entry("ref-no-canary", "ref", base, ("show", AGENT, "canary"), 2, r"no canary is running"),
    Entry(
        "ref-worktree-deploy",
        "ref",
        base,
        ("deploy", AGENT, "worktree"),
        2,
        r"worktree is not a committed",
    ),
    Entry("ref-before-agent", "ref", base, ("show", AGENT, "@HEAD~4"), 2, r"does not exist at"),
    Entry(
        "ref-unknown-env",
        "ref",
        base,
        ("deploy", AGENT, "2", "--env", "qa"),
        2,
        r"unknown environment 'qa'",
    ),
    # -- percentages
    percent("percent-zero", "0"),
    percent("percent-negative", "-1"),
    percent("percent-over-100", "101"),
    percent("percent-nan", "nan"),
    percent("percent-exponent", "1e2"),
    percent("percent-three-decimals", "33.333"),
    percent("percent-inf", "inf"),
    percent("percent-empty", ""),
    percent("percent-comma", "10,5"),
    percent("percent-flag-tiny", "0.001", ("flag", "set", AGENT, "beta")),
    percent("percent-canary-set-over", "100.01", ("canary", "set", AGENT)),
    # -- repository states
    Entry("repo-not-git", "repo-state", plain_dir, ("list",), 2, r"not a git repository"),
    Entry(
        "repo-not-git-deploy",
        "repo-state",
        plain_dir,
        ("deploy", AGENT, "1"),
        2,
        r"not a git repository",
    ),
    Entry("repo-bare", "repo-state", bare_repo, ("list",), 2, r"bare repository"),
    Entry(
        "repo-inside-git-dir",
        "repo-state",
        lambda tmp: Ctx(base(tmp).cwd / ".git"),
        ("list",),
        2,
        r"bare|git directory",
    ),
    Entry("repo-empty", "repo-state", empty_repo, ("history", AGENT), 2, r"no commits"),
    Entry("repo-empty-deploy", "repo-state", empty_repo, ("deploy", AGENT, "1"), 2, r"no commits"),
    Entry("repo-shallow", "repo-state", shallow_clone, ("history", AGENT), 2, r"shallow clone"),
    Entry(
        "repo-shallow-deploy",
        "repo-state",
        shallow_clone,
        ("deploy", AGENT, "2"),
        2,
        r"shallow clone",
    ),
    Entry(
        "repo-detached-head", "repo-state", detached, ("deploy", AGENT, "2"), 2, r"HEAD is detached"
    ),
    Entry(
        "repo-merge-in-progress",
        "repo-state",
        git_marker("MERGE_HEAD"),
        ("deploy", AGENT, "2"),
        2,
        r"a merge is in progress",
    ),
    Entry(
        "repo-real-merge-conflict",
        "repo-state",
        real_merge_conflict,
        ("flag", "set", AGENT, "beta"),
        2,
        r"merge is in progress",
    ),
    Entry(
        "repo-rebase-in-progress",
        "repo-state",
        git_marker("rebase-merge"),
        ("rollback", AGENT, "1"),
        2,
        r"a rebase is in progress",
    ),
    Entry(
        "repo-rebase-apply",
        "repo-state",
        git_marker("rebase-apply"),
        ("deploy", AGENT, "2"),
        2,
        r"a rebase is in progress",
    ),
    Entry(
        "repo-cherry-pick",
        "repo-state",
        git_marker("CHERRY_PICK_HEAD"),
        ("deploy", AGENT, "2"),
        2,
        r"cherry-pick is in progress",
    ),
    Entry(
        "repo-stale-index-lock", "repo-state", index_lock, ("deploy", AGENT, "2"), 2, r"index\.lock"
    ),
    Entry(
        "repo-index-lock-after-kill",
        "repo-state",
        killed_in_commit,
        ("deploy", AGENT, "2"),
        2,
        r"index\.lock",
    ),
    Entry(
        "repo-missing-identity",
        "repo-state",
        no_identity,
        ("deploy", AGENT, "2"),
        2,
        r"who you are",
        env=NO_IDENTITY_ENV,
    ),
    Entry(
        "repo-bad-settings",
        "repo-state",
        settings_text("environments: production\n"),
        ("list",),
        2,
        r"agentver\.yaml:1:\d+: environments",
    ),
    Entry(
        "repo-settings-typo",
        "repo-state",
        settings_text("enviroments: [prod]\n"),
        ("list",),
        2,
        r"unknown setting 'enviroments'",
    ),
    Entry(
        "repo-settings-escape",
        "repo-state",
        settings_text("agents_dir: ../elsewhere\n"),
        ("list",),
        2,
        r"agents_dir",
    ),
    Entry(
        "repo-settings-python-tag",
        "repo-state",
        settings_text("store: !!python/name:os.system\n"),
        ("list",),
        2,
        r"unsupported tag",
    ),
    # -- pointer files
    Entry(
        "pointer-invalid-yaml",
        "pointer",
        pointer_text("agent: [support\n"),
        ("deploy", AGENT, "2"),
        2,
        r"corrupt pointer file \.agentver/deployments/production/support\.yaml",
    ),
    Entry(
        "pointer-conflict-markers",
        "pointer",
        pointer_text("<<<<<<< HEAD\nagent: support\n=======\nagent: x\n>>>>>>> b\n"),
        ("rollback", AGENT, "1"),
        2,
        r"corrupt pointer file .*conflict",
    ),
    Entry(
        "pointer-wrong-agent",
        "pointer",
        lambda tmp: _edit_pointer(tmp, "agent: support", "agent: billing"),
        ("flag", "set", AGENT, "beta"),
        2,
        r"corrupt pointer file .*agent is 'billing'",
    ),
    Entry(
        "pointer-unknown-key",
        "pointer",
        lambda tmp: _edit_pointer(tmp, "agent: support", "agent: support\nowner: me"),
        ("deploy", AGENT, "2"),
        2,
        r"unknown key 'owner'",
    ),
    Entry(
        "pointer-bad-hash",
        "pointer",
        lambda tmp: _edit_pointer(tmp, 'config_hash: "', 'config_hash: "zz'),
        ("deploy", AGENT, "2"),
        2,
        r"config_hash must be 16 hex",
    ),
    Entry(
        "pointer-python-tag",
        "pointer",
        pointer_text("agent: !!python/object/apply:os.system [id]\n"),
        ("deploy", AGENT, "2"),
        2,
        r"unsupported tag",
    ),
    Entry(
        "pointer-nul-byte",
        "pointer",
        pointer_text(b"agent: support\x00\n"),
        ("canary", "status", AGENT),
        2,
        r"corrupt pointer file .*NUL",
    ),
    Entry(
        "pointer-bad-canary-percent",
        "pointer",
        lambda tmp: _edit_pointer(
            tmp,
            "active:",
            'canary: {version: 2, config_hash: "0123456789abcdef", commit: "'
            + "a" * 40
            + '", percent: 150, salt: "0123456789abcdef", started_at: "x"}\nactive:',
        ),
        ("resolve", AGENT, "--user", "u1"),
        2,
        r"canary\.percent",
    ),
    Entry(
        "pointer-uncommitted-edits",
        "pointer",
        uncommitted_pointer,
        ("deploy", AGENT, "2"),
        2,
        r"has uncommitted edits",
    ),
    Entry(
        "pointer-staged-edit",
        "pointer",
        staged_pointer_v2,
        ("rollback", AGENT, "1"),
        2,
        r"has uncommitted edits",
    ),
    Entry(
        "pointer-renumbered",
        "pointer",
        renumbered_pointer,
        ("show", AGENT, "active"),
        2,
        r"not in the history of HEAD",
    ),
    Entry(
        "pointer-canary-of-active",
        "pointer",
        base,
        ("canary", "start", AGENT, "1", "--percent", "10"),
        2,
        r"already the active version",
    ),
    Entry(
        "pointer-second-canary",
        "pointer",
        with_canary,
        ("canary", "start", AGENT, "2", "--percent", "5"),
        2,
        r"already has a canary",
    ),
    Entry(
        "pointer-canary-set-none",
        "pointer",
        base,
        ("canary", "set", AGENT, "--percent", "20"),
        2,
        r"no canary running",
    ),
    Entry(
        "pointer-flag-rm-unknown",
        "pointer",
        base,
        ("flag", "rm", AGENT, "nope"),
        2,
        r"has no flag 'nope'",
    ),
    Entry(
        "pointer-deploy-active-noop",
        "pointer",
        base,
        ("deploy", AGENT, "1"),
        0,
        r"nothing to do",
        "noop",
    ),
    Entry(
        "pointer-canary-no-active",
        "pointer",
        lambda tmp: _edit_pointer(tmp, "active: {", "active: null\n#{"),
        ("canary", "start", AGENT, "2", "--percent", "10"),
        2,
        r"no active version",
    ),
    # -- the runtime store (library level: `agentver sync` is not in the CLI yet)
    Entry(
        "store-locked-sqlite",
        "store",
        locked_store,
        exit_code=2,
        expect=r"locked",
        kind="library",
        action=store_action("sqlite:///.agentver/runtime.db"),
    ),
    Entry(
        "store-readonly-sqlite",
        "store",
        readonly_store,
        exit_code=2,
        expect=r"read-only|readonly",
        kind="library",
        action=readonly_action,
    ),
    Entry(
        "store-unreachable-postgres",
        "store",
        base,
        exit_code=2,
        expect=r"127\.0\.0\.1|connect|unreachable",
        kind="library",
        action=store_action("postgresql://postgres@127.0.0.1:1/test", 1),
    ),
    Entry(
        "store-not-a-database",
        "store",
        lambda tmp: _garbage_store(tmp),
        exit_code=2,
        expect=r"not a valid SQLite",
        kind="library",
        action=store_action("sqlite:///.agentver/runtime.db"),
    ),
    Entry(
        "store-is-directory",
        "store",
        lambda tmp: _dir_store(tmp),
        exit_code=2,
        expect=r"is a directory",
        kind="library",
        action=store_action("sqlite:///.agentver/runtime.db"),
    ),
    Entry(
        "store-unknown-scheme",
        "store",
        base,
        exit_code=2,
        expect=r"unsupported store URL",
        kind="library",
        action=store_action("mysql://root@localhost/db"),
    ),
    Entry(
        "store-password-masked",
        "store",
        base,
        exit_code=2,
        expect=r"^(?!.*hunter2)",
        kind="library",
        action=store_action("postgresql://postgres:hunter2@127.0.0.1:1/test", 1),
    ),
    # -- the same store faults through the CLI, once `sync` / `status` exist
    Entry("store-locked-sync-cli", "store", locked_store, ("sync",), 2, r"locked", needs="sync"),
    Entry(
        "store-unreachable-sync-cli",
        "store",
        base,
        ("sync", "--store", "postgresql://postgres@127.0.0.1:1/test"),
        2,
        r"127\.0\.0\.1|connect",
        needs="sync",
    ),
    Entry(
        "store-not-a-database-status-cli",
        "store",
        lambda tmp: _garbage_store(tmp),
        ("status",),
        2,
        r"not a valid SQLite",
        needs="status",
    ),
    Entry(
        "store-not-a-database-sync-cli",
        "store",
        lambda tmp: _garbage_store(tmp),
        ("sync",),
        2,
        r"not a valid SQLite",
        needs="sync",
    ),
    Entry(
        "store-is-directory-sync-cli",
        "store",
        lambda tmp: _dir_store(tmp),
        ("sync",),
        2,
        r"is a directory",
        needs="sync",
    ),
    Entry(
        "store-unknown-scheme-sync-cli",
        "store",
        base,
        ("sync", "--store", "mysql://root@localhost/db"),
        2,
        r"unsupported store URL",
        needs="sync",
    ),
    Entry(
        "store-bad-env-url-status-cli",
        "store",
        base,
        ("status",),
        2,
        r"unsupported store URL",
        needs="status",
        env=(("AGENTVER_STORE", "bogus://x"),),
    ),
    Entry(
        "store-password-masked-sync-cli",
        "store",
        base,
        ("sync", "--store", "postgresql://postgres:hunter2@127.0.0.1:1/test"),
        2,
        r"^(?!.*hunter2)error: .*127\.0\.0\.1",
        needs="sync",
    ),
    Entry(
        "store-missing-dir-sync-cli",
        "store",
        base,
        ("sync", "--store", "sqlite:///no/such/dir/runtime.db"),
        2,
        r"does not exist",
        needs="sync",
    ),
    Entry(
        "store-sync-shallow-cli",
        "store",
        shallow_clone,
        ("sync",),
        2,
        r"shallow clone",
        needs="sync",
    ),
    Entry(
        "store-sync-not-git-cli",
        "store",
        plain_dir,
        ("sync",),
        2,
        r"not a git repository",
        needs="sync",
    ),
    Entry(
        "store-unreachable-verify-cli",
        "store",
        base,
        ("verify", "--store", "postgresql://postgres@127.0.0.1:1/test"),
        2,
        r"127\.0\.0\.1|connect",
        needs="verify",
    ),
]


def _replace_with_link(tmp: Path) -> Ctx:
    ctx = base(tmp)
    target = ctx.cwd / AGENT_FILE
    target.unlink()
    os.symlink(outside_secret(ctx.cwd), target)
    return ctx


def _edit_pointer(tmp: Path, old: str, new: str) -> Ctx:
    ctx = base(tmp)
    text = (ctx.cwd / POINTER).read_text()
    assert old in text, (old, text)
    write(ctx.cwd, POINTER, text.replace(old, new, 1))
    commit_env = {
        "GIT_AUTHOR_DATE": "2026-02-01T00:00:00+00:00",
        "GIT_COMMITTER_DATE": "2026-02-01T00:00:00+00:00",
    }
    git(ctx.cwd, "commit", "-q", "-m", "hand edit", "--", POINTER, env=commit_env)
    return ctx


def _garbage_store(tmp: Path) -> Ctx:
    ctx = base(tmp)
    write(ctx.cwd, ".agentver/runtime.db", b"this is not a database, just text\n" * 200)
    return ctx


def _dir_store(tmp: Path) -> Ctx:
    ctx = base(tmp)
    (ctx.cwd / ".agentver" / "runtime.db").mkdir(parents=True)
    return ctx


def by_id() -> dict[str, Entry]:
    ids = [entry.id for entry in CATALOGUE]
    duplicates = {name for name in ids if ids.count(name) > 1}
    assert not duplicates, f"duplicate catalogue ids: {sorted(duplicates)}"
    return {entry.id: entry for entry in CATALOGUE}
