"""Bernoulli CUSUM: a drift alarm on a 0/1 indicator (losses, format failures, fallbacks).

S_t = max(0, S_{t-1} + w_t) with w = ln(p1/p0) on a 1 and ln((1-p1)/(1-p0)) on a 0; an alarm when
S_t >= h. p0 is the in-control rate, p1 the rate to detect. With p0 = 0.05, p1 = 0.15 and h = 3.5
the in-control run length between false alarms is several hundred observations and a rise to 15%
is caught in a few dozen (docs/routing.md gives the measured figures, bench/bench_routing.py
reproduces them).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["BernoulliCUSUM", "run_length"]


@dataclass
class BernoulliCUSUM:
    p0: float = 0.05
    p1: float = 0.15
    h: float = 3.5
    s: float = 0.0
    n: int = 0
    ones: int = 0
    alarmed_at: int | None = None
    trajectory: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.p0 < self.p1 < 1:
            raise ValueError("need 0 < p0 < p1 < 1")
        if self.h <= 0:
            raise ValueError("h must be > 0")
        self._up = math.log(self.p1 / self.p0)
        self._down = math.log((1 - self.p1) / (1 - self.p0))

    def update(self, one: bool) -> bool:
        """Feed one observation; True when the statistic reaches h (first alarm kept)."""
        self.n += 1
        self.ones += int(one)
        self.s = max(0.0, self.s + (self._up if one else self._down))
        if len(self.trajectory) < 10_000:
            self.trajectory.append(round(self.s, 4))
        if self.s >= self.h and self.alarmed_at is None:
            self.alarmed_at = self.n
        return self.s >= self.h

    @property
    def alarm(self) -> bool:
        return self.alarmed_at is not None

    def state(self) -> dict:
        return {"p0": self.p0, "p1": self.p1, "h": self.h, "s": round(self.s, 4), "n": self.n,
                "ones": self.ones, "alarm": self.alarm, "alarmed_at": self.alarmed_at}


def run_length(p: float, *, p0: float = 0.05, p1: float = 0.15, h: float = 3.5, runs: int = 2000,
               seed: int = 0, cap: int = 100_000) -> list[int]:
    """Observations until the first alarm when the true rate is ``p`` (simulated, ``runs`` times)."""
    rng = random.Random(seed)
    up, down = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    lengths = []
    for _ in range(runs):
        s, n = 0.0, 0
        while n < cap:
            n += 1
            s = max(0.0, s + (up if rng.random() < p else down))
            if s >= h:
                break
        lengths.append(n)
    return lengths
