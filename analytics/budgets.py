"""Monthly budgets per feature, tier or customer, with burn-rate forecasts that alert early.

The forecast is month-to-date spend plus the expected spend of every remaining hour of the month: the
seasonal baseline of ``anomaly.fit_baseline`` (hour-of-week profile x recent level) when there are two
days of history or more, the recent hourly rate otherwise. The run-out date is the first hour at which
actual plus expected spend reaches the budget. Findings: ``budget_forecast`` (projected overrun),
``budget_80`` and ``budget_100`` (month-to-date thresholds), one dedup key per budget and month.
Budgets count product spend (experiment spend is reported apart, as in attribution).
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tokenproof.analytics.anomaly import datetime_to_hour, fit_baseline, hour_of_week, hour_to_datetime

__all__ = [
    "MAX_BUDGET_USD",
    "SCOPES",
    "BudgetError",
    "budget_findings",
    "evaluate_budgets",
    "forecast",
    "list_budgets",
    "set_budget",
]

MAX_BUDGET_USD = 1e12
SCOPES = {"feature": "Feature", "tier": "Tier", "customer": "Customer"}
_LIST = """SELECT Scope, Value, MonthlyUSD, toUnixTimestamp64Micro(UpdatedAt) FROM analytics_budgets FINAL
WHERE Deleted = 0 ORDER BY Scope, Value"""
_COLUMNS = ["Scope", "Value", "MonthlyUSD", "Deleted", "UpdatedAt"]
_SPEND = """SELECT toUInt32(toUnixTimestamp(Hour) / 3600) AS h, sum(CostUSD)
FROM llm_calls_hourly
WHERE Hour >= {since:DateTime} AND Hour <= {until:DateTime} AND TrafficClass = 'product'
  AND {column} = {value:String}
GROUP BY h ORDER BY h"""


class BudgetError(ValueError):
    """A budget request names an unknown scope or a bad amount."""


def list_budgets(store) -> list[dict[str, Any]]:
    return [{"scope": s, "value": v, "monthly_usd": float(m),
             "updated_at": datetime.fromtimestamp(u / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for s, v, m, u in store.query(_LIST).result_rows]


def set_budget(store, scope: str, value: str, monthly_usd: float | None) -> dict[str, Any]:
    """Create or change a budget; ``monthly_usd`` None (or 0) deletes it."""
    if scope not in SCOPES:
        raise BudgetError(f"unknown budget scope {scope!r}; allowed: {', '.join(SCOPES)}")
    if not value:
        raise BudgetError("a budget needs a value (e.g. the feature name)")
    if monthly_usd is not None and not (math.isfinite(monthly_usd) and 0 <= monthly_usd <= MAX_BUDGET_USD):
        # an Infinity budget could never fire, NaN compares false with everything, negative is nonsense
        raise BudgetError(f"monthly_usd must be a finite amount from 0 to {MAX_BUDGET_USD:g} "
                          f"(0 or null deletes the budget), got {monthly_usd!r}")
    deleted = 0 if monthly_usd else 1
    store.insert("analytics_budgets", [[scope, value, float(monthly_usd or 0), deleted, datetime.now(UTC)]],
                 _COLUMNS)
    return {"scope": scope, "value": value, "monthly_usd": float(monthly_usd or 0), "deleted": bool(deleted)}


def _month_hours(now: datetime) -> tuple[int, int]:
    """(first hour of the month, first hour of the next month) as absolute hours."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(now.year, now.month)[1]
    first = datetime_to_hour(start)
    return first, first + days * 24


