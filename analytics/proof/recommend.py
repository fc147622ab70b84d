"""Recommendations: routes whose sequential test decided "switch", with savings and confidence.

Each stored route's evidence is re-read in arrival order (the decision the live system took). A
switched route becomes a recommendation with its projected monthly saving (the group's product
volume over the last 30 days x the measured cost difference per call, falling back to list prices for
the group's token shape), its confidence (1 - alpha, the one-sided lower bound on the non-loss rate,
the tie-adjusted win rate) and a link to its evidence. Portfolio control is built into every
route's alpha (series over the group's versions, Bonferroni over ``proof_portfolio_routes`` routes at
once, :func:`~tokenproof.analytics.proof.shadow.route_alpha`), so every listed switch already holds at
the portfolio level; the page says when more groups are live than the portfolio size assumes.
"""

from __future__ import annotations

import json

from tokenproof import pricing, semconv, settings
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.promise import meaning
from tokenproof.analytics.proof.sequential import SWITCH, Params
from tokenproof.analytics.proof.shadow import evidence_for

__all__ = ["recommendations", "route_alpha_of", "route_params", "route_states"]

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
    """The parameters locked into the route version when it was created."""
    return Params.from_dict(json.loads(route.get("ParamsJson") or "{}"))


def route_alpha_of(route: dict) -> float | None:
    """The alpha the route version spends (stored with it), or None for the nominal alpha."""
    return json.loads(route.get("ParamsJson") or "{}").get("alpha_spent")


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
        evidence = evidence_for(store, route["RouteId"], route_params(route), route_alpha_of(route))
        summary = evidence.summary()
        summary.pop("trajectory", None)
        states.append({"route": {k: (str(v) if k.endswith("At") else v) for k, v in route.items()},
                       "evidence": summary})
    return states


def recommendations(store) -> dict:
    states = route_states(store)
    portfolio = settings.get("proof_portfolio_routes")
    groups = {s["route"]["Lineage"] for s in states if s["evidence"]["decision"] not in {"keep"}}
    items = []
    for state in states:
        route, evidence = state["route"], state["evidence"]
        if evidence["decision"] != SWITCH:
            continue
        items.append({
            "route_id": route["RouteId"], "version": route["Version"],
            "match": json.loads(route["MatchJson"] or "{}"), "baseline": route["BaselineModel"],
            "candidate": route["CandidateModel"], "judge": route["JudgeModel"],
            "candidate_prompt_hash": route["CandidatePromptHash"],
            "monthly_saving_usd": _monthly_saving(store, route, evidence),
            "meaning": evidence["meaning"],
            "confidence": {
                "false_switch_bound": evidence["alpha_spent"], "level": 1 - evidence["alpha_spent"],
                "nominal_alpha": evidence["params"]["alpha"],
                "loss_rate_upper_bound": evidence["loss_rate_upper_bound"],
                "unresolved": evidence["unresolved"],
                "non_loss_rate": evidence["non_loss_rate"], "non_loss_lower_bound": evidence["non_loss_lower_bound"],
                "tie_adjusted_win_rate": evidence["tie_adjusted_win_rate"], "comparisons": evidence["n"],
                "swap_inconsistency_rate": evidence["swap_inconsistency_rate"],
                "length_controlled_win_rate": evidence["length_control"]["lc_win_rate"],
            },
            "portfolio_switch": len(groups) <= portfolio,
            "shadow_spend_usd": route["SpentUSD"],
            "evidence": f"/api/v1/routes/{route['RouteId']}/comparisons",
        })
    switched = sum(1 for s in states if s["evidence"]["decision"] == SWITCH)
    return {
        "recommendations": sorted(items, key=lambda r: -(r["monthly_saving_usd"] or 0.0)),
        "routes_tested": len(states), "switch_per_route": switched,
        "switch_after_portfolio_control": sum(1 for r in items if r["portfolio_switch"]),
        "live_groups": len(groups), "portfolio_routes": portfolio,
        "portfolio_method": (f"alpha spent per route: a series over each group's versions and candidates, "
                             f"divided by {portfolio} routes tested at once (family-wise <= alpha)"
                             + ("" if len(groups) <= portfolio else
                                f"; {len(groups)} groups are live, more than {portfolio}: the family-wise "
                                f"bound is {len(groups)}/{portfolio} x alpha (raise proof_portfolio_routes)")),
        "meaning": meaning(),
    }
