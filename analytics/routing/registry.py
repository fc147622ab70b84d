"""The route registry in the store: versioned route rows, the append-only audit log, revisions.

Every change inserts the route's next version (``routing_routes``, read with FINAL) and one audit
row (``routing_audit``, never updated). Writes are serialised by a process lock (the service is the
one writer). :func:`revision` changes on every insert, so readers get a cheap ETag.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from tokenproof.analytics.routing.model import LIVE_STATES, public

__all__ = ["COLUMNS", "audit", "get_row", "insert_version", "list_audit", "list_rows", "revision", "write_lock"]

COLUMNS = ["RouteId", "Version", "ServiceName", "Feature", "PromptFingerprint", "BaselineModel", "CandidateModel",
           "CandidateSystemPrompt", "ProofRouteId", "ProofDecision", "ProofResponseModel", "Override", "State",
           "TrafficShare", "ScheduleJson", "TimeoutSeconds", "StateReason", "ReproofReason", "ChangedBy",
           "ChangedAt", "CreatedAt"]
_TIMES = ("ChangedAt", "CreatedAt")
_SELECT = ("SELECT " + ", ".join(f"toUnixTimestamp64Micro({c}) AS {c}" if c in _TIMES else c for c in COLUMNS)
           + " FROM routing_routes FINAL")
LIST_SQL = _SELECT + """
WHERE ({service:String} = '' OR ServiceName = {service:String})
  AND ({state:String} = '' OR State = {state:String})
ORDER BY RouteId"""
BY_ID_SQL = _SELECT + " WHERE RouteId = {route_id:String}"
REVISION_SQL = "SELECT count(), max(toUnixTimestamp64Micro(ChangedAt)) FROM routing_routes"
AUDIT_COLUMNS = ["At", "AuditId", "RouteId", "Action", "Outcome", "Actor", "Client", "Override", "Reason",
                 "DetailJson"]
AUDIT_SQL = """
SELECT toUnixTimestamp64Micro(At), AuditId, RouteId, Action, Outcome, Actor, Client, Override, Reason, DetailJson
FROM routing_audit
WHERE ({route_id:String} = '' OR RouteId = {route_id:String})
ORDER BY At DESC, AuditId
LIMIT {limit:UInt32}"""

write_lock = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


def _row(values: dict[str, Any]) -> dict[str, Any]:
    row = dict(values)
    for column in _TIMES:
        row[column] = datetime.fromtimestamp(int(row[column]) / 1e6, UTC)
    return row


def list_rows(store, service: str = "", state: str = "") -> list[dict[str, Any]]:
    return [_row(r) for r in store.query_dicts(LIST_SQL, {"service": service, "state": state})]


def live_rows(store, service: str) -> list[dict[str, Any]]:
    return [r for r in list_rows(store, service) if r["State"] in LIVE_STATES]


def get_row(store, route_id: str) -> dict[str, Any] | None:
    rows = store.query_dicts(BY_ID_SQL, {"route_id": route_id})
    return _row(rows[0]) if rows else None


def insert_version(store, row: dict[str, Any], previous: dict[str, Any] | None, actor: str) -> dict[str, Any]:
    """Store ``row`` as the route's next version (changed now, by ``actor``); return it."""
    now = _now()
    row = {**row, "Version": (int(previous["Version"]) + 1) if previous else 1, "ChangedBy": actor,
           "ChangedAt": now, "CreatedAt": previous["CreatedAt"] if previous else now}
    store.insert("routing_routes", [[row[c] for c in COLUMNS]], COLUMNS)
    return row


def audit(store, *, route_id: str, action: str, outcome: str, actor: str, client: str = "",
          override: bool = False, reason: str = "", detail: dict[str, Any] | None = None) -> str:
    """Append one audit row (applied or refused); returns its id."""
    audit_id = uuid.uuid4().hex[:16]
    store.insert("routing_audit", [[_now(), audit_id, route_id, action, outcome, actor, client, int(override),
                                    reason[:2000], json.dumps(detail or {}, default=str, sort_keys=True)]],
                 AUDIT_COLUMNS)
    return audit_id


def list_audit(store, route_id: str = "", limit: int = 200) -> list[dict[str, Any]]:
    return [{"at": datetime.fromtimestamp(int(at) / 1e6, UTC).isoformat(), "id": audit_id, "route_id": rid,
             "action": action, "outcome": outcome, "actor": actor, "client": client, "override": bool(override),
             "reason": reason, "detail": json.loads(detail or "{}")}
            for at, audit_id, rid, action, outcome, actor, client, override, reason, detail
            in store.query_rows(AUDIT_SQL, {"route_id": route_id, "limit": int(limit)})]


def revision(store) -> str:
    """Changes on every route insert: the ETag's basis."""
    count, latest = store.query_rows(REVISION_SQL)[0]
    return f"{int(count)}.{int(latest or 0)}"


def public_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [public(r) for r in rows]
