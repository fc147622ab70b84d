"""Bearer-token checks as FastAPI dependencies.

``require_api_token`` guards write endpoints of the service API (setting ``api_token``,
``TOKENPROOF_API_TOKEN``): other areas' routers use it as ``Depends(require_api_token)``. When no
token is configured, writes are allowed only from a loopback client. ``require_ingest_token``
guards the OTLP endpoints (setting ``ingest_token``); with no token configured ingest is open
(the service refuses to bind a non-loopback address without one).

Read scope (setting ``read_token``): when a read token is configured every ``/api/`` read needs it
(or the api token, which reads too; enforced for every router by ``guards``). Prompt content and
webhook target URLs need the read scope whatever else is configured: ``has_read_scope`` is true only
for a request carrying a configured read or api token (docs/security.md).
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request

from tokenproof.collector import config

__all__ = ["check_bearer", "has_read_scope", "is_loopback", "read_token_configured", "require_api_token",
           "require_content_scope", "require_ingest_token", "require_read_scope"]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bearer(request: Request, expected: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def _configured(request: Request, name: str) -> str:
    overrides = getattr(request.app.state, "tokens", {}) or {}
    if name in overrides:
        return overrides[name] or ""
    return config.get(name) or ""


def require_api_token(request: Request) -> None:
    """FastAPI dependency: the request carries ``Authorization: Bearer <api_token>``."""
    expected = _configured(request, "api_token")
    if not expected:
        client = request.client.host if request.client else None
        if is_loopback(client):
            return
        raise HTTPException(403, "write API disabled for non-loopback clients: set api_token (TOKENPROOF_API_TOKEN)")
    if not check_bearer(request, expected):
        raise HTTPException(401, "missing or wrong bearer token (api_token)",
                            headers={"WWW-Authenticate": "Bearer"})


def require_ingest_token(request: Request) -> None:
    """FastAPI dependency for /v1/*: the request carries the ingest token when one is set."""
    expected = _configured(request, "ingest_token")
    if expected and not check_bearer(request, expected):
        raise HTTPException(401, "missing or wrong bearer token (ingest_token)",
                            headers={"WWW-Authenticate": "Bearer"})


def read_token_configured(request: Request) -> bool:
    return bool(_configured(request, "read_token"))


def has_read_scope(request: Request) -> bool:
    """The request carries a configured read token or api token (never true when none is set)."""
    return any(token and check_bearer(request, token)
               for token in (_configured(request, "read_token"), _configured(request, "api_token")))


def require_read_scope(request: Request, what: str) -> None:
    """Raise 401/403 unless the request has the read scope; ``what`` names the protected data."""
    if has_read_scope(request):
        return
    if not (_configured(request, "read_token") or _configured(request, "api_token")):
        raise HTTPException(403, f"{what} needs a read-scope token: set read_token (TOKENPROOF_READ_TOKEN) "
                                 "and send it as a bearer token")
    raise HTTPException(401, f"{what} needs a read-scope token (read_token or api_token)",
                        headers={"WWW-Authenticate": "Bearer"})


def require_content_scope(request: Request) -> None:
    """FastAPI dependency for routes that return prompt or completion content."""
    require_read_scope(request, "prompt content")
