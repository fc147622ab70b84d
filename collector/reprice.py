"""Re-pricing: recompute LLM-call costs for a time range after a price change.

``otel_traces`` is never mutated. For every call in the range whose price changes (cost, priced
state or price version), a new version of its ``llm_calls`` row is inserted (``ReplacingMergeTree``
keeps the highest ``Version``; read with ``FINAL``), and correcting delta rows go into
``llm_calls_hourly`` (cost difference, priced/unpriced call difference), so sums over the rollup
match the re-priced calls. Calls are priced with ``tokenproof.pricing`` by response model, falling
back to the request model; the price table and overrides file are re-read first.

The two inserts are not one transaction: if the service dies between them, the call table is
right and the rollup keeps the old costs for that range (rebuild it from ``llm_calls FINAL``).

``POST /api/v1/reprice`` (api token) runs it; ``tokenproof reprice`` calls that endpoint.

Spans from other writers (``otelcol-contrib`` straight into ``otel_traces``, another
instrumentation) carry no ``tokenproof.cost.status`` and, without a numeric cost attribute, land in
``llm_calls`` unpriced. ``price_arrivals`` prices exactly those calls (never re-priced yet, within
``price_arrivals_lookback_hours``) through the same path; the service runs it every
``price_arrivals_interval_seconds``, so they are priced as they arrive.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from tokenproof import semconv
from tokenproof.collector.auth import require_api_token

__all__ = ["SELECT_CALLS", "parse_time", "price_arrivals", "reprice", "router"]

CALL_COLUMNS = [
    "Timestamp", "ServiceName", "TraceId", "SpanId", "ParentSpanId", "Provider", "Operation", "RequestModel",
    "ResponseModel", "Feature", "Tier", "Customer", "PromptFingerprint", "OutputFormat", "TrafficClass",
    "RouteId", "Fallback", "Streamed", "InputTokens", "OutputTokens", "CacheReadTokens", "CacheCreationTokens",
    "ReasoningTokens", "CostUSD", "Priced", "UsageSource", "PriceVersion", "PriceSource", "StatusCode",
    "ErrorType", "DurationNs", "SpanAttributes", "Version",
]
# HourEpoch is the rollup's Hour (same expression as its view), the last column, not inserted back
SELECT_CALLS = ("SELECT toUnixTimestamp64Nano(Timestamp) AS TimestampNs, "
                + ", ".join(CALL_COLUMNS[1:]) + ", toUnixTimestamp(toStartOfHour(Timestamp)) AS HourEpoch"
                + " FROM llm_calls FINAL WHERE Timestamp >= fromUnixTimestamp64Nano({since:Int64}) "
                  "AND Timestamp < fromUnixTimestamp64Nano({until:Int64})")
HOURLY_KEY = ["ServiceName", "Feature", "Tier", "Customer", "Provider", "RequestModel", "ResponseModel",
              "TrafficClass", "PromptFingerprint"]
HOURLY_COLUMNS = ["Hour", *HOURLY_KEY, "CostUSD", "PricedCalls", "UnpricedCalls"]

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SLICE_NS = 3600 * 10**9
# Calls no tokenproof instrumentation priced and nothing re-priced yet (the latest version is the view's)
_FOREIGN = " AND Version = 0 AND Priced = 0 AND SpanAttributes['tokenproof.cost.status'] = ''"
SELECT_FOREIGN_CALLS = SELECT_CALLS + _FOREIGN
# hours holding such calls, with a count: an hour whose count did not change since the last pass has
# nothing new (re-priced calls keep their version-0 row until parts merge, so they are still counted)
SELECT_FOREIGN_HOURS = ("SELECT toUnixTimestamp(toStartOfHour(Timestamp, 'UTC')) AS hour, count() FROM llm_calls "
                        "WHERE Timestamp >= fromUnixTimestamp64Nano({since:Int64}) "
                        "AND Timestamp < fromUnixTimestamp64Nano({until:Int64})" + _FOREIGN
                        + " GROUP BY hour ORDER BY hour")
SELECT_HOURS = ("SELECT DISTINCT toUnixTimestamp(toStartOfHour(Timestamp, 'UTC')) AS hour FROM llm_calls "
                "WHERE Timestamp >= fromUnixTimestamp64Nano({since:Int64}) "
                "AND Timestamp < fromUnixTimestamp64Nano({until:Int64}) ORDER BY hour")


def parse_time(text: str, now: float | None = None) -> int:
    """Epoch ns from ISO 8601 (naive = UTC), or a span before now like ``7d``, ``24h``, ``30m``."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
        return int(((now if now is not None else time.time()) - seconds) * 1e9)
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read time {text!r}: use ISO 8601 (2026-11-01T00:00) or 7d / 24h / 30m") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp()) * 10**9 + value.microsecond * 1000


