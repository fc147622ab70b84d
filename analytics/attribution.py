"""Cost attribution: who spent what, by any business dimension, window and granularity.

Queries read the rollups when every requested dimension is one of their key columns (the daily
``analytics_cost_daily`` for the whole UTC days of a window, ``llm_calls_hourly`` for the partial days
at its edges, and for hourly buckets or customer/fingerprint grouping), and the typed table ``llm_calls`` (``FINAL``: re-pricing writes new row versions) when a span
attribute key is asked for (``attr.<key>``, read as ``SpanAttributes[{attr0:String}]`` with the key
as a server-side parameter). Column names come only from the ``DIMENSIONS`` whitelist; every user
value (times, filters, attribute keys, limits) is a server-side parameter.

Product attribution counts ``TrafficClass = 'product'`` only; shadow and judge calls (experiments
run by the proof loop) are reported separately as experiment cost. Cost is summed over priced calls;
unpriced calls are counted next to it, never as $0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tokenproof.semconv import TRAFFIC_PRODUCT

__all__ = [
    "ATTRIBUTE_PREFIX",
    "DIMENSIONS",
    "METRICS",
    "Query",
    "QueryError",
    "cost",
    "coverage",
    "movers",
    "parse_dimensions",
    "trace_rollup",
]

# public dimension name -> column (in both llm_calls and llm_calls_hourly)
DIMENSIONS: dict[str, str] = {
    "service": "ServiceName",
    "feature": "Feature",
    "tier": "Tier",
    "customer": "Customer",
    "provider": "Provider",
    "model": "ResponseModel",
    "response_model": "ResponseModel",
    "request_model": "RequestModel",
    "fingerprint": "PromptFingerprint",
}
ATTRIBUTE_PREFIX = "attr."
METRICS = ("calls", "priced_calls", "unpriced_calls", "input_tokens", "output_tokens",
           "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "cost_usd", "errors")
# buckets in UTC, returned as epoch seconds (naive datetimes would carry the engine's local zone)
_BUCKETS = {"hour": "toUnixTimestamp(toStartOfHour({t}, 'UTC'))",
            "day": "toUnixTimestamp(toStartOfDay({t}, 'UTC'))",
            "week": "toUnixTimestamp(toDateTime(toMonday({t}, 'UTC'), 'UTC'))",
            "month": "toUnixTimestamp(toDateTime(toStartOfMonth({t}, 'UTC'), 'UTC'))"}

_ROLLUP_SUMS = """sum(Calls) AS calls, sum(PricedCalls) AS priced_calls, sum(UnpricedCalls) AS unpriced_calls,
    sum(InputTokens) AS input_tokens, sum(OutputTokens) AS output_tokens,
    sum(CacheReadTokens) AS cache_read_tokens, sum(CacheCreationTokens) AS cache_creation_tokens,
    sum(ReasoningTokens) AS reasoning_tokens, sum(CostUSD) AS cost_usd, sum(Errors) AS errors"""
_TYPED_SUMS = """count() AS calls, countIf(Priced = 1) AS priced_calls, countIf(Priced = 0) AS unpriced_calls,
    sum(InputTokens) AS input_tokens, sum(OutputTokens) AS output_tokens,
    sum(CacheReadTokens) AS cache_read_tokens, sum(CacheCreationTokens) AS cache_creation_tokens,
    sum(ReasoningTokens) AS reasoning_tokens, sum(if(Priced = 1, CostUSD, 0)) AS cost_usd,
    countIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR')) AS errors"""
_ROLLUP_WINDOW = "Hour >= toStartOfHour({since:DateTime64(9)}) AND Hour < {until:DateTime64(9)}"
_TYPED_WINDOW = "Timestamp >= {since:DateTime64(9)} AND Timestamp < {until:DateTime64(9)}"
_GROUPED = """SELECT {select}{sums}
FROM {source}
WHERE {window} AND {traffic}{filters}
{group}ORDER BY {order}cost_usd DESC, calls DESC
LIMIT {{limit:UInt32}}{limit_by}"""
_METRIC_COLUMNS = ("Calls, InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens, ReasoningTokens, "
                   "CostUSD, PricedCalls, UnpricedCalls, EstimatedCalls, Errors, DurationNs")
