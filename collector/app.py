"""The service's FastAPI app: OTLP receiver, ``/api/v1/status``, re-pricing, and the other areas' routers.

``create_app(store, ...)`` builds the app around an open ``Store`` (``app.state.store``). Every
router registered in the entry-point group ``tokenproof.api`` (``name = "module:router"``) is
included; one that fails to import is logged and skipped (listed in the status as failed), and the
service keeps running. Every request passes ``guards.RequestGuards`` first (Host allow-list, Origin
check on writes, read token; docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import entry_points
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tokenproof.collector import config
from tokenproof.collector.backpressure import Admission
from tokenproof.collector.guards import RequestGuards, json_safe
from tokenproof.collector.migrate import area_versions
from tokenproof.collector.otlp_decode import decode_to_json
from tokenproof.collector.receiver import router as otlp_router
from tokenproof.collector.repair import PERIODIC_HOURS, repair
from tokenproof.collector.reprice import price_arrivals
from tokenproof.collector.reprice import router as reprice_router
from tokenproof.collector.store import Store

__all__ = ["API_GROUP", "STATUS_SQL", "create_app"]

log = logging.getLogger("tokenproof.collector")
API_GROUP = "tokenproof.api"

STATUS_SQL = {
    "spans": "SELECT count() FROM otel_traces",
    "distinct_spans": "SELECT uniqExact(TraceId, SpanId) FROM otel_traces",
    "llm_calls": "SELECT count(), countIf(Priced = 0) FROM llm_calls FINAL",
    "rollup_calls": "SELECT sum(Calls) FROM llm_calls_hourly",
}

# The most recent LLM calls as stored: what one priced, tagged span says (newest first).
RECENT_CALLS_SQL = """
SELECT Timestamp, ServiceName, TraceId, SpanId, Provider, Operation, RequestModel, ResponseModel,
       Feature, Tier, Customer, PromptFingerprint, TrafficClass, InputTokens, OutputTokens,
       CacheReadTokens, CacheCreationTokens, ReasoningTokens, if(Priced = 1, CostUSD, NULL) AS CostUSD,
       Priced, UsageSource, PriceVersion, StatusCode, ErrorType, DurationNs, Streamed
