"""Providers against a real HTTP server and real subprocesses: requests, errors, limits."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import BILLING_HELP, REFUSAL, FakeLLMServer

from agentver.errors import AgentverError, UsageError
from agentver.evals.providers import ProviderError, build_request, make_provider
from agentver.evals.settings import ProviderSettings
from agentver.models import AgentConfig

KEY = "sk-test-SECRET-0123456789"
AGENT = AgentConfig(
    model="gpt-4o",
    system_prompt="You are the support agent. You have billing access.",
    temperature=0.2,
    max_tokens=256,
    tools=("search_kb", "create_ticket"),
    params={"top_p": 0.9},
)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=KEY) as fake:
        yield fake


def openai(server: FakeLLMServer, **overrides: Any) -> ProviderSettings:
    fields: dict[str, Any] = {
        "name": "fake",
        "type": "openai",
        "base_url": server.base_url,
        "api_key_env": "FAKE_KEY",
        "timeout": 5.0,
        "retries": 0,
        "backoff": 0.01,
    }
    fields.update(overrides)
    return ProviderSettings(**fields)


def ask(settings: ProviderSettings, text: str, env: dict[str, str] | None = None) -> str:
    provider = make_provider(settings, {"FAKE_KEY": KEY} if env is None else env)
    request = build_request(AGENT, [{"role": "user", "content": text}], model=settings.model)
    return provider.complete(request).content


def test_request_carries_the_agent_config(server: FakeLLMServer) -> None:
    echo = json.loads(ask(openai(server), "[echo]"))
    assert echo == {
        "model": "gpt-4o",
        "temperature": 0.2,
        "max_tokens": 256,
        "tools": ["search_kb", "create_ticket"],
        "system": AGENT.system_prompt,
        "messages": 2,
        "extra": {"top_p": 0.9},
    }
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert server.requests[0]["path"] == "/v1/chat/completions"
    overridden = json.loads(ask(openai(server, model="llama3"), "[echo]"))
    assert overridden["model"] == "llama3"


def test_billing_story_depends_on_the_system_prompt(server: FakeLLMServer) -> None:
    assert ask(openai(server), "Why was I charged twice on my bill?") == BILLING_HELP
    provider = make_provider(openai(server), {"FAKE_KEY": KEY})
    cut = AgentConfig(model="gpt-4o", system_prompt="You are the support agent.")
    request = build_request(cut, [{"role": "user", "content": "Can I get a refund?"}])
    assert provider.complete(request).content == REFUSAL


def test_tool_call_reply_becomes_json_of_calls(server: FakeLLMServer) -> None:
    calls = json.loads(ask(openai(server), "[tool create_ticket]"))
    assert calls == [{"name": "create_ticket", "arguments": "{}"}]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_exit_2_after_retries() -> None:
    settings = ProviderSettings(
        name="down",
        type="openai",
        base_url=f"http://127.0.0.1:{_closed_port()}/v1",
        retries=2,
        backoff=0.01,
        timeout=2.0,
    )
    with pytest.raises(ProviderError) as info:
        ask(settings, "hi", env={})
    assert info.value.exit_code == 2 and isinstance(info.value, AgentverError)
    assert "cannot connect" in info.value.message and "after 3 attempts" in info.value.message


def test_http_500_retried_then_reported(server: FakeLLMServer) -> None:
    with pytest.raises(ProviderError, match=r"HTTP 500: status 500 \(after 3 attempts\)"):
        ask(openai(server, retries=2), "[status 500]")
    assert server.count() == 3


def test_http_400_is_not_retried(server: FakeLLMServer) -> None:
    with pytest.raises(ProviderError, match="HTTP 400"):
        ask(openai(server, retries=3), "[status 400]")
    assert server.count() == 1


def test_retry_with_backoff_recovers(server: FakeLLMServer) -> None:
    started = time.monotonic()
    assert ask(openai(server, retries=2, backoff=0.05), "[fail-first 2] hello").startswith(
        "You said"
    )
    assert server.count() == 3
    assert time.monotonic() - started >= 0.05 + 0.1  # backoff doubles: 0.05 then 0.1


def test_wrong_key_never_appears_in_the_error(server: FakeLLMServer) -> None:
    wrong = "sk-wrong-KEY-abcdef"
    with pytest.raises(ProviderError) as info:
        ask(openai(server, retries=1), "hi", env={"FAKE_KEY": wrong})
    text = f"{info.value.message} {info.value.hint}"
    assert "HTTP 401" in text and "***" in text
    assert wrong not in text and KEY not in text
    assert server.count() == 1  # 401 is not retried


def test_missing_key_variable_names_the_variable_only(server: FakeLLMServer) -> None:
    with pytest.raises(UsageError, match="FAKE_KEY is not set") as info:
        ask(openai(server), "hi", env={})
    assert info.value.exit_code == 2


def test_credentials_in_url_are_not_shown(server: FakeLLMServer) -> None:
    url = f"http://user:hunter2@127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(ProviderError) as info:
        ask(openai(server, base_url=url), "hi")
    assert "hunter2" not in info.value.message and "127.0.0.1" in info.value.message


def test_timeout_is_clear(server: FakeLLMServer) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"timed out after 0.2s \(after 2 attempts\)"):
        ask(openai(server, timeout=0.2, retries=1), "[sleep 1] hi")
    assert time.monotonic() - started < 0.9


def test_non_json_reply(server: FakeLLMServer) -> None:
    with pytest.raises(ProviderError, match="reply is not JSON: '<html>Bad gateway"):
        ask(openai(server, retries=2), "[garbage]")
    assert server.count() == 1


def test_concurrency_limit_holds(server: FakeLLMServer) -> None:
    provider = make_provider(openai(server, concurrency=2), {"FAKE_KEY": KEY})
    request = build_request(AGENT, [{"role": "user", "content": "[sleep 0.1] hi"}])
    threads = [threading.Thread(target=provider.complete, args=(request,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.count() == 6 and server.max_in_flight == 2


# -- the command provider ---------------------------------------------------------------

SCRIPT = """\
import json, sys, time
request = json.load(sys.stdin)
text = request["messages"][-1]["content"]
if text == "crash":
    print("boom: model file missing", file=sys.stderr); sys.exit(3)
