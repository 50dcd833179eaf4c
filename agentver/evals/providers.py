"""Model providers: an OpenAI-compatible chat-completions endpoint, or a local command.

Both take the same request (an OpenAI chat-completions body) and return the reply text.
Timeouts, retries with exponential backoff and a per-provider concurrency limit live
here. Errors are ``ProviderError`` (exit 2); their messages never contain the API key.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agentver.errors import AgentverError, UsageError
from agentver.evals.settings import ProviderSettings, strip_credentials
from agentver.models import AgentConfig

_RETRY_STATUS = frozenset({408, 409, 425, 429})
_SNIPPET = 200


class ProviderError(AgentverError):
    """A provider could not answer: unreachable, HTTP error, timeout, malformed reply."""

    def __init__(self, message: str, hint: str | None = None, *, retryable: bool = False) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


@dataclass(frozen=True)
class Reply:
    content: str
    latency_ms: int  # of the attempt that succeeded


class Provider(Protocol):
    settings: ProviderSettings

    def complete(self, request: Mapping[str, Any]) -> Reply: ...


def build_request(
    config: AgentConfig,
    messages: Sequence[Mapping[str, str]],
    *,
    model: str | None = None,
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """The chat-completions body for one agent turn: what the agent config says is sent."""
    body: dict[str, Any] = dict(config.params)  # other provider parameters, e.g. top_p
    body.update(
        {
            "model": model or config.model,
            "messages": [
                {"role": "system", "content": system_prompt or config.system_prompt},
                *({"role": m["role"], "content": m["content"]} for m in messages),
            ],
            "temperature": float(config.temperature),
            "max_tokens": int(config.max_tokens),
        }
    )
    if config.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
            }
            for name in config.tools
        ]
    return body


def make_provider(settings: ProviderSettings, env: Mapping[str, str]) -> Provider:
    if settings.type == "command":
        return CommandProvider(settings, env)
    return OpenAIProvider(settings, env)


class _Base:
    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.concurrency)

    def complete(self, request: Mapping[str, Any]) -> Reply:
        """Send with the concurrency limit, retrying retryable failures with backoff."""
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            try:
                with self._slots:
                    started = time.perf_counter()
                    content = self._send(request)
                    latency_ms = round((time.perf_counter() - started) * 1000)
                return Reply(content, latency_ms)
            except ProviderError as exc:
                if not exc.retryable or attempt == attempts - 1:
                    if attempts > 1 and exc.retryable:
                        exc.message = f"{exc.message} (after {attempts} attempts)"
                    raise
            time.sleep(self.settings.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, request: Mapping[str, Any]) -> str:
        raise NotImplementedError


class OpenAIProvider(_Base):
    """POST ``{base_url}/chat/completions`` (OpenAI, vLLM, Ollama, LiteLLM, ...)."""

    def __init__(self, settings: ProviderSettings, env: Mapping[str, str]) -> None:
        super().__init__(settings)
        self._api_key: str | None = None
        if settings.api_key_env is not None:
            self._api_key = env.get(settings.api_key_env) or None
            if self._api_key is None:
                raise UsageError(
                    f"provider {settings.name}: environment variable "
                    f"{settings.api_key_env} is not set",
                    hint=f"export {settings.api_key_env}=... before running the evaluation",
                )
        self._url = settings.base_url + "/chat/completions"
        self._shown_url = strip_credentials(self._url)

    def _send(self, request: Mapping[str, Any]) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(request).encode("utf-8")
        http_request = urllib.request.Request(self._url, data=data, headers=headers)
        where = f"provider {self.settings.name} ({self._shown_url})"
        try:
            with urllib.request.urlopen(http_request, timeout=self.settings.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = self._scrub(_error_detail(exc.read(_SNIPPET * 4)))[:_SNIPPET]
            retryable = exc.code in _RETRY_STATUS or exc.code >= 500
            raise ProviderError(
                f"{where}: HTTP {exc.code}: {detail.strip() or exc.reason}",
                hint="check the API key variable" if exc.code in (401, 403) else None,
                retryable=retryable,
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timeout(where) from None
            raise ProviderError(
                f"{where}: cannot connect: {self._scrub(str(exc.reason))}",
                hint="is the server running and the base_url right?",
                retryable=True,
            ) from None
        except TimeoutError:
            raise self._timeout(where) from None
        except OSError as exc:  # connection reset mid-response and the like
            raise ProviderError(f"{where}: {self._scrub(str(exc))}", retryable=True) from None
        return _reply_content(body, where, self._scrub)

    def _timeout(self, where: str) -> ProviderError:
        return ProviderError(
            f"{where}: timed out after {self.settings.timeout:g}s",
            hint="raise the provider's `timeout:` in agentver.yaml",
            retryable=True,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


class CommandProvider(_Base):
    """Run a program: the request as JSON on stdin, the response as JSON on stdout."""

    def __init__(self, settings: ProviderSettings, env: Mapping[str, str]) -> None:
        super().__init__(settings)
        self._env = dict(env)

    def _send(self, request: Mapping[str, Any]) -> str:
        where = f"provider {self.settings.name} (command {self.settings.command[0]})"
        try:
            done = subprocess.run(
                list(self.settings.command),
                input=json.dumps(request).encode("utf-8"),
                capture_output=True,
                timeout=self.settings.timeout,
                cwd=self.settings.cwd,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProviderError(
                f"{where}: timed out after {self.settings.timeout:g}s", retryable=True
            ) from None
        except OSError as exc:
            raise ProviderError(f"{where}: cannot run: {exc.strerror or exc}") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            last = f": {lines[-1][:_SNIPPET]}" if lines else ""
            raise ProviderError(
                f"{where}: exited with status {done.returncode}{last}", retryable=True
            )
        return _reply_content(done.stdout, where, lambda text: text)


def _error_detail(body: bytes) -> str:
    """The message of an error reply: OpenAI's ``error.message``, ``detail``, or raw text."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for value in (error, data.get("detail"), data.get("message")):
            if isinstance(value, str):
                return value
    return text


def _reply_content(body: bytes, where: str, scrub: Any) -> str:
    """The answer text from an OpenAI-shaped reply, or ``{"content": ...}`` for commands.

    A reply that only calls tools becomes the JSON list of its calls, so assertions such
    as ``contains: create_ticket`` can check tool use.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        snippet = scrub(body[:_SNIPPET].decode("utf-8", "replace"))
        raise ProviderError(f"{where}: reply is not JSON: {snippet!r}") from None
    if isinstance(data, dict) and isinstance(data.get("content"), str):
        return str(data["content"])
    try:
        message = data["choices"][0]["message"]
        content = message.get("content")
        if isinstance(content, str) and content:
            return content
        calls = message.get("tool_calls") or []
        if calls:
            return json.dumps(
                [
                    {"name": c["function"]["name"], "arguments": c["function"].get("arguments")}
                    for c in calls
                ]
            )
        if content is None or isinstance(content, str):
            return content or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    raise ProviderError(
        f"{where}: reply has no choices[0].message.content (nor a top-level `content`)"
    )
