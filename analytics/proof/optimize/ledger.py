"""The optimisation's spend and its budget: tokens always, USD where priced, unpriced calls counted.

Every call the optimiser makes (candidate replays, judge calls, proposals, a baseline replayed when
no recorded answer exists) goes through :class:`MeteredReplayer`, which calls the proof engine's
:class:`~tokenproof.analytics.proof.replay.Replayer`: replays and proposals run under the ``shadow``
traffic class, judge calls under ``judge``, so attribution shows them as experiment spend and never
as product spend (docs/optimize.md "Spend"). An unpriced call adds its tokens and one to
``unpriced_calls``, never $0.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tokenproof import semconv
from tokenproof.analytics.proof.answer import Answer
from tokenproof.analytics.proof.judge import judge_sampling

__all__ = ["Budget", "Ledger", "MeteredReplayer"]


@dataclass
class Budget:
    """Caps on the search's spend; None = no cap on that measure."""

    tokens: int | None = None
    usd: float | None = None


@dataclass
class Ledger:
    budget: Budget = field(default_factory=Budget)
    tokens: int = 0
    usd: float = 0.0
    unpriced_calls: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    tokens_by_kind: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, answer: Answer) -> None:
        used = answer.input_tokens + answer.output_tokens
        with self._lock:
            self.calls[kind] = self.calls.get(kind, 0) + 1
            self.tokens += used
            self.tokens_by_kind[kind] = self.tokens_by_kind.get(kind, 0) + used
            if answer.cost_usd is None:
                if used or answer.error is None:
                    self.unpriced_calls += 1
            else:
                self.usd += answer.cost_usd

    def exhausted(self) -> str | None:
        """Why the budget is spent (a sentence), or None."""
        if self.budget.tokens is not None and self.tokens >= self.budget.tokens:
            return f"token budget exhausted ({self.tokens} of {self.budget.tokens} tokens)"
        if self.budget.usd is not None and self.usd >= self.budget.usd:
            return f"USD budget exhausted (${self.usd:.4f} of ${self.budget.usd:.4f}, priced calls only)"
        return None

    def snapshot(self) -> dict:
        with self._lock:
            return {"tokens": self.tokens, "usd_priced": round(self.usd, 6), "unpriced_calls": self.unpriced_calls,
                    "calls": dict(self.calls), "tokens_by_kind": dict(self.tokens_by_kind),
                    "budget": {"tokens": self.budget.tokens, "usd": self.budget.usd},
                    "usd_note": ("USD counts priced calls only; unpriced calls are counted apart, never as $0"
                                 if self.unpriced_calls else "")}


class MeteredReplayer:
    """A :class:`Replayer` whose every call is written to a :class:`Ledger` (same interface)."""

    def __init__(self, replayer, ledger: Ledger):
        self.replayer = replayer
        self.ledger = ledger

    def call(self, body: dict, model: str, traffic_class: str = semconv.TRAFFIC_SHADOW,
             feature: str | None = None, kind: str = "candidate") -> Answer:
        answer = self.replayer.call(body, model, traffic_class=traffic_class, feature=feature)
        self.ledger.add(kind, answer)
        return answer

    def judge(self, model: str, feature: str | None = None):
        sampling = judge_sampling(model)

        def run(messages: list[dict]) -> Answer:
            return self.call({"messages": messages, **sampling}, model, traffic_class=semconv.TRAFFIC_JUDGE,
                             feature=feature, kind="judge")
        return run
