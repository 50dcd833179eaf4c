"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol.

Answers are deterministic functions of the request, so evaluations (judge included) run
for real without the internet. Protocol, checked in this order:

* ``POST <anything>/chat/completions`` with a JSON body; other paths are 404.
* If the server has an ``api_key``, requests without ``Authorization: Bearer <key>`` get
  401 whose message quotes the key they sent (as real services do, partly), so tests
  can check agentver never repeats a key.
* Judge requests (system prompt starts with "You are an impartial evaluation judge")
  are scored by word overlap: the share of the distinct words of ``<golden>...</golden>``
  that appear in ``<answer>...</answer>``, rounded to 2 decimals (1.0 with no golden
  answer and a non-empty answer). Reply: ``{"score": s, "reason": "word overlap"}``.
* Directives in the last user message:
  ``[sleep S]`` wait S seconds first; ``[status N]`` reply HTTP N;
  ``[fail-first K]`` the first K requests with this exact user message get 503;
  ``[alternate]`` answers "yes" on the 1st, 3rd, ... request with this user message
  and "no" on the others (a deterministic flaky agent); ``[garbage]`` a 200 reply that
  is not JSON; ``[echo]`` the content is JSON of what was received (model, temperature,
  max_tokens, tool names, system prompt, number of messages, extra keys);
  ``[json]`` the content is ``{"status": "ok", "count": 3}``;
  ``[tool NAME]`` a reply with no content and one tool call to NAME.
* Billing: a user message mentioning bill, billing, invoice, refund or charge is
  answered helpfully (BILLING_HELP) only when the system prompt mentions "billing";
  otherwise the agent refuses (REFUSAL).
* Anything else: ``"You said: <last user message>"``.

``requests`` records every request (path, headers, body); ``max_in_flight`` is the
largest number of requests handled at the same time.
Run ``python tests/fake_llm_server.py [PORT]`` to use it by hand.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BILLING_HELP = (
    "I can help with your billing question. I have issued a refund of the duplicate "
    "charge to your card; it appears within 5 business days."
)
REFUSAL = "I'm sorry, I can't help with billing questions. Please contact the billing team."
JUDGE_MARKER = "You are an impartial evaluation judge"
_BILLING_RE = re.compile(r"\b(bill|billing|invoice|refund|charge[ds]?)\b", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z0-9']+")


def overlap_score(golden: str | None, answer: str) -> float:
    if golden is None:
        return 1.0 if answer.strip() else 0.0
    golden_words = set(_WORD_RE.findall(golden.lower()))
    if not golden_words:
        return 1.0
    answer_words = set(_WORD_RE.findall(answer.lower()))
    return round(len(golden_words & answer_words) / len(golden_words), 2)


def _tag(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}>\n?(.*?)\n?</{name}>", text, re.DOTALL)
    return match.group(1) if match else None


class FakeLLMServer:
    def __init__(self, api_key: str | None = None, port: int = 0) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, predicate: Any = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if predicate is None or predicate(r))

    # -- the protocol -------------------------------------------------------------------

    def answer(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        """(HTTP status, JSON document or raw bytes) for one request."""
        if self.api_key is not None:
            sent = headers.get("authorization", "")
            if sent != f"Bearer {self.api_key}":
                key = sent.removeprefix("Bearer ")
                return 401, {"error": {"message": f"Incorrect API key provided: {key}"}}
        messages = body.get("messages") or []
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if system.startswith(JUDGE_MARKER):
            score = overlap_score(_tag(user, "golden"), _tag(user, "answer") or "")
            return 200, _completion(json.dumps({"score": score, "reason": "word overlap"}))
        with self._lock:
            self._seen[user] += 1
            seen = self._seen[user]
        sleep = re.search(r"\[sleep ([0-9.]+)\]", user)
        if sleep:
            time.sleep(float(sleep.group(1)))
        status = re.search(r"\[status (\d{3})\]", user)
        if status:
            return int(status.group(1)), {"error": {"message": f"status {status.group(1)}"}}
        fail_first = re.search(r"\[fail-first (\d+)\]", user)
        if fail_first and seen <= int(fail_first.group(1)):
            return 503, {"error": {"message": "overloaded, try again"}}
        if "[garbage]" in user:
            return 200, b"<html>Bad gateway</html>"
        if "[alternate]" in user:
            return 200, _completion("yes" if seen % 2 == 1 else "no")
        if "[echo]" in user:
            core = {"model", "messages", "temperature", "max_tokens", "tools"}
            echo = {
                "model": body.get("model"),
                "temperature": body.get("temperature"),
                "max_tokens": body.get("max_tokens"),
                "tools": [t["function"]["name"] for t in body.get("tools", [])],
                "system": system,
                "messages": len(messages),
                "extra": {k: v for k, v in body.items() if k not in core},
            }
            return 200, _completion(json.dumps(echo, sort_keys=True))
        if "[json]" in user:
            return 200, _completion(json.dumps({"status": "ok", "count": 3}))
        tool = re.search(r"\[tool ([A-Za-z0-9_]+)\]", user)
        if tool:
            return 200, _completion(None, tool=tool.group(1))
        if _BILLING_RE.search(user):
            return 200, _completion(BILLING_HELP if "billing" in system.lower() else REFUSAL)
        return 200, _completion(f"You said: {user}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with server._lock:
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                self._counted = True
                try:
                    self._post()
                finally:
                    self._leave()

            def _leave(self) -> None:
                # Leave before the reply is written: once the client has the reply it may
                # start its next request, which must not overlap with this one's count.
                if getattr(self, "_counted", False):
                    self._counted = False
                    with server._lock:
                        server._in_flight -= 1

            def _post(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": "not found"}})
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    return self._send(400, {"error": {"message": "body is not JSON"}})
                with server._lock:
                    server.requests.append({"path": self.path, "headers": headers, "body": body})
                status, document = server.answer(headers, body)
                self._send(status, document)

            def _send(self, status: int, document: Any) -> None:
                data = document if isinstance(document, bytes) else json.dumps(document).encode()
                self._leave()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler


def _completion(content: str | None, tool: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool is not None:
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


if __name__ == "__main__":
    fake = FakeLLMServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(f"fake chat-completions server at {fake.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