# Whole UTC days from the daily rollup, the partial days at the window's edges from the hourly one.
_HYBRID_SOURCE = """(
    SELECT toDateTime(Day, 'UTC') AS Hour, ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel,
        TrafficClass, """ + _METRIC_COLUMNS + """
    FROM analytics_cost_daily WHERE Day >= {d0:Date} AND Day < {d1:Date}
    UNION ALL
    SELECT toDateTime(Hour, 'UTC') AS Hour, ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel,
        TrafficClass, """ + _METRIC_COLUMNS + """
    FROM llm_calls_hourly
    WHERE (Hour >= toStartOfHour({since:DateTime64(9)}) AND Hour < toDateTime({d0:Date}, 'UTC'))
       OR (Hour >= toDateTime({d1:Date}, 'UTC') AND Hour < {until:DateTime64(9)})
)"""
_DAILY_KEYS = {"ServiceName", "Feature", "Tier", "Provider", "RequestModel", "ResponseModel"}
_PRODUCT = "TrafficClass = {product:String}"
_EXPERIMENT = "TrafficClass != {product:String}"
_ANY_TRAFFIC = "1 = 1"


class QueryError(ValueError):
    """A request names an unknown dimension or a bad value; the message says which and what is allowed."""


@dataclass
class Query:
    """An attribution request after validation."""

    since: datetime
    until: datetime
    group_by: list[str] = field(default_factory=list)
    granularity: str = "total"
    filters: dict[str, str] = field(default_factory=dict)
    limit: int = 100


def allowed_dimensions() -> str:
    return ", ".join(DIMENSIONS) + f", or {ATTRIBUTE_PREFIX}<span attribute key>"


def parse_dimensions(text: str | list[str] | None) -> list[str]:
    """``feature,model,attr.app.region`` -> validated list; unknown names raise QueryError."""
    if text is None:
        return []
    parts = text if isinstance(text, list) else text.split(",")
    out: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if part.startswith(ATTRIBUTE_PREFIX) and len(part) > len(ATTRIBUTE_PREFIX):
            pass
        elif part not in DIMENSIONS:
            raise QueryError(f"unknown dimension {part!r}; allowed: {allowed_dimensions()}")
        if part not in out:
            out.append(part)
    return out


def _select(query: Query, typed: bool, params: dict[str, Any],
            extra: tuple[str, ...] = ()) -> tuple[str, str, list[str], str]:
    """(select list, group by clause, output names, filters clause)."""
    exprs, names = [], []
    if query.granularity != "total":
        exprs.append(_BUCKETS[query.granularity].format(t="Timestamp" if typed else "Hour"))
        names.append("bucket")
    attr_n = 0
    for dim in list(query.group_by) + list(extra):
        if dim.startswith(ATTRIBUTE_PREFIX):
            key = f"attr{attr_n}"
            attr_n += 1
            params[key] = dim[len(ATTRIBUTE_PREFIX):]
            exprs.append(f"SpanAttributes[{{{key}:String}}]")
        else:
            exprs.append(DIMENSIONS.get(dim, "TrafficClass" if dim == "traffic_class" else None))
        names.append(dim)
    filters = ""
    for i, (dim, value) in enumerate(sorted(query.filters.items())):
        params[f"f{i}"] = value
        if dim.startswith(ATTRIBUTE_PREFIX):
            params[f"fk{i}"] = dim[len(ATTRIBUTE_PREFIX):]
            filters += f" AND SpanAttributes[{{fk{i}:String}}] = {{f{i}:String}}"
        else:
            filters += f" AND {DIMENSIONS[dim]} = {{f{i}:String}}"
    select = "".join(f"{e} AS c{i}, " for i, e in enumerate(exprs))
    group = f"GROUP BY {', '.join(f'c{i}' for i in range(len(exprs)))}\n" if exprs else ""
    return select, group, names, filters


