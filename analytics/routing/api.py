"""Routing API (``/api/v1/routing``), mounted through the ``tokenproof.api`` entry-point group.

- ``GET  /routing/routes`` (read credential): every route; ``ETag`` / ``If-None-Match`` -> 304.
- ``GET  /routing/routes/{id}``: one route with its monitor state.
- ``POST /routing/routes`` (write credential): push a route (proof "switch", or an audited override).
- ``POST /routing/routes/{id}/canary|pause|rollback`` (write credential): change its state.
- ``GET  /routing/audit``: the append-only audit log (refused writes included).
- ``GET  /routing/savings``: what routing saved and what fallbacks cost, per route.
- ``GET  /routing/export/litellm``: a LiteLLM router config of the routes that move traffic.

Refused writes (no or wrong credential, conflicts, unknown models, bad bodies) answer 4xx, change no
route, and are audited. The lifespan starts the post-switch monitor (docs/routing.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from tokenproof import settings
from tokenproof.analytics.routing import registry, service
from tokenproof.analytics.routing.export import litellm_config
from tokenproof.analytics.routing.model import STATES, CanaryBody, PushBody, ReasonBody
from tokenproof.collector.auth import check_bearer, require_api_token

__all__ = ["router"]

ACTOR_HEADER = "x-tokenproof-actor"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    from tokenproof.analytics.routing.monitor import start_monitor

    monitor = start_monitor(app)
    try:
        yield
    finally:
        monitor.stop()


router = APIRouter(prefix="/api/v1/routing", tags=["routing"], lifespan=_lifespan)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _actor(request: Request) -> str:
    return (request.headers.get(ACTOR_HEADER) or "api")[:200]


def _token(request: Request, name: str) -> str:
    overrides = getattr(request.app.state, "tokens", {}) or {}
    return (overrides.get(name) if name in overrides else settings.get(name)) or ""


def require_read(request: Request) -> None:
    """Reads need the read token or the write token once either is configured."""
    tokens = [t for t in (_token(request, "read_token"), _token(request, "api_token")) if t]
    if tokens and not any(check_bearer(request, t) for t in tokens):
        raise HTTPException(401, "missing or wrong bearer token (read_token or api_token)",
                            headers={"WWW-Authenticate": "Bearer"})


def require_write(request: Request) -> None:
    """The write credential; a refusal is audited before it is answered."""
    try:
        require_api_token(request)
    except HTTPException as exc:
        path = request.url.path.rstrip("/").split("/")
        action = path[-1] if path[-1] in ("canary", "pause", "rollback") else "push"
        rid = path[-2] if action != "push" else ""
        registry.audit(request.app.state.store, route_id=rid, action=action, outcome="refused",
                       actor=_actor(request), client=_client(request), reason=f"HTTP {exc.status_code}: {exc.detail}",
                       detail={"status": exc.status_code, "credential": "write"})
        raise


def _error(exc: service.RouteError) -> HTTPException:
    return HTTPException(exc.status, exc.detail)


@router.get("/routes", dependencies=[Depends(require_read)])
async def list_routes(request: Request, service_name: str = Query("", alias="service", max_length=200),
                      state: str = Query("", max_length=20)) -> Response:
    if state and state not in STATES:
        raise HTTPException(422, f"unknown state {state!r}; allowed: {', '.join(STATES)}")
    store = request.app.state.store
    revision = await run_in_threadpool(registry.revision, store)
    etag = '"' + hashlib.sha256(f"{revision}|{service_name}|{state}".encode()).hexdigest()[:24] + '"'
    if etag in [t.strip() for t in (request.headers.get("if-none-match") or "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    cache: dict[str, bytes] = request.app.state.__dict__.setdefault("routing_documents", {})
    body = cache.get(etag)
    if body is None:
        rows = await run_in_threadpool(registry.list_rows, store, service_name, state)
        body = json.dumps({"revision": revision, "routes": registry.public_rows(rows)},
                          separators=(",", ":")).encode()
        if len(cache) > 64:
            cache.clear()
        cache[etag] = body
    return Response(body, media_type="application/json", headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/routes/{route_id}", dependencies=[Depends(require_read)])
def get_route(request: Request, route_id: str) -> dict[str, Any]:
    row = registry.get_row(request.app.state.store, route_id)
    if row is None:
        raise HTTPException(404, f"no route {route_id!r}")
    monitor = getattr(request.app.state, "routing_monitor", None)
    return {"route": registry.public_rows([row])[0],
            "monitor": monitor.state_of(route_id) if monitor is not None else None}


@router.post("/routes", status_code=201, dependencies=[Depends(require_write)])
async def push_route(request: Request) -> dict[str, Any]:
    store = request.app.state.store
    try:
        raw = await request.json()
    except ValueError:
        raw = None
    try:
        if not isinstance(raw, dict):
            raise ValueError("the body must be a JSON object")
        body = PushBody.model_validate(raw)
    except (ValidationError, ValueError) as exc:
        detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
        registry.audit(store, route_id="", action="push", outcome="refused", actor=_actor(request),
                       client=_client(request), reason="malformed body",
                       detail={"status": 422, "errors": json.loads(json.dumps(detail, default=str))})
        raise RequestValidationError(detail if isinstance(detail, list) else [{"msg": detail}]) from None
    try:
        return await run_in_threadpool(service.push, store, body, actor=_actor(request), client=_client(request))
    except service.RouteError as exc:
        raise _error(exc) from None


@router.post("/routes/{route_id}/canary", dependencies=[Depends(require_write)])
def canary(request: Request, route_id: str, body: CanaryBody) -> dict[str, Any]:
    try:
        return service.set_share(request.app.state.store, route_id, body.share, actor=_actor(request),
                                 client=_client(request), reason=body.reason)
    except service.RouteError as exc:
        raise _error(exc) from None


@router.post("/routes/{route_id}/pause", dependencies=[Depends(require_write)])
def pause(request: Request, route_id: str, body: ReasonBody | None = None) -> dict[str, Any]:
    try:
        return service.pause(request.app.state.store, route_id, actor=_actor(request), client=_client(request),
                             reason=body.reason if body else "")
    except service.RouteError as exc:
        raise _error(exc) from None


@router.post("/routes/{route_id}/rollback", dependencies=[Depends(require_write)])
def rollback(request: Request, route_id: str, body: ReasonBody | None = None) -> dict[str, Any]:
    try:
        return service.rollback(request.app.state.store, route_id, actor=_actor(request), client=_client(request),
                                reason=body.reason if body else "rolled back by hand")
    except service.RouteError as exc:
        raise _error(exc) from None


@router.get("/audit", dependencies=[Depends(require_read)])
def audit(request: Request, route_id: str = Query("", max_length=64),
          limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
    return {"audit": registry.list_audit(request.app.state.store, route_id, limit)}


@router.get("/savings", dependencies=[Depends(require_read)])
def savings(request: Request, since: str = Query("30d", max_length=40), route_id: str = Query("", max_length=64)) -> dict:
    """Per route: routed calls, fallbacks, candidate and fallback cost, the baseline equivalent, saved."""
    from tokenproof.analytics.routing.savings import route_savings
    from tokenproof.analytics.timewindow import parse_time

    try:
        start = parse_time(since)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"since": start.isoformat(), "routes": route_savings(request.app.state.store,
                                                                int(start.timestamp() * 1e6), route_id)}


@router.get("/export/litellm", dependencies=[Depends(require_read)])
def export_litellm(request: Request, provider: str = Query("openai", max_length=64)) -> dict[str, Any]:
    rows = registry.list_rows(request.app.state.store)
    return litellm_config(registry.public_rows(rows), provider)
