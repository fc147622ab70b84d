"""The one place routing talks to the proof engine: a route's proof, and judging a routed pair.

Everything here is written against the proof engine's current API (``tokenproof.analytics.proof``);
when that API changes, only this module changes. A judgement that cannot be resolved (judge error,
no verdict, budget) is never counted in the candidate's favour: the monitor treats it as a loss.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.answer import Answer, ToolCall
from tokenproof.analytics.proof.judge import JudgeFamilyError, resolve_judge
from tokenproof.analytics.proof.pipeline import ErrorKind, Pipeline
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


# One pipeline per (route, baseline, candidate, judge): the degenerate-output gate looks across a
# route's answers, so it must see every routed pair of that route.
_pipelines: dict[tuple[str, str, str, str], Pipeline] = {}
_pipelines_lock = threading.Lock()
_CANDIDATE_FORMAT_KINDS = (ErrorKind.CANDIDATE_FAILED, ErrorKind.CANDIDATE_INVALID, ErrorKind.DEGENERATE)


def _pipeline(route: str, baseline_model: str, candidate_model: str, judge: str, replayer: Replayer) -> Pipeline:
    key = (route, baseline_model, candidate_model, judge)
    with _pipelines_lock:
        pipe = _pipelines.get(key)
        if pipe is None:
            if len(_pipelines) > 1024:
                _pipelines.clear()
            pipe = _pipelines[key] = Pipeline(replayer=replayer, route=route, baseline_model=baseline_model,
                                              candidate_model=candidate_model, judge_model=judge, capture=False)
        return pipe


def judge_routed_pair(request: dict, candidate: Answer, baseline_model: str, replayer: Replayer,
                      judge_model: str | None = None, route: str = "") -> Judgement:
    """Replay ``request`` on the baseline (shadow traffic), then the proof engine's own pipeline:
    format and degenerate-output gates, the judge in both orders, unresolved when unsettled."""
    baseline = replayer.call(request, baseline_model)
    if baseline.error:
        return Judgement(UNRESOLVED, False, {"why": f"baseline replay failed: {baseline.error}"},
                         baseline.cost_usd)
    try:
        judge = resolve_judge(baseline_model, candidate.model, judge_model)
        pipe = _pipeline(route, baseline_model, candidate.model, judge, replayer)
        result = pipe.settle(request, "", baseline, candidate, None, replayer.judge(judge))
    except JudgeFamilyError as exc:  # the route names a judge of the candidate's family
        return Judgement(UNRESOLVED, False, {"why": f"judge failed: {exc}"}, baseline.cost_usd)
    spend = None if result.unpriced_calls else result.spend_usd
    failed = result.error_kind in _CANDIDATE_FORMAT_KINDS
    outcome = {"win": WIN, "loss": LOSS, "tie": TIE}.get(result.outcome, UNRESOLVED)
    return Judgement(outcome, failed, {"error_kind": result.error_kind or "", "reason": result.reason}, spend)


def _add(total: float | None, value: float | None) -> float | None:
    return None if total is None or value is None else total + value
