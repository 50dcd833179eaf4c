"""Who may talk to the dashboard, and who may change pointers through it.

- Every request's ``Host`` must name this server (a DNS-rebinding page in the user's
  browser cannot read the dashboard through another name).
- Writes exist only with ``--allow-writes``; each one must carry the random token drawn
  when the server started (embedded in the confirmation form, never in a URL) and an
  ``Origin`` (or, without one, a ``Referer``) of this server, so another site cannot
  post a form to it (CSRF).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    host: str
    port: int
    allow_writes: bool
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def hosts(self) -> frozenset[str]:
        """Acceptable ``Host`` header values."""
        names = {self.host if ":" not in self.host else f"[{self.host.strip('[]')}]"}
        if is_loopback(self.host):
            names.update(LOOPBACK_NAMES)
        return frozenset(f"{name}:{self.port}" for name in names) | (
            frozenset(names) if self.port == 80 else frozenset()
        )

    def host_ok(self, header: str | None) -> bool:
        return header is not None and header.lower() in self.hosts

    def origin_ok(self, origin: str | None, referer: str | None) -> bool:
        """The request comes from a page of this server."""
        source = origin if origin and origin != "null" else referer
        if not source:
            return False
        parts = urlsplit(source)
        return parts.scheme == "http" and parts.netloc.lower() in self.hosts

    def token_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    def write_refusal(
        self, host: str | None, origin: str | None, referer: str | None, token: str | None
    ) -> str | None:
        """Why a write is refused, or None when it may go ahead."""
        if not self.allow_writes:
            return "writes are off: start the dashboard with `agentver serve --allow-writes`"
        if not self.host_ok(host):
            return "unexpected Host header"
        if not self.origin_ok(origin, referer):
            return "the request does not come from a page of this dashboard (Origin check)"
        if not self.token_ok(token):
            return "missing or wrong form token: reload the confirmation page and try again"
        return None
