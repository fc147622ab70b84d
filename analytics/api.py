"""The analytics API router (``/api/v1``), mounted by the service through the ``tokenproof.api`` group.

Reads: ``GET /cost``, ``/cost/movers``, ``/cost/coverage``, ``/cost/traces/{trace_id}``, ``/alerts``,
``/alerts/{id}`` (with webhook delivery attempts; their target URLs only with a read-scope token),
``/budgets``, ``/export/focus``. Writes (bearer ``api_token``): ``POST /alerts/{id}/ack``,
``/alerts/{id}/resolve``, ``/alerts/evaluate``, ``PUT /budgets``. Every query parameter is validated
(unknown dimension, bad time, bad granularity -> 400 naming the allowed values). Grouping or
filtering by a prompt-content attribute needs a read-scope token (docs/security.md).

The router's lifespan starts the webhook worker and the periodic evaluation task
(``alert_eval_interval_minutes``) and stops them with the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from tokenproof import semconv, settings
from tokenproof.analytics import alerts as alert_store
from tokenproof.analytics import attribution, budgets, evaluate, focus
from tokenproof.analytics.timewindow import GRANULARITIES, window
from tokenproof.analytics.webhooks import WebhookWorker
from tokenproof.collector.auth import has_read_scope, require_api_token, require_read_scope

__all__ = ["router"]

log = logging.getLogger("tokenproof.analytics")
_DELIVERY_COLUMNS = ["At", "DeliveryId", "AlertId", "Url", "Format", "Attempt", "Outcome", "HttpStatus", "Error"]


def _record_delivery(store, item: dict[str, Any]) -> None:
    store.insert("analytics_webhook_deliveries",
                 [[datetime.now(UTC), item["delivery_id"], item["alert_id"], item["url"], item["format"],
                   item["attempt"], item["outcome"], item["http_status"], item["error"]]], _DELIVERY_COLUMNS)


async def _periodic(app: FastAPI, minutes: float) -> None:
    while True:
        await asyncio.sleep(minutes * 60)
        try:
            await run_in_threadpool(evaluate.evaluate, app.state.store, None, app.state.analytics_webhooks.submit)
        except Exception:  # one failed pass must not end the loop; the next one retries
            log.exception("periodic alert evaluation failed")


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    store = app.state.store
    worker = WebhookWorker.from_settings(record=lambda item: _record_delivery(store, item)).start()
    app.state.analytics_webhooks = worker
    minutes = settings.get("alert_eval_interval_minutes")
    task = asyncio.create_task(_periodic(app, minutes)) if minutes > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(worker.stop)


router = APIRouter(prefix="/api/v1", tags=["analytics"], lifespan=_lifespan)


def _bad(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def _window(since: str | None, until: str | None, default: str = "7d"):
    try:
        return window(since, until, default)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def _content_keys(dims: list[str]) -> list[str]:
    return [d for d in dims if d.startswith(attribution.ATTRIBUTE_PREFIX)
            and d[len(attribution.ATTRIBUTE_PREFIX):].startswith(semconv.CONTENT_ATTRIBUTES)]


def _query(request: Request, since, until, by, granularity, where, limit,
           default_by: str = "") -> attribution.Query:
    start, end = _window(since, until)
    if granularity not in GRANULARITIES:
        raise _bad(f"unknown granularity {granularity!r}; allowed: {', '.join(GRANULARITIES)}")
    if not 1 <= limit <= 100_000:
        raise _bad("limit must be between 1 and 100000")
    try:
        dims = attribution.parse_dimensions(by if by is not None else default_by)
        filters = {}
        for item in where or []:
            dim, sep, value = item.partition("=")
            if not sep:
                raise attribution.QueryError(f"bad filter {item!r}; use dimension=value")
            filters[attribution.parse_dimensions(dim)[0]] = value
    except (attribution.QueryError, IndexError) as exc:
        raise _bad(str(exc)) from None
    if _content_keys(dims + list(filters)):  # grouping or filtering by a prompt shows (or probes) it
        require_read_scope(request, f"grouping or filtering by {', '.join(_content_keys(dims + list(filters)))}")
    return attribution.Query(start, end, dims, granularity, filters, limit)


def _store(request: Request):
    return request.app.state.store


@router.get("/cost")
async def cost(request: Request, since: str | None = None, until: str | None = None, by: str | None = None,
               granularity: str = "total", limit: int = 100) -> dict:
    """Product cost, tokens and calls grouped by dimensions (``where=dim=value`` repeatable filters);
    experiment (shadow/judge) cost apart."""
    query = _query(request, since, until, by, granularity, request.query_params.getlist("where"), limit)
    return await run_in_threadpool(attribution.cost, _store(request), query)


@router.get("/cost/movers")
async def movers(request: Request, since: str | None = None, until: str | None = None,
                 by: str | None = None, limit: int = 20) -> dict:
    """Largest cost changes versus the previous window of the same length."""
    query = _query(request, since, until, by, "total", request.query_params.getlist("where"), limit, "feature")
    if not query.group_by:
        raise _bad("movers need at least one dimension in 'by'")
    return await run_in_threadpool(attribution.movers, _store(request), query)


@router.get("/cost/coverage")
async def coverage(request: Request, since: str | None = None, until: str | None = None, limit: int = 10) -> dict:
    """Share of calls and tokens without a price, and the unknown models behind them."""
    start, end = _window(since, until)
    return await run_in_threadpool(attribution.coverage, _store(request), start, end, max(1, min(limit, 1000)))


@router.get("/cost/traces/{trace_id}")
async def trace(request: Request, trace_id: str) -> dict:
    """Cost of one agent run (inference spans only)."""
    if not trace_id or len(trace_id) > 64 or not all(c in "0123456789abcdefABCDEF" for c in trace_id):
        raise _bad(f"bad trace id {trace_id!r}; expected up to 32 hex characters")
    result = await run_in_threadpool(attribution.trace_rollup, _store(request), trace_id.lower())
    if result is None:
        raise HTTPException(404, f"no spans for trace {trace_id}")
    return result


@router.get("/alerts")
async def list_alerts(request: Request, status: str = "", limit: int = 100) -> dict:
    try:
        items = await run_in_threadpool(alert_store.list_alerts, _store(request), status, max(1, min(limit, 10000)))
    except alert_store.AlertError as exc:
        raise _bad(str(exc)) from None
    return {"alerts": items}


@router.get("/alerts/{alert_id}")
async def get_alert(request: Request, alert_id: str) -> dict:
    """One alert with its webhook delivery attempts."""
    alert = await run_in_threadpool(alert_store.get_alert, _store(request), alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    deliveries = await run_in_threadpool(alert_store.deliveries, _store(request), alert_id)
    if not has_read_scope(request):  # a webhook URL (Slack's in particular) is itself a secret
        for item in deliveries:
            item["url"] = _masked_url(item["url"])
    alert["deliveries"] = deliveries
    return alert


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/***" if parts.scheme else "***"


async def _change(request: Request, alert_id: str, action) -> dict:
    try:
        alert = await run_in_threadpool(action, _store(request), alert_id)
    except alert_store.AlertError as exc:
        raise HTTPException(409, str(exc)) from None
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return alert


@router.post("/alerts/evaluate", dependencies=[Depends(require_api_token)])
async def evaluate_now(request: Request) -> dict:
    """Run anomaly detection and budget checks now."""
    worker = getattr(request.app.state, "analytics_webhooks", None)
    try:
        return await run_in_threadpool(evaluate.evaluate, _store(request), None,
                                       worker.submit if worker is not None else None)
    except ValueError as exc:
        raise _bad(str(exc)) from None


@router.post("/alerts/{alert_id}/ack", dependencies=[Depends(require_api_token)])
async def ack(request: Request, alert_id: str) -> dict:
    return await _change(request, alert_id, alert_store.acknowledge)


@router.post("/alerts/{alert_id}/resolve", dependencies=[Depends(require_api_token)])
async def resolve(request: Request, alert_id: str) -> dict:
    return await _change(request, alert_id, alert_store.resolve)


class BudgetIn(BaseModel):
    scope: str
    value: str
    monthly_usd: float | None = None


@router.get("/budgets")
async def get_budgets(request: Request) -> dict:
    """Budgets with month-to-date spend, projected month-end spend and run-out date."""
    reports, _ = await run_in_threadpool(budgets.evaluate_budgets, _store(request))
    return {"budgets": reports}


@router.put("/budgets", dependencies=[Depends(require_api_token)])
async def put_budget(request: Request, body: BudgetIn) -> dict:
    try:
        return await run_in_threadpool(budgets.set_budget, _store(request), body.scope, body.value, body.monthly_usd)
    except budgets.BudgetError as exc:
        raise _bad(str(exc)) from None


@router.get("/export/focus")
async def export_focus(request: Request, since: str | None = None, until: str | None = None,
                       format: str = "csv") -> Response:
    """FOCUS 1.4 rows of priced usage (hour x model x token type) as CSV or Parquet.

    Headers: ``X-Focus-Version`` and ``X-Tokenproof-Unpriced-Calls`` (calls left out: no price);
    ``GET /export/focus/metadata`` returns the FOCUS metadata with the unpriced usage by model.
    """
    start, end = _window(since, until, "30d")
    if format not in focus.FORMATS:
        raise _bad(f"unknown format {format!r}; allowed: {', '.join(focus.FORMATS)}")
    data, meta = await run_in_threadpool(focus.export, _store(request), start, end, format)
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    name = f"focus-{start:%Y%m%d}-{end:%Y%m%d}-{uuid.uuid4().hex[:6]}.{format}"
    return Response(content=data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Focus-Version": focus.FOCUS_VERSION,
                             "X-Tokenproof-Unpriced-Calls": str(meta["x_UnpricedUsage"]["calls"])})


@router.get("/export/focus/metadata")
async def export_focus_metadata(request: Request, since: str | None = None, until: str | None = None) -> dict:
    """FOCUS metadata of the export for the same window, and the unpriced usage left out of it."""
    start, end = _window(since, until, "30d")
    unpriced = await run_in_threadpool(focus.unpriced_usage, _store(request), start, end)
    return focus.metadata(unpriced)
