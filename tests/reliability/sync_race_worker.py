"""One contender of the sync race (tests/test_store_cas.py): a long-lived process that
runs the real ``agentver sync`` command in-process, once per round, on its own clone.

Protocol on stdin/stdout, one line each: ``prepare <commit>`` -> (moves its clone's
branch to the commit) ``ready``; ``go`` -> runs ``agentver -C <clone> sync --store <url>``
and answers ``<exit code> <stderr on one line>``; EOF ends it. Python starts once, so a
round costs a sync, not an interpreter start-up; the processes are still separate, with
their own connections, racing on the real store.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys


def main(clone: str, url: str) -> int:
    from agentver.cli.commands import register
    from agentver.cli.core import app

    register(["sync"])
    for line in sys.stdin:
        word, _, arg = line.strip().partition(" ")
        if word == "prepare":
            # Moves the branch only: sync reads commits, not the work tree.
            subprocess.run(["git", "update-ref", "refs/heads/main", arg], cwd=clone, check=True)
            print("ready", flush=True)
        elif word == "go":
            err = io.StringIO()
            code: object = 0
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    app(["-C", clone, "sync", "--store", url], prog_name="agentver")
                except SystemExit as exc:
                    code = exc.code
            text = err.getvalue().strip().replace("\n", " | ")
            print(f"{0 if code is None else code} {text}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
