"""Degenerate-output gate per route: near-identical candidate answers to distinct prompts.

A constant answer returned for every prompt fools pairwise judges ("null model" attacks), and cheap
models fall into templates that ignore the prompt. The gate keeps, per route, the candidate's and
the baseline's answers seen so far (as character 4-gram shingle sets) and flags a candidate answer
that is near-identical (Jaccard >= ``SIMILAR``) to the candidate's answers for at least ``REPEATS``
other distinct prompts whose baseline answers differ from each other. A flagged comparison is a loss
before any judge sees it (docs/proof.md "Gates"). Short answers (a letter, a number) are exempt:
identical short answers to different questions are normal.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

__all__ = ["DegenerateGate", "jaccard", "shingles"]

SIMILAR = 0.9
DIFFERENT = 0.6
REPEATS = 2
MIN_CHARS = 40
_KEEP = 200  # most recent answers remembered per route


def shingles(text: str, k: int = 4) -> frozenset[str]:
    compact = re.sub(r"\s+", " ", (text or "").strip().lower())
    if len(compact) <= k:
        return frozenset([compact])
    return frozenset(compact[i:i + k] for i in range(len(compact) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass
class DegenerateGate:
    """Thread-safe memory of one route's answers; :meth:`check` before judging each pair."""

    seen: list[tuple[str, frozenset[str], frozenset[str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, prompt_ref: str, candidate_text: str, baseline_text: str) -> str | None:
        """A failure reason when the candidate answer is degenerate for this route, else None."""
        cand, base = shingles(candidate_text), shingles(baseline_text)
        with self._lock:
            reason = None
            if len((candidate_text or "").strip()) >= MIN_CHARS:
                twins = [(ref, b) for ref, c, b in self.seen
                         if ref != prompt_ref and jaccard(c, cand) >= SIMILAR]
                differing = [ref for ref, b in twins if jaccard(b, base) < DIFFERENT]
                if len(differing) >= REPEATS:
                    reason = (f"degenerate: near-identical to the candidate's answers for {len(differing)} "
                              "other prompts whose baseline answers differ")
            self.seen.append((prompt_ref, cand, base))
            del self.seen[:-_KEEP]
            return reason
