"""Judge mode: pairwise verdicts decided from the recorded ground truth (contract: JUDGE.md).

A user message holding both ``[The Start of Assistant A's Answer]`` ... ``[The End of Assistant
A's Answer]`` and the same for B is a judge prompt, whatever the model name. Each answer gets a
quality in [0, 1]:
1. a recorded GSM8K / MT-bench answer (normalised text): its label (correct 1/0, GPT-4 grade/10);
   a provider fallback answer: the label of the record it replays;
2. else, for a recorded MMLU question: 1/0 by whether the option letter named matches the key;
3. else, when a reference is known (the prompt's reference block, or the gold answer of the
   recorded question): 1/0 by whether the final numbers match;
4. else unknown.
Higher quality wins; equal (or within ``judge_close_margin``) or unknown is a tie ``[[C]]``.
Options ``judge_position_bias`` and ``judge_noise`` add seeded, per-prompt deterministic bias.
"""

from __future__ import annotations

import re

from tokenproof_devkit.provider.corpus import LETTERS, get_corpus
from tokenproof_devkit.provider.fallback import fallback_record, strip_fallback
from tokenproof_devkit.provider.options import ProviderOptions
from tokenproof_devkit.provider.text import final_number, stable_unit

START_A = "[The Start of Assistant A's Answer]"
END_A = "[The End of Assistant A's Answer]"
START_B = "[The Start of Assistant B's Answer]"
END_B = "[The End of Assistant B's Answer]"
START_REF = "[The Start of Reference Answer]"
END_REF = "[The End of Reference Answer]"
QUESTION = "[User Question]"
_LETTER = re.compile(r"\b(?:answer|option)\s*(?:is|:)?\s*\(?([ABCD])\b|^\(?([ABCD])[).:]?(?:\s|$)", re.I | re.M)


def is_judge_prompt(text: str) -> bool:
    return bool(text) and START_A in text and START_B in text


def _between(text: str, start: str, end: str) -> str | None:
    i = text.find(start)
    if i < 0:
        return None
    i += len(start)
    j = text.find(end, i)
    return (text[i:j] if j >= 0 else text[i:]).strip()


def parse(text: str) -> dict:
    """Question, answer A, answer B and reference (None when absent) of a judge prompt."""
    question = None
    q = text.find(QUESTION)
    if q >= 0:
        stop = min(i for i in (text.find(START_A, q), text.find(START_REF, q), len(text)) if i >= 0)
        question = text[q + len(QUESTION):stop].strip()
    return {
        "question": question,
        "a": _between(text, START_A, END_A) or "",
        "b": _between(text, START_B, END_B) or "",
        "reference": _between(text, START_REF, END_REF),
    }


def _letter(answer: str) -> str | None:
    match = _LETTER.search(answer)
    return (match.group(1) or match.group(2)).upper() if match else None


def quality(answer: str, question: str | None, reference: str | None) -> tuple[float | None, str]:
    """Quality in [0, 1] of one answer and how it was decided."""
    corpus = get_corpus()
    match = corpus.find_answer(answer)
    if match is not None:
        return match.label, f"recorded answer of {match.record.id}"
    replayed = fallback_record(answer)
    if replayed is not None:
        inner = corpus.find_answer(strip_fallback(answer))
        if inner is not None:
            return inner.label, f"replayed answer of {replayed.id}"
    record = corpus.find_prompt(question) if question else None
    if record is not None and record.dataset == "mmlu":
        letter = _letter(answer)
        if letter in LETTERS:
            return float(letter == record.key_letter), f"option {letter} for {record.id}"
    gold = reference or (record.reference if record is not None else None)
    if gold:
        want, got = final_number(gold), final_number(answer)
        if want is not None and got is not None:
            return float(want == got), f"final number {got} vs reference {want}"
    return None, "not in the recorded corpus"


def decide(text: str, options: ProviderOptions) -> tuple[str, str]:
    """(verdict letter A/B/C, explanation) for a judge prompt."""
    parts = parse(text)
    qa, how_a = quality(parts["a"], parts["question"], parts["reference"])
    qb, how_b = quality(parts["b"], parts["question"], parts["reference"])
    if qa is None or qb is None:
        verdict, close = "C", True
    elif abs(qa - qb) <= options.judge_close_margin:
        verdict, close = ("C" if qa == qb else ("A" if qa > qb else "B")), True
    else:
        verdict, close = ("A" if qa > qb else "B"), False
    reason = f"Assistant A: {how_a}, quality {qa}. Assistant B: {how_b}, quality {qb}."
    seed = str(options.seed)
    if close and options.judge_position_bias > 0 and stable_unit("bias", seed, text) < options.judge_position_bias:
        verdict, reason = "A", reason + " Close call; preferring the first answer."
    if options.judge_noise > 0 and stable_unit("noise", seed, text) < options.judge_noise:
        verdict = "ABC"[int(stable_unit("noise-pick", seed, text) * 3)]
        reason += " (noisy judgement)"
    return verdict, reason


def verdict_text(text: str, options: ProviderOptions) -> str:
    verdict, reason = decide(text, options)
    summary = {"A": "Assistant A's answer is better.", "B": "Assistant B's answer is better.",
               "C": "The two answers are equally good."}[verdict]
    return f"{reason} {summary}\n\n[[{verdict}]]"
