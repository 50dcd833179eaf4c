"""HTML rendering: Jinja2 templates shipped in the package, autoescaped everywhere.

Prompts, commit messages, author names and config values are untrusted text: every
template is autoescaped and no template marks data ``|safe``, so ``<script>`` in a
prompt is shown as text. Pages carry no inline script or style, so the server's
Content-Security-Policy can forbid both.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
ASSETS = ("style.css", "app.js")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short"] = short
    env.filters["when"] = when
    env.filters["who"] = who
    env.filters["pct"] = pct
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def short(value: str | None, length: int = 10) -> str:
    return (value or "")[:length]


def when(value: str | None) -> str:
    """ISO 8601 UTC as "2026-01-01 10:00 UTC" (the raw value stays in a <time> tag)."""
    if not value:
        return ""
    text = value.replace("T", " ").replace("Z", "").replace("+00:00", "")
    return text[:16] + " UTC"


def who(value: str | None) -> str:
    """An author "Name <email>" as the name alone (the full text goes in the title)."""
    return (value or "").split(" <", 1)[0]


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"
