"""``canary watch``: judge running canaries on an interval and carry the verdicts out."""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType

import typer

from agentver.cli import output
from agentver.cli.common import ENV_OPTION, JSON_OPTION
from agentver.cli.core import cwd_of
from agentver.cli.deploy_cmds import canary_app

WATCH_HELP = """\
Judge every running canary (of the given agents, or all) in an environment from the
store's outcomes, with the rule of `canary evaluate`, and log each verdict with its
numbers: one line per event, or JSON lines with --json.

--apply carries a promote or rollback out as the same pointer commit as `canary
promote` / `canary abort`, authored by the bot identity (--author, else
AGENTVER_WATCH_AUTHOR, else `watch: {author: ...}` in agentver.yaml, else
"agentver-watch <agentver-watch@localhost>"). --push pushes it (fetching and
fast-forwarding first; a rejected push is rebased and retried; if someone else changed
that pointer upstream the watcher drops its commit and stops, exit 2). --sync publishes
it to the store.

Two watchers never both act on one canary (a claim row in the store). A canary the
store does not serve (another salt) is not judged; a clone whose HEAD lacks the
commit the store serves does not act. --once runs one pass (for cron; exit 2 when a
step failed); otherwise it runs every --interval until SIGTERM or SIGINT, which stop it
between passes (exit 0). A PostgreSQL store that does not answer a statement within
5 s (a lock another session holds, a stalled server) is an error of that pass, like
an unreachable one. See docs/auto-rollback.md.
"""


@canary_app.command("watch", help=WATCH_HELP)
def canary_watch_cmd(
    ctx: typer.Context,
    agents: list[str] | None = typer.Argument(None, help="Agent ids (default: every canary)."),
    env: str | None = ENV_OPTION,
    store_url: str | None = typer.Option(
        None, "--store", help="Store URL; default as for `agentver sync`."
    ),
    interval: str = typer.Option(
        "30s", "--interval", help="Time between passes: 500ms, 30s, 2m, 1h."
    ),
    once: bool = typer.Option(False, "--once", help="One pass, then exit (for cron)."),
    apply: bool = typer.Option(False, "--apply", help="Promote or abort as the verdict says."),
    push: bool = typer.Option(False, "--push", help="With --apply: push the pointer commit."),
    sync: bool = typer.Option(False, "--sync", help="With --apply: publish it to the store."),
    author: str | None = typer.Option(
        None, "--author", help="Bot identity 'Name <email>' of the pointer commits."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    from agentver.canary.watch import Watcher, WatchEvent, WatchOptions
    from agentver.canary.watch_settings import parse_duration

    seconds = parse_duration(interval)
    options = WatchOptions(
        cwd_of(ctx), env, tuple(agents or ()), store_url, apply, push, sync, author
    )

    def emit(event: WatchEvent) -> None:
        if as_json:
            sys.stdout.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        elif event.kind == "error":
            output.error(_where(event) + event.message, event.hint)
        else:
            sys.stdout.write(f"{event.at} {_where(event)}{event.kind}: {event.message}\n")
            sys.stdout.flush()

    stopping: list[int] = []  # a plain list: the handler takes no lock (see Watcher.run)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        stopping.append(signum)  # the pass in progress finishes; the loop ends before the next

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        summary = Watcher(options, emit).run(seconds, lambda: bool(stopping), once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if summary.stopped_by == "person" or (once and summary.errors):
        raise typer.Exit(max(event.exit_code for event in summary.errors))


def _where(event: object) -> str:
    agent = getattr(event, "agent", None)
    environment = getattr(event, "environment", None)
    if agent is None:
        return f"[{environment}] " if environment else ""
    return f"{agent}@{environment}: "
