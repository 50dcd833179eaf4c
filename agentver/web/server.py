"""Run the dashboard: bind the socket ourselves (a clean error when the port is taken),
then hand it to uvicorn."""

from __future__ import annotations

import socket
from pathlib import Path

from agentver.errors import AgentverError
from agentver.web.app import Config, create_app
from agentver.web.security import Guard


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise AgentverError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            "pick another port with --port" if exc.errno == 98 else "check --host",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(root: Path, sock: socket.socket, guard: Guard, store: str | None) -> None:
    import uvicorn

    app = create_app(Config(root, store, guard))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
