"""Blind pairwise judging in both orders with swap-and-tie (proof-procedure.md section 3).

- The prompt is the MT-Bench pairwise format: ``[User Question]``, ``[The Start of Assistant A's
  Answer]`` ... ``[The End of Assistant A's Answer]``, the same for B, optionally a reference answer
  block (reference-guided judging); the judge ends with exactly one of ``[[A]]``, ``[[B]]``, ``[[C]]``
  (C = tie). No model names reach the judge.
- Every pair is judged twice, the baseline first then the candidate first. A win or a loss counts
  only when both orders agree; disagreement or an explicit tie is a tie. A disagreement is a swap
  inconsistency; routes above ``SWAP_INCONSISTENCY_LIMIT`` are uninformative.
- The judge defaults to the baseline's model and is never of the candidate's family (self-preference).
- :func:`compare` runs the whole protocol for one pair: format gates first (a format failure is a
  loss, no judge call), then both judge orders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenproof import catalogue
from tokenproof.analytics.proof.answer import Answer
from tokenproof.analytics.proof.gates import FormatVerdict, check_format
from tokenproof.analytics.proof.sequential import LOSS, TIE, WIN

__all__ = [
    "SWAP_INCONSISTENCY_LIMIT",
    "Comparison",
    "JudgeFailed",
    "JudgeFamilyError",
    "build_prompt",
    "combine_orders",
    "compare",
    "model_family",
    "parse_verdict",
    "question_of",
    "resolve_judge",
]

SWAP_INCONSISTENCY_LIMIT = 0.35

_SYSTEM = (
    "You are an impartial reviewer comparing two AI assistants' answers to the same user request. "
    "Judge which answer serves the user better: correctness first, then helpfulness, relevance, "
    "completeness and clarity. If a reference answer is given, check each answer against it. "
    "The order in which the answers appear must not influence you, nor their length, nor any name. "
    "Explain your comparison briefly, then give your verdict on the last line in exactly this form: "
    "[[A]] if assistant A is better, [[B]] if assistant B is better, [[C]] for a tie."
)


class JudgeFamilyError(ValueError):
    """The judge would share the candidate's family (self-preference bias)."""


class JudgeFailed(RuntimeError):
    """The judge call failed or gave no verdict: the pair is not evidence either way (never a tie)."""


def model_family(model: str) -> str:
    """The model's family from the model catalogue ('gpt', 'claude', 'mistral', ...; else the name)."""
    return catalogue.family(model) or model.strip().lower()


def resolve_judge(baseline: str, candidate: str, judge: str | None = None) -> str:
    """The judge model: ``judge`` if given, else the baseline's; refuse the candidate's family."""
    chosen = judge or baseline
    if model_family(chosen) == model_family(candidate):
        origin = "the judge" if judge else "the default judge (the baseline's model)"
        raise JudgeFamilyError(
            f"{origin} {chosen!r} is of the candidate {candidate!r}'s family ({model_family(candidate)}); "
            "a judge prefers its own family's answers. Choose a judge of the baseline's or a third "
            "family with --judge (or the proof_judge_model setting)."
        )
    return chosen


def question_of(request: dict) -> str:
    """The user request as the judge sees it: the last user turn, with earlier turns as context."""
    lines = []
    messages = request.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    for i, message in enumerate(messages):
        content = _text(message.get("content"))
        if i == last_user:
            break
        if content:
            lines.append(f"({message.get('role', 'user')}) {content}")
    question = _text(messages[last_user].get("content")) if last_user >= 0 else ""
    if lines:
        return "[Context]\n" + "\n".join(lines) + "\n\n" + question
    return question


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def build_prompt(question: str, answer_a: str, answer_b: str, reference: str | None = None) -> list[dict]:
    """Chat messages for one judge call (system + one user message in the MT-Bench layout)."""
    user = f"[User Question]\n{question}\n\n"
    if reference:
        user += f"[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n"
    user += (f"[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
             f"[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


_VERDICT = re.compile(r"\[\[([ABC])\]\]")


def parse_verdict(text: str) -> str | None:
    """A, B or C from the judge's reply (the last marker wins); None when there is none."""
    found = _VERDICT.findall(text or "")
    return found[-1] if found else None


def _candidate_result(letter: str | None, candidate_is: str) -> str:
    if letter is None or letter == "C":
        return TIE
    return WIN if letter == candidate_is else LOSS


def combine_orders(first: str, second: str) -> tuple[str, bool]:
    """Swap-and-tie over the candidate's results in both orders: (outcome, swap_consistent)."""
    consistent = first == second
    return (first if consistent else TIE), consistent


@dataclass
class Comparison:
    outcome: str
    baseline_format: FormatVerdict
    candidate_format: FormatVerdict
    verdict_baseline_first: str | None = None  # raw letters, or None when no judge was needed
    verdict_candidate_first: str | None = None
    result_baseline_first: str | None = None  # the candidate's result in that order
    result_candidate_first: str | None = None
    swap_consistent: bool | None = None
    judge_texts: list[str] = field(default_factory=list)
    judge_answers: list[Answer] = field(default_factory=list)
    decided_by: str = "judge"  # judge | format


JudgeFn = Callable[[list[dict]], Answer]


def compare(request: dict, baseline: Answer, candidate: Answer, judge_fn: JudgeFn,
            reference: str | None = None) -> Comparison:
    """Gates, then the judge in both orders; ``judge_fn(messages) -> Answer`` calls the judge model."""
    base_fmt = check_format(request, baseline)
    cand_fmt = check_format(request, candidate, baseline)
    if not cand_fmt.valid or not base_fmt.valid:
        outcome = TIE if not cand_fmt.valid and not base_fmt.valid else LOSS if not cand_fmt.valid else WIN
        return Comparison(outcome, base_fmt, cand_fmt, decided_by="format")
    question = question_of(request)
    first = judge_fn(build_prompt(question, baseline.rendered(), candidate.rendered(), reference))
    second = judge_fn(build_prompt(question, candidate.rendered(), baseline.rendered(), reference))
    v1, v2 = parse_verdict(first.text), parse_verdict(second.text)
    for answer, verdict in ((first, v1), (second, v2)):
        if answer.error or verdict is None:
            raise JudgeFailed(answer.error or f"no [[A]]/[[B]]/[[C]] verdict in the judge's reply: {answer.text[:200]!r}")
    r1, r2 = _candidate_result(v1, "B"), _candidate_result(v2, "A")
    outcome, consistent = combine_orders(r1, r2)
    return Comparison(outcome, base_fmt, cand_fmt, v1, v2, r1, r2, consistent,
                      [first.text, second.text], [first, second])
