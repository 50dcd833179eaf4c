"""A fork server for cheap real-process fault runs (the failpoint matrix).

Python and agentver are imported once; each run is an ``os.fork()`` of this process, so
a SIGKILL from a failpoint kills a real process (its open connections, file handles and
transactions die with it) for a few milliseconds of start-up instead of a few hundred.

Protocol, one JSON object per line on stdin, one answer per line on stdout:

    {"cwd": DIR, "env": {...}, "failpoints": SPEC, "out": FILE,
     "cli": [ARGS...]}                        -> run ``agentver ARGS`` in the child
     or "call": ["module:function", ARG...]   -> call it with the args in the child
    answer: {"status": exit code, or -signal}

The child writes its stdout and stderr to ``out``. The zygote holds no connection or
thread when it forks; a child never returns into the loop (``os._exit``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _child(request: dict[str, Any]) -> int:
    from agentver import failpoints

    os.chdir(request["cwd"])
    os.environ.update(request.get("env", {}))
    failpoints.configure(request.get("failpoints"))
    if "cli" in request:
        from agentver.cli.core import app

        try:
            app(list(request["cli"]), prog_name="agentver")
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0
    target, *args = request["call"]
    module, _, name = target.partition(":")
    result = getattr(importlib.import_module(module), name)(*args)
    return int(result or 0)


def main() -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from agentver.cli.commands import register

    register(None)  # every command, before any fork
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                fd = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
                sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
                code = _child(request)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"status": code}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
