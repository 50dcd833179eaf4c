"""The console script: register only the command being run, then run it."""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any

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


# A stdout that cannot take what is written: a full disk or quota, a failing device.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


class _Output(io.RawIOBase):
    """stdout's bytes, remembering the error a write to them raised: an ENOSPC from
    stdout is one error line, while one from any other file stays what it is."""

    def __init__(self, text: Any) -> None:
        super().__init__()
        self._text = text  # kept: a text stream that is collected closes its buffer
        self._buffer = text.buffer
        self.failed: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            self._buffer.write(data)
        except OSError as exc:
            self.failed = exc
            raise
        return len(data)

    def flush(self) -> None:
        try:
            self._buffer.flush()
        except OSError as exc:
            self.failed = exc
            raise

    def fileno(self) -> int:
        return int(self._buffer.fileno())

    def isatty(self) -> bool:
        return bool(self._buffer.isatty())


def _watch_stdout() -> None:
    out = sys.stdout
    if not isinstance(out, io.TextIOWrapper):  # already replaced (an embedding program)
        return
    sys.stdout = io.TextIOWrapper(
        _Output(out),
        encoding=out.encoding,
        errors=out.errors,
        line_buffering=out.line_buffering,
        write_through=True,  # the buffering stays the original buffer's
    )


def output_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is stdout refusing a write (a full disk, EIO), not another file."""
    raw = getattr(sys.stdout, "buffer", None)
    return (
        isinstance(exc, OSError)
        and exc.errno in OUTPUT_ERRNOS
        and isinstance(raw, _Output)
        and raw.failed is exc
    )


def _exit_output_failed(exc: OSError) -> None:
    """One error line, exit 2 (the request cannot be carried out: docs/exit-codes.md)."""
    from agentver.cli.output import stdout_closed

    stdout_closed()  # what is still buffered goes nowhere, not into a second failure
    sys.stderr.write(f"error: could not write output: {exc.strerror}\n")
    sys.exit(2)


def main() -> None:
    _absent_streams_to_devnull()
    _watch_stdout()
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
            try:
                app()
            except SystemExit:
                _flush_stdout()  # a closed pipe here keeps the command's own exit code
                raise
            _flush_stdout()
        except OSError as exc:
            if not output_failed(exc):
                raise
            _exit_output_failed(exc)
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
