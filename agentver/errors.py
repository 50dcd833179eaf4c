"""The one error hierarchy users see.

Every error agentver raises on purpose is an ``AgentverError``. It carries the exit code
(docs/design.md section 5: 1 a check failed, 2 the request cannot be carried out) and an
optional hint. The CLI maps it to ``error: ...`` / ``hint: ...`` in one place.
"""

from __future__ import annotations


class AgentverError(Exception):
    """Base class: the request cannot be carried out (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # A worker of the parsing pool (parallel.py) sends its error back pickled; the
        # default would call __init__ with ``args`` alone, which ConfigError refuses.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(
    cls: type[AgentverError], args: tuple[object, ...], state: dict[str, object]
) -> AgentverError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class CheckFailed(AgentverError):
    """A check ran and failed: validation, verify, diff --exit-code, a gate (exit 1)."""

    exit_code = 1


class UsageError(AgentverError):
    """Bad arguments or options."""


class ConfigError(AgentverError):
    """A YAML file that cannot be loaded; ``location`` is ``path:line:col``."""

    def __init__(
        self,
        message: str,
        path: str,
        line: int = 1,
        col: int = 1,
        hint: str | None = None,
    ) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}", hint)
        self.reason = message
        self.path = path
        self.line = line
        self.col = col


class RepositoryError(AgentverError):
    """Not a git work tree, no commits, shallow clone, detached HEAD, merge in progress..."""


class NotFound(AgentverError):
    """Unknown agent, version, reference or environment."""


class PointerError(AgentverError):
    """A pointer file is corrupt, conflicted or was changed underneath us."""


class StoreError(AgentverError):
    """The runtime store is unreachable, locked or inconsistent."""


class IntegrityError(StoreError):
    """Stored data disagrees with git (rewritten history, tampered row)."""
