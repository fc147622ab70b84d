"""Routes, their versions, and the evidence a route accumulates comparison by comparison.

A route is (match, baseline, candidate, candidate prompt hash, judge, test parameters). Its id is a
hash of all six, so changing any of them - including re-reading the evidence with other parameters -
is a new route version whose evidence starts from zero (docs/proof.md "Locked analysis").
:class:`RouteEvidence` feeds comparison records, in arrival order, to the decision test
(:class:`~tokenproof.analytics.proof.promise.PromiseTest`) and keeps what the report needs beside
the decision: tie-adjusted win rate, confidence sequences, unresolved counts and reasons, judge
failures with their cost, swap-inconsistency rate, format failures, length control, costs, latencies.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tokenproof.analytics.proof.answer import Answer, content_hash
from tokenproof.analytics.proof.judge import SWAP_INCONSISTENCY_LIMIT, question_of
from tokenproof.analytics.proof.lengthctl import length_controlled
from tokenproof.analytics.proof.promise import PromiseTest, meaning
from tokenproof.analytics.proof.sequential import LOSS, SWITCH, UNINFORMATIVE, UNRESOLVED, WIN, Params

__all__ = ["RouteEvidence", "comparison_record", "lineage_id", "route_id"]


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def route_id(match: dict, baseline: str, candidate: str, candidate_prompt_hash: str, judge: str,
             params: Params | None = None) -> str:
    """Id of one route version: any change of its six parts (parameters included) gives a new id."""
    return "r_" + _hash({"match": match, "baseline": baseline, "candidate": candidate,
                         "candidate_prompt": candidate_prompt_hash, "judge": judge,
                         "params": (params or Params()).to_dict()})


def lineage_id(match: dict, candidate: str | None = None) -> str:
    """The request group's identity across versions *and candidates*: alpha is spent per group."""
    return "l_" + _hash({"match": match})


def comparison_record(*, route: str, prompt_ref: str, request_ref: str, request: dict, baseline: Answer,
                      candidate: Answer, comparison: Any, judge_model: str, capture: bool) -> dict:
    """One comparison as stored and reported (outputs only when content capture is on)."""
    judge_cost = [a.cost_usd for a in comparison.judge_answers]
    return {
        "route_id": route, "prompt_ref": prompt_ref, "request_ref": request_ref,
        "baseline_model": baseline.model, "candidate_model": candidate.model, "judge_model": judge_model,
        "question": question_of(request) if capture else "",
        "baseline_output": baseline.rendered() if capture else "",
        "candidate_output": candidate.rendered() if capture else "",
        "baseline_hash": content_hash(baseline.rendered()), "candidate_hash": content_hash(candidate.rendered()),
        "baseline_format_valid": comparison.baseline_format.valid,
        "candidate_format_valid": comparison.candidate_format.valid,
        "format_failures": comparison.candidate_format.failures + [f"baseline: {f}" for f in comparison.baseline_format.failures],
        "verdict_baseline_first": comparison.verdict_baseline_first or "",
        "verdict_candidate_first": comparison.verdict_candidate_first or "",
        "result_baseline_first": comparison.result_baseline_first or "",
        "result_candidate_first": comparison.result_candidate_first or "",
        "swap_consistent": comparison.swap_consistent,
        "judge_explanations": comparison.judge_texts if capture else [],
        "outcome": comparison.outcome, "decided_by": comparison.decided_by,
        "baseline_length": baseline.length, "candidate_length": candidate.length,
        "length_ratio": round(candidate.length / max(baseline.length, 1), 4),
        "baseline_cost_usd": baseline.cost_usd, "candidate_cost_usd": candidate.cost_usd,
        "judge_cost_usd": None if any(c is None for c in judge_cost) else sum(judge_cost),
        "judge_calls": len(comparison.judge_answers),
        "baseline_latency_s": round(baseline.latency_s, 4), "candidate_latency_s": round(candidate.latency_s, 4),
        "judge_latency_s": round(sum(a.latency_s for a in comparison.judge_answers), 4),
        "baseline_recorded": baseline.recorded,
        "baseline_tokens": [baseline.input_tokens, baseline.output_tokens],
        "candidate_tokens": [candidate.input_tokens, candidate.output_tokens],
    }


