"""One evaluation pass: read hourly series from the rollup, run the detectors and budgets, store alerts.

For each watched dimension (setting ``alert_dimensions``) the pass reads product spend and calls per
hour and value from ``llm_calls_hourly`` over ``anomaly_history_days`` plus the evaluation window,
runs ``anomaly.detect_series`` per value and ``anomaly.detect_new_models`` per value and model, looks
for traces making runaway numbers of calls in the last hour (``llm_calls``), evaluates budgets, then
records every finding as an alert (deduplicated), resolves quiet ones, and hands newly opened alerts
to the notifier. The service runs it every ``alert_eval_interval_minutes`` and on
``POST /api/v1/alerts/evaluate``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tokenproof import settings
from tokenproof.analytics import alerts as alert_store
from tokenproof.analytics.anomaly import (
    Finding,
    Thresholds,
    datetime_to_hour,
    detect_new_models,
    detect_series,
    explain,
    hour_to_datetime,
)
from tokenproof.analytics.budgets import evaluate_budgets

__all__ = ["WATCHABLE", "evaluate", "thresholds_from_settings"]

settings.declare("alert_eval_interval_minutes", float, 15.0,
                 "minutes between anomaly/budget evaluations inside the service (0 disables)")
settings.declare("alert_dimensions", list, ["feature", "tier", "model"],
                 "dimensions watched for spend anomalies (feature, tier, customer, service, model, provider)")
settings.declare("anomaly_z", float, 4.0, "robust z-score an hour needs to count as anomalous")
settings.declare("anomaly_min_hourly_usd", float, 0.05,
                 "typical spend per hour below which a dimension value is not watched")
settings.declare("anomaly_min_excess_usd", float, 1.0, "dollars above normal before an anomaly alerts")
settings.declare("anomaly_min_calls", int, 20, "calls in an hour before its cost per call counts")
settings.declare("anomaly_history_days", int, 28, "history used for the seasonal baseline")
settings.declare("anomaly_eval_hours", int, 6, "recent hours examined by each evaluation")
settings.declare("runaway_trace_calls", int, 200, "LLM calls by one trace within an hour that count as a runaway loop")
settings.declare("alert_quiet_hours", float, 12.0, "hours without a repeat after which an anomaly alert resolves itself")

WATCHABLE = {"feature": "Feature", "tier": "Tier", "customer": "Customer", "service": "ServiceName",
             "model": "ResponseModel", "provider": "Provider"}
_SERIES = """SELECT toUInt32(toUnixTimestamp(Hour) / 3600) AS h, {column} AS v, sum(Calls), sum(CostUSD)
FROM llm_calls_hourly
WHERE Hour >= {since:DateTime} AND TrafficClass = 'product' AND {column} != ''
GROUP BY h, v"""
_MODELS = """SELECT {column} AS v, ResponseModel,
    sumIf(Calls, Hour < {eval_from:DateTime}), sumIf(CostUSD, Hour < {eval_from:DateTime}),
    sumIf(Calls, Hour >= {eval_from:DateTime}), sumIf(CostUSD, Hour >= {eval_from:DateTime}),
    toUInt32(toUnixTimestamp(minIf(Hour, Hour >= {eval_from:DateTime} AND Calls > 0)) / 3600)
FROM llm_calls_hourly
WHERE Hour >= {since:DateTime} AND TrafficClass = 'product' AND {column} != ''
GROUP BY v, ResponseModel"""
_MINUTES = """SELECT toUnixTimestamp(toStartOfMinute(Timestamp)) AS m, count(), sum(CostUSD)
FROM llm_calls FINAL
WHERE Timestamp >= {h0:DateTime64(9)} AND Timestamp < {h1:DateTime64(9)} AND TrafficClass = 'product'
  AND {column} = {value:String}
GROUP BY m ORDER BY m"""
_RUNAWAY_TRACES = """SELECT TraceId, anyLast(Feature), count() AS calls, sum(CostUSD),
    toUnixTimestamp64Micro(min(Timestamp))
