"""What routing saved and what fallbacks cost, per route, from the stored spans of routed calls.

Every routed call has a candidate attempt span, and a baseline attempt span when it fell back. Per
route and window:

- ``candidate_cost_usd``: all candidate attempts (those that fell back included: their cost is the
  ``wasted_candidate_usd`` part);
- ``fallback_cost_usd``: the baseline attempts after a fallback (the baseline would have been paid
  for these calls anyway);
- ``baseline_equivalent_usd``: what the successful candidate attempts would have cost on the baseline
  model, priced at list price with the candidate's token counts (an estimate: two models rarely
  answer in the same number of tokens);
- ``saved_usd`` = baseline equivalent of the successful attempts - their cost - the wasted candidate
  attempts. Unpriced calls are counted and make a sum ``None``, never $0.
"""

from __future__ import annotations

from typing import Any

from tokenproof import pricing, semconv

__all__ = ["SAVINGS_SQL", "route_savings"]

SAVINGS_SQL = """
SELECT RouteId AS route_id, Provider AS provider,
       SpanAttributes['tokenproof.route.baseline_model'] AS baseline,
       SpanAttributes['tokenproof.route.attempt'] AS attempt,
       SpanAttributes['tokenproof.route.fallback_reason'] != '' AS fell_back,
       count() AS calls, countIf(Priced = 0) AS unpriced, sumIf(CostUSD, Priced = 1) AS cost,
       sum(InputTokens) AS input_tokens, sum(OutputTokens) AS output_tokens, sum(CacheReadTokens) AS cache_read
FROM llm_calls FINAL
WHERE RouteId != '' AND TrafficClass = {product:String}
  AND Timestamp >= fromUnixTimestamp64Micro({since:Int64})
  AND ({route:String} = '' OR RouteId = {route:String})
GROUP BY route_id, provider, baseline, attempt, fell_back
"""


def _add(total: float | None, value: float | None) -> float | None:
    return None if total is None or value is None else total + value


def route_savings(store, since_us: int, route_id: str = "") -> list[dict[str, Any]]:
    rows = store.query_dicts(SAVINGS_SQL, {"product": semconv.TRAFFIC_PRODUCT, "since": int(since_us),
                                           "route": route_id})
    routes: dict[str, dict[str, Any]] = {}
    for row in rows:
        r = routes.setdefault(row["route_id"], {
            "route_id": row["route_id"], "routed_calls": 0, "fallbacks": 0, "unpriced_calls": 0,
            "candidate_cost_usd": 0.0, "wasted_candidate_usd": 0.0, "fallback_cost_usd": 0.0,
            "baseline_equivalent_usd": 0.0, "ok_candidate_cost_usd": 0.0})
        cost = float(row["cost"]) if not row["unpriced"] else None
        r["unpriced_calls"] += int(row["unpriced"])
        if row["attempt"] == semconv.ROUTE_ATTEMPT_CANDIDATE:
            r["routed_calls"] += int(row["calls"])
            r["candidate_cost_usd"] = _add(r["candidate_cost_usd"], cost)
            if row["fell_back"]:
                r["fallbacks"] += int(row["calls"])
                r["wasted_candidate_usd"] = _add(r["wasted_candidate_usd"], cost)
            else:
                r["ok_candidate_cost_usd"] = _add(r["ok_candidate_cost_usd"], cost)
                usage = pricing.Usage(input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]),
                                      cache_read_tokens=int(row["cache_read"]))
                equivalent = pricing.price(row["provider"], row["baseline"], usage).usd if row["baseline"] else None
                r["baseline_equivalent_usd"] = _add(r["baseline_equivalent_usd"], equivalent)
        elif row["attempt"] == semconv.ROUTE_ATTEMPT_BASELINE:
            r["fallback_cost_usd"] = _add(r["fallback_cost_usd"], cost)
    for r in routes.values():
        equivalent, ok, wasted = r["baseline_equivalent_usd"], r.pop("ok_candidate_cost_usd"), r["wasted_candidate_usd"]
        saved = None if equivalent is None or ok is None or wasted is None else equivalent - ok - wasted
        r["saved_usd"] = None if saved is None else round(saved, 8)
        r["fallback_rate"] = round(r["fallbacks"] / r["routed_calls"], 4) if r["routed_calls"] else None
    return sorted(routes.values(), key=lambda r: r["route_id"])
