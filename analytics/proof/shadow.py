"""Shadow comparisons for one (request group, candidate): replay, gate, judge, store, decide.

The group's real prompts come from captured span content (``gen_ai.input.messages``,
``gen_ai.system_instructions``, ``tokenproof.request.params``; only where the user enabled content
capture), or from uploaded Batch API input lines (``ShadowSpec.uploaded``; a line's ``response`` is
the recorded baseline answer). Each prompt not yet compared on this route version is replayed on the candidate with the
same parameters (and an optional candidate system prompt), judged against the baseline's recorded
answer (or a baseline replay when the output was not captured), and stored. Replays are tagged
``shadow`` and judge calls ``judge``. The run stops at the route's decision, at its spend budget, or
when the group has no more prompts. Evidence of a route version accumulates across runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tokenproof import settings
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.answer import Answer, ToolCall, content_hash
from tokenproof.analytics.proof.judge import JudgeFailed, compare, resolve_judge
from tokenproof.analytics.proof.replay import Replayer, answer_from_completion, price_answer
from tokenproof.analytics.proof.route import RouteEvidence, comparison_record, lineage_id, route_id
from tokenproof.analytics.proof.sequential import Params

__all__ = ["BudgetExhausted", "ShadowSpec", "evidence_for", "run_shadow"]

settings.declare("proof_shadow_budget_usd", float, 5.0, "default spend cap (USD) of shadow and judge calls per route")
settings.declare("proof_judge_model", str, "", "judge model for shadow runs (empty = the baseline's model)")
settings.declare("proof_base_url", str, "", "OpenAI-compatible base URL for shadow and judge calls (empty = SDK default)")
settings.declare("proof_anthropic_base_url", str, "", "Anthropic base URL for shadow and judge calls (empty = SDK default)")
settings.declare("proof_store_outputs", bool, True,
                 "store both outputs of each comparison (off: only their hashes)")


class BudgetExhausted(RuntimeError):
    pass


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

    @property
    def match(self) -> dict:
        return {"service": self.service, "feature": self.feature, "fingerprint": self.fingerprint}


def _with_prompt(body: dict, system_prompt: str | None) -> dict:
    if not system_prompt:
        return body
    messages = [m for m in body["messages"] if m.get("role") not in {"system", "developer"}]
    return {**body, "messages": [{"role": "system", "content": system_prompt}, *messages]}


def evidence_for(store, route: str, params: Params) -> RouteEvidence:
    evidence = RouteEvidence(route, params)
    for record in proof_store.load_comparisons(store, route):
        evidence.add(record)
    return evidence


def run_shadow(store, spec: ShadowSpec, replayer: Replayer | None = None) -> dict:
    """Run (or continue) the shadow comparison of a route; return the route's state."""
    judge = resolve_judge(spec.baseline, spec.candidate, spec.judge or settings.get("proof_judge_model") or None)
    uploaded = uploaded_prompts(spec.uploaded, spec.baseline) if spec.uploaded is not None else None  # validate first
    prompt_hash = content_hash(spec.candidate_system_prompt) if spec.candidate_system_prompt else ""
    rid = route_id(spec.match, spec.baseline, spec.candidate, prompt_hash, judge)
    lineage = lineage_id(spec.match, spec.candidate)
    budget = spec.budget_usd if spec.budget_usd is not None else settings.get("proof_shadow_budget_usd")
    existing = proof_store.get_route(store, rid)
    version = existing["Version"] if existing else proof_store.next_version(store, lineage, rid)
    spent = float(existing["SpentUSD"]) if existing else 0.0
    replayer = replayer or Replayer(base_url=settings.get("proof_base_url") or None,
                                    anthropic_base_url=settings.get("proof_anthropic_base_url") or None,
                                    feature=spec.feature or None)
    capture = settings.get("proof_store_outputs")
    evidence = evidence_for(store, rid, spec.params)
    seen = {r["prompt_ref"] for r in evidence.records}
    new_records: list[dict] = []
    stop_reason = "decided" if evidence.decided else None
    unpriced = 0
    failed = 0
    if stop_reason is None:
        if uploaded is not None:
            prompts = uploaded
        else:
            prompts = proof_store.captured_prompts(store, service=spec.service, feature=spec.feature,
                                                   fingerprint=spec.fingerprint, baseline=spec.baseline,
                                                   limit=spec.limit + len(seen))
        fresh = [p for p in prompts if _prompt_ref(p["body"]) not in seen][: spec.limit]
        stop_reason = "no captured prompts (enable content capture for this group)" if not fresh else "prompts exhausted"
        for prompt in fresh:
            if spent >= budget:
                stop_reason = "budget exhausted"
                break
            record, cost, priced = _compare_one(prompt, spec, judge, rid, replayer, capture)
            spent += cost
            if record is None:  # the baseline replay or the judge failed: no comparison, never evidence
                failed += 1
                continue
            unpriced += not priced
            new_records.append(record)
            proof_store.insert_comparisons(store, rid, version, [record], len(evidence.records))
            if evidence.add(record) is not None:
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
        "ParamsJson": json.dumps(summary["params"], sort_keys=True), "Status": status,
        "Decision": summary["decision"], "BudgetUSD": float(budget), "SpentUSD": round(spent, 8),
        "MonthlySavingUSD": existing["MonthlySavingUSD"] if existing else None,
    }
    if existing:
        row["CreatedAt"] = existing["CreatedAt"]
    proof_store.save_route(store, row)
    return {"route_id": rid, "version": version, "judge": judge, "status": status, "stop_reason": stop_reason,
            "new_comparisons": len(new_records), "spent_usd": round(spent, 6), "budget_usd": budget,
            "unpriced_calls": unpriced, "failed_comparisons": failed, **{k: v for k, v in summary.items() if k != "trajectory"}}


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


