"""The reviewer's dashboard (``agentver serve``) and its static twin (``agentver report``).

Layout: ``views`` gathers what a page shows from the library (history, diff, pointers,
audit, canary evaluation, stored eval results) into plain dictionaries; ``render`` turns
them into HTML with autoescaping Jinja2 templates shipped in ``templates/``; ``app`` is
the Starlette application (routes, security headers); ``actions`` runs pointer changes
through the same library code as the CLI; ``report`` writes static HTML files.

The web stack is the optional ``agentver[web]`` extra and is imported only by the
``serve`` and ``report`` commands, so every other command starts exactly as fast as
before. Nothing here prints: the CLI does.
"""

from __future__ import annotations

import importlib.util

from agentver.errors import AgentverError

WEB_EXTRA_HINT = "install the web extra: pip install 'agentver[web]'"


def require_extra(command: str, modules: tuple[str, ...]) -> None:
    """Exit 2 with a hint naming the extra when a module of the web stack is missing."""
    missing = [name for name in modules if _missing(name)]
    if missing:
        raise AgentverError(
            f"agentver {command} needs the web extra ({', '.join(missing)} is not installed)",
            WEB_EXTRA_HINT,
        )


def _missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken path
        return True
