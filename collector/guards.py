"""Request guards for every route of the service: Host allow-list, Origin check, read token.

One ASGI middleware, so routers mounted later by other areas are covered without doing anything:

- **Host allow-list** (DNS rebinding): the ``Host`` header must name a loopback host (``localhost``,
  ``*.localhost``, ``127.0.0.1``, ``::1``) or one of ``allowed_hosts`` (``*`` = any); otherwise 421.
- **Origin check** (CSRF): a request that can change something (not GET/HEAD/OPTIONS) carrying an
  ``Origin`` header must come from the same origin (the Origin's host and port equal the Host
  header); a cross-origin write gets 403. Clients that are not browsers send no Origin.
- **Read token**: when ``read_token`` is configured, every ``/api/`` read needs ``Authorization:
  Bearer`` with the read or the api token (401 otherwise). Writes keep their own ``api_token`` check.

The rules and settings are described in docs/security.md.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlsplit

from starlette._utils import parse_host_header
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenproof.collector.auth import check_bearer

__all__ = ["LOOPBACK_HOSTS", "RequestGuards", "json_safe"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings (JSON has no NaN), for error bodies."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().strip("[]").rstrip(".")
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    for pattern in allowed:
        pattern = pattern.lower().strip("[]")
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


async def _refuse(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestGuards:
    """ASGI middleware applying the three checks above (settings read from ``app.state``)."""

    def __init__(self, app: ASGIApp, state: Any):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        allowed = list(getattr(self.state, "allowed_hosts", []))
        raw_host = headers.get("host", "")
        parsed = parse_host_header(raw_host) if raw_host else None
        if parsed is None or not _host_allowed(parsed.host, allowed):
            await _refuse(send, 421, f"Host {raw_host!r} is not served here: add it to allowed_hosts "
                                     "(TOKENPROOF_ALLOWED_HOSTS) if this is a name of this service")
            return
        method = scope["method"].upper()
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin is not None:
            netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
            if not netloc or netloc != raw_host.lower():
                await _refuse(send, 403, f"cross-origin write refused (Origin {origin!r}, Host {raw_host!r})")
                return
        tokens = getattr(self.state, "tokens", {}) or {}
        read_token = tokens.get("read_token") or ""
        if read_token and method in SAFE_METHODS and scope["path"].startswith("/api/"):
            request = Request(scope)
            if not (check_bearer(request, read_token)
                    or (tokens.get("api_token") and check_bearer(request, tokens["api_token"]))):
                await _refuse(send, 401, "missing or wrong bearer token (read_token)",
                              {"WWW-Authenticate": "Bearer"})
                return
        await self.app(scope, receive, send)
