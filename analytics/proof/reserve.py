"""What the next comparison may cost, reserved before it is made, so a spend cap is never crossed.

A shadow comparison makes up to five priced calls: the baseline (when no production answer was
recorded), the candidate, and the judge in both orders with one retry each. Its cost is known only
afterwards, so a run that checked "spent < budget" before each comparison could end one comparison
over its cap. With a reservation, a comparison starts only when ``spent + reservation <= cap``.

The reservation is the larger of an a-priori bound and twice the dearest comparison seen on the
route so far. The a-priori bound prices the request's recorded token counts: the candidate's output
at twice the baseline's (at least 256 tokens), every judge call reading the question and both
answers and writing its full output budget, and two judge calls more for the retries. An unknown
price makes the bound unknown, and a run under a strict cap does not start a comparison whose cost
it cannot bound (docs/scheduler.md "Budgets").
"""

from __future__ import annotations

from tokenproof import pricing
from tokenproof.analytics.proof.judge import judge_sampling
from tokenproof.analytics.proof.replay import provider_of

__all__ = ["comparison_reservation", "largest_comparison_usd"]

JUDGE_TEMPLATE_TOKENS = 400  # the judge prompt's own instructions, both answers aside


def _price(model: str, input_tokens: int, output_tokens: int) -> float | None:
    usage = pricing.Usage(input_tokens=max(0, int(input_tokens)), output_tokens=max(0, int(output_tokens)))
    return pricing.price(provider_of(model), model, usage).usd


def comparison_reservation(prompt: dict, *, baseline: str, candidate: str, judge: str,
                           largest_seen_usd: float = 0.0) -> float | None:
    """USD to reserve before comparing ``prompt`` (a captured prompt: ``usage`` = recorded tokens,
    ``output`` = the recorded baseline answer or None); None when a price is unknown."""
    input_tokens, output_tokens = (prompt.get("usage") or (0, 0, 0))[:2]
    if not input_tokens:
        text = str(prompt.get("body", {}).get("messages", ""))
        input_tokens = len(text) // 3 + 16  # about three characters per token, rounded up
    answer_tokens = max(256, 2 * int(output_tokens or 0))
    parts = [_price(candidate, input_tokens, answer_tokens)]
    if prompt.get("output") is None:
        parts.append(_price(baseline, input_tokens, answer_tokens))
    sampling = judge_sampling(judge)
    judge_out = int(sampling.get("max_tokens") or sampling.get("max_completion_tokens") or 1024)
    judge_in = input_tokens + 2 * answer_tokens + JUDGE_TEMPLATE_TOKENS
    one_judge = _price(judge, judge_in, judge_out)
    parts.append(None if one_judge is None else 4 * one_judge)  # two orders, one retry each
    if any(p is None for p in parts):
        return None
    return max(sum(p for p in parts if p is not None), 2.0 * largest_seen_usd)


def largest_comparison_usd(records: list[dict]) -> float:
    """The dearest stored comparison of a route (the calls of ours it made; unpriced parts as 0)."""
    largest = 0.0
    for r in records:
        cost = (r.get("candidate_cost_usd") or 0.0) + (r.get("judge_cost_usd") or 0.0)
        if not r.get("baseline_recorded"):
            cost += r.get("baseline_cost_usd") or 0.0
        largest = max(largest, cost)
    return largest