FROM llm_calls
WHERE Timestamp >= {since:DateTime64(9)} AND TraceId != '' AND TrafficClass = 'product'
GROUP BY TraceId HAVING calls >= {min_calls:UInt32}
ORDER BY calls DESC LIMIT 20"""


def thresholds_from_settings() -> Thresholds:
    return Thresholds(z=settings.get("anomaly_z"), min_hourly_usd=settings.get("anomaly_min_hourly_usd"),
                      min_excess_usd=settings.get("anomaly_min_excess_usd"),
                      min_calls=settings.get("anomaly_min_calls"),
                      history_days=settings.get("anomaly_history_days"))


def _severity(f: Finding) -> str:
    return "critical" if f.excess_usd >= 100 or (f.ratio >= 5 and f.excess_usd >= 10) else "warning"


def _as_record(f: Finding, contributor: str | None, now: datetime) -> dict[str, Any]:
    last = min(hour_to_datetime(f.last_hour + 1), now)
    return {"key": f.key, "kind": f.kind, "dimension": f.dimension, "value": f.value, "metric": f.metric,
            "severity": _severity(f), "explanation": explain(f, contributor), "observed": f.observed,
            "expected": f.expected, "ratio": f.ratio if math.isfinite(f.ratio) else 0.0,
            "excess_usd": f.excess_usd, "started_at": f.start, "last_seen_at": last,
            "details": {**f.extra, "contributor": contributor}}


def _dimension_findings(store, dim: str, now: datetime, t: Thresholds, eval_hours: int) -> list[dict]:
    column = WATCHABLE[dim]  # whitelisted column name
    now_hour = datetime_to_hour(now)
    first = now_hour - (t.history_days + 1) * 24
    eval_from = now_hour - eval_hours + 1
    hours = np.arange(first, now_hour + 1, dtype=np.int64)
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sql = _SERIES.replace("{column}", column)
    for h, value, calls, cost in store.query(sql, {"since": hour_to_datetime(first)}).result_rows:
        idx = int(h) - first
        if not 0 <= idx < hours.size:
            continue
        c, s = series.setdefault(value, (np.zeros(hours.size), np.zeros(hours.size)))
        c[idx], s[idx] = float(calls), float(cost)
    models: dict[str, tuple[dict, dict]] = {}
    params = {"since": hour_to_datetime(first), "eval_from": hour_to_datetime(eval_from)}
    for value, model, hc, hs, rc, rs, first_h in store.query(_MODELS.replace("{column}", column), params).result_rows:
        hist, recent = models.setdefault(value, ({}, {}))
        hist[model] = (float(hc), float(hs))
        if rc:
            recent[model] = (float(rc), float(rs), int(first_h))
    fraction = (now - hour_to_datetime(now_hour)).total_seconds() / 3600
    out = []
    for value, (calls, cost) in series.items():
        found = detect_series(hours, calls, cost, dimension=dim, value=value, eval_from=eval_from,
                              thresholds=t, last_fraction=fraction)
        hist, recent = models.get(value, ({}, {}))
        if dim != "model":
            found += detect_new_models(dim, value, hist, recent, t)
        for f in found:
            if f.kind in _ONSET_KINDS:
                _refine_onset(store, column, f)
            out.append(_as_record(f, _contributor(dim, f, hist, recent, eval_hours, eval_from - first), now))
    return out


_ONSET_KINDS = ("spend_spike", "cost_per_call_shift", "runaway")


def _refine_onset(store, column: str, f: Finding) -> None:
    """The minute the anomaly began inside its first hour: the split after which the excess over the
    expected per-minute rate accumulates most (a CUSUM change point); stored as ``extra["since"]``."""
    h0 = hour_to_datetime(f.start_hour)
    rows = store.query(_MINUTES.replace("{column}", column),
                       {"h0": h0, "h1": hour_to_datetime(f.start_hour + 1), "value": f.value}).result_rows
    if not rows:
        return
    minutes = np.array([int(m) for m, _, _ in rows])
    calls = np.array([float(c) for _, c, _ in rows])
    cost = np.array([float(v) for _, _, v in rows])
    if f.kind == "cost_per_call_shift":
        excess = cost - calls * f.expected
    elif f.kind == "runaway":
        excess = calls - f.expected / 60
    else:
        excess = cost - f.expected / 60
    tail = np.cumsum(excess[::-1])[::-1]  # excess from each minute to the end of the hour
    f.extra["since"] = datetime.fromtimestamp(int(minutes[int(np.argmax(tail))]), UTC)


def _contributor(dim: str, f: Finding, hist: dict, recent: dict, recent_hours: int,
                 hist_hours: int) -> str | None:
    """The model whose hourly spend grew most in the evaluation window."""
    if dim == "model" or f.kind == "new_model" or not recent:
        return None
    recent_hours, hist_hours = max(1, recent_hours), max(1, hist_hours)
    growth = {m: rs / recent_hours - hist.get(m, (0, 0))[1] / hist_hours for m, (_, rs, _) in recent.items()}
    best = max(growth, key=growth.get)
    return f"model={best}" if growth[best] > 0 else None


def _runaway_traces(store, now: datetime, min_calls: int) -> list[dict]:
    since = now.timestamp() - 3600
    out = []
    rows = store.query(_RUNAWAY_TRACES, {"since": datetime.fromtimestamp(since, UTC), "min_calls": min_calls})
    for trace_id, feature, calls, cost, started in rows.result_rows:
        started = datetime.fromtimestamp(started / 1e6, UTC)
        out.append({"key": f"runaway_trace|calls|trace={trace_id}", "kind": "runaway_trace",
                    "dimension": "trace", "value": trace_id, "metric": "calls", "severity": "critical",
                    "explanation": (f"runaway loop: trace {trace_id} made {calls:,} LLM calls in the last hour "
                                    f"(feature={feature or '-'}, ${cost:,.2f}), since {started:%H:%M} UTC"),
                    "observed": float(calls), "expected": float(min_calls), "ratio": calls / min_calls,
                    "excess_usd": float(cost), "started_at": started, "last_seen_at": now,
                    "details": {"feature": feature, "calls": int(calls)}})
    return out


_LOCK = threading.Lock()  # the periodic pass and an on-demand pass must not both open the same alert


def evaluate(store, now: datetime | None = None, notify: Callable[[dict], Any] | None = None,
             dimensions: list[str] | None = None) -> dict[str, Any]:
    """Run every detector once; returns what was found, opened, updated and resolved."""
    with _LOCK:
        return _evaluate(store, now, notify, dimensions)


def _evaluate(store, now, notify, dimensions) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    t = thresholds_from_settings()
    dims = dimensions if dimensions is not None else settings.get("alert_dimensions")
    unknown = [d for d in dims if d not in WATCHABLE]
    if unknown:
        raise ValueError(f"unknown alert dimension(s) {unknown}; allowed: {', '.join(WATCHABLE)}")
    findings: list[dict] = []
    for dim in dims:
        findings += _dimension_findings(store, dim, now, t, settings.get("anomaly_eval_hours"))
    findings += _runaway_traces(store, now, settings.get("runaway_trace_calls"))
    budget_reports, budget_alerts = evaluate_budgets(store, now)
    findings += budget_alerts
    opened, updated = [], 0
    for finding in findings:
        alert, is_new = alert_store.record_finding(store, finding, now)
        if alert is None:
            continue
        if is_new:
            opened.append(alert)
            if notify is not None:
                notify(alert)
        else:
            updated += 1
    resolved = alert_store.auto_resolve(store, {f["key"] for f in findings},
                                        settings.get("alert_quiet_hours"), now)
    return {"evaluated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "findings": len(findings),
            "opened": opened, "updated": updated, "resolved": [a["id"] for a in resolved],
            "budgets": budget_reports}
