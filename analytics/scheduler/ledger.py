"""The scheduler's state in the store (migration 0400): control row, admissions, events, spend.

Spend is a ledger of batches: a batch's spend cap is *reserved* by a ``batch_started`` event before
its first call and settled by its ``batch_finished`` event. A batch that never finished (the service
died mid-batch) stays counted at its reservation, an upper bound on what it can have spent; so the
day's and the month's spend read here never undercount, across restarts and concurrent batches.
SQL lives in the constants below with server-side parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

__all__ = ["Ledger", "day_start", "month_start"]

CONTROL_COLUMNS = ["Key", "PolicyJson", "PolicyVersion", "Paused", "Actor", "Reason", "UpdatedAt"]
GROUP_COLUMNS = ["Lineage", "ServiceName", "Feature", "PromptFingerprint", "BaselineModel", "AlphaShare",
                 "Portfolio", "PolicyVersion", "AdmittedAt"]
EVENT_COLUMNS = ["At", "Kind", "BatchId", "RouteId", "Lineage", "Feature", "CandidateModel", "Provider",
                 "PromptRef", "Comparisons", "ReservedUSD", "SpendUSD", "Message", "DetailJson"]

SELECT_CONTROL = "SELECT PolicyJson, PolicyVersion, Paused, Actor, Reason, UpdatedAt FROM scheduler_control FINAL WHERE Key = 'default'"
SELECT_GROUPS = f"SELECT {', '.join(GROUP_COLUMNS)} FROM scheduler_groups FINAL ORDER BY AdmittedAt"
# Spend since a moment: settled batches at what they spent, unsettled ones at their reservation.
SELECT_SPEND = """
SELECT sumIf(spent, finished > 0), sumIf(reserved, finished = 0) FROM (
    SELECT BatchId, maxIf(ReservedUSD, Kind = 'batch_started') AS reserved,
           countIf(Kind = 'batch_finished') AS finished, sumIf(SpendUSD, Kind = 'batch_finished') AS spent,
           minIf(At, Kind = 'batch_started') AS started
    FROM scheduler_events
    WHERE Kind IN ('batch_started', 'batch_finished') AND BatchId != ''
    GROUP BY BatchId
    HAVING started >= {since:DateTime64(6)}
)
"""
SELECT_EVENTS = """
SELECT At, Kind, BatchId, RouteId, Lineage, Feature, CandidateModel, Provider, PromptRef, Comparisons,
       ReservedUSD, SpendUSD, Message, DetailJson
FROM scheduler_events
WHERE ({kind:String} = '' OR Kind = {kind:String})
  AND ({route:String} = '' OR RouteId = {route:String})
ORDER BY At DESC
LIMIT {limit:UInt32}
"""
SELECT_DEFERRALS = """
SELECT PromptRef, count() FROM scheduler_events
WHERE Kind = 'deferred' AND RouteId = {route:String}
GROUP BY PromptRef
"""
SELECT_ROUTE_TOTALS = """
SELECT RouteId, sumIf(SpendUSD, Kind = 'batch_finished') AS spent, sumIf(Comparisons, Kind = 'batch_finished') AS n,
       countIf(Kind = 'batch_finished') AS batches, countIf(Kind = 'deferred') AS deferred
FROM scheduler_events WHERE RouteId != '' GROUP BY RouteId
"""
SELECT_SCHEDULED_ROUTES = "SELECT DISTINCT RouteId FROM scheduler_events WHERE Kind = 'route_started'"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Ledger:
    """Reads and writes the scheduler's tables of one store."""

    def __init__(self, store) -> None:
        self.store = store

    # control: policy overrides and the pause switch
    def control(self) -> dict[str, Any] | None:
        rows = self.store.query_rows(SELECT_CONTROL)
        if not rows:
            return None
        policy_json, version, paused, actor, reason, updated = rows[0]
        return {"overrides": json.loads(policy_json or "{}"), "policy_version": int(version),
                "paused": bool(paused), "actor": actor, "reason": reason, "updated_at": str(updated)}

    def set_control(self, *, overrides: dict[str, Any], policy_version: int, paused: bool, actor: str,
                    reason: str) -> None:
        row = ["default", json.dumps(overrides, sort_keys=True), int(policy_version), int(paused), actor,
               reason[:2000], _now()]
        self.store.insert("scheduler_control", [row], CONTROL_COLUMNS)

    # admissions (alpha ledger)
    def groups(self) -> list[dict[str, Any]]:
        return [dict(zip(GROUP_COLUMNS, r, strict=False)) for r in self.store.query_rows(SELECT_GROUPS)]

    def admit(self, *, lineage: str, service: str, feature: str, fingerprint: str, baseline: str,
              alpha_share: float, portfolio: int, policy_version: int) -> None:
        row = [lineage, service, feature, fingerprint, baseline, float(alpha_share), int(portfolio),
               int(policy_version), _now()]
        self.store.insert("scheduler_groups", [row], GROUP_COLUMNS)

    # events
    def event(self, kind: str, message: str = "", *, batch_id: str = "", route_id: str = "", lineage: str = "",
              feature: str = "", candidate: str = "", provider: str = "", prompt_ref: str = "",
              comparisons: int = 0, reserved_usd: float = 0.0, spend_usd: float = 0.0,
              detail: dict[str, Any] | None = None) -> None:
        row = [_now(), kind, batch_id, route_id, lineage, feature, candidate, provider, prompt_ref,
               int(comparisons), float(reserved_usd), float(spend_usd), message[:2000],
               json.dumps(detail or {}, sort_keys=True, default=str)]
        self.store.insert("scheduler_events", [row], EVENT_COLUMNS)

    @staticmethod
    def new_batch_id() -> str:
        return "b_" + uuid.uuid4().hex[:16]

    def events(self, *, kind: str = "", route_id: str = "", limit: int = 100) -> list[dict[str, Any]]:
        rows = self.store.query_rows(SELECT_EVENTS, {"kind": kind, "route": route_id, "limit": int(limit)})
        events = []
        for row in rows:
            event = dict(zip(EVENT_COLUMNS, row, strict=False))
            event["At"] = event["At"].isoformat()
            event["Detail"] = json.loads(event.pop("DetailJson") or "{}")
            events.append(event)
        return events

    def spend_since(self, since: dt.datetime) -> tuple[float, float]:
        """(settled spend, reservations of unfinished batches) of batches started since ``since``."""
        rows = self.store.query_rows(SELECT_SPEND, {"since": since})
        if not rows:
            return 0.0, 0.0
        return float(rows[0][0] or 0.0), float(rows[0][1] or 0.0)

    def deferrals(self, route_id: str) -> dict[str, int]:
        return {ref: int(n) for ref, n in self.store.query_rows(SELECT_DEFERRALS, {"route": route_id})}

    def route_totals(self) -> dict[str, dict[str, Any]]:
        return {r[0]: {"spent_usd": round(float(r[1]), 6), "comparisons": int(r[2]), "batches": int(r[3]),
                       "deferred": int(r[4])} for r in self.store.query_rows(SELECT_ROUTE_TOTALS)}

    def scheduled_routes(self) -> set[str]:
        return {r[0] for r in self.store.query_rows(SELECT_SCHEDULED_ROUTES)}


def day_start(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: dt.datetime) -> dt.datetime:
    return day_start(now).replace(day=1)
