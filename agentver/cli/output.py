"""Printing helpers shared by the command modules: JSON, errors, colour policy."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich costs tens of milliseconds to import: only when output is rendered
    from rich.console import Console

_stdout: Console | None = None
_stderr: Console | None = None


def _colour_allowed(stream: Any) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def stdout_closed() -> None:
    """The reader of stdout went away (``agentver history x | head -1``): like git, stop
    quietly with exit 0. Point stdout at /dev/null first, so that the flush Python does
    at exit cannot fail again and print "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is no real file (a test runner's buffer)
        pass


def console() -> Console:
    """A rich console on stdout: colour only on a terminal, NO_COLOR honoured."""
    global _stdout
    if _stdout is None or _stdout.file is not sys.stdout:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:  # rich's hook; its default exits 1
                self.quiet = True
                stdout_closed()
                raise SystemExit(0)

        colour = _colour_allowed(sys.stdout)
        _stdout = _Console(
            file=sys.stdout,
            no_color=not colour,
            force_terminal=colour or None,
            highlight=False,
            soft_wrap=not colour,
            width=None if colour else 160,
        )
    return _stdout


def err_console() -> Console:
    global _stderr
    if _stderr is None or _stderr.file is not sys.stderr:
        from rich.console import Console

        colour = _colour_allowed(sys.stderr)
        _stderr = Console(file=sys.stderr, no_color=not colour, highlight=False, soft_wrap=True)
    return _stderr


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def note(message: str) -> None:
    """Progress and informational messages go to stderr so stdout stays parseable."""
    sys.stderr.write(f"{message}\n")


def error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


@contextmanager
def progress(first: str) -> Iterator[Callable[[str], None]]:
    """A spinner with a changing message on a terminal's stderr; silent otherwise."""
    isatty = getattr(sys.stderr, "isatty", None)
    if not (isatty and isatty()):
        yield lambda message: None
        return
    with err_console().status(first) as status:
        yield lambda message: status.update(message)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A borderless table on stdout. On a terminal rich lays it out to the window; into a
    pipe or file it is plain text: columns aligned to their content, two spaces apart, no
    trailing blanks, and never wrapped, whatever the width (``| grep``, ``| cut`` work)."""
    if not _is_terminal(sys.stdout):
        _print_plain_table(columns, [list(row) for row in rows])
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console().print(table)


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _print_plain_table(columns: Sequence[str], rows: list[list[str]]) -> None:
    from rich.cells import cell_len  # display width: wide characters count double

    table = [[" ".join(str(cell).split("\n")) for cell in row] for row in [list(columns), *rows]]
    widths = [max(cell_len(row[i]) for row in table) for i in range(len(columns))]
    out = []
    for row in table:
        cells = [cell + " " * (widths[i] - cell_len(cell)) for i, cell in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    sys.stdout.write("\n".join(out) + "\n")
