"""``agentver serve`` / ``report`` as commands: the extra, start-up cost, the warning."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import Repo
from tests.web.conftest import DemoRun

BLOCK_WEB = (
    "import sys\n"
    "for name in ('starlette', 'uvicorn', 'jinja2'):\n"
    "    sys.modules[name] = None\n"
    "sys.argv = ['agentver', *sys.argv[1:]]\n"
    "from agentver.cli.entry import main\n"
    "main()\n"
)


def _python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_without_the_extra_serve_and_report_exit_2_naming_it(repo: Repo) -> None:
    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hi"}, "add")
    for args in (["serve"], ["report", "--base", "HEAD", "--out", "r"]):
        proc = _python(BLOCK_WEB, *args, cwd=repo.path)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.splitlines()
        assert lines[0].startswith(f"error: agentver {args[0]} needs the web extra")
        assert lines[1] == "hint: install the web extra: pip install 'agentver[web]'"
        assert "Traceback" not in proc.stderr
    assert not (repo.path / "r").exists()


def test_other_commands_never_import_the_web_stack(repo: Repo) -> None:
    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hi"}, "add")
    code = (
        "import sys\n"
        "sys.argv = ['agentver', 'list']\n"
        "from agentver.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'jinja2')"
        " or m.startswith('agentver.web'))\n"
        "print('WEB', web)\n"
    )
    proc = _python(code, cwd=repo.path)
    assert "WEB []" in proc.stdout, proc.stdout + proc.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_binding_beyond_loopback_warns_and_a_taken_port_is_an_error(repo: Repo) -> None:
    repo.commit_agent("support", {"model": "gpt-4o", "system_prompt": "Hi"}, "add")
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "agentver", "serve", "--host", "0.0.0.0", "--port", str(port)],
        cwd=repo.path,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        second = server.stderr.readline()
        assert first.startswith("warning: listening on 0.0.0.0, not loopback"), first
        assert f"at http://0.0.0.0:{port}/ (read-only" in second
        deadline = time.monotonic() + 10
        while True:  # the socket is bound before the notice; uvicorn then accepts
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        taken = subprocess.run(
            [sys.executable, "-m", "agentver", "serve", "--port", str(port)],
            cwd=repo.path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert taken.returncode == 2
        assert taken.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
        assert "warning" not in taken.stderr  # loopback: no warning
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_ends_with_how_to_open_the_dashboard(demo_run: DemoRun) -> None:
    last = demo_run.output.rstrip("\n").splitlines()[-1]
    assert last == (
        f"Open the dashboard: agentver -C {demo_run.root} serve, then http://127.0.0.1:8700/ "
        "(pip install 'agentver[web]')"
    )
