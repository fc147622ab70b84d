"""A deterministic reference-guided check, used as the pipeline's judge where answers are checkable.

Where a request's answer ends in a final number (GSM8K-style ``#### 42``, ``Answer: 42``, "the final
answer is 42", LaTeX ``\\boxed{42}``, or a JSON object's ``answer`` field; the last marked number
counts), correctness against the reference needs no LLM call. :func:`reference_check` is a judge function (``messages -> Answer``) for
:meth:`~tokenproof.analytics.proof.pipeline.Pipeline.settle`: it reads the MT-Bench prompt the
pipeline builds (reference block, assistant A, assistant B) and answers ``[[A]]``, ``[[B]]`` or
``[[C]]``, so the pipeline still runs its gates first and still asks in both orders.

Ranking: a final answer equal to the reference beats a wrong one, and a wrong but readable one
beats an answer with no readable final number; equal ranks are a tie, except that two unreadable
answers get no verdict (unresolved). An unreadable answer therefore always counts against the
candidate ("when in doubt, it counts against switching"). Without a readable reference there is no verdict, which the pipeline records as
unresolved (never as a pass). Its calls cost nothing and are not LLM calls (``cost_usd`` 0.0, no tokens).
"""

from __future__ import annotations

import json
import re

from tokenproof.analytics.proof.answer import Answer

__all__ = ["REFERENCE_CHECK", "final_number", "reference_check"]

REFERENCE_CHECK = "reference-check"

_NUM = r"(-?\$?\s*-?[\d,]*\.?\d+)"
_MARKERS = [re.compile(r"####\s*" + _NUM), re.compile(r"\banswer\s*(?:is|:)\s*\**\s*" + _NUM, re.I),
            re.compile(r"\bfinal answer\s*(?:is|:)?\s*\**\s*" + _NUM, re.I),
            re.compile(r"\\boxed\{\s*(?:\\\$)?" + _NUM + r"\s*\}")]
_BLOCK = re.compile(r"\[The Start of (Reference Answer|Assistant A's Answer|Assistant B's Answer)\]\n(.*?)\n"
                    r"\[The End of \1\]", re.S)
_JSON_KEYS = ("answer", "final_answer", "result")


def _number(raw: str) -> float | None:
    cleaned = raw.replace("$", "").replace(",", "").replace(" ", "")
    try:
        return float(cleaned)
    except ValueError:
        return None


def final_number(text: str) -> float | None:
    """The answer's final number, or None when it has none in a readable form (no guessing)."""
    text = (text or "").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            for key in _JSON_KEYS:
                value = data.get(key)
                if isinstance(value, bool):
                    continue
                if isinstance(value, (int, float)):
                    return float(value)
                if isinstance(value, str):
                    return _number(value)
            return None
    marks = [(m.start(), m.group(1)) for marker in _MARKERS for m in marker.finditer(text)]
    return _number(max(marks)[1]) if marks else None  # the last marked number is the final one


def _rank(answer: str, reference: float) -> int:
    value = final_number(answer)
    if value is None:
        return 0
    return 2 if abs(value - reference) <= 1e-6 * max(1.0, abs(reference)) else 1


def reference_check(messages: list[dict]) -> Answer:
    """A verdict on one judge prompt from the pipeline, decided by the final numbers alone."""
    user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    blocks = dict(_BLOCK.findall(user))
    reference = final_number(blocks.get("Reference Answer", ""))
    if reference is None:
        text = "no checkable final answer in the reference: no verdict"
    else:
        a = _rank(blocks.get("Assistant A's Answer", ""), reference)
        b = _rank(blocks.get("Assistant B's Answer", ""), reference)
        if a == b == 0:  # nothing to compare: no verdict (unresolved, which counts against switching)
            return Answer(model=REFERENCE_CHECK, text="neither answer has a readable final number: no verdict",
                          finish_reason="stop", cost_usd=0.0)
        letter = "A" if a > b else "B" if b > a else "C"
        text = f"reference {reference:g}; rank A {a}, rank B {b} (2 right, 1 wrong, 0 unreadable)\n[[{letter}]]"
    return Answer(model=REFERENCE_CHECK, text=text, finish_reason="stop", cost_usd=0.0)
