"""The route's real prompts split once into optimise / select / held-out sets (docs/optimize.md "Split").

Each distinct prompt (by content: :func:`~tokenproof.analytics.proof.pipeline.prompt_ref`) draws a
number in [0, 1) from ``sha256(seed, prompt_ref)``; the number alone decides its set. So the split is
reproducible from the logged seed, a prompt never moves from one set to another when more prompts
arrive, and the three sets are disjoint by construction. Duplicates by content are dropped before
anything is drawn. Size caps keep the prompts with the smallest numbers (a cap drops, never moves).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tokenproof.analytics.proof.pipeline import prompt_ref

__all__ = ["HELD_OUT", "OPTIMISE", "SELECT", "Split", "lock_split"]

OPTIMISE, SELECT, HELD_OUT = "optimise", "select", "held_out"


def _draw(seed: int, ref: str) -> float:
    digest = hashlib.sha256(f"tokenproof-optimize:{seed}:{ref}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


@dataclass
class Split:
    """The three sets of prompts (dicts with ``ref``, ``body``, ``output``, ...) and how they were drawn."""

    seed: int
    fractions: tuple[float, float, float]
    optimise: list[dict] = field(default_factory=list)
    select: list[dict] = field(default_factory=list)
    held_out: list[dict] = field(default_factory=list)
    duplicates_dropped: int = 0
    capped: int = 0

    def refs(self, name: str) -> list[str]:
        return [prompt_ref(p["body"]) for p in getattr(self, name)]

    def split_id(self) -> str:
        """A hash of the seed and the three sets' members: two runs on the same split share it."""
        text = "|".join([str(self.seed)] + [",".join(sorted(self.refs(n))) for n in (OPTIMISE, SELECT, HELD_OUT)])
        return "s_" + hashlib.sha256(text.encode()).hexdigest()[:16]

    def summary(self) -> dict:
        return {"seed": self.seed, "fractions": list(self.fractions), "split_id": self.split_id(),
                "sizes": {n: len(getattr(self, n)) for n in (OPTIMISE, SELECT, HELD_OUT)},
                "duplicates_dropped": self.duplicates_dropped, "capped": self.capped,
                "refs": {n: self.refs(n) for n in (OPTIMISE, SELECT, HELD_OUT)}}


def lock_split(prompts: list[dict], seed: int, fractions: tuple[float, float, float] = (0.3, 0.2, 0.5),
               caps: tuple[int | None, int | None, int | None] = (None, None, None)) -> Split:
    """Split ``prompts`` by content hash with ``seed``; ``fractions`` of (optimise, select, held-out)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError("fractions must be three non-negative shares of optimise, select, held-out summing to 1")
    split = Split(seed=seed, fractions=(float(fractions[0]), float(fractions[1]), float(fractions[2])))
    seen: set[str] = set()
    drawn: dict[str, list[tuple[float, dict]]] = {OPTIMISE: [], SELECT: [], HELD_OUT: []}
    for prompt in prompts:
        ref = prompt_ref(prompt["body"])
        if ref in seen:
            split.duplicates_dropped += 1
            continue
        seen.add(ref)
        u = _draw(seed, ref)
        name = OPTIMISE if u < fractions[0] else SELECT if u < fractions[0] + fractions[1] else HELD_OUT
        drawn[name].append((u, prompt))
    for name, cap in zip((OPTIMISE, SELECT, HELD_OUT), caps, strict=True):
        ordered = [p for _u, p in sorted(drawn[name], key=lambda item: item[0])]
        if cap is not None and len(ordered) > cap:
            split.capped += len(ordered) - cap
            ordered = ordered[:cap]
        setattr(split, name, ordered)
    return split
