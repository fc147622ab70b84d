"""The one place routing talks to the proof engine: a route's proof, and judging a routed pair.

Everything here is written against the proof engine's current API (``tokenproof.analytics.proof``);
when that API changes, only this module changes. A judgement that cannot be resolved (judge error,
no verdict, budget) is never counted in the candidate's favour: the monitor treats it as a loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.answer import Answer, ToolCall
from tokenproof.analytics.proof.judge import JudgeFailed, compare, resolve_judge
from tokenproof.analytics.proof.replay import Replayer

__all__ = [
    "LOSS",
    "TIE",
    "UNRESOLVED",
    "WIN",
    "Judgement",
    "ProofInfo",
    "answer_from_span",
    "judge_routed_pair",
    "proof_info",
    "request_from_span",
]

WIN, LOSS, TIE, UNRESOLVED = "win", "loss", "tie", "unresolved"
SWITCH = "switch"


@dataclass
class ProofInfo:
    route_id: str
    decision: str
    baseline: str
    candidate: str
    candidate_prompt_hash: str


def proof_info(store, proof_route_id: str) -> ProofInfo | None:
    """The proof route version a route is pushed on, with the decision it reached (None: unknown)."""
    row = proof_store.get_route(store, proof_route_id)
    if row is None:
        return None
    return ProofInfo(row["RouteId"], row["Decision"] or "", row["BaselineModel"], row["CandidateModel"],
                     row["CandidatePromptHash"] or "")


@dataclass
class Judgement:
    outcome: str  # win | tie | loss | unresolved
    format_failed: bool
    detail: dict[str, Any] = field(default_factory=dict)
    spend_usd: float | None = 0.0  # baseline replay + judge calls; None when any was unpriced

    @property
    def loss(self) -> bool:
        """The loss indicator fed to the drift detector (unresolved counts against the candidate)."""
        return self.outcome in (LOSS, UNRESOLVED)


def request_from_span(row: dict[str, Any]) -> dict | None:
    """An OpenAI chat body rebuilt from a routed span's captured content (None without content)."""
    return proof_store._body(row)


def answer_from_span(row: dict[str, Any], model: str) -> Answer | None:
    output = proof_store._output(row.get("output"))
    if output is None:
        return None
    return Answer(model=model, text=output["text"], finish_reason=output.get("finish_reason"),
                  tool_calls=[ToolCall(c["name"], c["arguments"]) for c in output["tool_calls"]], recorded=True)


def judge_routed_pair(request: dict, candidate: Answer, baseline_model: str, replayer: Replayer,
                      judge_model: str | None = None) -> Judgement:
    """Replay ``request`` on the baseline (shadow traffic), gate both answers, judge in both orders."""
    spend: float | None = 0.0
    baseline = replayer.call(request, baseline_model)
    spend = _add(spend, baseline.cost_usd)
    if baseline.error:
        return Judgement(UNRESOLVED, False, {"why": f"baseline replay failed: {baseline.error}"}, spend)
    try:
        judge = resolve_judge(baseline_model, candidate.model, judge_model)
        comparison = compare(request, baseline, candidate, replayer.judge(judge))
    except (JudgeFailed, ValueError) as exc:
        return Judgement(UNRESOLVED, False, {"why": f"judge failed: {exc}"}, spend)
    for answer in comparison.judge_answers:
        spend = _add(spend, answer.cost_usd)
    failed = not comparison.candidate_format.valid
    outcome = {"win": WIN, "loss": LOSS, "tie": TIE}.get(comparison.outcome, UNRESOLVED)
    return Judgement(outcome, failed, {"decided_by": comparison.decided_by,
                                       "format_failures": comparison.candidate_format.failures}, spend)


def _add(total: float | None, value: float | None) -> float | None:
    return None if total is None or value is None else total + value
