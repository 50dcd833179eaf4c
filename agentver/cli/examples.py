"""An example for every command's ``--help`` (sqlite-utils' rule: no command without one).

``AgentverGroup`` appends these as an "Examples:" section to each command that has no
examples of its own. A command can instead end its docstring with its own ``Examples:``
block. tests/test_cli_help.py walks every registered command, so a new one without an
example fails there, and checks every example against the real command line.
"""

from __future__ import annotations

from typing import Any, Final

EXAMPLES: Final[dict[str, tuple[str, ...]]] = {
    "": ("agentver list", "agentver -C ~/agents history support"),
    "init": ("agentver init my-agents", "agentver init"),
    "demo": ("agentver demo", "agentver demo /tmp/agentver-demo"),
    "validate": (
        "agentver validate",
        "agentver validate agents/support.yaml",
        "agentver validate --metrics metrics.json",
    ),
    "list": ("agentver list", "agentver list --json"),
    "history": ("agentver history support", "agentver history support --json"),
    "show": ("agentver show support", "agentver show support v3 --json"),
    "diff": (
        "agentver diff support v3 v5",
        "agentver diff support",
        "agentver diff --base origin/main --format markdown",
    ),
    "deploy": ("agentver deploy support v5", "agentver deploy support latest --env staging"),
    "rollback": ("agentver rollback support", "agentver rollback support v3"),
    "canary": ("agentver canary start support v5 --percent 10", "agentver canary status support"),
    "canary start": ("agentver canary start support v5 --percent 10",),
    "canary set": ("agentver canary set support --percent 50",),
    "canary promote": ("agentver canary promote support",),
    "canary abort": ("agentver canary abort support",),
    "canary status": ("agentver canary status support", "agentver canary status support --json"),
    "canary evaluate": (
        "agentver canary evaluate support",
        "agentver canary evaluate support --metrics metrics.json --exit-code",
    ),
    "canary watch": ("agentver canary watch --once", "agentver canary watch support --apply"),
    "flag": ("agentver flag list support",),
    "flag set": (
        "agentver flag set support web_search --create --percent 20",
        "agentver flag set support web_search --users alice,bob",
    ),
    "flag rm": ("agentver flag rm support web_search",),
    "flag list": ("agentver flag list support", "agentver flag list support --json"),
    "resolve": (
        "agentver resolve support --user alice",
        "agentver resolve support --user alice --json",
    ),
    "deployments": (
        "agentver deployments support",
        "agentver deployments support --at 2026-01-01T12:00:00Z",
    ),
    "eval": ("agentver eval support", "agentver eval support v5 --baseline active"),
    "sync": ("agentver sync", "agentver sync --dry-run"),
    "verify": ("agentver verify", "agentver verify --no-store"),
    "status": ("agentver status", "agentver status --json"),
    "serve": ("agentver serve", "agentver serve --port 8080"),
    "report": ("agentver report --base origin/main --out report",),
}

HEADING: Final = "Examples:"


def epilog(path: str) -> str | None:
    """The "Examples:" section for a command path such as "canary start"."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    # "\b" keeps click's help formatter from re-wrapping the lines into one paragraph.
    return HEADING + "\n\n\b\n" + "\n".join(lines)


def add_examples(command: Any, path: str = "") -> None:
    """Give ``command`` and its subcommands their examples, unless they have their own."""
    own = f"{command.help or ''}\n{command.epilog or ''}"
    if HEADING not in own:
        command.epilog = epilog(path) or command.epilog
    for name, child in getattr(command, "commands", {}).items():
        add_examples(child, f"{path} {name}".strip())