def _needs_typed(query: Query) -> bool:
    return any(d.startswith(ATTRIBUTE_PREFIX) for d in list(query.group_by) + list(query.filters))


def _whole_days(query: Query) -> tuple[date, date] | None:
    """(first, end) whole UTC days inside the window when the daily rollup can serve the query."""
    columns = {DIMENSIONS.get(d, "TrafficClass") for d in list(query.group_by) + list(query.filters)}
    if query.granularity == "hour" or not columns <= _DAILY_KEYS | {"TrafficClass"}:
        return None
    since = query.since.astimezone(UTC)
    first = since.date() + timedelta(days=0 if since == datetime.combine(since.date(), time(), UTC) else 1)
    end = query.until.astimezone(UTC).date()
    return (first, end) if end > first else None


def _run(store, query: Query, traffic: str, extra: tuple[str, ...] = ()) -> tuple[list[dict], str]:
    """Grouped rows; with ``extra`` dimensions, the limit applies per value of the last one."""
    typed = _needs_typed(query)
    params: dict[str, Any] = {"since": query.since, "until": query.until, "product": TRAFFIC_PRODUCT,
                              "limit": int(query.limit)}
    days = None if typed else _whole_days(query)
    source = "llm_calls FINAL" if typed else "llm_calls_hourly"
    if days is not None:
        params["d0"], params["d1"] = days
        source = _HYBRID_SOURCE
    select, group, names, filters = _select(query, typed, params, extra)
    sql = _GROUPED.format(
        select=select, sums=_TYPED_SUMS if typed else _ROLLUP_SUMS, source=source,
        window=_TYPED_WINDOW if typed else _ROLLUP_WINDOW, traffic=traffic, filters=filters,
        group=group, order="c0, " if query.granularity != "total" else "",
        limit_by=f" BY c{len(names) - 1}" if extra else "")
    result = store.query(sql, params)
    rows = []
    for raw in result.result_rows:
        dims = dict(zip(names, raw[:len(names)], strict=False))
        rows.append(_with_ratios({**dims, **dict(zip(METRICS, raw[len(names):], strict=False))}))
    return rows, ("llm_calls" if typed else
                  "analytics_cost_daily+llm_calls_hourly" if days is not None else "llm_calls_hourly")


def _with_ratios(row: dict[str, Any]) -> dict[str, Any]:
    for name in METRICS:
        row[name] = float(row[name]) if name == "cost_usd" else int(row[name])
    if "bucket" in row and not isinstance(row["bucket"], str):
        row["bucket"] = _iso(datetime.fromtimestamp(int(row["bucket"]), UTC))
    priced = row["priced_calls"]
    row["cost_per_call"] = row["cost_usd"] / priced if priced else None
    row["cost_per_1k_calls"] = 1000 * row["cost_usd"] / priced if priced else None
    return row


def _totals(rows: list[dict]) -> dict[str, Any]:
    total = {name: sum(r[name] for r in rows) for name in METRICS}
    return _with_ratios(total)


