"""What the scheduler is doing, for the API, the CLI and the dashboard (``GET /api/v1/scheduler``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tokenproof import settings
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.recommend import route_alpha_of, route_params
from tokenproof.analytics.proof.shadow import evidence_for
from tokenproof.analytics.scheduler.ledger import day_start, month_start
from tokenproof.analytics.scheduler.planner import plan

__all__ = ["status"]


def _routes(scheduler) -> list[dict[str, Any]]:
    totals = scheduler.ledger.route_totals()
    rows = []
    for rid in sorted(scheduler.ledger.scheduled_routes()):
        route = proof_store.get_route(scheduler.store, rid)
        if route is None:  # started, nothing stored yet (its first batch is in flight or failed)
            rows.append({"route_id": rid, "status": "starting", **totals.get(rid, {})})
            continue
        summary = evidence_for(scheduler.store, rid, route_params(route), route_alpha_of(route)).summary()
        rows.append({
            "route_id": rid, "version": int(route["Version"]), "service": route["ServiceName"],
            "feature": route["Feature"], "fingerprint": route["PromptFingerprint"],
            "baseline": route["BaselineModel"], "candidate": route["CandidateModel"], "judge": route["JudgeModel"],
            "status": route["Status"], "decision": summary["decision"], "n": summary["n"],
            "wins": summary.get("wins"), "ties": summary.get("ties"), "losses": summary.get("losses"),
            "unresolved": summary.get("unresolved"), "route_spent_usd": round(float(route["SpentUSD"]), 6),
            "budget_usd": float(route["BudgetUSD"]), "created_at": str(route["CreatedAt"]),
            "updated_at": str(route["UpdatedAt"]), **{f"scheduler_{k}": v for k, v in totals.get(rid, {}).items()},
        })
    return rows


def status(scheduler, refresh: bool = False) -> dict[str, Any]:
    control = scheduler.control()
    policy = scheduler.policy()
    now = datetime.now(UTC).replace(tzinfo=None)
    day_spent, day_reserved = scheduler.ledger.spend_since(day_start(now))
    month_spent, month_reserved = scheduler.ledger.spend_since(month_start(now))
    admitted = scheduler.ledger.groups()
    portfolio = settings.get("proof_portfolio_routes")
    groups = (scheduler.last_pass or {}).get("groups")
    if refresh or groups is None:
        _, plans = plan(scheduler.store, policy, admitted={g["Lineage"]: g for g in admitted},
                        scheduled=scheduler.ledger.scheduled_routes(), portfolio=portfolio,
                        exhausted=scheduler.exhausted)
        groups = [p.to_dict() for p in plans]
    routes = _routes(scheduler)
    finished = {r["route_id"]: r["status"] for r in routes if r.get("status") not in {"testing", "starting"}}
    for group in groups:  # a route that decided after the last pass planned
        if group.get("route_id") in finished and group.get("state") == "testing":
            group["state"], group["reason"] = "done", f"its route decided {finished[group['route_id']]}"
    next_in = None if scheduler.next_pass_at is None else round(max(0.0, scheduler.next_pass_at - time.time()), 1)
    return {
        "paused": control["paused"], "paused_by": control["actor"], "reason": control["reason"],
        "loop": {"interval_seconds": scheduler.interval_s, "running": scheduler.interval_s > 0,
                 "next_pass_in_s": next_in},
        "policy_version": control["policy_version"],
        "last_pass": {k: v for k, v in (scheduler.last_pass or {}).items() if k != "groups"} or None,
        "budgets": {
            "day": {"cap_usd": policy.budget_day_usd, "spent_usd": round(day_spent, 6),
                    "reserved_usd": round(day_reserved, 6),
                    "left_usd": round(max(0.0, policy.budget_day_usd - day_spent - day_reserved), 6)},
            "month": {"cap_usd": policy.budget_month_usd, "spent_usd": round(month_spent, 6),
                      "reserved_usd": round(month_reserved, 6),
                      "left_usd": round(max(0.0, policy.budget_month_usd - month_spent - month_reserved), 6)},
            "route_cap_usd": policy.budget_route_usd,
        },
        "alpha": {"family_alpha": policy.params.alpha, "portfolio_routes": portfolio, "groups_admitted": len(admitted),
                  "allotted": round(sum(float(g["AlphaShare"]) for g in admitted), 8)},
        "groups": groups,
        "routes": routes,
        "decisions": {d: sum(r.get("status") == d for r in routes) for d in ("switch", "keep", "uninformative",
                                                                           "undecided", "budget_exhausted",
                                                                           "testing")},
        "backoff": scheduler.backoff.snapshot(),
        "running_batches": list(scheduler.running_batches.values()),
    }