@dataclass
class RouteEvidence:
    """Sequential evidence of one route version, fed records in arrival order.

    ``alpha``: the alpha this version spends (after spending per group and across routes);
    ``params.alpha`` when None.
    """

    route: str
    params: Params = field(default_factory=Params)
    alpha: float | None = None
    records: list[dict] = field(default_factory=list)
    ignored_after_decision: int = 0
    uninformative_reason: str | None = None

    def __post_init__(self) -> None:
        self.test = PromiseTest(self.params, self.alpha)

    @property
    def decided(self) -> bool:
        return self.test.decision is not None or self.uninformative_reason is not None

    def add(self, record: dict) -> str | None:
        """Add one comparison (ignored once decided, as the live system stops); return the decision."""
        if self.decided:
            self.ignored_after_decision += 1
            return self.decision
        self.records.append(record)
        self.test.update(record["outcome"])
        return self.test.decision

    def mark_uninformative(self, reason: str) -> None:
        """E.g. the judge cannot tell the baseline from itself: the route is never switched."""
        self.uninformative_reason = reason

    def swap_inconsistency(self) -> tuple[int, int]:
        judged = [r for r in self.records if r.get("swap_consistent") is not None]
        return sum(1 for r in judged if not r["swap_consistent"]), len(judged)

    @property
    def decision(self) -> str:
        if self.uninformative_reason is not None:
            return UNINFORMATIVE
        inconsistent, judged = self.swap_inconsistency()
        if judged >= self.params.n_min and inconsistent / judged > SWAP_INCONSISTENCY_LIMIT:
            return UNINFORMATIVE
        return self.test.state()["decision"]

    def summary(self) -> dict:
        state = self.test.state()
        inconsistent, judged = self.swap_inconsistency()
        judged_records = [r for r in self.records if r["decided_by"] == "judge" and r["outcome"] != UNRESOLVED]
        prefs = [1.0 if r["outcome"] == WIN else 0.0 if r["outcome"] == LOSS else 0.5 for r in judged_records]
        lc = length_controlled(prefs, [r["candidate_length"] for r in judged_records],
                               [r["baseline_length"] for r in judged_records])
        costs = {k: _sum([r.get(k) for r in self.records]) for k in
                 ("baseline_cost_usd", "candidate_cost_usd", "judge_cost_usd")}
        replayed_baseline = _sum([r.get("baseline_cost_usd") for r in self.records if not r.get("baseline_recorded")])
        shadow = (costs["candidate_cost_usd"] or 0.0) + (costs["judge_cost_usd"] or 0.0) + (replayed_baseline or 0.0)
        unresolved = [r for r in self.records if r["outcome"] == UNRESOLVED]
        judge_failed = [r for r in unresolved if (r.get("error_kind") or "").startswith("judge_")]
        n = len(self.records)
        decision = self.decision
        alpha = state["alpha_spent"]
        return {
            "route_id": self.route, "decision": decision, "sequential_decision": state["decision"],
            "meaning": meaning(self.params, alpha),
            **{k: v for k, v in state.items() if k not in {"decision", "method"}},
            "ignored_after_decision": self.ignored_after_decision,
            "uninformative_reason": self.uninformative_reason or (
                f"more than {self.params.max_unresolved:.0%} of comparisons unresolved"
                if state["decision"] == UNINFORMATIVE else
                "the judge's verdict depends on the answer order too often" if decision == UNINFORMATIVE else None),
            "unresolved_reasons": dict(Counter(r.get("error_kind") or "unknown" for r in unresolved)),
            "judge_failures": len(judge_failed),
            "judge_failure_cost_usd": _sum([r.get("judge_cost_usd") for r in judge_failed]),
            "error_kinds": dict(Counter(r.get("error_kind") for r in self.records if r.get("error_kind"))),
            "format_failures": sum(1 for r in self.records if not r["candidate_format_valid"]),
            "swap_inconsistency_rate": round(inconsistent / judged, 4) if judged else None,
            "swap_inconsistent": inconsistent, "judged_pairs": judged,
            "uninformative": decision == UNINFORMATIVE,
            "length_control": lc.to_dict(),
            "trajectory": list(self.test.trajectory),
            "costs_usd": costs, "shadow_spend_usd": round(shadow, 6),
            "mean_baseline_cost_usd": _mean(costs["baseline_cost_usd"], n),
            "mean_candidate_cost_usd": _mean(costs["candidate_cost_usd"], n),
            "mean_latency_s": {
                "baseline": _mean(sum(r["baseline_latency_s"] for r in self.records), n),
                "candidate": _mean(sum(r["candidate_latency_s"] for r in self.records), n),
            },
            "params": self.params.to_dict(),
            "switch": decision == SWITCH,
        }


def _sum(values: list) -> float | None:
    """Sum of costs; None (unpriced) when any is unpriced, never a silent $0."""
    if any(v is None for v in values):
        return None
    return round(sum(values), 8)


def _mean(total: float | None, n: int) -> float | None:
    return None if total is None or n == 0 else round(total / n, 8)
