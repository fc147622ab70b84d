"""Recommendations: routes whose sequential test decided "switch", with savings and confidence.

Each stored route's evidence is re-read in arrival order (the decision the live system took). A
switched route becomes a recommendation with its projected monthly saving (the group's product
volume over the last 30 days x the measured cost difference per call, falling back to list prices for
the group's token shape), its confidence (1 - alpha, the one-sided lower bound on the non-loss rate,
the tie-adjusted win rate) and a link to its evidence. Portfolio control: with many routes tested at
once, e-BH over the routes' e-values says which switches survive at the portfolio level; both the
per-route and the portfolio figures are reported.
"""

from __future__ import annotations

import json

from tokenproof import pricing, semconv
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.sequential import SWITCH, Params, e_bh
from tokenproof.analytics.proof.shadow import evidence_for

__all__ = ["recommendations", "route_states"]

VOLUME_SQL = """
SELECT count() AS calls, avg(InputTokens) AS mean_in, avg(OutputTokens) AS mean_out,
       if(sum(InputTokens) = 0, 0, sum(CacheReadTokens) / sum(InputTokens)) AS cache_share,
       any(Provider) AS provider
FROM llm_calls FINAL
WHERE TrafficClass = {product:String}
  AND Timestamp >= now64(9) - toIntervalDay(30)
  AND ({service:String} = '' OR ServiceName = {service:String})
  AND ({feature:String} = '' OR Feature = {feature:String})
  AND ({fingerprint:String} = '' OR PromptFingerprint = {fingerprint:String})
  AND RequestModel = {baseline:String}
"""


def route_params(route: dict) -> Params:
    raw = json.loads(route.get("ParamsJson") or "{}")
    return Params(q0=raw.get("q0", 0.85), q1=raw.get("q1", 0.95), alpha=raw.get("alpha", 0.05),
                  beta=raw.get("beta", 0.05), n_min=raw.get("min_n", 30), n_max=raw.get("max_n", 400))


def _monthly_saving(store, route: dict, summary: dict) -> float | None:
    rows = store.query_dicts(VOLUME_SQL, {
        "product": semconv.TRAFFIC_PRODUCT, "service": route["ServiceName"], "feature": route["Feature"],
        "fingerprint": route["PromptFingerprint"], "baseline": route["BaselineModel"]})
    if not rows or not rows[0]["calls"]:
        return None
    volume = rows[0]
    base, cand = summary.get("mean_baseline_cost_usd"), summary.get("mean_candidate_cost_usd")
    if base is None or cand is None:  # fall back to list prices for the group's token shape
        from tokenproof.analytics.proof.replay import provider_of
        usage = pricing.Usage(input_tokens=int(volume["mean_in"]), output_tokens=int(volume["mean_out"]),
                              cache_read_tokens=int(volume["mean_in"] * volume["cache_share"]))
        base = pricing.price(volume["provider"] or provider_of(route["BaselineModel"]), route["BaselineModel"], usage).usd
        cand = pricing.price(provider_of(route["CandidateModel"]), route["CandidateModel"], usage).usd
        if base is None or cand is None:
            return None
    return round((base - cand) * int(volume["calls"]), 4)  # calls in the last 30 days


def route_states(store) -> list[dict]:
    """Every stored route version with its current evidence summary."""
    states = []
    for route in proof_store.list_routes(store):
        evidence = evidence_for(store, route["RouteId"], route_params(route))
        summary = evidence.summary()
        summary.pop("trajectory", None)
        states.append({"route": {k: (str(v) if k.endswith("At") else v) for k, v in route.items()},
                       "evidence": summary})
    return states


def recommendations(store) -> dict:
    states = route_states(store)
    flags = e_bh([s["evidence"]["e_value"] for s in states], 0.05) if states else []
    items = []
    for state, portfolio_ok in zip(states, flags, strict=False):
        route, evidence = state["route"], state["evidence"]
        if evidence["decision"] != SWITCH:
            continue
        items.append({
            "route_id": route["RouteId"], "version": route["Version"],
            "match": json.loads(route["MatchJson"] or "{}"), "baseline": route["BaselineModel"],
            "candidate": route["CandidateModel"], "judge": route["JudgeModel"],
            "candidate_prompt_hash": route["CandidatePromptHash"],
            "monthly_saving_usd": _monthly_saving(store, route, evidence),
            "confidence": {
                "false_switch_bound": evidence["params"]["alpha"], "level": 1 - evidence["params"]["alpha"],
                "non_loss_rate": evidence["non_loss_rate"], "non_loss_lower_bound": evidence["non_loss_lower_bound"],
                "tie_adjusted_win_rate": evidence["tie_adjusted_win_rate"], "comparisons": evidence["n"],
                "swap_inconsistency_rate": evidence["swap_inconsistency_rate"],
                "length_controlled_win_rate": evidence["length_control"]["lc_win_rate"],
            },
            "portfolio_switch": bool(portfolio_ok),
            "shadow_spend_usd": route["SpentUSD"],
            "evidence": f"/api/v1/routes/{route['RouteId']}/comparisons",
        })
    switched = sum(1 for s in states if s["evidence"]["decision"] == SWITCH)
    return {
        "recommendations": sorted(items, key=lambda r: -(r["monthly_saving_usd"] or 0.0)),
        "routes_tested": len(states), "switch_per_route": switched,
        "switch_after_portfolio_control": sum(1 for r in items if r["portfolio_switch"]),
        "portfolio_method": "e-BH over per-route SPRT e-values at alpha 0.05 (false discovery rate)",
    }