def forecast(hours: np.ndarray, cost: np.ndarray, budget_usd: float, now: datetime) -> dict[str, Any]:
    """Projected month-end spend and run-out time from hourly spend (hours up to ``now``)."""
    hours = np.asarray(hours, dtype=np.int64)
    cost = np.asarray(cost, dtype=float)
    month_first, month_end = _month_hours(now)
    now_hour = datetime_to_hour(now)
    mtd = float(cost[(hours >= month_first) & (hours <= now_hour)].sum())
    remaining = np.arange(now_hour + 1, month_end, dtype=np.int64)
    past = hours < now_hour
    base = fit_baseline(cost[past], hours[past]) if past.sum() >= 48 else None
    if base is not None:
        expected = base.expected(hour_of_week(remaining))
        method = "seasonal"
    else:
        recent = cost[hours >= now_hour - 7 * 24]
        span = max(1, min(7 * 24, int(now_hour - hours.min()) + 1)) if hours.size else 1
        expected = np.full(remaining.size, float(recent.sum()) / span)
        method = "recent_rate"
    projected = mtd + float(expected.sum())
    run_out = None
    if budget_usd > 0:
        if mtd >= budget_usd:
            run_out = now
        else:
            cumulative = mtd + np.cumsum(expected)
            over = np.nonzero(cumulative >= budget_usd)[0]
            if over.size:
                run_out = hour_to_datetime(int(remaining[over[0]]))
    return {
        "month": now.strftime("%Y-%m"), "month_to_date_usd": mtd, "projected_usd": projected,
        "budget_usd": budget_usd, "used_pct": 100 * mtd / budget_usd if budget_usd else None,
        "projected_pct": 100 * projected / budget_usd if budget_usd else None,
        "runs_out_at": run_out.strftime("%Y-%m-%dT%H:%M:%SZ") if run_out else None, "method": method,
    }


def _spend_series(store, scope: str, value: str, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    now_hour = datetime_to_hour(now)
    since = hour_to_datetime(now_hour - 35 * 24)
    sql = _SPEND.replace("{column}", SCOPES[scope])  # whitelisted column name
    rows = store.query(sql, {"since": since, "until": now, "value": value}).result_rows
    hours = np.arange(now_hour - 35 * 24, now_hour + 1, dtype=np.int64)
    cost = np.zeros(hours.size)
    for h, c in rows:
        idx = int(h) - int(hours[0])
        if 0 <= idx < hours.size and math.isfinite(c):  # a poisoned hour must not turn the forecast NaN
            cost[idx] = float(c)
    first = np.nonzero(cost)[0]
    if first.size:  # no history before the first spend: do not forecast from made-up zeros
        hours, cost = hours[first[0]:], cost[first[0]:]
    return hours, cost


def evaluate_budgets(store, now: datetime | None = None) -> tuple[list[dict], list[dict]]:
    """(forecast per budget, alert findings) for every budget."""
    now = now or datetime.now(UTC)
    reports, findings = [], []
    for budget in list_budgets(store):
        hours, cost = _spend_series(store, budget["scope"], budget["value"], now)
        report = {**budget, **forecast(hours, cost, budget["monthly_usd"], now)}
        reports.append(report)
        findings += budget_findings(report, now)
    return reports, findings


def budget_findings(report: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    who = f"{report['scope']}={report['value']}"
    mtd, budget, projected = report["month_to_date_usd"], report["budget_usd"], report["projected_usd"]
    base = {"dimension": report["scope"], "value": report["value"], "metric": "spend",
            "observed": mtd, "expected": budget, "ratio": mtd / budget if budget else 0.0,
            "started_at": now, "last_seen_at": now, "details": report}
    out = []
    if mtd >= budget:
        out.append({**base, "kind": "budget_100", "severity": "critical", "excess_usd": mtd - budget,
                    "explanation": f"budget exhausted for {who}: ${mtd:,.2f} spent of ${budget:,.2f} "
                                   f"in {report['month']}, projected ${projected:,.2f} by month end"})
    elif mtd >= 0.8 * budget:
        out.append({**base, "kind": "budget_80", "severity": "warning", "excess_usd": 0.0,
                    "explanation": f"{100 * mtd / budget:.0f}% of the {report['month']} budget used for "
                                   f"{who}: ${mtd:,.2f} of ${budget:,.2f}; runs out "
                                   f"{report['runs_out_at'] or 'after month end'}"})
    if projected > budget and mtd < budget:
        out.append({**base, "kind": "budget_forecast", "severity": "warning", "observed": projected,
                    "ratio": projected / budget, "excess_usd": projected - budget,
                    "explanation": f"projected overrun for {who}: ${projected:,.2f} by the end of "
                                   f"{report['month']} against a ${budget:,.2f} budget "
                                   f"(${mtd:,.2f} spent so far); money runs out at {report['runs_out_at']}"})
    for f in out:
        f["key"] = f"{f['kind']}|spend|{who}|{report['month']}"
    return out
