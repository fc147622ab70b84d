"""The default switch decision: two anytime-valid tests that together say what "switch" means.

Every comparison ends as ``win``, ``tie``, ``loss`` or ``unresolved`` for the candidate (docs/proof.md
"The decision"). The switch rule is the intersection of two tests, each at level alpha:

- **Loss test** on the bad indicator (loss *or unresolved*): H0 "bad rate >= max_loss" is rejected by
  Robbins' beta-binomial mixture e-process (alternatives uniform over [0, max_loss)).
- **Preference test** on the tie-adjusted score (win 1, tie 1/2, loss 0, unresolved 0): H0 "mean
  score <= 1/2 - margin" is rejected by a betting e-process (Waudby-Smith and Ramdas 2024): the
  capital prod(1 + lambda_t (s_t - m0)) with a predictable bet lambda_t >= 0.

Switch only when both e-values reach 1/alpha (intersection-union: the whole rule is level alpha).
Keep when either mirrored test shows the promise broken at level beta (the bad rate is above the
bar, or the score below it). Uninformative when, after ``n_min``, more than ``max_unresolved`` of the
comparisons are unresolved. Undecided at ``n_max``.

Reported beside the decision: time-uniform confidence sequences (the beta-binomial mixture's own),
never a fixed-n interval computed at the stopping time.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field

from tokenproof.analytics.proof.sequential import (
    KEEP,
    SWITCH,
    TIE,
    UNDECIDED,
    UNINFORMATIVE,
    WIN,
    Params,
    Tally,
    _log_e_below,
    _log_mixture,
    mixture_cs,
    upper_bound,
)

__all__ = ["PromiseTest", "expected_comparisons", "meaning", "score_of"]

# a candidate that matches the baseline: mostly ties, as many wins as losses
MATCHING = (0.05, 0.90, 0.05, 0.0)


def score_of(outcome: str) -> float:
    """Tie-adjusted score of one outcome: unresolved never counts for the candidate."""
    return 1.0 if outcome == WIN else 0.5 if outcome == TIE else 0.0


@dataclass
class _Betting:
    """Predictable-bet capital process for H0: mean <= m0 (``side`` +1) or mean >= m0 (-1)."""

    m0: float
    side: int = 1
    log_capital: float = 0.0
    total: float = 0.0
    total_sq: float = 0.0
    n: int = 0

    def update(self, x: float) -> None:
        mean = (0.5 + self.total) / (self.n + 1)
        var = max(1e-4, (0.25 + self.total_sq) / (self.n + 1) - mean * mean)
        edge = self.side * (mean - self.m0)
        cap = 0.5 / (self.m0 if self.side > 0 else 1.0 - self.m0)
        bet = min(cap, max(0.0, edge / (var + edge * edge)))  # aGRAPA-style, never against H1
        self.log_capital += math.log1p(bet * self.side * (x - self.m0))
        self.total += x
        self.total_sq += x * x
        self.n += 1


@dataclass
class PromiseTest:
    """The intersection test; feed outcomes with :meth:`update` (same interface as the SPRT)."""

    params: Params = field(default_factory=Params)
    alpha: float | None = None  # the alpha actually spent (after group and portfolio spending)
    tally: Tally = field(default_factory=Tally)
    decision: str | None = None
    trajectory: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        m0 = 0.5 - self.params.margin
        self._pref = _Betting(m0, +1)
        self._pref_keep = _Betting(m0, -1)
        if self.alpha is None:
            self.alpha = self.params.alpha

    # e-values -----------------------------------------------------------------------------------
    @property
    def bad(self) -> int:
        return self.tally.losses + self.tally.unresolved

    def _log_e_loss(self) -> float:
        return _log_e_below(self.bad, self.tally.n - self.bad, self.params.max_loss)

    def _log_e_loss_keep(self) -> float:
        bar, bad, good = self.params.max_loss, self.bad, self.tally.n - self.bad
        return _log_mixture(bad, good, bar, 1.0) - (bad * math.log(bar) + good * math.log1p(-bar))

    @property
    def log_e_value(self) -> float:
        """log of min(E_loss, E_preference): an e-value for "the promise fails" (either null)."""
        return min(self._log_e_loss(), self._pref.log_capital)

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e_value, 700.0))

    def unresolved_share(self) -> float:
        return self.tally.unresolved / self.tally.n if self.tally.n else 0.0

    def update(self, outcome: str) -> str | None:
        if self.decision is not None:
            raise RuntimeError(f"the test already decided {self.decision!r}")
        self.tally.add(outcome)
        score = score_of(outcome)
        self._pref.update(score)
        self._pref_keep.update(score)
        p = self.params
        assert self.alpha is not None
        self.trajectory.append(round(self.log_e_value, 4))
        n = self.tally.n
        if n < p.n_min:
            return None
        if self.unresolved_share() > p.max_unresolved:
            self.decision = UNINFORMATIVE
        elif self.log_e_value >= math.log(1.0 / self.alpha):
            self.decision = SWITCH
        elif max(self._log_e_loss_keep(), self._pref_keep.log_capital) >= math.log(1.0 / p.beta):
            self.decision = KEEP
        elif n >= p.n_max:
            self.decision = UNDECIDED
        return self.decision

    def state(self) -> dict:
        p = self.params
        assert self.alpha is not None
        n = self.tally.n
        bad_low, _ = mixture_cs(self.bad, n, self.alpha)
        bad_high = upper_bound(self.bad, n, self.alpha)
        return {
            "method": "promise", "decision": self.decision or UNDECIDED, "n": n,
            **self.tally.summary(),
            "unresolved_share": round(self.unresolved_share(), 4) if n else None,
            "loss_or_unresolved_rate": round(self.bad / n, 4) if n else None,
            "loss_rate_upper_bound": round(bad_high, 4) if n else None,
            "loss_rate_lower_bound": round(bad_low, 4) if n else None,
            "non_loss_lower_bound": round(1.0 - bad_high, 4) if n else None,
            "bound_kind": "confidence sequence (beta-binomial mixture, valid at any stopping time)",
            "lower_bound_confidence": round(1 - self.alpha, 6),
            "e_value": round(self.e_value, 4), "e_value_loss": round(math.exp(min(self._log_e_loss(), 700)), 4),
            "e_value_preference": round(math.exp(min(self._pref.log_capital, 700)), 4),
            "switch_threshold_e": round(1.0 / self.alpha, 4), "alpha_spent": self.alpha,
            "max_loss": p.max_loss, "margin": p.margin, "max_unresolved": p.max_unresolved,
        }


def meaning(params: Params | None = None, alpha: float | None = None) -> str:
    """The one plain sentence of what SWITCH means under these parameters."""
    p = params or Params()
    level = f"{round(100 * (1 - (alpha if alpha is not None else p.alpha)), 1):g}%"
    return (f"SWITCH means: on this group's prompts, at {level} confidence, the candidate loses "
            f"(or the judge cannot settle the pair) on fewer than {p.max_loss:.0%} of requests, and "
            f"its tie-adjusted win rate against the baseline is above {0.5 - p.margin:.0%} "
            f"(it wins about as often as it loses).")



@functools.lru_cache(maxsize=32)
def expected_comparisons(params: Params | None = None, alpha: float | None = None,
                         probs: tuple[float, float, float, float] = MATCHING, runs: int = 100,
                         seed: int = 0) -> tuple[float, int]:
    """(mean, 90th percentile) comparisons to a decision, by simulating the test on i.i.d. outcomes
    drawn with ``probs`` = (win, tie, loss, unresolved); used instead of Wald's approximation."""
    p = params or Params()
    rng = random.Random(seed)
    outcomes = (WIN, TIE, "loss", "unresolved")
    ns = []
    for _ in range(runs):
        test = PromiseTest(p, alpha)
        while test.decision is None:
            test.update(rng.choices(outcomes, probs)[0])
        ns.append(test.tally.n)
    ns.sort()
    return sum(ns) / len(ns), ns[min(len(ns) - 1, int(0.9 * len(ns)))]
