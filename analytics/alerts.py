"""Alert storage and lifecycle: open -> acknowledged -> resolved, deduplicated by key.

Alerts live in ``analytics_alerts`` (a ReplacingMergeTree read with ``FINAL``): every change inserts a
new version of the row. A finding whose dedup key matches an open or acknowledged alert updates that
alert (last seen, latest numbers, occurrences) instead of opening another; a finding already covered by
a resolved alert (same key, not newer than what was resolved) is ignored, so re-evaluating a window
does not reopen what someone closed. Anomaly alerts not seen again for ``quiet_hours`` are resolved
automatically (``resolved_by = "auto"``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "ACKNOWLEDGED",
    "OPEN",
    "RESOLVED",
    "STATUSES",
    "AlertError",
    "acknowledge",
    "auto_resolve",
    "deliveries",
    "get_alert",
    "list_alerts",
    "public",
    "record_finding",
    "resolve",
]

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
ACTIVE = (OPEN, ACKNOWLEDGED)

COLUMNS = ["AlertId", "DedupKey", "Kind", "Dimension", "Value", "Metric", "Status", "Severity",
           "Explanation", "Observed", "Expected", "Ratio", "ExcessUSD", "StartedAt", "LastSeenAt",
           "OpenedAt", "AcknowledgedAt", "ResolvedAt", "ResolvedBy", "Occurrences", "Details", "UpdatedAt"]
_TIMES = ("StartedAt", "LastSeenAt", "OpenedAt", "AcknowledgedAt", "ResolvedAt", "UpdatedAt")
# times come back as epoch microseconds: naive datetimes would carry the engine's local time zone
_SELECT = "SELECT " + ", ".join(f"toUnixTimestamp64Micro({c})" if c in _TIMES else c for c in COLUMNS) \
    + " FROM analytics_alerts FINAL"
_LIST = _SELECT + """ WHERE (Status = {status:String} OR {status:String} = '')
ORDER BY OpenedAt DESC LIMIT {limit:UInt32}"""
_BY_ID = _SELECT + " WHERE AlertId = {alert_id:String}"
_BY_KEY = _SELECT + " WHERE DedupKey = {key:String} ORDER BY OpenedAt DESC LIMIT 1"
_ACTIVE = _SELECT + " WHERE Status IN ('open', 'acknowledged')"
_DELIVERIES = """SELECT toUnixTimestamp64Micro(At), DeliveryId, Url, Format, Attempt, Outcome, HttpStatus, Error
FROM analytics_webhook_deliveries WHERE AlertId = {alert_id:String} ORDER BY At, Attempt"""


class AlertError(ValueError):
    """A lifecycle change that is not allowed (e.g. acknowledging a resolved alert)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _rows(store, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for raw in store.query(sql, params).result_rows:
        row = dict(zip(COLUMNS, raw, strict=False))
        for name in _TIMES:
            if row[name] is not None:
                row[name] = datetime.fromtimestamp(row[name] / 1e6, UTC)
        rows.append(row)
    return rows


def _write(store, row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["UpdatedAt"] = _now()
    store.insert("analytics_alerts", [[row[c] for c in COLUMNS]], COLUMNS)
    return row


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The API/webhook shape of a stored alert."""
    return {
        "id": row["AlertId"], "key": row["DedupKey"], "kind": row["Kind"], "dimension": row["Dimension"],
        "value": row["Value"], "metric": row["Metric"], "status": row["Status"], "severity": row["Severity"],
        "explanation": row["Explanation"], "observed": row["Observed"], "expected": row["Expected"],
        "ratio": row["Ratio"], "excess_usd": row["ExcessUSD"], "started_at": _iso(row["StartedAt"]),
        "last_seen_at": _iso(row["LastSeenAt"]), "opened_at": _iso(row["OpenedAt"]),
        "acknowledged_at": _iso(row["AcknowledgedAt"]), "resolved_at": _iso(row["ResolvedAt"]),
        "resolved_by": row["ResolvedBy"], "occurrences": int(row["Occurrences"]),
        "details": json.loads(row["Details"] or "{}"),
    }


def list_alerts(store, status: str = "", limit: int = 100) -> list[dict[str, Any]]:
    if status and status not in STATUSES:
        raise AlertError(f"unknown status {status!r}; allowed: {', '.join(STATUSES)}")
    return [public(r) for r in _rows(store, _LIST, {"status": status, "limit": int(limit)})]


def get_alert(store, alert_id: str) -> dict[str, Any] | None:
    rows = _rows(store, _BY_ID, {"alert_id": alert_id})
    return public(rows[0]) if rows else None


def _finite(value: float) -> float:
    return value if value == value and abs(value) != float("inf") else 0.0


def record_finding(store, finding: dict[str, Any], now: datetime | None = None) -> tuple[dict | None, bool]:
    """Store a finding as an alert. Returns (alert, opened_now); alert None when already resolved.

    ``finding`` keys: key, kind, dimension, value, metric, severity, explanation, observed, expected,
    ratio, excess_usd, started_at, last_seen_at (datetimes), details (dict).
    """
    now = now or _now()
    existing = _rows(store, _BY_KEY, {"key": finding["key"]})
    numbers = {"Observed": _finite(float(finding["observed"])), "Expected": _finite(float(finding["expected"])),
               "Ratio": _finite(float(finding["ratio"])), "ExcessUSD": _finite(float(finding["excess_usd"])),
               "Explanation": finding["explanation"], "Severity": finding["severity"],
               "Details": json.dumps(finding.get("details") or {}, default=str)}
    if existing:
        row = existing[0]
        last_seen = row["LastSeenAt"]
        if row["Status"] in ACTIVE:
            row.update(numbers)
            row["LastSeenAt"] = max(last_seen, finding["last_seen_at"])
            row["Occurrences"] = int(row["Occurrences"]) + 1
            return public(_write(store, row)), False
        if finding["last_seen_at"] <= last_seen:
            return None, False  # someone resolved this very anomaly already
    row = {"AlertId": uuid.uuid4().hex[:12], "DedupKey": finding["key"], "Kind": finding["kind"],
           "Dimension": finding["dimension"], "Value": finding["value"], "Metric": finding["metric"],
           "Status": OPEN, "StartedAt": finding["started_at"], "LastSeenAt": finding["last_seen_at"],
           "OpenedAt": now, "AcknowledgedAt": None, "ResolvedAt": None, "ResolvedBy": "",
           "Occurrences": 1, **numbers}
    return public(_write(store, row)), True


def _change(store, alert_id: str, status: str, by: str = "user") -> dict[str, Any] | None:
    rows = _rows(store, _BY_ID, {"alert_id": alert_id})
    if not rows:
        return None
    row = rows[0]
    if row["Status"] == RESOLVED:
        raise AlertError(f"alert {alert_id} is already resolved")
    if status == ACKNOWLEDGED:
        if row["Status"] == ACKNOWLEDGED:
            return public(row)
        row["AcknowledgedAt"] = _now()
    else:
        row["ResolvedAt"] = _now()
        row["ResolvedBy"] = by
    row["Status"] = status
    return public(_write(store, row))


def acknowledge(store, alert_id: str) -> dict[str, Any] | None:
    return _change(store, alert_id, ACKNOWLEDGED)


def resolve(store, alert_id: str, by: str = "user") -> dict[str, Any] | None:
    return _change(store, alert_id, RESOLVED, by)


def auto_resolve(store, seen_keys: set[str], quiet_hours: float, now: datetime | None = None) -> list[dict]:
    """Resolve active alerts not seen in this evaluation and quiet for ``quiet_hours``."""
    now = now or _now()
    cutoff = now - timedelta(hours=quiet_hours)
    resolved = []
    for row in _rows(store, _ACTIVE, {}):
        if row["DedupKey"] in seen_keys or row["LastSeenAt"] > cutoff:
            continue
        row["Status"] = RESOLVED
        row["ResolvedAt"] = now
        row["ResolvedBy"] = "auto"
        resolved.append(public(_write(store, row)))
    return resolved


def deliveries(store, alert_id: str) -> list[dict[str, Any]]:
    """Every recorded webhook delivery attempt for an alert, oldest first."""
    return [{"at": _iso(datetime.fromtimestamp(at / 1e6, UTC)), "delivery_id": d, "url": url, "format": fmt,
             "attempt": int(attempt), "outcome": outcome, "http_status": int(status), "error": error}
            for at, d, url, fmt, attempt, outcome, status, error
            in store.query(_DELIVERIES, {"alert_id": alert_id}).result_rows]
