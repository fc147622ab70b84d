"""A prompt variant scored on one set through the proof engine's one comparison pipeline.

Each prompt of the set is compared by :meth:`~tokenproof.analytics.proof.pipeline.Pipeline.run`
with the variant as the candidate's system prompt (``with_prompt``) against the baseline's answer
(recorded, or replayed once and reused for every variant): gates, the degenerate gate, then the
judge in both orders (an LLM judge, or :func:`~.check.reference_check` where answers are checkable).
A *match* is a win or a tie; a loss and an unresolved pair both count against the candidate. The
match rate carries an exact (Clopper-Pearson) 95% interval, a fixed-sample interval: it describes
this set, scored once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scipy import stats

from tokenproof import tokens
from tokenproof.analytics.proof.answer import Answer, ToolCall
from tokenproof.analytics.proof.judge import question_of
from tokenproof.analytics.proof.optimize.check import final_number
from tokenproof.analytics.proof.pipeline import Pipeline, prompt_ref
from tokenproof.analytics.proof.replay import price_answer
from tokenproof.analytics.proof.sequential import LOSS, TIE, UNRESOLVED, WIN

__all__ = ["Item", "Score", "Scorer", "Variant", "interval", "prepare_items", "prompt_tokens"]


def interval(k: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    if n <= 0:
        return None, None
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return round(float(ci.low), 4), round(float(ci.high), 4)


def prompt_tokens(text: str | None) -> int:
    """Tokens of a system prompt (``tokenproof.tokens``, o200k): the longer prompt's extra input."""
    if not text:
        return 0
    try:
        return tokens.count_tokens("gpt-4o", text)
    except tokens.EncodingUnavailable:
        return max(1, len(text) // 4)  # the encodings ship with tokenproof[tokens]; a rough count otherwise


@dataclass
class Variant:
    """One candidate system prompt (None: the route's current prompt, the request's own system message)."""

    id: str
    prompt: str | None
    origin: str
    round: int = 0
    demo_refs: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return prompt_tokens(self.prompt)

    def to_dict(self) -> dict:
        return {"id": self.id, "origin": self.origin, "round": self.round, "prompt": self.prompt,
                "prompt_tokens": self.tokens, "demos": len(self.demo_refs)}


@dataclass
class Item:
    """A prompt ready to score: the request, the baseline's answer (the target) and a reference."""

    ref: str
    prompt_ref: str
    body: dict
    baseline: Answer
    reference: str | None


def _recorded(prompt: dict, model: str) -> Answer | None:
    output = prompt.get("output")
    if output is None:
        return None
    usage = prompt.get("usage") or (0, 0, 0)
    answer = Answer(model=model, text=output["text"], finish_reason=output.get("finish_reason"),
                    tool_calls=[ToolCall(c["name"], c["arguments"]) for c in output.get("tool_calls") or []],
                    input_tokens=usage[0], output_tokens=usage[1], cache_read_tokens=usage[2], recorded=True)
    price_answer(answer)
    return answer


def prepare_items(prompts: list[dict], baseline_model: str, replayer, feature: str | None) -> list[Item]:
    """Items with their baseline answer: recorded, else replayed once (that replay is optimisation spend)."""
    items = []
    for prompt in prompts:
        baseline = _recorded(prompt, baseline_model)
        if baseline is None:
            baseline = replayer.call(prompt["body"], baseline_model, feature=feature, kind="baseline")
        reference = prompt.get("reference")
        if not reference:
            number = final_number(baseline.text)
            reference = None if number is None else f"#### {number:g}"
        items.append(Item(prompt["ref"], prompt_ref(prompt["body"]), prompt["body"], baseline, reference))
    return items


@dataclass
class Score:
    variant: str
    phase: str
    n: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    unresolved: int = 0
    complete: bool = True
    stop_reason: str | None = None
    candidate_costs: list[float | None] = field(default_factory=list)
    baseline_costs: list[float | None] = field(default_factory=list)
    candidate_input_tokens: list[int] = field(default_factory=list)
    losing: list[dict] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, bool] = field(default_factory=dict)  # prompt ref -> matched

    @property
    def matches(self) -> int:
        return self.wins + self.ties

    @property
    def rate(self) -> float | None:
        return round(self.matches / self.n, 4) if self.n else None

    def to_dict(self) -> dict:
        low, high = interval(self.matches, self.n)
        return {"variant": self.variant, "set": self.phase, "n": self.n, "matches": self.matches,
                "match_rate": self.rate, "ci95": [low, high], "wins": self.wins, "ties": self.ties,
                "losses": self.losses, "unresolved": self.unresolved, "complete": self.complete,
                "stop_reason": self.stop_reason, "error_kinds": dict(self.error_kinds),
                "mean_candidate_cost_usd": _mean(self.candidate_costs),
                "mean_baseline_cost_usd": _mean(self.baseline_costs),
                "mean_candidate_input_tokens": (round(sum(self.candidate_input_tokens) / len(self.candidate_input_tokens), 1)
                                                if self.candidate_input_tokens else None)}


def _mean(values: list[float | None]) -> float | None:
    """Mean cost; None (unpriced) when any call is unpriced, never a silent $0."""
    if not values or any(v is None for v in values):
        return None
    return round(sum(v for v in values if v is not None) / len(values), 8)


@dataclass
class Scorer:
    """Scores variants for one route; ``log`` records (set, prompt ref) of every comparison made."""

    replayer: object
    route: str
    baseline_model: str
    candidate_model: str
    judge_model: str
    judge_fn: Callable[[list[dict]], Answer] | None = None
    feature: str | None = None
    tolerate_fence: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)

    def score(self, variant: Variant, items: list[Item], phase: str,
              stop: Callable[[], str | None] | None = None) -> Score:
        pipe = Pipeline(replayer=self.replayer, route=self.route, baseline_model=self.baseline_model,
                        candidate_model=self.candidate_model, judge_model=self.judge_model, capture=True,
                        feature=self.feature, candidate_system_prompt=variant.prompt,
                        tolerate_fence=self.tolerate_fence, judge_fn=self.judge_fn)
        score = Score(variant.id, phase)
        skip = set(variant.demo_refs)  # a demonstration is never scored on its own question
        for item in items:
            if item.prompt_ref in skip:
                continue
            reason = stop() if stop is not None else None
            if reason:
                score.complete, score.stop_reason = False, reason
                break
            self.log.append((phase, item.prompt_ref))
            result = pipe.run(item.body, request_ref=item.ref, baseline=item.baseline, reference=item.reference)
            score.n += 1
            outcome = result.outcome
            score.wins += outcome == WIN
            score.ties += outcome == TIE
            score.losses += outcome == LOSS
            score.unresolved += outcome == UNRESOLVED
            score.outcomes[item.prompt_ref] = outcome in (WIN, TIE)
            if result.error_kind:
                score.error_kinds[result.error_kind] = score.error_kinds.get(result.error_kind, 0) + 1
            record = result.record
            score.candidate_costs.append(record["candidate_cost_usd"])
            score.baseline_costs.append(record["baseline_cost_usd"])
            score.candidate_input_tokens.append(record["candidate_tokens"][0])
            if outcome in (LOSS, UNRESOLVED):
                request = {"messages": [m for m in item.body.get("messages") or []
                                        if m.get("role") not in {"system", "developer"}]}
                score.losing.append({"ref": item.prompt_ref, "question": question_of(request),
                                     "candidate": record["candidate_output"], "baseline": record["baseline_output"],
                                     "why": result.reason or result.error_kind or outcome})
        return score
