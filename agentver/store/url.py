"""Store URLs: parse ``sqlite:///...`` and ``postgresql://...``, and mask passwords.

A password must never reach output or logs, so every message that names a store uses
``mask_url``; driver messages are scrubbed with ``scrub`` before they are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from agentver.errors import StoreError

MASK = "***"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SECRET_PARAMS = {"password", "passfile", "sslpassword"}
# Fallback for text urlsplit cannot take apart: "scheme://user:secret@host".
_USERINFO = re.compile(r"(://[^:/@\s]*):([^@\s]*)@")

HINT = "use sqlite:///path/to/runtime.db (relative to the repository) or postgresql://user@host/db"


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL. ``masked`` is the only form fit for messages."""

    kind: Literal["sqlite", "postgresql"]
    masked: str
    path: Path | None = None  # sqlite: absolute file path
    conninfo: str = ""  # postgresql: URL for libpq, without our own parameters
    schema: str | None = None  # postgresql: ?schema=NAME sets the search_path
    password: str | None = None  # kept only to scrub it from driver messages


def mask_url(url: str) -> str:
    """The URL with any password (in the user info or a query parameter) replaced by ***.

    Anything without a password comes back unchanged, character for character.
    """
    try:
        parts = urlsplit(url)
        masked = url
        if parts.password is not None:
            userinfo, _, hostport = parts.netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            masked = masked.replace(parts.netloc, f"{user}:{MASK}@{hostport}", 1)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(key.lower() in _SECRET_PARAMS for key, _ in pairs):
            query = urlencode(
                [(key, MASK if key.lower() in _SECRET_PARAMS else value) for key, value in pairs],
                safe="*/:",
            )
            head, _, _ = masked.partition("?")
            masked = f"{head}?{query}" + (f"#{parts.fragment}" if parts.fragment else "")
        return masked
    except ValueError:
        return _USERINFO.sub(rf"\1:{MASK}@", url)


def scrub(text: str, store_url: StoreURL) -> str:
    """A driver message made safe to show: the password removed, first line only."""
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    if store_url.password:
        for secret in {store_url.password, unquote(store_url.password)}:
            line = line.replace(secret, MASK)
    return _USERINFO.sub(rf"\1:{MASK}@", line)


def parse_store_url(url: str, repo_root: Path) -> StoreURL:
    """Parse a store URL; a relative SQLite path is relative to ``repo_root``."""
    masked = mask_url(url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError as exc:
        raise StoreError(f"invalid store URL {masked}: {exc}", hint=HINT) from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return _parse_sqlite(url, masked, repo_root)
    if scheme in ("postgresql", "postgres"):
        return _parse_postgres(url, masked, password)
    raise StoreError(f"unsupported store URL {masked}", hint=HINT)


def _parse_sqlite(url: str, masked: str, repo_root: Path) -> StoreURL:
    # sqlite:///rel/path.db (relative) and sqlite:////abs/path.db (absolute), as SQLAlchemy.
    if not url.lower().startswith("sqlite:///"):
        raise StoreError(f"invalid SQLite store URL {masked}: expected three slashes", hint=HINT)
    raw_path = url[len("sqlite:///") :]
    if not raw_path or "?" in raw_path or "#" in raw_path:
        raise StoreError(f"invalid SQLite store URL {masked}: no file path", hint=HINT)
    path = Path(raw_path)
    if not path.is_absolute():
        path = repo_root / path
    return StoreURL(kind="sqlite", masked=masked, path=path.absolute())


def _parse_postgres(url: str, masked: str, password: str | None) -> StoreURL:
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    kept = []
    for key, value in pairs:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise StoreError(
            f"invalid schema name in store URL {masked}",
            hint="a schema name is letters, digits and underscores, not starting with a digit",
        )
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))
    return StoreURL(
        kind="postgresql",
        masked=masked,
        conninfo=conninfo,
        schema=schema,
        password=password,
    )
