"""Fallback answers: what the provider replays for a prompt it has no recording of.

A fallback is a stable pick (hash of the prompt) among the recorded GSM8K / MT-bench answers,
introduced by a first line ``[tokenproof replay of <record id>: no recorded answer for this
prompt]`` so it is clearly a fallback. Both the answer chooser (``answers.py``) and judge mode
(``judge.py``, which scores a replayed answer by the record it replays) read this module.
"""

from __future__ import annotations

import re

from tokenproof_devkit.provider.corpus import Record, get_corpus
from tokenproof_devkit.provider.text import stable_int

FALLBACK_PREFIX = "[tokenproof replay of "
_FALLBACK_LINE = re.compile(r"^\[tokenproof replay of ([\w:.\-]+): no recorded answer for this prompt\]\n\n")


def fallback_pool() -> list[Record]:
    """The records fallbacks are picked from (computed once per corpus)."""
    corpus = get_corpus()
    pool = getattr(corpus, "_fallback_pool", None)
    if pool is None:
        pool = [r for r in corpus.records if r.dataset == "gsm8k" or (r.dataset == "mt_bench" and r.turn == 0)]
        corpus._fallback_pool = pool
    return pool


def pick_fallback(prompt: str) -> Record:
    """The record whose answer is replayed for a prompt with no recording (stable per prompt)."""
    pool = fallback_pool()
    return pool[stable_int("fallback", prompt) % len(pool)]


def fallback_text(record: Record, answer: str) -> str:
    """A fallback answer: the marker line naming ``record``, then the replayed ``answer``."""
    return f"{FALLBACK_PREFIX}{record.id}: no recorded answer for this prompt]\n\n{answer}"


def fallback_record(text: str) -> Record | None:
    """The record a fallback answer replays (from its first line), else None."""
    match = _FALLBACK_LINE.match(text.lstrip())
    if not match:
        return None
    for record in fallback_pool():
        if record.id == match.group(1):
            return record
    return None


def strip_fallback(text: str) -> str:
    """The replayed answer without the fallback marker line."""
    return _FALLBACK_LINE.sub("", text.lstrip(), count=1)
