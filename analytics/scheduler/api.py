"""Scheduler API (``/api/v1/scheduler``), mounted through the ``tokenproof.api`` entry-point group.

- ``GET  /scheduler``: paused or running, the last pass, budgets (spent and left today and this
  month), the alpha ledger, every request group's plan, the routes it started with their evidence
  and spend, back-offs and batches in flight (``?refresh=true`` re-plans now).
- ``GET  /scheduler/events``: the event log, newest first (``kind``, ``route_id``, ``limit``).
- ``GET  /scheduler/policy``: the effective policy, the stored overrides and the settings' values.
- ``PUT  /scheduler/policy`` (API token): ``{"set": {...}, "unset": [...], "reason": ""}``; a bad
  value answers 422 and changes nothing.
- ``POST /scheduler/pause`` | ``/scheduler/resume`` (API token): the switch, stored (survives a restart).
- ``POST /scheduler/run`` (API token): one pass now, answered when it ends.

Every applied write is an event with its actor (``x-tokenproof-actor``); a refused write (no or
wrong credential, bad policy) is recorded as a ``refused`` event. The lifespan starts the loop.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tokenproof.analytics.scheduler.loop import Scheduler
from tokenproof.analytics.scheduler.status import status
from tokenproof.collector.auth import require_api_token

__all__ = ["router"]

ACTOR_HEADER = "x-tokenproof-actor"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    scheduler = Scheduler(app.state.store)
    app.state.scheduler = scheduler.start()
    try:
        yield
    finally:
        scheduler.stop()


router = APIRouter(prefix="/api/v1/scheduler", tags=["scheduler"], lifespan=_lifespan)


def _scheduler(request: Request) -> Scheduler:
    scheduler = getattr(request.app.state, "scheduler", None)
    if scheduler is None:  # an app built without its lifespan (e.g. in-process tests): no loop, passes on demand
        scheduler = request.app.state.scheduler = Scheduler(request.app.state.store, interval_s=0)
    return scheduler


def _actor(request: Request) -> str:
    return (request.headers.get(ACTOR_HEADER) or "api")[:200]


def require_write(request: Request) -> None:
    try:
        require_api_token(request)
    except HTTPException as exc:
        _scheduler(request).ledger.event("refused", f"HTTP {exc.status_code}: {exc.detail}",
                                         detail={"path": request.url.path, "actor": _actor(request)})
        raise


class PolicyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    set: dict[str, Any] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list, max_length=50)
    reason: str = Field(default="", max_length=2000)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


@router.get("")
async def get_status(request: Request, refresh: bool = False) -> dict[str, Any]:
    return await run_in_threadpool(status, _scheduler(request), refresh)


@router.get("/events")
def events(request: Request, kind: str = Query("", max_length=40), route_id: str = Query("", max_length=64),
           limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"events": _scheduler(request).ledger.events(kind=kind, route_id=route_id, limit=limit)}


@router.get("/policy")
def get_policy(request: Request) -> dict[str, Any]:
    from tokenproof.analytics.scheduler.policy import policy_defaults

    scheduler = _scheduler(request)
    control = scheduler.control()
    return {"policy": scheduler.policy().model_dump(), "overrides": control["overrides"],
            "settings": policy_defaults(), "version": control["policy_version"]}


@router.put("/policy", dependencies=[Depends(require_write)])
def put_policy(request: Request, body: PolicyChange) -> dict[str, Any]:
    scheduler = _scheduler(request)
    changes: dict[str, Any] = {**body.set, **{key: None for key in body.unset}}
    try:
        policy = scheduler.set_policy(changes, actor=_actor(request), reason=body.reason)
    except (ValidationError, ValueError) as exc:
        scheduler.ledger.event("refused", f"policy change refused: {exc}"[:2000],
                               detail={"changes": changes, "actor": _actor(request)})
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()] \
            if isinstance(exc, ValidationError) else [str(exc)]
        raise HTTPException(status_code=422, detail=errors) from None
    return {"policy": policy.model_dump(), "version": scheduler.control()["policy_version"]}


@router.post("/pause", dependencies=[Depends(require_write)])
def pause(request: Request, body: ReasonBody | None = None) -> dict[str, Any]:
    return _scheduler(request).set_paused(True, actor=_actor(request), reason=body.reason if body else "")


@router.post("/resume", dependencies=[Depends(require_write)])
def resume(request: Request, body: ReasonBody | None = None) -> dict[str, Any]:
    return _scheduler(request).set_paused(False, actor=_actor(request), reason=body.reason if body else "")


@router.post("/run", dependencies=[Depends(require_write)])
async def run_now(request: Request) -> dict[str, Any]:
    return await run_in_threadpool(_scheduler(request).run_pass)