def _prompt_ref(body: dict) -> str:
    return content_hash(json.dumps(body.get("messages"), sort_keys=True))


def _compare_one(prompt: dict, spec: ShadowSpec, judge: str, rid: str, replayer: Replayer,
                 capture: bool) -> tuple[dict | None, float, bool]:
    body = prompt["body"]
    output = prompt["output"]
    if output is not None:
        baseline = Answer(model=spec.baseline, text=output["text"], finish_reason=output["finish_reason"],
                          tool_calls=[ToolCall(c["name"], c["arguments"]) for c in output["tool_calls"]],
                          input_tokens=prompt["usage"][0], output_tokens=prompt["usage"][1],
                          cache_read_tokens=prompt["usage"][2], latency_s=prompt["latency_s"], recorded=True)
        price_answer(baseline)
    else:
        baseline = replayer.call(body, spec.baseline, feature=spec.feature or None)
        if baseline.error:
            return None, baseline.cost_usd or 0.0, baseline.cost_usd is not None
    candidate = replayer.call(_with_prompt(body, spec.candidate_system_prompt), spec.candidate,
                              feature=spec.feature or None)
    try:
        comparison = compare(body, baseline, candidate, replayer.judge(judge, spec.feature or None))
    except JudgeFailed:  # no verdict is no evidence; the spend still counts
        return None, (candidate.cost_usd or 0.0) + (0.0 if baseline.recorded else baseline.cost_usd or 0.0), True
    record = comparison_record(route=rid, prompt_ref=_prompt_ref(body), request_ref=prompt["ref"], request=body,
                               baseline=baseline, candidate=candidate, comparison=comparison, judge_model=judge,
                               capture=capture)
    costs = [candidate.cost_usd] + [a.cost_usd for a in comparison.judge_answers]
    if not baseline.recorded:
        costs.append(baseline.cost_usd)
    priced = all(c is not None for c in costs)
    return record, sum(c for c in costs if c is not None), priced
