"""The one comparison pipeline: replay, gates, judge in both orders, record.

``tokenproof prove``, shadow runs and the post-switch monitor all compare through
:meth:`Pipeline.run`, so a pair is settled the same way wherever it comes from (docs/proof.md):

1. the baseline answer: recorded, or replayed; a failed baseline call is *unresolved*
   (``baseline_failed``), never dropped;
2. the candidate, replayed with the same parameters (and the route's candidate system prompt); a
   failed call is a loss (``candidate_failed``);
3. deterministic gates on both answers, then the route's degenerate-output gate on the candidate; a
   failing candidate is a loss before any judge; an invalid baseline with a valid candidate is a tie
   ("not evidence"), never a free win;
4. the judge in both orders (one retry each, :func:`~tokenproof.analytics.proof.judge.judge_order`),
   reference-guided when the request carries a reference or the baseline's answer ends in a
   checkable final answer; disagreement or a judge failure is *unresolved*;
5. one record with the outcome, its error kind and every call's cost (failed judge calls included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tokenproof.analytics.proof.answer import Answer, content_hash
from tokenproof.analytics.proof.degenerate import DegenerateGate
from tokenproof.analytics.proof.gates import FormatVerdict, check_format
from tokenproof.analytics.proof.judge import (
    build_prompt,
    combine_orders,
    judge_order,
    question_of,
    reference_from_answer,
)
from tokenproof.analytics.proof.replay import price_answer
from tokenproof.analytics.proof.route import comparison_record
from tokenproof.analytics.proof.sequential import LOSS, TIE, UNRESOLVED

__all__ = ["ComparisonResult", "ErrorKind", "Pipeline", "compare", "prompt_ref", "with_prompt"]


class ErrorKind:
    """Why a comparison is not a plain judged verdict (``ComparisonResult.error_kind``)."""

    BASELINE_FAILED = "baseline_failed"  # unresolved
    CANDIDATE_FAILED = "candidate_failed"  # loss
    CANDIDATE_INVALID = "candidate_invalid"  # loss (format gate)
    DEGENERATE = "degenerate"  # loss (route-level gate)
    BASELINE_INVALID = "baseline_invalid"  # tie, not evidence
    ORDER_DISAGREEMENT = "order_disagreement"  # unresolved
    JUDGE_ERROR = "judge_error"  # unresolved (after one retry)
    JUDGE_TRUNCATED = "judge_truncated"
    JUDGE_REFUSED = "judge_refused"
    JUDGE_UNPARSEABLE = "judge_unparseable"


def prompt_ref(body: dict) -> str:
    """Content identity of a request (its messages): the unit of de-duplication."""
    return content_hash(json.dumps(body.get("messages"), sort_keys=True))


def with_prompt(body: dict, system_prompt: str | None) -> dict:
    if not system_prompt:
        return body
    messages = [m for m in body["messages"] if m.get("role") not in {"system", "developer"}]
    return {**body, "messages": [{"role": "system", "content": system_prompt}, *messages]}


@dataclass
class ComparisonResult:
    outcome: str  # win | tie | loss | unresolved
    error_kind: str | None
    reason: str
    record: dict
    spend_usd: float
    unpriced_calls: int

    @property
    def resolved(self) -> bool:
        return self.outcome != UNRESOLVED


class _Settled:
    """What the gates and the judge made of one pair (fields of the record)."""

    def __init__(self, outcome: str, base_fmt: FormatVerdict, cand_fmt: FormatVerdict, decided_by: str):
        self.outcome = outcome
        self.baseline_format = base_fmt
        self.candidate_format = cand_fmt
        self.decided_by = decided_by
        self.verdict_baseline_first: str | None = None
        self.verdict_candidate_first: str | None = None
        self.result_baseline_first: str | None = None
        self.result_candidate_first: str | None = None
        self.swap_consistent: bool | None = None
        self.judge_texts: list[str] = []
        self.judge_answers: list[Answer] = []


class Pipeline:
    """Compares pairs for one route; thread-safe (the degenerate gate has its own lock)."""

    def __init__(self, *, replayer, route: str, baseline_model: str, candidate_model: str, judge_model: str,
                 capture: bool = True, feature: str | None = None, candidate_system_prompt: str | None = None,
                 tolerate_fence: bool = False, judge_fn=None):
        self.replayer = replayer
        self.route = route
        self.baseline_model, self.candidate_model, self.judge_model = baseline_model, candidate_model, judge_model
        self.capture, self.feature = capture, feature
        self.candidate_system_prompt = candidate_system_prompt
        self.tolerate_fence = tolerate_fence
        self.judge_fn = judge_fn  # a deterministic judge (e.g. the optimiser's reference check); None = the judge model
        self.degenerate = DegenerateGate()

    def run(self, body: dict, *, request_ref: str, baseline: Answer | None = None,
            reference: str | None = None, batch: bool = False) -> ComparisonResult:
        """Replay (unless the baseline answer is given), gate, judge and record one request.

        ``batch``: the workload runs on the provider's Batch API (its baseline answers came from a
        Batch output file), so both answers are priced at batch rates."""
        if baseline is None:
            baseline = self.replayer.call(body, self.baseline_model, feature=self.feature)
        if baseline.error:
            empty = FormatVerdict(False, [f"baseline call failed: {baseline.error}"])
            settled = _Settled(UNRESOLVED, empty, FormatVerdict(True), "baseline_failed")
            return self._result(body, request_ref, baseline, Answer(model=self.candidate_model), settled,
                                ErrorKind.BASELINE_FAILED, baseline.error)
        candidate = self.replayer.call(with_prompt(body, self.candidate_system_prompt), self.candidate_model,
                                       feature=self.feature)
        if batch:
            price_answer(baseline, batch=True)
            price_answer(candidate, batch=True)
        return self.settle(body, request_ref, baseline, candidate, reference,
                           self.judge_fn or self.replayer.judge(self.judge_model, self.feature))

    def settle(self, body: dict, request_ref: str, baseline: Answer, candidate: Answer, reference: str | None,
               judge_fn) -> ComparisonResult:
        """Steps 3-5 for two answers already in hand (``judge_fn(messages) -> Answer``)."""
        base_fmt = check_format(body, baseline, tolerate_fence=self.tolerate_fence)
        cand_fmt = check_format(body, candidate, baseline, tolerate_fence=self.tolerate_fence)
        if candidate.error:
            settled = _Settled(LOSS, base_fmt, cand_fmt, "format")
            return self._result(body, request_ref, baseline, candidate, settled, ErrorKind.CANDIDATE_FAILED,
                                candidate.error)
        degenerate = self.degenerate.check(prompt_ref(body), candidate.rendered(), baseline.rendered())
        if degenerate:
            cand_fmt = FormatVerdict(False, [*cand_fmt.failures, degenerate])
            return self._result(body, request_ref, baseline, candidate, _Settled(LOSS, base_fmt, cand_fmt, "degenerate"),
                                ErrorKind.DEGENERATE, degenerate)
        if not cand_fmt.valid:
            return self._result(body, request_ref, baseline, candidate, _Settled(LOSS, base_fmt, cand_fmt, "format"),
                                ErrorKind.CANDIDATE_INVALID, "; ".join(cand_fmt.failures))
        if not base_fmt.valid:  # the baseline itself broke the format: not evidence either way
            settled = _Settled(TIE, base_fmt, cand_fmt, "baseline_invalid")
            return self._result(body, request_ref, baseline, candidate, settled, ErrorKind.BASELINE_INVALID,
                                "; ".join(base_fmt.failures))
        return self._judge(body, request_ref, baseline, candidate, base_fmt, cand_fmt, reference, judge_fn)

    def _judge(self, body, request_ref, baseline, candidate, base_fmt, cand_fmt, reference,
               judge_fn) -> ComparisonResult:
        question = question_of(body)
        reference = reference or reference_from_answer(baseline.text)
        settled = _Settled(UNRESOLVED, base_fmt, cand_fmt, "judge")
        first = judge_order(build_prompt(question, baseline.rendered(), candidate.rendered(), reference), judge_fn)
        settled.judge_answers, settled.judge_texts = list(first.answers), [first.text]
        settled.verdict_baseline_first = first.letter
        if first.error_kind is not None:  # no second order: the pair is unresolved already
            return self._result(body, request_ref, baseline, candidate, settled, first.error_kind, first.detail)
        second = judge_order(build_prompt(question, candidate.rendered(), baseline.rendered(), reference), judge_fn)
        settled.judge_answers += second.answers
        settled.judge_texts.append(second.text)
        settled.verdict_candidate_first = second.letter
        if second.error_kind is not None:
            return self._result(body, request_ref, baseline, candidate, settled, second.error_kind, second.detail)
        r1 = "win" if first.letter == "B" else "loss" if first.letter == "A" else TIE
        r2 = "win" if second.letter == "A" else "loss" if second.letter == "B" else TIE
        outcome, consistent = combine_orders(r1, r2)
        settled.result_baseline_first, settled.result_candidate_first = r1, r2
        settled.swap_consistent, settled.outcome = consistent, outcome
        kind = None if consistent else ErrorKind.ORDER_DISAGREEMENT
        reason = "" if consistent else f"the judge's verdict changed with the order ({r1} / {r2})"
        return self._result(body, request_ref, baseline, candidate, settled, kind, reason)

    def _result(self, body, request_ref, baseline, candidate, settled: _Settled, kind: str | None,
                reason: str) -> ComparisonResult:
        record = comparison_record(route=self.route, prompt_ref=prompt_ref(body), request_ref=request_ref,
                                   request=body, baseline=baseline, candidate=candidate, comparison=settled,
                                   judge_model=self.judge_model, capture=self.capture)
        record["error_kind"], record["reason"] = kind or "", reason[:500]
        calls = [candidate] + settled.judge_answers + ([] if baseline.recorded else [baseline])
        spend = sum(a.cost_usd or 0.0 for a in calls)
        unpriced = sum(1 for a in calls if a.cost_usd is None and (a.input_tokens or a.output_tokens))
        return ComparisonResult(settled.outcome, kind, reason, record, spend, unpriced)


def compare(request: dict, baseline: Answer, candidate: Answer, judge_fn, reference: str | None = None, *,
            tolerate_fence: bool = False, pipeline: Pipeline | None = None) -> ComparisonResult:
    """Settle one pair of answers already in hand (gates, degenerate gate, judge in both orders)."""
    pipe = pipeline or Pipeline(replayer=None, route="", baseline_model=baseline.model,
                                candidate_model=candidate.model, judge_model="judge", tolerate_fence=tolerate_fence)
    return pipe.settle(request, "", baseline, candidate, reference, judge_fn)


def calibration_summary(results: list[ComparisonResult], params) -> dict:
    """The judge's noise floor from baseline-versus-baseline pairs (two independent samples).

    Identical samples measure nothing and are counted apart; a judge that prefers one sample (or
    cannot settle the pair) at the loss bar's rate or more is not reliable on this route."""
    identical = [r for r in results if r.record["baseline_hash"] == r.record["candidate_hash"]]
    distinct = [r for r in results if r.record["baseline_hash"] != r.record["candidate_hash"]]
    noisy = [r for r in distinct if r.outcome != TIE]
    noise = round(len(noisy) / len(distinct), 4) if distinct else None
    judged = [r for r in distinct if r.record.get("swap_consistent") is not None]
    return {
        "pairs": len(results), "identical_samples": len(identical), "distinct_pairs": len(distinct),
        "non_tie_rate": noise,
        "swap_inconsistency_rate": round(sum(not r.record["swap_consistent"] for r in judged) / len(judged), 4)
        if judged else None,
        "informative": bool(distinct),
        "judge_reliable": None if noise is None else noise < params.max_loss,
        "note": ("the two baseline samples were identical on every pair (a deterministic baseline): "
                 "this calibration measures nothing") if results and not distinct else "",
        "spend_usd": round(sum(r.spend_usd for r in results) + 0.0, 6),
    }


def uninformative_reason(calibration: dict | None, params) -> str | None:
    """Why a route is uninformative after its calibration (None: the judge is usable)."""
    if not calibration or calibration.get("judge_reliable") is not False:
        return None
    return (f"the judge cannot tell the baseline from itself reliably (non-tie rate {calibration['non_tie_rate']} "
            f"between two baseline samples, at or above the {params.max_loss:.0%} loss bar)")