def reprice(store: Any, since_ns: int, until_ns: int, *, arrivals_only: bool = False,
            seen: dict[int, int] | None = None) -> dict[str, Any]:
    """Re-price the calls with since <= Timestamp < until; returns counts and cost before/after.

    ``arrivals_only`` limits it to calls nobody priced yet (see ``price_arrivals``) and keeps the
    loaded price table (the periodic pass must stay cheap); ``seen`` (hour -> count of such rows at
    the last pass) skips the hours where nothing arrived since.
    """
    from tokenproof import pricing

    if not arrivals_only:
        pricing.reset()  # re-read the overrides file and price table
    version = int(time.time_ns())
    totals = {"rows": 0, "repriced": 0, "newly_priced": 0, "newly_unpriced": 0, "still_unpriced": 0,
              "cost_before_usd": 0.0, "cost_after_usd": 0.0}
    cache: dict[tuple, Any] = {}
    params = {"since": since_ns, "until": until_ns}
    if arrivals_only:
        calls_sql = SELECT_FOREIGN_CALLS
        counted = {int(hour): int(n) for hour, n in store.query_rows(SELECT_FOREIGN_HOURS, params)}
        hours = [(h,) for h, n in counted.items() if seen is None or seen.get(h) != n]
        if seen is not None:
            seen.clear()
            seen.update(counted)
    else:
        calls_sql = SELECT_CALLS
        hours = store.query_rows(SELECT_HOURS, params)
    for (hour,) in hours:  # one hour of calls per query keeps memory bounded
        start = max(since_ns, int(hour) * 10**9)
        end = min(until_ns, start - start % _SLICE_NS + _SLICE_NS)
        _reprice_slice(store, pricing, start, end, version, cache, totals, calls_sql)
    totals["price_version"] = pricing.price_version()
    totals["cost_before_usd"] = round(totals["cost_before_usd"], 10)
    totals["cost_after_usd"] = round(totals["cost_after_usd"], 10)
    return totals


def price_arrivals(store: Any, now_ns: int | None = None, seen: dict[int, int] | None = None) -> dict[str, Any]:
    """Price the calls that arrived without a tokenproof price (one step of the service loop).

    Pass the same ``seen`` dict on every step to skip hours where nothing new arrived.
    """
    from tokenproof.collector import config

    now_ns = time.time_ns() if now_ns is None else now_ns
    since = now_ns - int(config.get("price_arrivals_lookback_hours")) * 3600 * 10**9
    return reprice(store, since, now_ns + 24 * 3600 * 10**9, arrivals_only=True, seen=seen)  # skew ahead too


def _span_context(attributes: dict[str, str]) -> tuple[tuple[int, ...], str | None, str | None]:
    """What a span says beyond the typed columns that changes its price: the usage counts the
    conventions have no name for (1-hour cache writes, audio, web searches), the service tier the
    provider reported (else the requested one), and the API host (an OpenAI-compatible endpoint)."""
    extra = []
    for name in semconv.USAGE_EXTRA_FIELDS:
        try:
            extra.append(max(0, int(attributes.get(semconv.TP_USAGE_EXTRA_PREFIX + name, 0) or 0)))
        except ValueError:
            extra.append(0)
    tier = (attributes.get(semconv.OPENAI_RESPONSE_SERVICE_TIER)
            or attributes.get(semconv.OPENAI_REQUEST_SERVICE_TIER) or None)
    host = attributes.get(semconv.SERVER_ADDRESS) or None
    return tuple(extra), tier, (f"https://{host}" if host else None)


