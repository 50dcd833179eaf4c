"""Named failure points for the reliability suite (docs/design.md section 8).

A failpoint is one call at the step it names: ``failpoint("sync.before_commit")``. It does
nothing unless ``AGENTVER_FAILPOINTS`` enables it::

    AGENTVER_FAILPOINTS="sync.before_commit=kill,pointer.after_rename=sleep(200)"

Actions: ``kill`` (SIGKILL this process: no cleanup, no ``finally``, like an OOM kill or a
power cut), ``raise`` (raise FailpointError: the code's error paths run), ``sleep(ms)``
(widen a race window deterministically). Modelled on etcd's gofail and TiKV's fail-rs.

Cost when the variable is unset: the variable is read once, at import; every call is
then one dictionary lookup in an empty dict.

``FAILPOINTS`` is the one registry of names. Add a name here when you add a call; the
reliability suite iterates this tuple (every name x action x backend) and a test fails
when a call names an unregistered point or a registered point has no call, so a new step
without a fault test is visible.
"""

from __future__ import annotations

import os
import re
import signal
import time

from agentver.errors import AgentverError, UsageError

ENV_VAR = "AGENTVER_FAILPOINTS"

# One registry. Append a tuple (name, what the step is) per new call site.
FAILPOINTS: tuple[tuple[str, str], ...] = (
    # sync (agentver/store/sql.py): one per statement group, in order, then the commit.
    ("sync.after_migrations", "schema migrations ran (none on an up-to-date store)"),
    ("sync.after_head_lock", "the transaction holds the store's head row; ancestry is next"),
    ("sync.after_version_deletes", "rows that disagree with git were deleted (--force)"),
    ("sync.after_version_inserts", "new version rows were inserted"),
    ("sync.after_revalidate", "the valid column of re-validated versions was updated"),
    ("sync.after_pointer_writes", "deployment and flag rows were replaced"),
    ("sync.after_head_write", "the sync log and the head row were written"),
    ("sync.before_commit", "everything is written; COMMIT is next"),
    ("sync.after_commit", "COMMIT returned; the process has not reported yet"),
    # outcome flush (agentver/store/sql.py record_outcomes)
    ("outcomes.before_insert", "an outcome batch is about to be written"),
    ("outcomes.before_commit", "an outcome batch is written; COMMIT is next"),
    # runtime refresh (agentver/runtime/client.py): the client keeps its served state.
    ("runtime.refresh.before_load", "a runtime refresh is about to read the store"),
    ("runtime.refresh.after_load", "a refresh read the new state; it is not served yet"),
    # pointer writes (agentver/deploy/files.py, agentver/deploy/transaction.py)
    ("pointer.after_temp_write", "the new pointer is in a temporary file, not yet fsynced"),
    ("pointer.after_fsync", "the temporary file is durable; the rename is next"),
    ("pointer.after_rename", "the pointer file is replaced; git add is next"),
    ("pointer.after_git_add", "the new pointer is staged; git commit is next"),
    ("pointer.after_git_commit", "the pointer commit exists; the process has not reported"),
)
NAMES: tuple[str, ...] = tuple(name for name, _ in FAILPOINTS)
ACTIONS: tuple[str, ...] = ("kill", "raise", "sleep")

_SPEC = re.compile(r"^(?P<name>[a-z0-9_.]+)=(?P<action>kill|raise|sleep\((?P<ms>\d+)\))$")


class FailpointError(AgentverError):
    """Raised by a failpoint whose action is ``raise``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"failpoint {name} triggered", hint=f"unset {ENV_VAR}")
        self.name = name


def parse(spec: str) -> dict[str, str]:
    """``name=action[,name=action...]`` -> {name: action}. Unknown names are an error:
    a misspelt failpoint would otherwise make a fault test pass without a fault."""
    active: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        match = _SPEC.match(part)
        if match is None:
            raise UsageError(
                f"{ENV_VAR}: cannot parse {part!r}",
                hint="use name=kill, name=raise or name=sleep(MS), separated by commas",
            )
        name = match["name"]
        if name not in NAMES:
            raise UsageError(
                f"{ENV_VAR}: unknown failpoint {name!r}",
                hint="the names are listed in docs/reliability.md",
            )
        active[name] = match["action"]
    return active


_active: dict[str, str] = {}
_error: UsageError | None = None


def configure(spec: str | None) -> None:
    """Set the active failpoints (tests; the import reads ``AGENTVER_FAILPOINTS``)."""
    global _active, _error
    try:
        _active, _error = (parse(spec) if spec else {}), None
    except UsageError as exc:
        # Raised at the first failpoint reached, where an error can be reported.
        _active, _error = {}, exc


configure(os.environ.get(ENV_VAR))


def failpoint(name: str) -> None:
    """Run the action enabled for ``name``; nothing (one dict lookup) when none is."""
    action = _active.get(name)
    if action is None:
        if _error is not None:
            raise _error
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # SIGKILL is asynchronous on some kernels; never run past it
    if action == "raise":
        raise FailpointError(name)
    time.sleep(int(action[len("sleep(") : -1]) / 1000)
