"""Length-controlled win rate, the AlpacaEval 2 way (docs/proof.md "Judge").

Fit P(candidate preferred) = sigmoid(theta0 + theta1 * tanh(d / sd(d))) where d is the candidate's
length minus the baseline's, by penalised maximum likelihood (a tiny ridge keeps it finite when the
preferences separate); ties enter as half a win and half a loss. The length-controlled win rate is
the prediction at zero length difference, sigmoid(theta0). When it differs from the raw win rate by
more than ``LENGTH_FLAG_GAP`` the route is flagged: length explains part of the verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LENGTH_FLAG_GAP", "LengthControl", "length_controlled"]

LENGTH_FLAG_GAP = 0.10
_RIDGE = 1e-3


@dataclass(frozen=True)
class LengthControl:
    n: int
    raw_win_rate: float | None  # (wins + ties / 2) / n over judged pairs
    lc_win_rate: float | None
    length_coefficient: float | None
    mean_length_ratio: float | None  # mean candidate length / baseline length
    length_explains_verdicts: bool

    def to_dict(self) -> dict:
        def r(v):
            return None if v is None else round(v, 4)
        return {"n": self.n, "raw_win_rate": r(self.raw_win_rate), "lc_win_rate": r(self.lc_win_rate),
                "length_coefficient": r(self.length_coefficient),
                "mean_length_ratio": r(self.mean_length_ratio),
                "length_explains_verdicts": self.length_explains_verdicts}


def _fit(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    X = np.column_stack([np.ones_like(z), z])
    theta = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (w * (y - p)) - _RIDGE * theta
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + _RIDGE * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta


def length_controlled(preferences: Sequence[float], candidate_lengths: Sequence[int],
                      baseline_lengths: Sequence[int]) -> LengthControl:
    """``preferences``: 1 candidate preferred, 0.5 tie, 0 baseline preferred (one per judged pair)."""
    pref = np.asarray(preferences, dtype=float)
    cand = np.asarray(candidate_lengths, dtype=float)
    base = np.asarray(baseline_lengths, dtype=float)
    n = len(pref)
    if n == 0:
        return LengthControl(0, None, None, None, None, False)
    raw = float(pref.mean())
    ratios = cand / np.maximum(base, 1.0)
    mean_ratio = float(ratios.mean())
    d = cand - base
    sd = float(d.std())
    if n < 5 or sd == 0.0:
        return LengthControl(n, raw, raw, 0.0, mean_ratio, False)
    z = np.tanh(d / sd)
    # each pair contributes a "preferred" row with weight pref and a "not preferred" row with 1 - pref
    zz = np.concatenate([z, z])
    yy = np.concatenate([np.ones(n), np.zeros(n)])
    ww = np.concatenate([pref, 1.0 - pref])
    theta = _fit(zz, yy, ww)
    lc = 1.0 / (1.0 + math.exp(-theta[0]))
    return LengthControl(n, raw, lc, float(theta[1]), mean_ratio, abs(lc - raw) > LENGTH_FLAG_GAP)
