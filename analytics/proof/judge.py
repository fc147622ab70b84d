"""Blind pairwise judging in both orders; disagreement is unresolved (docs/proof.md "Judge").

- The prompt is the MT-Bench pairwise format: ``[User Question]``, ``[The Start of Assistant A's
  Answer]`` ... ``[The End of Assistant A's Answer]``, the same for B, optionally a reference answer
  block (reference-guided judging); the judge ends with exactly one of ``[[A]]``, ``[[B]]``, ``[[C]]``
  (C = tie). No model names reach the judge.
- Every pair is judged twice, the baseline first then the candidate first. A win or a loss counts
  only when both orders agree; both ties is a tie; any disagreement is *unresolved* (never a pass).
- One judge call = up to two attempts: a failed call, a truncated reply (``finish_reason`` length),
  a refusal or a reply without a readable verdict is retried once with a strict prompt; if the second
  attempt fails too the pair is unresolved with that reason. Verdicts are parsed tolerantly
  (``[[A]]``, ``[[ a ]]``, ``[[tie]]``, "Assistant A is better", ``{"verdict": "A"}``).
- Sampling settings per judge model come from :func:`judge_sampling` (reasoning models take no
  temperature and need a larger token budget).
- The judge defaults to the baseline's model and is never of the candidate's family (self-preference).
- The comparison pipeline (:mod:`tokenproof.analytics.proof.pipeline`) runs gates first; this module
  only judges.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenproof import catalogue
from tokenproof.analytics.proof.answer import Answer
from tokenproof.analytics.proof.gates import looks_like_refusal
from tokenproof.analytics.proof.sequential import UNRESOLVED

__all__ = [
    "SWAP_INCONSISTENCY_LIMIT",
    "JudgeFamilyError",
    "JudgeOrder",
    "build_prompt",
    "combine_orders",
    "judge_order",
    "judge_sampling",
    "model_family",
    "parse_verdict",
    "question_of",
    "reference_from_answer",
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


def model_family(model: str) -> str:
    """The model's family from the model catalogue ('gpt', 'claude', 'mistral', ...; else the name)."""
    return catalogue.family(model) or model.strip().lower()


_VENDOR_PREFIX = re.compile(r"^(?:[a-z0-9_-]+\.)(?=[a-z])")  # bedrock-style "anthropic.claude-..."


def _families(model: str) -> set[str]:
    """Families of a model name and of its base-model spellings: fine-tunes (``ft:base:org::id``),
    paths (``accounts/x/models/base``, ``bedrock/anthropic.claude-...``)."""
    names = {model}
    name = model.strip()
    if name.lower().startswith("ft:"):
        name = name[3:].split(":", 1)[0]
        names.add(name)
    last = name.rsplit("/", 1)[-1]
    names |= {last, _VENDOR_PREFIX.sub("", last.lower()), last.lower().split(".", 1)[0]}
    return {model_family(n) for n in names if n}


def resolve_judge(baseline: str, candidate: str, judge: str | None = None) -> str:
    """The judge model: ``judge`` if given, else the baseline's; refuse the candidate's family.

    Namespaced and fine-tuned names are compared by their base model too (``ft:gpt-4o-mini:org::id``
    is OpenAI; ``accounts/fireworks/models/mixtral-8x7b`` is Mistral).
    """
    chosen = judge or baseline
    if _families(chosen) & _families(candidate):
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


_STRICT = (
    "Reply with exactly one line and nothing else: [[A]] if assistant A's answer is better, [[B]] if "
    "assistant B's answer is better, [[C]] if they are equally good."
)
_REASONING = ("o1", "o3", "o4", "gpt-5", "deepseek-r1", "deepseek-reasoner", "qwq")


def judge_sampling(model: str) -> dict:
    """Request fields for a judge call on ``model``: temperature and the output-token budget.

    The limits are the model catalogue's (``tokenproof.catalogue``): reasoning models reject
    ``temperature`` and spend tokens before the verdict. A model the catalogue does not know is
    treated as a reasoning model when its name says so.
    """
    info = catalogue.lookup(model)
    name = model.lower().rpartition("/")[2]
    if info is not None:
        reasoning = info.reasoning
    else:
        reasoning = name.startswith(_REASONING) or "reasoning" in name or "thinking" in name
    limit = catalogue.judge_max_tokens(reasoning)
    if reasoning:
        return {"max_completion_tokens": limit}
    return {"temperature": 0, "max_tokens": limit}


