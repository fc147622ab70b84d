"""One optimisation run: split once, search on the optimise set, choose on select, confirm on held-out.

1. The route's prompts (captured, or uploaded Batch API lines) are split once (:mod:`.splits`).
2. Search: the current prompt is scored on the optimise set; each round the optimiser model proposes
   variants from the best prompt's losing cases, a few-shot variant adds demonstrations bootstrapped
   from baseline answers; every variant is scored on the optimise set; the best is kept. The budget
   stops the search (a partly scored variant is never chosen).
3. Choice: the current prompt and the best few variants are scored on the select set; a variant is
   chosen only if it beats the current prompt there (a tie keeps the current prompt).
4. Confirmation: the current and the chosen prompt are scored once on the held-out set, which nothing
   before saw. These passes always run, so the report has its figures; their spend is shown apart.
5. The chosen prompt is a new route version (:func:`new_route_version`): the route id hashes the
   candidate system prompt, so its evidence starts from zero and its alpha is the group's next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from scipy import stats

from tokenproof import settings
from tokenproof.analytics.proof import endpoints
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.answer import content_hash
from tokenproof.analytics.proof.judge import resolve_judge
from tokenproof.analytics.proof.optimize.check import REFERENCE_CHECK, reference_check
from tokenproof.analytics.proof.optimize.fewshot import bootstrap_demos, system_of, with_demos
from tokenproof.analytics.proof.optimize.ledger import Budget, Ledger, MeteredReplayer
from tokenproof.analytics.proof.optimize.propose import format_requirements, propose, with_requirements
from tokenproof.analytics.proof.optimize.scoring import Item, Score, Scorer, Variant, prepare_items
from tokenproof.analytics.proof.optimize.splits import HELD_OUT, OPTIMISE, SELECT, lock_split
from tokenproof.analytics.proof.optimize.version import new_route_version, savings_estimate
from tokenproof.analytics.proof.route import route_id
from tokenproof.analytics.proof.sequential import Params

__all__ = ["OptimizeSpec", "prompts_from_batch", "run_optimize"]

settings.declare("optimize_model", str, "", "optimiser model that proposes candidate system prompts "
                 "(empty = the judge model, else the baseline's model)")
settings.declare("optimize_budget_tokens", int, 200_000, "default token budget of one optimisation search "
                 "(candidate, judge and optimiser calls)")
settings.declare("optimize_budget_usd", float, 2.0, "default USD budget of one optimisation search (priced calls; "
                 "unpriced calls are counted apart)")
settings.declare("optimize_fewshot_tokens", int, 600, "token budget of the few-shot demonstrations added to a "
                 "candidate system prompt")


@dataclass
class OptimizeSpec:
    baseline: str
    candidate: str
    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    judge: str | None = None  # a judge model, "reference-check", or None (reference check where checkable)
    optimizer_model: str | None = None
    candidate_system_prompt: str | None = None  # the route's current candidate prompt (None: the request's own)
    endpoint: str = "default"  # candidate and judge calls
    optimizer_endpoint: str | None = None  # proposals (None: the same endpoint)
    rounds: int = 3
    variants_per_round: int = 3
    finalists: int = 3
    fewshot_tokens: int | None = None
    max_demos: int = 3
    fractions: tuple[float, float, float] = (0.3, 0.2, 0.5)
    caps: tuple[int | None, int | None, int | None] = (30, 20, 60)
    prompts_limit: int = 400
    seed: int = 0
    budget_tokens: int | None = None
    budget_usd: float | None = None
    params: Params = field(default_factory=Params)
    uploaded: list[dict] | None = None
    tolerate_fence: bool = False
    monthly_calls: float | None = None

    @property
    def match(self) -> dict:
        return {"service": self.service, "feature": self.feature, "fingerprint": self.fingerprint}


def prompts_from_batch(lines: list[dict], baseline: str) -> list[dict]:
    """Prompts from Batch API input lines (``response``: the recorded baseline answer; ``reference``)."""
    from tokenproof.analytics.proof.prove import batch_request
    from tokenproof.analytics.proof.replay import answer_from_completion
    prompts = []
    for number, item in enumerate(lines, start=1):
        req = batch_request(item, number)
        output, usage = None, (0, 0, 0)
        if req.response is not None:
            answer = answer_from_completion(req.response, baseline)
            output = {"text": answer.text, "finish_reason": answer.finish_reason,
                      "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in answer.tool_calls]}
            usage = (answer.input_tokens, answer.output_tokens, answer.cache_read_tokens)
        prompts.append({"ref": req.custom_id, "body": {**req.body, "model": baseline}, "output": output,
                        "usage": usage, "reference": req.reference})
    return prompts


def _judge_for(spec: OptimizeSpec, items: list[Item]) -> tuple[str, Callable | None]:
    if spec.judge == REFERENCE_CHECK:
        return REFERENCE_CHECK, reference_check
    if spec.judge is None and items and sum(i.reference is not None for i in items) >= 0.8 * len(items):
        return REFERENCE_CHECK, reference_check
    return resolve_judge(spec.baseline, spec.candidate, spec.judge or settings.get("proof_judge_model") or None), None


def _mcnemar(before: Score, after: Score) -> dict:
    """Paired change on the same prompts: exact McNemar test on the discordant pairs."""
    shared = set(before.outcomes) & set(after.outcomes)
    gained = sum(1 for r in shared if after.outcomes[r] and not before.outcomes[r])
    lost = sum(1 for r in shared if before.outcomes[r] and not after.outcomes[r])
    p = float(stats.binomtest(min(gained, lost), gained + lost, 0.5).pvalue) if gained + lost else 1.0
    return {"paired_prompts": len(shared), "gained": gained, "lost": lost, "p_value": round(p, 4)}


Progress = Callable[[dict], None]


def run_optimize(store, spec: OptimizeSpec, replayer=None, optimizer_replayer=None, *,
                 progress: Progress | None = None, cancel: threading.Event | None = None) -> dict:
    """Run the whole optimisation for one route; return the report (a dict, :mod:`.report`)."""
    ledger = Ledger(Budget(spec.budget_tokens if spec.budget_tokens is not None else settings.get("optimize_budget_tokens"),
                           spec.budget_usd if spec.budget_usd is not None else settings.get("optimize_budget_usd")))
    feature = spec.feature or None
    base = replayer or endpoints.replayer(spec.endpoint, feature=feature)
    metered = MeteredReplayer(base, ledger)
    opt_base = optimizer_replayer or (endpoints.replayer(spec.optimizer_endpoint, feature=feature)
                                      if spec.optimizer_endpoint else base)
    opt_metered = MeteredReplayer(opt_base, ledger)
    tell = progress or (lambda _state: None)

    if spec.uploaded is not None:
        prompts = prompts_from_batch(spec.uploaded, spec.baseline)
    else:
        prompts = proof_store.captured_prompts(store, service=spec.service, feature=spec.feature,
                                               fingerprint=spec.fingerprint, baseline=spec.baseline,
                                               limit=spec.prompts_limit, seed=spec.seed,
                                               days=settings.get("proof_sample_days"))
    split = lock_split(prompts, spec.seed, spec.fractions, spec.caps)
    if not split.optimise or not split.select or not split.held_out:
        raise ValueError(f"too few distinct prompts to split into optimise / select / held-out "
                         f"({len(prompts)} prompts, sizes {split.summary()['sizes']})")
    tell({"phase": "split", **split.summary()["sizes"]})
    sets = {name: prepare_items(getattr(split, name), spec.baseline, metered, feature)
            for name in (OPTIMISE, SELECT, HELD_OUT)}
    judge, judge_fn = _judge_for(spec, sets[OPTIMISE])
    optimizer = spec.optimizer_model or settings.get("optimize_model") or (
        spec.baseline if judge == REFERENCE_CHECK else judge)
    current_hash = content_hash(spec.candidate_system_prompt) if spec.candidate_system_prompt else ""
    proof_judge = resolve_judge(spec.baseline, spec.candidate, (None if judge == REFERENCE_CHECK else judge)
                                or settings.get("proof_judge_model") or None)
    current_route = route_id(spec.match, spec.baseline, spec.candidate, current_hash, proof_judge, spec.params)
    scorer = Scorer(metered, current_route, spec.baseline, spec.candidate, judge, judge_fn, feature,
                    spec.tolerate_fence)

    def stop() -> str | None:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        return ledger.exhausted()

    current_text = spec.candidate_system_prompt or system_of(sets[OPTIMISE][0].body)
    original = Variant("v0", spec.candidate_system_prompt, "current prompt")
    variants = {original.id: original}
    on_optimise = {original.id: scorer.score(original, sets[OPTIMISE], OPTIMISE, stop)}
    best = original
    requirements = format_requirements(sets[OPTIMISE])
    budget_tokens = spec.fewshot_tokens if spec.fewshot_tokens is not None else settings.get("optimize_fewshot_tokens")
    demo_block, demo_refs = bootstrap_demos(sets[OPTIMISE], budget_tokens, spec.max_demos)
    rounds: list[dict] = []
    stop_reason = None
    for number in range(1, spec.rounds + 1):
        stop_reason = stop()
        if stop_reason:
            break
        proposals, shown = propose(opt_metered, optimizer, best.prompt or current_text, requirements,
                                   on_optimise[best.id].losing, spec.variants_per_round, feature)
        new = [Variant(f"v{len(variants) + i}", text, f"round {number} proposal {i + 1}", number)
               for i, text in enumerate(proposals)]
        if number == 1 and requirements:
            new.append(Variant(f"v{len(variants) + len(new)}", with_requirements(current_text, requirements),
                               "round 1: current prompt + format requirements (rule-based)", number))
        if demo_block and not best.demo_refs:
            rule_based = number == 1 and bool(requirements)
            seed_prompt = new[-1].prompt if rule_based else (best.prompt or current_text)
            new.append(Variant(f"v{len(variants) + len(new)}", with_demos(seed_prompt or "", demo_block),
                               f"round {number}: {'the rule-based proposal' if rule_based else 'best so far'} + "
                               f"{len(demo_refs)} demonstrations", number, list(demo_refs)))
        scored = []
        for variant in new:
            variants[variant.id] = variant
            on_optimise[variant.id] = result = scorer.score(variant, sets[OPTIMISE], OPTIMISE, stop)
            scored.append({"variant": variant.id, "match_rate": result.rate, "complete": result.complete})
            if result.complete and (result.rate or 0) > (on_optimise[best.id].rate or 0):
                best = variant
            tell({"phase": "search", "round": number, "scored": variant.id, **ledger.snapshot()})
        rounds.append({"round": number, "proposer": shown, "variants": scored, "best_after": best.id})
        stop_reason = stop()
        if stop_reason:
            break
    search_spend = ledger.snapshot()

    ranked = sorted((v for v in variants.values() if v.id != original.id and on_optimise[v.id].complete),
                    key=lambda v: (-(on_optimise[v.id].rate or 0), v.tokens))[: spec.finalists]
    on_select = {v.id: scorer.score(v, sets[SELECT], SELECT) for v in [original, *ranked]}
    chosen = original
    for v in ranked:
        if (on_select[v.id].rate or 0) > (on_select[chosen.id].rate or 0):
            chosen = v
    tell({"phase": "held_out", "chosen": chosen.id})
    on_held_out = {original.id: scorer.score(original, sets[HELD_OUT], HELD_OUT)}
    if chosen.id != original.id:
        on_held_out[chosen.id] = scorer.score(chosen, sets[HELD_OUT], HELD_OUT)
    before, after = on_held_out[original.id], on_held_out[chosen.id]

    route = new_route_version(store, spec, chosen.prompt if chosen.id != original.id else None, proof_judge,
                              current_route)
    search_figures = {}  # sets the search saw: optimistic by construction
    for vid in dict.fromkeys([original.id, chosen.id]):
        search_figures[vid] = {"optimise": on_optimise[vid].to_dict(), "select": on_select[vid].to_dict()}
    gap = None
    if on_optimise[chosen.id].rate is not None and after.rate is not None:
        gap = round(on_optimise[chosen.id].rate - after.rate, 4)
    return {
        "kind": "tokenproof.optimize", "baseline": spec.baseline, "candidate": spec.candidate, "match": spec.match,
        "judge": judge, "proof_judge": proof_judge, "optimizer_model": optimizer,
        "split": split.summary(), "format_requirements": requirements,
        "rounds": rounds, "rounds_run": len(rounds), "stop_reason": stop_reason or "rounds done",
        "variants": [v.to_dict() for v in variants.values()],
        "search": {"optimise": [s.to_dict() for s in on_optimise.values()],
                   "select": [s.to_dict() for s in on_select.values()]},
        "chosen": chosen.to_dict(), "current": original.to_dict(), "changed": chosen.id != original.id,
        "search_figures": search_figures,
        "held_out_figures": {"before": before.to_dict(), "after": after.to_dict(),
                     "change": None if before.rate is None or after.rate is None else round(after.rate - before.rate, 4),
                     "paired": _mcnemar(before, after)},
        "overfitting_gap": gap,
        "spend": {"search": search_spend, "total": ledger.snapshot()},
        "savings": savings_estimate(spec, original, chosen, before, after),
        "route": route,
        "scored_sets": _scored_sets(scorer.log),
    }


def _scored_sets(log: list[tuple[str, str]]) -> dict:
    """Which prompts each set's comparisons used (the held-out ones appear only in the confirmation)."""
    out: dict[str, list[str]] = {}
    for phase, ref in log:
        refs = out.setdefault(phase, [])
        if ref not in refs:
            refs.append(ref)
    return out
