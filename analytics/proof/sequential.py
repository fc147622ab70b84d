"""Sequential decisions on the non-loss rate that stay valid under continuous monitoring.

A comparison's outcome is ``win`` / ``tie`` / ``loss`` for the candidate. The switch decision gates
on the non-loss indicator x = 1 for win or tie (docs/proof.md "The decision"):

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
    "ALL_OUTCOMES",
    "KEEP",
    "LOSS",
    "OUTCOMES",
    "SPRT",
    "SWITCH",
    "TIE",
    "UNDECIDED",
    "UNINFORMATIVE",
    "UNRESOLVED",
    "WIN",
    "EProcess",
    "Params",
    "Tally",
    "alpha_spending",
    "clopper_pearson_lower",
    "e_bh",
    "expected_sample_size",
    "fixed_sample_size",
    "group_alpha",
    "mixture_cs",
    "run_sequence",
    "upper_bound",
]

WIN, TIE, LOSS, UNRESOLVED = "win", "tie", "loss", "unresolved"
OUTCOMES = (WIN, TIE, LOSS)
ALL_OUTCOMES = (WIN, TIE, LOSS, UNRESOLVED)  # unresolved: never counts for the candidate
SWITCH, KEEP, UNDECIDED, UNINFORMATIVE = "switch", "keep", "undecided", "uninformative"


@dataclass(frozen=True)
class Params:
    """The decision's parameters; part of the route version (docs/proof.md "Locked analysis").

    ``max_loss``, ``margin`` and ``max_unresolved`` are the default rule's (``promise``: the
    intersection test of :mod:`tokenproof.analytics.proof.promise`); ``q0`` / ``q1`` are the
    non-loss SPRT's and e-process's (``method`` sprt / eprocess in ``tokenproof verdict``).
    """

    q0: float = 0.85
    q1: float = 0.95
    alpha: float = 0.05
    beta: float = 0.05
    n_min: int = 30
    n_max: int = 600
    max_loss: float = 0.15
    margin: float = 0.05
    max_unresolved: float = 0.2

    def to_dict(self) -> dict:
        return {"q0": self.q0, "q1": self.q1, "alpha": self.alpha, "beta": self.beta, "min_n": self.n_min,
                "max_n": self.n_max, "max_loss": self.max_loss, "margin": self.margin,
                "max_unresolved": self.max_unresolved}

    @classmethod
    def from_dict(cls, raw: dict) -> Params:
        d = cls()
        return cls(q0=raw.get("q0", d.q0), q1=raw.get("q1", d.q1), alpha=raw.get("alpha", d.alpha),
                   beta=raw.get("beta", d.beta), n_min=raw.get("min_n", d.n_min), n_max=raw.get("max_n", d.n_max),
                   max_loss=raw.get("max_loss", d.max_loss), margin=raw.get("margin", d.margin),
                   max_unresolved=raw.get("max_unresolved", d.max_unresolved))

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
        if not 0.0 < self.max_loss < 0.5:
            raise ValueError(f"max_loss must be in (0, 0.5) (got {self.max_loss})")
        if not 0.0 <= self.margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5) (got {self.margin})")
        if not 0.0 <= self.max_unresolved < 1.0:
            raise ValueError(f"max_unresolved must be in [0, 1) (got {self.max_unresolved})")

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
    unresolved: int = 0

    def add(self, outcome: str) -> None:
        if outcome == UNRESOLVED:
            self.unresolved += 1
        elif outcome == WIN:
            self.wins += 1
        elif outcome == TIE:
            self.ties += 1
        elif outcome == LOSS:
            self.losses += 1
        else:
            raise ValueError(f"outcome must be one of {ALL_OUTCOMES}, got {outcome!r}")

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses + self.unresolved

    @property
    def non_losses(self) -> int:
        return self.wins + self.ties

    def non_loss_rate(self) -> float | None:
        return self.non_losses / self.n if self.n else None

    def tie_adjusted_win_rate(self) -> float | None:
        """(wins + ties / 2) / n (unresolved count 0): 0.5 means "matches", above "beats" the baseline."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else None

    def summary(self, confidence: float = 0.95) -> dict:
        """Counts, rates and the anytime-valid lower bound on the non-loss rate."""
        return {
            "wins": self.wins, "ties": self.ties, "losses": self.losses, "unresolved": self.unresolved,
            "non_loss_rate": _round(self.non_loss_rate()),
            "tie_adjusted_win_rate": _round(self.tie_adjusted_win_rate()),
            "non_loss_lower_bound": _round(1.0 - upper_bound(self.n - self.non_losses, self.n, 1.0 - confidence))
            if self.n else None,
            "lower_bound_confidence": confidence,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _log_mixture_martingale(s: int, f: int, p: float) -> float:
    """log of the two-sided Beta(1,1) mixture martingale at p: B(s+1, f+1) / (p^s (1-p)^f)."""
    if p <= 0.0 or p >= 1.0:
        return math.inf
    return special.betaln(s + 1.0, f + 1.0) - (s * math.log(p) + f * math.log1p(-p))

def mixture_cs(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Time-uniform (1 - alpha) confidence sequence for a proportion after k successes in n.

    The set {p : mixture martingale at p < 1/alpha} (Robbins' beta-binomial mixture, Ville's
    inequality): valid at any stopping time, unlike a Clopper-Pearson interval taken at the stop.
    """
    if n <= 0:
        return 0.0, 1.0
    limit = math.log(1.0 / alpha)
    centre = k / n

    def inside(p: float) -> bool:
        return _log_mixture_martingale(k, n - k, p) < limit

    def edge(outside: float, inner: float) -> float:
        for _ in range(60):
            mid = 0.5 * (outside + inner)
            if inside(mid):
                inner = mid
            else:
                outside = mid
        return inner

    inner = min(max(centre, 1e-12), 1 - 1e-12)
    low = 0.0 if inside(1e-12) else edge(0.0, inner)
    high = 1.0 if inside(1 - 1e-12) else edge(1.0, inner)
    return low, high



def _log_e_below(bad: int, good: int, bar: float) -> float:
    """log e-value against "bad rate >= bar" (the loss test's mixture, alternatives over [0, bar))."""
    return _log_mixture(bad, good, 0.0, bar) - (bad * math.log(bar) + good * math.log1p(-bar))


def upper_bound(bad: int, n: int, alpha: float) -> float:
    """Anytime-valid upper confidence bound on the bad rate: the smallest bar the loss test rejects.

    The bars not rejected form a confidence sequence (each bar's e-process crosses 1/alpha with
    probability at most alpha when it is the truth), so the bound holds at any stopping time and
    agrees with the decision: a switch on the loss test means the bound is below ``max_loss``.
    """
    if n <= 0:
        return 1.0
    limit = math.log(1.0 / alpha)
    lo, hi = bad / n, 1.0 - 1e-9
    if _log_e_below(bad, n - bad, hi) < limit:
        return 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if mid <= 0.0 or _log_e_below(bad, n - bad, mid) < limit:
            lo = mid
        else:
            hi = mid
    return hi


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
        self.llr += p.step_nonloss if outcome in (WIN, TIE) else p.step_loss  # unresolved counts as a loss
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
        s, f = self.tally.non_losses, self.tally.losses + self.tally.unresolved
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


def group_alpha(alpha: float, version: int) -> float:
    """Alpha of the ``version``-th test (1, 2, ...) of one request group: alpha * 6 / (pi^2 k^2).

    The series sums to alpha, so all versions and candidates of a group together keep the
    false-switch rate at or below alpha however often the analysis is restarted.
    """
    return alpha * 6.0 / (math.pi ** 2 * max(1, version) ** 2)


def alpha_spending(m: int, alpha: float) -> float:
    """Per-route alpha under Bonferroni spending (family-wise false-switch rate <= alpha)."""
    return alpha / max(1, m)
