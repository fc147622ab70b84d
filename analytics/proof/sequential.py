"""Sequential decisions on the non-loss rate that stay valid under continuous monitoring.

A comparison's outcome is ``win`` / ``tie`` / ``loss`` for the candidate. The switch decision gates
on the non-loss indicator x = 1 for win or tie (proof-procedure.md section 4):

- :class:`SPRT` - Wald's sequential probability ratio test of H0: q = q0 against H1: q = q1. Switch
  when the log-likelihood ratio reaches ln((1 - beta) / alpha), keep the baseline when it falls to
  ln(beta / (1 - alpha)); no decision before ``n_min``; "undecided" at the cap ``n_max``.
- :class:`EProcess` - Robbins' beta-binomial mixture (uniform prior over q in (q0, 1]); switch when
  the e-value reaches 1 / alpha (Ville's inequality), keep when the mirrored e-value against
  q >= q1 (prior over [0, q1)) reaches 1 / beta. No q1 to choose for the switch side.
- Reporting beside the decision: the tie-adjusted win rate and a one-sided Clopper-Pearson lower
  bound on the non-loss rate (scipy's ``binomtest``).
- Portfolio control across many routes: e-BH over per-route e-values (exp of the SPRT log-likelihood
  ratio and the mixture e-value are both e-values under H0) and Bonferroni alpha spending.

Pure Python plus scipy; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scipy import special, stats

__all__ = [
    "KEEP",
    "LOSS",
    "OUTCOMES",
    "SPRT",
    "SWITCH",
    "TIE",
    "UNDECIDED",
    "UNINFORMATIVE",
    "WIN",
    "EProcess",
    "Params",
    "Tally",
    "alpha_spending",
    "clopper_pearson_lower",
    "e_bh",
    "expected_sample_size",
    "fixed_sample_size",
    "run_sequence",
]

WIN, TIE, LOSS = "win", "tie", "loss"
OUTCOMES = (WIN, TIE, LOSS)
SWITCH, KEEP, UNDECIDED, UNINFORMATIVE = "switch", "keep", "undecided", "uninformative"


@dataclass(frozen=True)
class Params:
    """The decision's parameters (defaults from the proof procedure)."""

    q0: float = 0.85
    q1: float = 0.95
    alpha: float = 0.05
    beta: float = 0.05
    n_min: int = 30
    n_max: int = 400

    def __post_init__(self) -> None:
        if not 0.0 < self.q0 < self.q1 < 1.0:
            raise ValueError(f"need 0 < q0 < q1 < 1 (got q0={self.q0}, q1={self.q1})")
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not 0.0 < value < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5) (got {value})")
        if self.n_min < 1:
            raise ValueError(f"n_min must be at least 1 (got {self.n_min})")
        if self.n_max < self.n_min:
            raise ValueError(f"n_max ({self.n_max}) must be at least n_min ({self.n_min})")

    @property
    def upper(self) -> float:
        """Switch boundary on the log-likelihood ratio."""
        return math.log((1.0 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        """Keep-the-baseline boundary on the log-likelihood ratio."""
        return math.log(self.beta / (1.0 - self.alpha))

    @property
    def step_nonloss(self) -> float:
        return math.log(self.q1 / self.q0)

    @property
    def step_loss(self) -> float:
        return math.log((1.0 - self.q1) / (1.0 - self.q0))


@dataclass
class Tally:
    """Counts of outcomes and the figures reported beside any decision."""

    wins: int = 0
    ties: int = 0
    losses: int = 0

    def add(self, outcome: str) -> None:
        if outcome == WIN:
            self.wins += 1
        elif outcome == TIE:
            self.ties += 1
        elif outcome == LOSS:
            self.losses += 1
        else:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def non_losses(self) -> int:
        return self.wins + self.ties

    def non_loss_rate(self) -> float | None:
        return self.non_losses / self.n if self.n else None

    def tie_adjusted_win_rate(self) -> float | None:
        """(wins + ties / 2) / n: 0.5 means "matches", above 0.5 "beats" the baseline."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else None

    def summary(self, confidence: float = 0.95) -> dict:
        return {
            "wins": self.wins, "ties": self.ties, "losses": self.losses,
            "non_loss_rate": _round(self.non_loss_rate()),
            "tie_adjusted_win_rate": _round(self.tie_adjusted_win_rate()),
            "non_loss_lower_bound": _round(clopper_pearson_lower(self.non_losses, self.n, confidence)),
            "lower_bound_confidence": confidence,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def clopper_pearson_lower(k: int, n: int, confidence: float = 0.95) -> float | None:
    """One-sided Clopper-Pearson lower bound on a proportion (k successes in n)."""
    if n <= 0:
        return None
    ci = stats.binomtest(k, n, alternative="greater").proportion_ci(confidence_level=confidence,
                                                                      method="exact")
    return float(ci.low)


def _decide(n: int, p: Params, switch: bool, keep: bool) -> str | None:
    """The decision after n comparisons: none before n_min, undecided at the cap."""
    if n >= p.n_min:
        if switch:
            return SWITCH
        if keep:
            return KEEP
    return UNDECIDED if n >= p.n_max else None


@dataclass
class SPRT:
    """Wald's SPRT on the non-loss indicator; feed outcomes with :meth:`update`."""

    params: Params = field(default_factory=Params)
    llr: float = 0.0
    tally: Tally = field(default_factory=Tally)
    decision: str | None = None
    trajectory: list[float] = field(default_factory=list)

    def update(self, outcome: str) -> str | None:
        """Add one outcome; return the decision once taken (later outcomes are refused)."""
        if self.decision is not None:
            raise RuntimeError(f"the test already decided {self.decision!r}")
        self.tally.add(outcome)
        p = self.params
        self.llr += p.step_nonloss if outcome != LOSS else p.step_loss
        self.trajectory.append(self.llr)
        self.decision = _decide(self.tally.n, p, self.llr >= p.upper, self.llr <= p.lower)
        return self.decision

    @property
    def e_value(self) -> float:
        """exp(LLR): a nonnegative supermartingale under any q <= q0, so an e-value."""
        return math.exp(min(self.llr, 700.0))

    def state(self) -> dict:
        p = self.params
        return {
            "method": "sprt", "decision": self.decision or UNDECIDED, "n": self.tally.n,
            **self.tally.summary(1.0 - p.alpha),
            "log_likelihood_ratio": round(self.llr, 4),
            "switch_threshold": round(p.upper, 4), "keep_threshold": round(p.lower, 4),
            "e_value": round(self.e_value, 4),
        }


def _log_mixture(s: int, f: int, lo: float, hi: float) -> float:
    """log of the average over q ~ Uniform(lo, hi) of q^s (1 - q)^f."""
    # integral of q^s (1-q)^f dq from lo to hi = B(s+1, f+1) * (I_hi - I_lo)
    a, b = s + 1.0, f + 1.0
    mass = special.betainc(a, b, hi) - special.betainc(a, b, lo)
    if mass <= 0.0:
        # numerically empty (all the likelihood lies outside [lo, hi]); use a tail bound
        return -math.inf
    return special.betaln(a, b) + math.log(mass) - math.log(hi - lo)


@dataclass
class EProcess:
    """Anytime-valid test by a beta-binomial mixture (switch side: prior over (q0, 1])."""

    params: Params = field(default_factory=Params)
    tally: Tally = field(default_factory=Tally)
    decision: str | None = None
    log_e: float = 0.0
    log_e_keep: float = 0.0

    def update(self, outcome: str) -> str | None:
        if self.decision is not None:
            raise RuntimeError(f"the test already decided {self.decision!r}")
        self.tally.add(outcome)
        p = self.params
        s, f = self.tally.non_losses, self.tally.losses
        # against H0: q <= q0, mixing alternatives q in (q0, 1]
        self.log_e = _log_mixture(s, f, p.q0, 1.0) - (s * math.log(p.q0) + f * math.log1p(-p.q0))
        # against H0': q >= q1, mixing alternatives q in [0, q1)
        self.log_e_keep = _log_mixture(s, f, 0.0, p.q1) - (s * math.log(p.q1) + f * math.log1p(-p.q1))
        self.decision = _decide(self.tally.n, p, self.log_e >= math.log(1.0 / p.alpha),
                                self.log_e_keep >= math.log(1.0 / p.beta))
        return self.decision

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e, 700.0))

    def state(self) -> dict:
        p = self.params
        return {
            "method": "eprocess", "decision": self.decision or UNDECIDED, "n": self.tally.n,
            **self.tally.summary(1.0 - p.alpha),
            "e_value": round(self.e_value, 4), "switch_threshold_e": round(1.0 / p.alpha, 4),
            "keep_e_value": round(math.exp(min(self.log_e_keep, 700.0)), 4),
        }


