"""Bearer-token checks as FastAPI dependencies.

``require_api_token`` guards write endpoints of the service API (setting ``api_token``,
``TOKENPROOF_API_TOKEN``): other areas' routers use it as ``Depends(require_api_token)``. When no
token is configured, writes are allowed only from a loopback client. ``require_ingest_token``
guards the OTLP endpoints (setting ``ingest_token``); with no token configured ingest is open
(the service refuses to bind a non-loopback address without one).
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request

from tokenproof.collector import config

__all__ = ["check_bearer", "is_loopback", "require_api_token", "require_ingest_token"]


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
