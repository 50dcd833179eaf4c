"""The console script: register only the command being run, then run it."""

from __future__ import annotations

import os
import sys

# global options that take a value (skipped when looking for the command name)
_VALUE_OPTIONS = {"-C"}


def command_name(argv: list[str]) -> str | None:
    """The first word that is not a global option, or None (help, --version...)."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUE_OPTIONS:
            next(args, None)
        elif arg.startswith("-C") and len(arg) > 2:
            continue
        elif arg.startswith("-"):
            if arg in ("-h", "--help"):
                return None
        else:
            return arg
    return None


SUPPORTED_PLATFORMS = "Linux and macOS"


def unsupported_platform() -> str | None:
    """Why agentver cannot run here, or None. Pointer and cache locks use ``fcntl``
    (POSIX advisory locks that die with their process); there is no Windows port."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return (
            f"agentver runs on {SUPPORTED_PLATFORMS} (it locks files with fcntl), "
            f"not on {sys.platform}"
        )
    return None


def _absent_streams_to_devnull() -> None:
    """``agentver ... >&-`` starts Python with ``sys.stdout`` None: a reader that left
    before we began, so the command runs and ends as with a closed pipe (quietly, with
    its own exit code). The same for a closed stderr (errors have nowhere to go)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            # It takes the lowest free descriptor: usually the closed one, which
            # subprocesses then inherit as their stdout (or stderr) too.
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main() -> None:
    _absent_streams_to_devnull()
    problem = unsupported_platform()
    if problem is not None:
        sys.stderr.write(f"error: {problem}\nhint: use WSL or a Linux container on Windows\n")
        sys.exit(2)
    try:
        # Imported here, inside the handler: Ctrl-C while Typer loads is an interruption
        # like any other, not a traceback.
        from agentver.cli.commands import register
        from agentver.cli.core import app

        completing = any(key.endswith("_COMPLETE") for key in os.environ)
        name = None if completing else command_name(sys.argv[1:])
        register(None if name is None else [name])
        try:
            app()
        except SystemExit:
            _flush_stdout()  # a closed pipe here keeps the command's own exit code
            raise
        _flush_stdout()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)


def _flush_stdout() -> None:
    """Flush now, where a closed pipe can still be handled quietly (nothing on stderr)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        from agentver.cli.output import stdout_closed

        stdout_closed()
