"""Runtime clients across ``os.fork()`` (gunicorn ``--preload``, multiprocessing "fork").

Threads do not survive a fork: a child would serve the state it was forked with for
ever, and its outcomes would wait for a writer that no longer runs. And what the client
holds is shared with the parent: a PostgreSQL socket used or closed by both would corrupt
or end the parent's session. So, in the child, every live client gets new stores, a new
outcome queue and a new refresh thread (``RuntimeClient._restart_in_child``), and the
inherited objects are kept here, unused and never closed, for the child's lifetime.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any, Protocol

log = logging.getLogger("agentver.runtime")


class Restartable(Protocol):
    def _restart_in_child(self) -> list[Any]: ...


_clients: weakref.WeakSet[Any] = weakref.WeakSet()
# What the child inherited: referenced so that no finalizer closes a socket or a file
# the parent still uses.
_inherited: list[Any] = []


def track(client: Restartable) -> None:
    _clients.add(client)


def _after_fork_in_child() -> None:
    for client in list(_clients):
        try:
            _inherited.extend(client._restart_in_child())
        except Exception:  # an exception here would only be printed by the interpreter
            log.exception("agentver runtime could not restart a client after fork()")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
