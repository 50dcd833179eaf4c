"""The Typer application itself: global options and error mapping (no commands)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from agentver import __version__
from agentver.cli import coercion, output
from agentver.cli.entry import output_failed
from agentver.errors import AgentverError

coercion.install()


class AgentverGroup(TyperGroup):
    """Maps errors to exit codes in one place.

    ``invoke`` handles what commands raise, ``main`` what argument parsing raises; both
    are methods of the group, so this holds under Typer's ``CliRunner`` too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from agentver.cli.completion import add_completion
        from agentver.cli.examples import add_examples

        add_examples(self)  # every command's --help ends with examples
        add_completion(self)  # agent names, versions, environments

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Usage errors as one ``error:`` line plus a hint, like every other error."""
        kwargs.update(
            args=args,
            prog_name=prog_name,
            complete_var=complete_var,
            standalone_mode=False,
            windows_expand_args=windows_expand_args,
        )
        if not standalone_mode:
            return super().main(**kwargs)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            code = super().main(**kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()  # `agentver` or `agentver canary` alone: the help text
            code = exc.exit_code
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            path = ctx.command_path if ctx is not None else "agentver"
            output.error(exc.format_message(), f"see `{path} --help`")
            code = exc.exit_code
        except typer.Abort:
            output.error("aborted")
            code = 1
        except Exception as exc:  # raised while parsing arguments, before invoke
            if output_failed(exc):
                raise  # stdout is full: entry.main says so
            code = _unexpected(exc)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AgentverError as exc:
            if os.environ.get("AGENTVER_DEBUG") == "1":
                traceback.print_exc()
            output.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            output.error("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            output.stdout_closed()
            raise typer.Exit(0) from None
        except Exception as exc:
            # Typer's own signals (Exit, Abort, usage errors) pass through untouched.
            if type(exc).__module__.startswith(("typer", "click")) or output_failed(exc):
                raise  # a full stdout: entry.main says so
            raise typer.Exit(_unexpected(exc)) from None


def _unexpected(exc: Exception) -> int:
    """A bug: one line, the traceback only with AGENTVER_DEBUG=1."""
    if os.environ.get("AGENTVER_DEBUG") == "1":
        traceback.print_exception(exc)
    output.error(
        f"internal error: {type(exc).__name__}: {exc}",
        "this is a bug in agentver; rerun with AGENTVER_DEBUG=1 for the traceback",
    )
    return 2


app = typer.Typer(
    cls=AgentverGroup,
    name="agentver",
    help="Git-native versioning, deployment and runtime routing for AI agent configs.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"agentver {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    directory: Path | None = typer.Option(
        None,
        "-C",
        help="Run as if agentver was started in PATH (like git -C).",
        metavar="PATH",
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Version agent configs in git; deploy, canary and roll back by moving pointers."""
    cwd = Path.cwd()
    if directory is not None:
        cwd = (cwd / directory).resolve()
        if not cwd.is_dir():
            raise typer.BadParameter(f"{directory} is not a directory", param_hint="-C")
    ctx.obj = cwd


def cwd_of(ctx: typer.Context) -> Path:
    """The working directory chosen by ``-C`` (or the process's)."""
    root_ctx = ctx.find_root()
    obj = root_ctx.obj
    return obj if isinstance(obj, Path) else Path.cwd()