def _price(pricing: Any, cache: dict, provider: str, models: tuple[str, str], usage_key: tuple,
           tier: str | None = None, api_url: str | None = None) -> Any:
    key = (provider, models, usage_key, tier, api_url)
    cost = cache.get(key)
    if cost is None:
        usage = pricing.Usage(*usage_key)
        context = pricing.price_context(tier) if tier else ()
        cost = None
        for model in dict.fromkeys(m for m in models if m):
            cost = pricing.price(provider, model, usage, api_url=api_url, context=context)
            if cost.usd is not None:
                break
        if cost is None:
            cost = pricing.price(provider, "", usage)
        cache[key] = cost
    return cost


def _reprice_slice(store: Any, pricing: Any, since: int, until: int, version: int, cache: dict,
                   totals: dict, sql: str = SELECT_CALLS) -> None:
    result = store.query(sql, {"since": since, "until": until})
    rows = result.result_rows
    if not rows:
        return
    idx = {name: i for i, name in enumerate(result.column_names)}
    i_cost, i_priced, i_pver, i_psrc, i_ver = (idx[c] for c in ("CostUSD", "Priced", "PriceVersion", "PriceSource", "Version"))
    i_prov, i_resp, i_req = idx["Provider"], idx["ResponseModel"], idx["RequestModel"]
    usage_idx = [idx[c] for c in ("InputTokens", "OutputTokens", "CacheReadTokens", "CacheCreationTokens", "ReasoningTokens")]
    key_idx = [idx[c] for c in HOURLY_KEY]
    i_hour = idx["HourEpoch"]
    i_attrs = idx["SpanAttributes"]
    new_rows: list[list[Any]] = []
    deltas: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    for row in rows:
        totals["rows"] += 1
        old_priced = int(row[i_priced])
        old_cost = float(row[i_cost]) if old_priced else 0.0
        attributes = row[i_attrs] or {}
        if old_priced and attributes.get(semconv.TP_COST_SOURCE) == semconv.COST_SOURCE_PROVIDER:
            continue  # the provider reported what it charged (e.g. OpenRouter): no price table knows better
        extra, tier, api_url = _span_context(attributes)
        cost = _price(pricing, cache, row[i_prov], (row[i_resp], row[i_req]),
                      (*(int(row[i]) for i in usage_idx), *extra), tier, api_url)
        priced = 1 if cost.usd is not None else 0
        new_cost = float(cost.usd) if priced else 0.0
        totals["cost_before_usd"] += old_cost
        totals["cost_after_usd"] += new_cost
        if not priced:
            totals["still_unpriced" if not old_priced else "newly_unpriced"] += 1
        elif not old_priced:
            totals["newly_priced"] += 1
        if (priced == old_priced and abs(new_cost - old_cost) < 1e-12 and row[i_pver] == cost.price_version):
            continue
        totals["repriced"] += 1
        new = list(row[:-1])
        new[i_cost], new[i_priced], new[i_pver], new[i_psrc], new[i_ver] = (
            new_cost, priced, cost.price_version, cost.price_source, version)
        new_rows.append(new)
        delta = deltas[(row[i_hour], *(row[i] for i in key_idx))]
        delta[0] += new_cost - old_cost
        delta[1] += priced - old_priced
        delta[2] += old_priced - priced
    if not new_rows:
        return
    store.insert("llm_calls", new_rows, CALL_COLUMNS)  # TimestampNs goes into Timestamp
    hourly = [[key[0], *key[1:], d[0], d[1], d[2]] for key, d in deltas.items()]
    store.insert("llm_calls_hourly", hourly, HOURLY_COLUMNS)


class RepriceRequest(BaseModel):
    since: str
    until: str | None = None


router = APIRouter(prefix="/api/v1")


@router.post("/reprice", dependencies=[Depends(require_api_token)])
async def reprice_endpoint(body: RepriceRequest, request: Request) -> dict[str, Any]:
    """Re-price calls in [since, until) (until defaults to now); returns counts and costs."""
    try:
        since = parse_time(body.since)
        until = parse_time(body.until) if body.until else time.time_ns() + 1
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if until <= since:
        raise HTTPException(400, "until must be after since")
    result = await run_in_threadpool(reprice, request.app.state.store, since, until)
    return {"since_ns": since, "until_ns": until, **result,
            "note": f"unpriced calls are counted, never $0 ({semconv.COST_UNPRICED})"}