FROM llm_calls FINAL
WHERE ({feature:String} = '' OR Feature = {feature:String})
ORDER BY Timestamp DESC
LIMIT {limit:UInt32}
"""
MAX_RECENT_CALLS = 1000

status_router = APIRouter(prefix="/api/v1")


def _status(store: Store, exact: bool) -> dict[str, Any]:
    # retried batches are deduplicated on insert, so rows are spans; `exact` proves it (costly on big tables)
    spans = store.query_rows(STATUS_SQL["spans"])[0][0]
    calls, unpriced = store.query_rows(STATUS_SQL["llm_calls"])[0]
    rollup = store.query_rows(STATUS_SQL["rollup_calls"])[0][0]
    result = {"spans": int(spans), "llm_calls": int(calls), "unpriced_llm_calls": int(unpriced),
              "rollup_calls": int(rollup or 0), "schema_version": store.schema_version(),
              "schema_versions": area_versions(store)}
    if exact:
        result["distinct_spans"] = int(store.query_rows(STATUS_SQL["distinct_spans"])[0][0])
    return result


@status_router.get("/status")
async def status(request: Request, exact: bool = False) -> dict[str, Any]:
    """Spans stored (each counted once), LLM calls, schema version, store kind and location, uptime.

    ``?exact=true`` adds ``distinct_spans`` (distinct trace/span ids), equal to ``spans`` unless a
    span was stored twice.
    """
    state = request.app.state
    store: Store = state.store
    counts = await run_in_threadpool(_status, store, exact)
    requests, in_flight_bytes = state.admission.in_flight
    return {
        **counts,
        "store": {"kind": store.kind, ("data_dir" if store.kind == "embedded" else "url"): store.location},
        "uptime_seconds": round(time.time() - state.started_at, 3),
        "ingest": {**state.stats, "in_flight_requests": requests, "in_flight_bytes": in_flight_bytes,
                   "reading_requests": state.admission.reading,
                   "refused_overload": state.admission.refused},
        "api_routers": state.api_routers,
    }


def _recent_calls(store: Store, limit: int, feature: str) -> list[dict[str, Any]]:
    rows = store.query_dicts(RECENT_CALLS_SQL, {"limit": limit, "feature": feature})
    for row in rows:
        row["Timestamp"] = row["Timestamp"].isoformat()
        row["Priced"] = bool(row["Priced"])
        row["Streamed"] = bool(row["Streamed"])
    return rows


@status_router.get("/calls")
async def recent_calls(request: Request, limit: int = 20, feature: str = "") -> dict[str, Any]:
    """The most recent LLM calls (newest first), optionally of one feature; unpriced cost is null."""
    if not 1 <= limit <= MAX_RECENT_CALLS:
        raise HTTPException(status_code=400, detail=f"limit must be between 1 and {MAX_RECENT_CALLS}")
    rows = await run_in_threadpool(_recent_calls, request.app.state.store, limit, feature)
    return {"calls": rows}


def _mount_entry_points(app: FastAPI) -> None:
    for ep in entry_points(group=API_GROUP):
        try:
            router = ep.load()
            app.include_router(router)
            app.state.api_routers[ep.name] = "ok"
        except Exception as exc:  # another area's router must never take the service down
            log.exception("API router %s (%s) failed to load; skipped", ep.name, ep.value)
            app.state.api_routers[ep.name] = f"failed: {type(exc).__name__}: {exc}"


def _decode_pool(workers: int):
    """Worker processes for OTLP decoding (spawned: the parent hosts the chDB engine's threads)."""
    if workers <= 0:
        return None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(workers):  # import the decoder in each worker now, not on the first request
        pool.submit(decode_to_json, False, b"", 1)
    return pool


async def _price_arrivals_loop(app: FastAPI, seconds: float) -> None:
    """Price calls that arrived without a tokenproof price (otelcol-contrib spans) as they come."""
    seen: dict[int, int] = {}  # hour -> unpriced foreign rows at the last pass
    while True:
        try:
            result = await run_in_threadpool(price_arrivals, app.state.store, None, seen)
            app.state.stats["arrivals_priced"] += result["newly_priced"]
        except Exception:  # one failed pass must not end the loop; the next one retries
            log.exception("pricing arrived calls failed")
        await asyncio.sleep(seconds)


async def _periodic_repair(app: FastAPI, minutes: float) -> None:
    while True:
        await asyncio.sleep(minutes * 60)
        try:
            await run_in_threadpool(repair, app.state.store, PERIODIC_HOURS)
        except Exception:  # one failed pass must not end the loop; the next one retries
            log.exception("periodic rollup repair failed")


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    seconds = float(config.get("price_arrivals_interval_seconds"))
    minutes = config.get("rollup_repair_interval_minutes")
    tasks = []
    if seconds > 0:
        tasks.append(asyncio.create_task(_price_arrivals_loop(app, seconds)))
    if minutes > 0:
        tasks.append(asyncio.create_task(_periodic_repair(app, minutes)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pool = getattr(app.state, "decode_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's own handler fails (500) on a body holding NaN or Infinity: JSON cannot carry them back
    return JSONResponse(status_code=422, content={"detail": json_safe(jsonable_encoder(exc.errors()))})


def create_app(store: Store, *, ingest_token: str | None = None, api_token: str | None = None,
               read_token: str | None = None, allowed_hosts: list[str] | None = None,
               max_body_bytes: int | None = None, max_inflight_requests: int | None = None,
               max_inflight_bytes: int | None = None, max_attribute_chars: int | None = None,
               ingest_workers: int | None = None, max_inflight_per_client: int | None = None) -> FastAPI:
    """The service app around an open store; unspecified limits and tokens come from settings."""
    app = FastAPI(title="tokenproof service", version="0.1.0", lifespan=_lifespan)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_middleware(RequestGuards, state=app.state)
    app.state.allowed_hosts = list(config.get("allowed_hosts") if allowed_hosts is None else allowed_hosts)
    app.state.decode_pool = _decode_pool(config.get("ingest_workers") if ingest_workers is None else ingest_workers)
    app.state.store = store
    app.state.started_at = time.time()
    app.state.tokens = {
        "ingest_token": config.get("ingest_token") if ingest_token is None else ingest_token,
        "api_token": config.get("api_token") if api_token is None else api_token,
        "read_token": config.get("read_token") if read_token is None else read_token,
    }
    app.state.limits = {
        "max_body_bytes": max_body_bytes or config.get("max_body_bytes"),
        "max_attribute_chars": max_attribute_chars or config.get("max_attribute_bytes"),
        "body_read_timeout_s": config.get("body_read_timeout_seconds"),
    }
    app.state.admission = Admission(max_inflight_requests or config.get("max_inflight_requests"),
                                    max_inflight_bytes or config.get("max_inflight_bytes"),
                                    max_inflight_per_client or config.get("max_inflight_per_client"))
    app.state.stats = {"requests": 0, "spans_accepted": 0, "spans_rejected": 0, "insert_errors": 0,
                       "arrivals_priced": 0}
    app.state.api_routers = {}
    app.include_router(otlp_router)
    app.include_router(status_router)
    app.include_router(reprice_router)
    _mount_entry_points(app)
    return app
