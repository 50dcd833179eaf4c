"""Sync is compare-and-swap (issue 12 finding #1, docs/design.md section 8).

Several real processes sync different commits of one history at the same moment, round
after round, on SQLite and PostgreSQL: the store always ends at the newest commit, never
moves backwards, and every process that lost the race exits 1 naming both commits.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import store_kill_driver as fx

from agentver.store import open_store

WORKER = Path(__file__).parent / "reliability" / "sync_race_worker.py"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ROUNDS = 100
CONTENDERS = 3


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fx.store_url_for(request.param, tmp_path)


def linear_history(root: Path, commits: int) -> list[str]:
    """A repository whose every commit is a new version of one agent (git fast-import:
    a few ms for hundreds of commits). Returns the commit ids, oldest first."""
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream = []
    for n in range(1, commits + 1):
        agent = f"model: gpt-4o\nsystem_prompt: version {n}\n".encode()
        files = [(b"agents/a.yaml", agent)]
        if n == 1:
            files.append((b"agentver.yaml", b"environments: [production]\n"))
        stream.append(b"commit refs/heads/main\nmark :%d\n" % n)
        stream.append(b"committer T <t@example.com> %d +0000\n" % (1767225600 + n * 60))
        stream.append(b"data 2\nc\n")
        if n > 1:
            stream.append(b"from :%d\n" % (n - 1))
        for path, content in files:
            stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(content), content))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=root, check=True)
    out = subprocess.run(
        ["git", "rev-list", "--reverse", "main"], cwd=root, capture_output=True, text=True
    )
    return out.stdout.split()


class Contender:
    def __init__(self, clone: Path, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(clone), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"contender died (exit {self.proc.poll()})"
        return line.rstrip("\n")

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def test_concurrent_syncs_never_move_the_store_backwards(store_url: str, tmp_path: Path) -> None:
    history = linear_history(tmp_path / "origin", ROUNDS * CONTENDERS + 1)
    order = {commit: index for index, commit in enumerate(history)}
    contenders = []
    for i in range(CONTENDERS):
        clone = tmp_path / f"clone{i}"
        subprocess.run(
            ["git", "clone", "-q", "--shared", str(tmp_path / "origin"), str(clone)], check=True
        )
        contenders.append(Contender(clone, store_url))
    store = open_store(store_url, tmp_path)
    try:
        contenders[0].send(f"prepare {history[0]}")
        assert contenders[0].answer() == "ready"
        contenders[0].send("go")
        assert contenders[0].answer().startswith("0 ")
        lost = 0
        for round_ in range(ROUNDS):
            # This round's commits, handed out so the newest goes to a different process
            # each round (no process is always the fast or the slow one).
            mine = history[1 + round_ * CONTENDERS : 1 + (round_ + 1) * CONTENDERS]
            mine = mine[round_ % CONTENDERS :] + mine[: round_ % CONTENDERS]
            for contender, commit in zip(contenders, mine, strict=True):
                contender.send(f"prepare {commit}")
            assert all(c.answer() == "ready" for c in contenders)
            for contender in contenders:  # a barrier: all start together
                contender.send("go")
            results = {commit: c.answer() for c, commit in zip(contenders, mine, strict=True)}
            newest = max(mine, key=order.__getitem__)
            head = store.head_commit()
            assert head == newest, f"round {round_}: store at {head}, newest is {newest}"
            log = _sync_log(store_url, tmp_path)
            published = [commit for commit in log if commit in results]
            # The store only ever moved forwards, and exactly the winners were published.
            assert published == sorted(published, key=order.__getitem__), (round_, results)
            for commit, answer in results.items():
                code, _, stderr = answer.partition(" ")
                if commit in published:
                    assert code == "0", (round_, commit, answer)
                else:
                    lost += 1
                    assert code == "1", (round_, commit, answer)
                    assert f"HEAD {commit[:10]} does not descend from" in stderr, answer
                    assert "Traceback" not in stderr
        # The race was real: many rounds had losers (about one a round when processes
        # finish in the order they started; the bound leaves room for a loaded machine).
        assert lost >= ROUNDS // 4
    finally:
        store.close()
        for contender in contenders:
            contender.close()


def _sync_log(url: str, tmp_path: Path) -> list[str]:
    query = "SELECT head_commit FROM sync_log ORDER BY seq"
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return [row[0] for row in conn.execute(query)]
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(fx.PG_BASE, options=f"-csearch_path={schema}") as conn:
        return [row[0] for row in conn.execute(query)]