def cost(store, query: Query) -> dict[str, Any]:
    """Product attribution rows and totals, plus experiment (shadow/judge) cost reported apart.

    One grouped query by traffic class (limit per class); the totals come from the rows unless the
    limit cut some off, in which case one small totals query by traffic class runs.
    """
    rows, source = _run(store, query, _ANY_TRAFFIC, extra=("traffic_class",))
    experiment = [r for r in rows if r["traffic_class"] != TRAFFIC_PRODUCT]
    product = [r for r in rows if r["traffic_class"] == TRAFFIC_PRODUCT]
    for r in product:
        del r["traffic_class"]
    buckets = query.granularity != "total" or query.group_by
    truncated = len(product) >= query.limit or len(experiment) >= query.limit
    if buckets and truncated:
        totals_query = Query(query.since, query.until, [], "total", dict(query.filters), 10)
        by_class, _ = _run(store, totals_query, _ANY_TRAFFIC, extra=("traffic_class",))
        product_total = _totals([r for r in by_class if r["traffic_class"] == TRAFFIC_PRODUCT])
        experiment_total = _totals([r for r in by_class if r["traffic_class"] != TRAFFIC_PRODUCT])
    else:
        product_total, experiment_total = _totals(product), _totals(experiment)
    return {
        "since": _iso(query.since), "until": _iso(query.until), "granularity": query.granularity,
        "group_by": query.group_by, "filters": query.filters, "source": source,
        "rows": product, "totals": product_total,
        "experiment": {"rows": experiment, "totals": experiment_total},
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def movers(store, query: Query) -> dict[str, Any]:
    """Largest cost changes per group versus the previous window of the same length."""
    span = query.until - query.since
    current = Query(query.since, query.until, query.group_by, "total", query.filters, 100_000)
    previous = Query(query.since - span, query.since, query.group_by, "total", query.filters, 100_000)
    now_rows, source = _run(store, current, _PRODUCT)
    before_rows, _ = _run(store, previous, _PRODUCT)
    key = lambda r: tuple(r[d] for d in query.group_by)  # noqa: E731
    before = {key(r): r for r in before_rows}
    now = {key(r): r for r in now_rows}
    out = []
    for k in set(now) | set(before):
        a, b = now.get(k), before.get(k)
        cost_now = a["cost_usd"] if a else 0.0
        cost_before = b["cost_usd"] if b else 0.0
        out.append({**dict(zip(query.group_by, k, strict=False)), "cost_usd": cost_now, "previous_cost_usd": cost_before,
                    "delta_usd": cost_now - cost_before,
                    "change_pct": (100 * (cost_now - cost_before) / cost_before) if cost_before else None,
                    "calls": a["calls"] if a else 0, "previous_calls": b["calls"] if b else 0})
    out.sort(key=lambda r: abs(r["delta_usd"]), reverse=True)
    return {"since": _iso(query.since), "until": _iso(query.until),
            "previous_since": _iso(query.since - span), "group_by": query.group_by, "source": source,
            "rows": out[:query.limit]}


# Coverage reads the rollup only: a rollup row is one hour x model x business key, so its calls are
# (almost always) all priced or all unpriced; tokens of unpriced calls are apportioned per row by
# UnpricedCalls / Calls, which is exact for such rows.
_COVERAGE_TOTALS = """SELECT sum(Calls), sum(UnpricedCalls), sum(EstimatedCalls),
    sum(InputTokens + OutputTokens),
    sum(if(Calls > 0, (InputTokens + OutputTokens) * UnpricedCalls / Calls, 0))
FROM {source} WHERE """ + _ROLLUP_WINDOW
_COVERAGE_UNPRICED = """SELECT Provider, ResponseModel, RequestModel, sum(UnpricedCalls) AS calls,
    sum(if(Calls > 0, (InputTokens + OutputTokens) * UnpricedCalls / Calls, 0)) AS tokens,
    toUnixTimestamp(max(Hour)) AS last_seen
FROM {source}
WHERE """ + _ROLLUP_WINDOW + """ AND UnpricedCalls > 0
GROUP BY Provider, ResponseModel, RequestModel
HAVING calls > 0
ORDER BY calls DESC, tokens DESC
LIMIT {limit:UInt32}"""


def coverage(store, since: datetime, until: datetime, limit: int = 10) -> dict[str, Any]:
    """Share of calls and tokens with no price, and the unknown models behind them."""
    params: dict[str, Any] = {"since": since, "until": until, "limit": int(limit)}
    days = _whole_days(Query(since, until))
    source = "llm_calls_hourly"
    if days is not None:
        params["d0"], params["d1"] = days
        source = _HYBRID_SOURCE
    totals_sql = _COVERAGE_TOTALS.replace("{source}", source)  # one of two constants, no user input
    models_sql = _COVERAGE_UNPRICED.replace("{source}", source)
    calls, unpriced, estimated, tokens, u_tokens = (
        round(v or 0) for v in store.query(totals_sql, params).result_rows[0])
    models = [{"provider": p, "response_model": rm, "request_model": qm, "calls": int(c),
               "tokens": round(t), "last_seen": _iso(datetime.fromtimestamp(int(ls), UTC))}
              for p, rm, qm, c, t, ls in store.query(models_sql, params).result_rows]
    return {
        "since": _iso(since), "until": _iso(until), "calls": calls, "unpriced_calls": unpriced,
        "unpriced_call_share": unpriced / calls if calls else 0.0,
        "tokens": tokens, "unpriced_tokens": u_tokens,
        "unpriced_token_share": u_tokens / tokens if tokens else 0.0,
        "estimated_usage_calls": estimated, "top_unpriced_models": models,
    }


_TRACE_CALLS = """SELECT toUnixTimestamp64Micro(Timestamp), SpanId, ParentSpanId, ServiceName, Provider, Operation, RequestModel,
    ResponseModel, Feature, Tier, TrafficClass, InputTokens, OutputTokens, CacheReadTokens,
    CacheCreationTokens, ReasoningTokens, CostUSD, Priced, DurationNs, StatusCode
FROM llm_calls FINAL
WHERE TraceId = {trace_id:String}
ORDER BY Timestamp"""
_TRACE_SPANS = """SELECT count()
FROM otel_traces WHERE TraceId = {trace_id:String}"""
_TRACE_COLUMNS = ("timestamp", "span_id", "parent_span_id", "service", "provider", "operation",
                  "request_model", "response_model", "feature", "tier", "traffic_class", "input_tokens",
                  "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens",
                  "cost_usd", "priced", "duration_ns", "status")


def trace_rollup(store, trace_id: str) -> dict[str, Any] | None:
    """Cost of one agent run: inference spans only (agent and tool spans are not calls to a model)."""
    params = {"trace_id": trace_id}
    calls = [dict(zip(_TRACE_COLUMNS, row, strict=False)) for row in store.query(_TRACE_CALLS, params).result_rows]
    n_spans = store.query(_TRACE_SPANS, params).result_rows[0][0]
    if not calls and not n_spans:
        return None
    for call in calls:
        call["timestamp"] = datetime.fromtimestamp(call["timestamp"] / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        call["priced"] = bool(call["priced"])
    product = [c for c in calls if c["traffic_class"] == TRAFFIC_PRODUCT]
    experiment = [c for c in calls if c["traffic_class"] != TRAFFIC_PRODUCT]

    def summed(items):
        return {
            "calls": len(items), "unpriced_calls": sum(1 for c in items if not c["priced"]),
            "input_tokens": sum(c["input_tokens"] for c in items),
            "output_tokens": sum(c["output_tokens"] for c in items),
            "cost_usd": sum(c["cost_usd"] for c in items if c["priced"]),
        }

    by_model: dict[str, dict] = {}
    for c in product:
        entry = by_model.setdefault(c["response_model"], {"model": c["response_model"], "calls": 0, "cost_usd": 0.0})
        entry["calls"] += 1
        entry["cost_usd"] += c["cost_usd"] if c["priced"] else 0.0
    return {
        "trace_id": trace_id, "spans": int(n_spans), "inference_spans": len(calls),
        "other_spans_not_summed": int(n_spans) - len(calls),
        "totals": summed(product), "experiment": summed(experiment),
        "by_model": sorted(by_model.values(), key=lambda e: e["cost_usd"], reverse=True),
        "calls": calls,
    }
