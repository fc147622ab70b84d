"""The chosen prompt as a new route version, and the savings after its longer prompt.

The proof engine's route id hashes the candidate system prompt
(:func:`~tokenproof.analytics.proof.route.route_id`), so the optimised prompt is another route
version of the same request group: its evidence starts from zero, and its test spends the group's
next alpha in the series (:func:`~tokenproof.analytics.proof.shadow.route_alpha`). Nothing the
optimiser measured counts as evidence: only the normal shadow proof, on prompts the optimiser never
used, can switch the route (docs/optimize.md).

Savings: the candidate's cost per call measured on the held-out set with the chosen prompt (its
input tokens include the longer prompt), against the baseline's; the extra prompt tokens are priced
apart too, so the longer prompt's cost is visible. An unpriced model leaves the saving unpriced.
"""

from __future__ import annotations

from tokenproof import pricing
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.answer import content_hash
from tokenproof.analytics.proof.replay import provider_of
from tokenproof.analytics.proof.route import lineage_id, route_id
from tokenproof.analytics.proof.shadow import evidence_for, route_alpha

__all__ = ["new_route_version", "savings_estimate"]


def new_route_version(store, spec, chosen_prompt: str | None, proof_judge: str, current_route: str) -> dict:
    """The route version the chosen prompt becomes (None prompt: no change, no new version)."""
    if chosen_prompt is None:
        return {"changed": False, "route_id": current_route,
                "note": "no variant beat the current prompt on the select set: the route is unchanged"}
    rid = route_id(spec.match, spec.baseline, spec.candidate, content_hash(chosen_prompt), proof_judge, spec.params)
    lineage = lineage_id(spec.match)
    out = {"changed": True, "route_id": rid, "previous_route_id": current_route, "lineage": lineage,
           "candidate_prompt_hash": content_hash(chosen_prompt), "judge": proof_judge}
    if store is None:
        return {**out, "version": None, "alpha": None, "evidence_n": 0,
                "note": "offline: the store assigns the version (and its alpha) when the shadow proof starts"}
    existing = proof_store.get_route(store, rid)
    version = existing["Version"] if existing else proof_store.next_version(store, lineage, rid)
    alpha = route_alpha(spec.params, version)
    evidence = evidence_for(store, rid, spec.params, alpha)
    return {**out, "version": version, "alpha": alpha, "evidence_n": len(evidence.records),
            "note": "a new route version: evidence from zero, the group's next alpha; prove it with a shadow run"}


def _input_price(model: str, tokens: int) -> float | None:
    if tokens <= 0:
        return 0.0
    return pricing.price(provider_of(model), model, pricing.Usage(input_tokens=tokens, output_tokens=0)).usd


def savings_estimate(spec, current, chosen, before, after) -> dict:
    """Per call and per month (``spec.monthly_calls``) on the held-out set, before and after."""
    extra = chosen.tokens - current.tokens
    base = after.to_dict()["mean_baseline_cost_usd"]
    cand_before, cand_after = before.to_dict()["mean_candidate_cost_usd"], after.to_dict()["mean_candidate_cost_usd"]
    per_call = None if base is None or cand_after is None else round(base - cand_after, 8)
    out = {
        "measured_on": "held-out set", "extra_prompt_tokens": extra,
        "extra_prompt_cost_per_call_usd": _input_price(spec.candidate, max(0, extra)),
        "mean_baseline_cost_usd": base, "mean_candidate_cost_usd_before": cand_before,
        "mean_candidate_cost_usd_after": cand_after,
        "mean_candidate_input_tokens_before": before.to_dict()["mean_candidate_input_tokens"],
        "mean_candidate_input_tokens_after": after.to_dict()["mean_candidate_input_tokens"],
        "saving_per_call_usd_after": per_call,
        "monthly_calls": spec.monthly_calls,
        "monthly_saving_usd_after": None if per_call is None or spec.monthly_calls is None
        else round(per_call * spec.monthly_calls, 4),
    }
    if per_call is None:
        out["note"] = "unpriced: a model without a price leaves the saving unpriced (never $0)"
    return out