if text == "garbage":
    print("not json"); sys.exit(0)
if text == "slow":
    time.sleep(2)
if text == "openai":
    print(json.dumps({"choices": [{"message": {"content": "from choices"}}]})); sys.exit(0)
print(json.dumps({"content": request["model"] + ":" + request["messages"][0]["content"]}))
"""


def command(tmp_path: Path, **overrides: Any) -> ProviderSettings:
    (tmp_path / "agent.py").write_text(SCRIPT, encoding="utf-8")
    fields: dict[str, Any] = {
        "name": "local",
        "type": "command",
        "command": (sys.executable, "agent.py"),
        "cwd": tmp_path,
        "timeout": 10.0,
        "retries": 0,
        "backoff": 0.01,
    }
    fields.update(overrides)
    return ProviderSettings(**fields)


def test_command_provider_round_trip(tmp_path: Path) -> None:
    assert ask(command(tmp_path), "hi", env={}) == f"gpt-4o:{AGENT.system_prompt}"
    assert ask(command(tmp_path, model="tiny"), "hi", env={}).startswith("tiny:")
    assert ask(command(tmp_path), "openai", env={}) == "from choices"


def test_command_provider_errors(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="exited with status 3: boom: model file missing"):
        ask(command(tmp_path), "crash", env={})
    with pytest.raises(ProviderError, match="reply is not JSON"):
        ask(command(tmp_path), "garbage", env={})
    with pytest.raises(ProviderError, match=r"timed out after 0\.3s"):
        ask(command(tmp_path, timeout=0.3), "slow", env={})
    with pytest.raises(ProviderError, match="cannot run") as info:
        ask(command(tmp_path, command=("/nonexistent/agentver-model",)), "hi", env={})
    assert info.value.exit_code == 2