def run_sequence(outcomes: Iterable[str], params: Params | None = None, method: str = "sprt"):
    """Feed outcomes until a decision; return the test (its ``decision`` may be None if unfinished)."""
    test = (EProcess if method == "eprocess" else SPRT)(params or Params())
    for outcome in outcomes:
        if test.update(outcome) is not None:
            break
    return test


def fixed_sample_size(params: Params | None = None) -> int:
    """Smallest n of a one-shot binomial test of q0 vs q1 with the same alpha and beta (exact)."""
    p = params or Params()
    for n in range(1, 20000):
        # reject H0 when k >= c, c the smallest count with P(K >= c | q0) <= alpha
        c = int(stats.binom.ppf(1.0 - p.alpha, n, p.q0)) + 1
        if c <= n and stats.binom.sf(c - 1, n, p.q1) >= 1.0 - p.beta:
            return n
    raise ValueError("no fixed sample size below 20000 reaches these error rates")


def expected_sample_size(q: float, params: Params | None = None) -> float:
    """Wald's approximation of the SPRT's mean sample size at true non-loss rate q (floored at n_min)."""
    p = params or Params()
    drift = q * p.step_nonloss + (1.0 - q) * p.step_loss
    if abs(drift) < 1e-12:
        asn = -p.upper * p.lower / (p.step_nonloss * -p.step_loss)
    else:
        # operating characteristic at q via Wald's h solving q (q1/q0)^h + (1-q)((1-q1)/(1-q0))^h = 1
        h = _wald_h(q, p)
        ea, eb = math.exp(h * p.upper), math.exp(h * p.lower)
        p_keep = (ea - 1.0) / (ea - eb) if abs(ea - eb) > 1e-12 else 0.5
        asn = (p_keep * p.lower + (1.0 - p_keep) * p.upper) / drift
    return min(float(p.n_max), max(float(p.n_min), asn))


def _wald_h(q: float, p: Params) -> float:
    def g(h: float) -> float:
        return q * math.exp(h * p.step_nonloss) + (1 - q) * math.exp(h * p.step_loss) - 1.0
    lo, hi = (-60.0, -1e-9) if q * p.step_nonloss + (1 - q) * p.step_loss > 0 else (1e-9, 60.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (g(lo) < 0) == (g(mid) < 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def e_bh(e_values: Sequence[float], alpha: float) -> list[bool]:
    """e-BH (Wang and Ramdas): reject the k* largest e-values, k* = max{k : e_(k) >= m / (alpha k)}."""
    m = len(e_values)
    order = sorted(range(m), key=lambda i: -e_values[i])
    k_star = 0
    for rank, index in enumerate(order, start=1):
        if e_values[index] >= m / (alpha * rank):
            k_star = rank
    chosen = set(order[:k_star])
    return [i in chosen for i in range(m)]


def alpha_spending(m: int, alpha: float) -> float:
    """Per-route alpha under Bonferroni spending (family-wise false-switch rate <= alpha)."""
    return alpha / max(1, m)
