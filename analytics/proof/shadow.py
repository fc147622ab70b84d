"""Shadow comparisons for one (request group, candidate): sample, compare, store, decide.

The group's real prompts come from captured span content (``gen_ai.input.messages``,
``gen_ai.system_instructions``, ``tokenproof.request.params``; only where the user enabled content
capture), or from uploaded Batch API input lines (``ShadowSpec.uploaded``; a line's ``response`` is
the recorded baseline answer). Captured prompts are drawn at random from a recent window, stratified
by day, with a logged seed; prompts already compared on any version of this (group, candidate) are
skipped, and duplicates by content are dropped (docs/proof.md "Sample"). Each pair goes through the
one comparison pipeline (:mod:`tokenproof.analytics.proof.pipeline`). The run stops at the route's
decision, at its spend budget, when cancelled, or when the group has no more prompts. Evidence of a
route version accumulates across runs.

Alpha: the route's test spends ``group_alpha(alpha, version) / proof_portfolio_routes``: a series over
the group's versions (all candidates, all parameter changes) and Bonferroni over the routes tested at
once, so restarting an analysis never buys a fresh alpha.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenproof import settings
from tokenproof.analytics.proof import endpoints
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.answer import Answer, ToolCall, content_hash
from tokenproof.analytics.proof.judge import resolve_judge
from tokenproof.analytics.proof.pipeline import Pipeline, calibration_summary, prompt_ref, uninformative_reason
from tokenproof.analytics.proof.replay import Replayer, answer_from_completion, price_answer, transient
from tokenproof.analytics.proof.reserve import comparison_reservation, largest_comparison_usd
from tokenproof.analytics.proof.route import RouteEvidence, lineage_id, route_id
from tokenproof.analytics.proof.sequential import Params, alpha_spending, group_alpha

__all__ = ["ShadowSpec", "evidence_for", "route_alpha", "run_shadow"]

settings.declare("proof_shadow_budget_usd", float, 5.0, "default spend cap (USD) of shadow and judge calls per route")
settings.declare("proof_judge_model", str, "", "judge model for shadow runs (empty = the baseline's model)")
settings.declare("proof_store_outputs", bool, True,
                 "store both outputs of each comparison (off: only their hashes)")
settings.declare("proof_sample_days", int, 14, "shadow runs sample captured prompts from this many recent days")
settings.declare("proof_shadow_calibration", int, 10,
                 "pairs of independent baseline samples (the answer recorded in production and a replay) the "
                 "judge compares before a new route's first comparison; a judge that cannot tell them apart "
                 "reliably makes the route uninformative (0 = no calibration)")


def _at_least_one(value: int) -> None:
    if value < 1:
        raise ValueError("must be at least 1")


settings.declare("proof_portfolio_routes", int, 5,
                 "routes tested at once for portfolio control: each route's alpha is divided by this "
                 "(Bonferroni; the family-wise false-switch rate over that many routes stays <= alpha)",
                 validate=_at_least_one)


@dataclass
class ShadowSpec:
    baseline: str
    candidate: str
    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    judge: str | None = None
    candidate_system_prompt: str | None = None
    budget_usd: float | None = None
    limit: int = 50
    params: Params = field(default_factory=Params)
    uploaded: list[dict] | None = None  # Batch API input lines instead of captured prompts
    endpoint: str = "default"
    seed: int = 0
    tolerate_fence: bool = False
    portfolio: int | None = None  # routes the family-wise alpha is divided by (None = proof_portfolio_routes)
    group_share: float | None = None  # the group's alpha share, spent as a series over its versions (the scheduler's)
    exclude_prompt_refs: frozenset[str] = frozenset()  # e.g. the prompts an optimiser tuned on: never evidence

    @property
    def match(self) -> dict:
        return {"service": self.service, "feature": self.feature, "fingerprint": self.fingerprint}


def route_alpha(params: Params, version: int, portfolio: int | None = None,
                group_share: float | None = None) -> float:
    """The alpha a route version spends (group series, then portfolio Bonferroni); with
    ``group_share``, the series over that share (already divided across the portfolio)."""
    if group_share is not None:
        return group_alpha(group_share, version)
    routes = settings.get("proof_portfolio_routes") if portfolio is None else portfolio
    return alpha_spending(routes, group_alpha(params.alpha, version))


def evidence_for(store, route: str, params: Params, alpha: float | None = None) -> RouteEvidence:
    evidence = RouteEvidence(route, params, alpha)
    for record in proof_store.load_comparisons(store, route):
        evidence.add(record)
    return evidence


Progress = Callable[[dict], None]


_RETRYABLE_KINDS = {"baseline_failed", "candidate_failed", "judge_error"}


def provider_failure(result) -> str | None:
    """The provider-side error that spoiled a comparison (rate limit, outage...), or None."""
    if result.error_kind in _RETRYABLE_KINDS and transient(result.reason):
        return result.reason
    return None


def run_shadow(store, spec: ShadowSpec, replayer: Replayer | None = None, *,
               progress: Progress | None = None, cancel: threading.Event | None = None,
               spend_cap_usd: float | None = None, reserve: bool = False,
               defer_provider_failures: bool = False, store_anyway: frozenset[str] = frozenset()) -> dict:
    """Run (or continue) the shadow comparison of a route; return the route's state.

    ``spend_cap_usd``: the most this run may spend (besides the route's budget). ``reserve``: start a
    comparison only when its reserved cost (:mod:`~tokenproof.analytics.proof.reserve`) fits under
    both caps, so neither is ever crossed. ``defer_provider_failures``: a comparison spoiled by a
    provider-side failure (rate limit, overload, outage) is not stored; the run stops and reports it
    under ``deferred`` so its caller can back off and draw the prompt again later, except for prompt
    refs in ``store_anyway`` (deferred too often: stored as what they are, against the candidate).
    """
    judge = resolve_judge(spec.baseline, spec.candidate, spec.judge or settings.get("proof_judge_model") or None)
    uploaded = uploaded_prompts(spec.uploaded, spec.baseline) if spec.uploaded is not None else None  # validate first
    replayer = replayer or endpoints.replayer(spec.endpoint, feature=spec.feature or None)
    prompt_hash = content_hash(spec.candidate_system_prompt) if spec.candidate_system_prompt else ""
    rid = route_id(spec.match, spec.baseline, spec.candidate, prompt_hash, judge, spec.params)
    lineage = lineage_id(spec.match)
    budget = spec.budget_usd if spec.budget_usd is not None else settings.get("proof_shadow_budget_usd")
    existing = proof_store.get_route(store, rid)
    version = existing["Version"] if existing else _claim_version(store, lineage, rid)
    alpha = float(json.loads(existing["ParamsJson"]).get("alpha_spent", spec.params.alpha)) if existing \
        else route_alpha(spec.params, version, spec.portfolio, spec.group_share)
    spent = float(existing["SpentUSD"]) if existing else 0.0
    spent_at_start = spent
    cap = float("inf") if spend_cap_usd is None else spend_cap_usd
    capture = settings.get("proof_store_outputs")
    evidence = evidence_for(store, rid, spec.params, alpha)
    seen = proof_store.used_prompt_refs(store, lineage, spec.candidate) | {r["prompt_ref"] for r in evidence.records}
    seen |= set(spec.exclude_prompt_refs)
    pipe = Pipeline(replayer=replayer, route=rid, baseline_model=spec.baseline, candidate_model=spec.candidate,
                    judge_model=judge, capture=capture, feature=spec.feature or None,
                    candidate_system_prompt=spec.candidate_system_prompt, tolerate_fence=spec.tolerate_fence)
    calibration = json.loads(existing["ParamsJson"]).get("calibration") if existing else None
    blocked = None  # why no comparison may start yet (the judge is not calibrated)
    if calibration is None and uploaded is None and not evidence.records:
        share = min((budget - spent) / 2, cap)  # at most half of what the route has left
        calibration, calibration_spend, blocked = _calibrate(store, spec, replayer, judge, spec.params,
                                                             budget_usd=share, reserve=reserve)
        spent += calibration_spend
    reason = uninformative_reason(calibration, spec.params)
    if reason:
        evidence.mark_uninformative(reason)
    for record in evidence.records:  # the degenerate gate remembers this route's earlier answers
        pipe.degenerate.check(record["prompt_ref"], record.get("candidate_output") or "", record.get("baseline_output") or "")
    new = 0
    stop_reason = "decided" if evidence.decided else blocked
    deferred = None
    if blocked and blocked.startswith(CALIBRATION_FAILED):
        deferred = {"prompt_ref": "", "request_ref": "", "error": blocked.partition(": ")[2],
                    "error_kind": "calibration_failed"}
        stop_reason = CALIBRATION_FAILED
    unpriced = 0
    duplicates = 0
    largest = largest_comparison_usd(evidence.records)
    if stop_reason is None:
        if uploaded is not None:
            prompts = uploaded
        else:
            prompts = proof_store.captured_prompts(store, service=spec.service, feature=spec.feature,
                                                   fingerprint=spec.fingerprint, baseline=spec.baseline,
                                                   limit=3 * spec.limit + len(seen), seed=spec.seed,
                                                   days=settings.get("proof_sample_days"))
        fresh = []
        for prompt in prompts:
            ref = prompt_ref(prompt["body"])
            if ref in seen:
                duplicates += 1
                continue
            seen.add(ref)
            fresh.append(prompt)
        fresh = fresh[: spec.limit]
        stop_reason = "no captured prompts (enable content capture for this group)" if not fresh else "prompts exhausted"
        for done, prompt in enumerate(fresh):
            if cancel is not None and cancel.is_set():
                stop_reason = "cancelled"
                break
            if reserve:
                need = comparison_reservation(prompt, baseline=spec.baseline, candidate=spec.candidate,
                                              judge=judge, largest_seen_usd=largest)
                if need is None:
                    stop_reason = "unpriced: the cost of a comparison cannot be bounded"
                    break
                if spent + need > budget:
                    stop_reason = "budget exhausted"
                    break
                if spent - spent_at_start + need > cap:
                    stop_reason = "spend cap reached"
                    break
            elif spent >= budget:
                stop_reason = "budget exhausted"
                break
            elif spent - spent_at_start >= cap:
                stop_reason = "spend cap reached"
                break
            result = pipe.run(prompt["body"], request_ref=prompt["ref"], baseline=_recorded_baseline(prompt, spec))
            spent += result.spend_usd
            unpriced += result.unpriced_calls
            failure = provider_failure(result) if defer_provider_failures else None
            if failure is not None and result.record["prompt_ref"] not in store_anyway:
                deferred = {"prompt_ref": result.record["prompt_ref"], "request_ref": prompt["ref"],
                            "error": failure, "error_kind": result.error_kind}
                stop_reason = "provider failure (deferred)"
                break
            largest = max(largest, largest_comparison_usd([result.record]))
            new += 1
            proof_store.insert_comparisons(store, rid, version, [result.record], len(evidence.records))
            decided = evidence.add(result.record) is not None
            if progress is not None:
                progress({"done": done + 1, "total": len(fresh), "spent_usd": round(spent, 6),
                          "n": len(evidence.records)})
            if decided:
                stop_reason = "decided"
                break
    summary = evidence.summary()
    status = summary["decision"] if evidence.decided or summary["decision"] == "uninformative" else (
        "budget_exhausted" if stop_reason == "budget exhausted" else "testing")
    row = {
        "RouteId": rid, "Lineage": lineage, "Version": version, "ServiceName": spec.service,
        "Feature": spec.feature, "PromptFingerprint": spec.fingerprint,
        "BaselineProvider": existing["BaselineProvider"] if existing else "", "BaselineModel": spec.baseline,
        "CandidateModel": spec.candidate, "CandidatePromptHash": prompt_hash, "JudgeModel": judge,
        "MatchJson": json.dumps(spec.match, sort_keys=True),
        "ParamsJson": json.dumps({**summary["params"], "alpha_spent": alpha, "calibration": calibration},
                                 sort_keys=True), "Status": status,
        "Decision": summary["decision"], "BudgetUSD": float(budget), "SpentUSD": round(spent, 8),
        "MonthlySavingUSD": existing["MonthlySavingUSD"] if existing else None,
    }
    if existing:
        row["CreatedAt"] = existing["CreatedAt"]
    try:
        proof_store.save_route(store, row)
    finally:
        _release_version(lineage, rid)
    return {"route_id": rid, "version": version, "judge": judge, "status": status, "stop_reason": stop_reason,
            "new_comparisons": new, "spent_usd": round(spent, 6), "budget_usd": budget, "sample_seed": spec.seed,
            "run_spent_usd": round(spent - spent_at_start, 6), "deferred": deferred,
            "duplicates_skipped": duplicates, "unpriced_calls": unpriced,
            "failed_comparisons": summary["unresolved"], "calibration": calibration,
            **{k: v for k, v in summary.items() if k != "trajectory"}}


CALIBRATION_FAILED = "provider failure while calibrating the judge"
_CLAIMED: dict[str, dict[str, int]] = {}  # lineage -> route id -> version handed out by this process
_CLAIM_LOCK = threading.Lock()


def _claim_version(store, lineage: str, rid: str) -> int:
    """The next version number of a new route in ``lineage``; two runs started at once in one
    process never get the same number (the route row is written only when a run ends, and the
    claim is released then)."""
    with _CLAIM_LOCK:
        claimed = _CLAIMED.setdefault(lineage, {})
        if rid not in claimed:
            claimed[rid] = max([proof_store.next_version(store, lineage, rid), *[v + 1 for v in claimed.values()]])
        return claimed[rid]


def _release_version(lineage: str, rid: str) -> None:
    with _CLAIM_LOCK:
        _CLAIMED.get(lineage, {}).pop(rid, None)


def _calibrate(store, spec: ShadowSpec, replayer: Replayer, judge: str, params, budget_usd: float,
               reserve: bool = False) -> tuple[dict | None, float, str | None]:
    """The judge's noise floor on this group: the baseline answer recorded in production against an
    independent replay of the baseline (its own sampling settings), judged in both orders. It spends at
    most ``budget_usd`` (half of what the route has left), so the comparisons keep their share."""
    pairs = settings.get("proof_shadow_calibration")
    if pairs <= 0:
        return None, 0.0, None
    prompts = proof_store.captured_prompts(store, service=spec.service, feature=spec.feature,
                                           fingerprint=spec.fingerprint, baseline=spec.baseline,
                                           limit=3 * pairs, seed=spec.seed + 1,
                                           days=settings.get("proof_sample_days"))
    pipe = Pipeline(replayer=replayer, route="calibration", baseline_model=spec.baseline,
                    candidate_model=spec.baseline, judge_model=judge, capture=False)
    results: list = []
    spend = 0.0  # every call made, a calibration given up on included
    failures: list[str] = []  # provider failures in a row: one prompt is skipped, two mean an outage
    for prompt in prompts:
        recorded = _recorded_baseline(prompt, spec)
        if recorded is None:
            continue
        if reserve:  # a replay of the baseline and the judge in both orders
            need = comparison_reservation(prompt, baseline=spec.baseline, candidate=spec.baseline, judge=judge)
            if not results and (need is None or pairs * need / 2 > budget_usd):
                # too little to calibrate on every pair even at half the worst case (no judge retries):
                # no comparison before the judge is calibrated
                return None, spend, "spend cap too small to calibrate the judge first"
            if need is None or spend + need > budget_usd:
                break
        replay = replayer.call(prompt["body"], spec.baseline, feature=spec.feature or None)
        if replay.error:
            spend += replay.cost_usd or 0.0
            if not transient(replay.error):
                failures.clear()
            if transient(replay.error):
                failures.append(replay.error)
                if len(failures) >= 2:  # the provider is failing: calibrate when it is back
                    return None, spend, f"{CALIBRATION_FAILED}: {replay.error}"
            continue
        settled = pipe.settle(prompt["body"], prompt["ref"], recorded, replay, None,
                              replayer.judge(judge, spec.feature or None))
        spend += settled.spend_usd
        failure = provider_failure(settled)
        if failure:
            failures.append(failure)
            if len(failures) >= 2:
                return None, spend, f"{CALIBRATION_FAILED}: {failure}"
            continue
        failures.clear()
        results.append(settled)
        if len(results) >= pairs or spend >= budget_usd:
            break
    return (calibration_summary(results, params) if results else None), spend, None


def _recorded_baseline(prompt: dict, spec: ShadowSpec) -> Answer | None:
    output = prompt["output"]
    if output is None:
        return None
    baseline = Answer(model=spec.baseline, text=output["text"], finish_reason=output["finish_reason"],
                      tool_calls=[ToolCall(c["name"], c["arguments"]) for c in output["tool_calls"]],
                      input_tokens=prompt["usage"][0], output_tokens=prompt["usage"][1],
                      cache_read_tokens=prompt["usage"][2], latency_s=prompt["latency_s"], recorded=True)
    price_answer(baseline)
    return baseline


def uploaded_prompts(lines: list[dict], baseline: str) -> list[dict]:
    """Prompts from uploaded Batch API input lines (``response`` = the recorded baseline answer)."""
    from tokenproof.analytics.proof.prove import batch_request
    prompts = []
    for number, item in enumerate(lines, start=1):
        req = batch_request(item, number)
        output = None
        usage, cost = (0, 0, 0), None
        if req.response is not None:
            recorded = answer_from_completion(req.response, baseline)
            output = {"text": recorded.text, "finish_reason": recorded.finish_reason,
                      "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in recorded.tool_calls]}
            usage, cost = (recorded.input_tokens, recorded.output_tokens, recorded.cache_read_tokens), recorded.cost_usd
        prompts.append({"ref": req.custom_id, "body": {**req.body, "model": baseline}, "output": output,
                        "provider": "", "usage": usage, "cost_usd": cost, "latency_s": 0.0})
    return prompts
