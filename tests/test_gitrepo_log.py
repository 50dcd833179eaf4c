"""GitRepo.log_changes with several pathspecs (one log each, merged) equals one log of all.

git uses the commit-graph's changed-path Bloom filters only for a single pathspec, so
log_changes runs one ``git log`` per pathspec and merges them in first-parent order;
this pins that the merge is exactly what a single ``git log`` of every pathspec gives.
"""

from __future__ import annotations

from conftest import Repo, RunCli

from agentver.gitrepo import GitRepo


def combined(
    git: GitRepo, head: str, specs: list[str]
) -> list[tuple[str, list[tuple[str, str | None]]]]:
    # The reference: one git log of all pathspecs (what log_changes did before the split).
    return [
        (info.commit, [(c.path, c.blob) for c in changes])
        for info, changes in git._log_changes(head, specs)
    ]


def split(
    git: GitRepo, head: str, specs: list[str]
) -> list[tuple[str, list[tuple[str, str | None]]]]:
    return [
        (info.commit, [(c.path, c.blob) for c in changes])
        for info, changes in git.log_changes(head, specs)
    ]


def test_split_logs_merge_to_the_combined_log(repo: Repo) -> None:
    repo.write("agentver.yaml", "agents_dir: agents\n")
    repo.commit("settings")
    for n in range(6):
        repo.write("agents/a.yaml", f"model: m{n}\nsystem_prompt: p\n")
        if n % 2:
            repo.write("agents/b.yaml", f"model: b{n}\nsystem_prompt: p\n")
        if n % 3 == 0:
            repo.write("agentver.yaml", f"agents_dir: agents\n# {n}\n")
        repo.commit(f"change {n}")
        repo.write("README.md", f"unrelated {n}\n")
        repo.commit(f"unrelated {n}")
    repo.git("mv", "agents/b.yaml", "agents/c.yaml")
    repo.commit("rename b to c")
    repo.git("rm", "-q", "agents/a.yaml")
    repo.commit("delete a")
    git = GitRepo.open(repo.path)
    head = repo.head()
    first = repo.git("rev-list", "--max-parents=0", "HEAD").strip()
    for specs in (
        ["agents/a.yaml", "agentver.yaml"],
        ["agents", "agentver.yaml"],
        ["agents", "agents/a.yaml", "agentver.yaml"],  # overlapping: a file once per commit
        ["agents/b.yaml", "agents/c.yaml", "agentver.yaml", "agents/none.yaml"],
    ):
        for revisions in (head, f"{first}..{head}"):
            expected = combined(git, revisions, specs)
            assert expected, specs
            assert split(git, revisions, specs) == expected, (specs, revisions)
    assert split(git, head, ["agents/none.yaml", "nothing.yaml"]) == []


def test_a_failing_streamed_log_says_why(repo: Repo, run_cli: RunCli) -> None:
    """The streamed git processes keep their stderr: a missing commit object is reported
    with git's own reason, not only "exit 128"."""
    for n in range(1, 4):
        repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": f"v{n}"}, f"v{n}")
    first = repo.git("rev-list", "--max-parents=0", "HEAD").strip()
    (repo.path / ".git" / "objects" / first[:2] / first[2:]).unlink()
    code, out, err = run_cli("history", "support", cwd=repo.path)
    assert code == 2 and out == ""
    assert err.startswith("error: git log failed: fatal: ") and first in err
    assert "Traceback" not in err