_MARKER = re.compile(r"\[\[\s*(A|B|C|TIE)\s*\]\]", re.I)
_PHRASE = re.compile(r"\b(?:assistant|answer)\s+([AB])(?:'s answer)?\s+(?:is|was)\s+(?:clearly\s+|slightly\s+)?"
                     r"(?:better|superior|preferred|the better)", re.I)
_TIE_PHRASE = re.compile(r"\b(?:it'?s|this is)\s+a\s+tie\b|\bboth (?:answers )?are equally (?:good|bad)\b", re.I)
_JSON = re.compile(r"\{[^{}]*\"(?:verdict|winner|better|choice)\"\s*:\s*\"([^\"]+)\"[^{}]*\}", re.I)


def _letter(raw: str) -> str | None:
    word = raw.strip().strip(".[]()").upper()
    if word in {"A", "B", "C"}:
        return word
    if word in {"TIE", "DRAW", "EQUAL", "BOTH"}:
        return "C"
    for prefix in ("ASSISTANT ", "ANSWER "):
        if word.startswith(prefix) and word[len(prefix):] in {"A", "B"}:
            return word[len(prefix):]
    return None


def parse_verdict(text: str) -> str | None:
    """A, B or C from a judge reply (the last verdict wins); None when there is no readable verdict.

    Accepted: ``[[A]]``, ``[[ a ]]``, ``[[tie]]``, a JSON object with a ``verdict`` / ``winner``
    field, "Assistant A is better", "it's a tie".
    """
    text = text or ""
    found = _MARKER.findall(text)
    if found:
        return "C" if found[-1].upper() == "TIE" else found[-1].upper()
    for match in reversed(_JSON.findall(text)):
        letter = _letter(match)
        if letter:
            return letter
    phrases = [(m.start(), m.group(1).upper()) for m in _PHRASE.finditer(text)]
    phrases += [(m.start(), "C") for m in _TIE_PHRASE.finditer(text)]
    return max(phrases)[1] if phrases else None


def combine_orders(first: str, second: str) -> tuple[str, bool]:
    """The candidate's results in both orders -> (outcome, swap_consistent); disagreement is unresolved."""
    consistent = first == second
    return (first if consistent else UNRESOLVED), consistent


JudgeFn = Callable[[list[dict]], Answer]


@dataclass
class JudgeOrder:
    """One order's verdict after at most two attempts; ``error_kind`` set when there is none."""

    letter: str | None
    error_kind: str | None = None  # judge_error | judge_truncated | judge_refused | judge_unparseable
    detail: str = ""
    answers: list[Answer] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.answers[-1].text if self.answers else ""


def _attempt(answer: Answer) -> tuple[str | None, str | None, str]:
    if answer.error:
        return None, "judge_error", answer.error
    if answer.finish_reason == "length":
        return None, "judge_truncated", "the judge's reply was cut off at its token limit"
    letter = parse_verdict(answer.text)
    if letter is None and (answer.refusal or looks_like_refusal(answer)):
        return None, "judge_refused", (answer.refusal or answer.text)[:200]
    if letter is None:
        return None, "judge_unparseable", f"no verdict in the judge's reply: {answer.text[:200]!r}"
    return letter, None, ""


def judge_order(messages: list[dict], judge_fn: JudgeFn) -> JudgeOrder:
    """Judge one order; on failure retry once with a strict verdict-only instruction."""
    first = judge_fn(messages)
    letter, kind, _detail = _attempt(first)
    if kind is None:
        return JudgeOrder(letter, answers=[first])
    strict = [{"role": "system", "content": _SYSTEM + " " + _STRICT}, *messages[1:]]
    second = judge_fn(strict)
    letter, kind2, detail2 = _attempt(second)
    if kind2 is None:
        return JudgeOrder(letter, answers=[first, second])
    return JudgeOrder(None, kind2, detail2, [first, second])


_FINAL_NUMBER = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")
_FINAL_CHOICE = re.compile(r"(?:the answer is|answer:)\s*\(?([A-J])\)?(?:[.\s]|$)", re.I)


def reference_from_answer(text: str) -> str | None:
    """A checkable final answer (``#### 42`` or "The answer is (B)") in a recorded baseline answer."""
    number = _FINAL_NUMBER.findall(text or "")
    if number:
        return f"The final answer is {number[-1].replace(',', '')}.\n#### {number[-1].replace(',', '')}"
    choice = _FINAL_CHOICE.findall(text or "")
    if choice:
        return f"The answer is {choice[-1].upper()}."
    return None
