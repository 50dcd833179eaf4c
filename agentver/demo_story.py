"""The demo's story as data: the support agent's five versions and the demo settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

AGENT = "support"
DEMO_NAME = "agentver demo"
DEMO_EMAIL = "demo@agentver.invalid"
CLOCK_START = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
STORE_URL = "sqlite:///.agentver/runtime.db"
CANARY_PERCENT = "10"
SHARE_SAMPLE = 1000  # users routed to measure the canary's share
USER_POOL = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
)  # fmt: skip

SETTINGS_YAML = """\
# agentver settings for the demo repository.
agents_dir: agents
environments: [staging, production]
default_environment: production
store: sqlite:///.agentver/runtime.db

# Checked by `agentver validate` (and the pre-commit hook): the support prompt must keep
# talking about billing, and no prompt may contain the phrase below.
policies:
  "*":
    forbid: ["as an AI language model"]
  support:
    require: ["billing"]
"""

_GREETING = "You are the support agent for Acme Cloud. Be friendly, concise and accurate."
BILLING_PARAGRAPH = (
    "Billing access: you can look up invoices, explain charges and issue refunds up to\n"
    "$50. Never ask for a full card number. For larger refunds, create a ticket for\n"
    "the billing team and tell the customer when to expect an answer."
)
_CLOSING = "If you cannot solve a problem, create a ticket and give the customer its number."


def _agent_yaml(
    *, model: str, temperature: float, tools: Sequence[str], billing: bool, greeting: str
) -> str:
    paragraphs = [greeting, *([BILLING_PARAGRAPH] if billing else []), _CLOSING]
    prompt = "\n\n".join(paragraphs)
    indented = "\n".join(f"  {line}" if line else "" for line in prompt.splitlines())
    tool_list = ", ".join(tools)
    return (
        "description: Customer support agent for Acme Cloud\n"
        f"model: {model}\n"
        f"system_prompt: |\n{indented}\n"
        f"temperature: {temperature}\n"
        "max_tokens: 1024\n"
        f"tools: [{tool_list}]\n"
        "guardrails:\n"
        "  pii_redaction: true\n"
    )


_TOOLS = ("search_kb", "lookup_invoice", "create_ticket")
_TERSE = "You are Acme Cloud's support agent. Keep answers short."
# (commit subject, file text) for v1..v5; v4 is the careless edit.
VERSIONS: tuple[tuple[str, str], ...] = (
    (
        "Add the support agent",
        _agent_yaml(model="gpt-4o", temperature=0.7, tools=(), billing=True, greeting=_GREETING),
    ),
    (
        "Give support its tools",
        _agent_yaml(
            model="gpt-4o", temperature=0.7, tools=_TOOLS, billing=True, greeting=_GREETING
        ),
    ),
    (
        "Lower temperature to 0.3 for steadier answers",
        _agent_yaml(
            model="gpt-4o", temperature=0.3, tools=_TOOLS, billing=True, greeting=_GREETING
        ),
    ),
    (
        "Tighten the support prompt",
        _agent_yaml(model="gpt-4o", temperature=0.3, tools=_TOOLS, billing=False, greeting=_TERSE),
    ),
    (
        "Switch support to the cheaper gpt-4o-mini",
        _agent_yaml(
            model="gpt-4o-mini", temperature=0.3, tools=_TOOLS, billing=False, greeting=_TERSE
        ),
    ),
)
BAD_VERSION = 4  # the version whose edit deletes the billing paragraph
