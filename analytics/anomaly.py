"""Spend-anomaly detection over hourly series: a robust seasonal baseline and the rules that use it.

Pure numpy/scipy, no store access, so the service's evaluator and ``bench/bench_anomaly.py`` run the
same code. A series is one (dimension value, metric) over whole hours, indexed by absolute hour
(hours since the Unix epoch, UTC).

Baseline: an hour-of-week profile (median of each weekly slot, lightly smoothed, falling back to an
hour-of-day x weekday factorisation when there are fewer than three weeks), times a level that is the
median of the de-seasonalised values over the last week of history. Medians keep past incidents out of
the baseline. Residuals are log ratios, scaled by their median absolute deviation.

Rules (increases only: a drop in spend pages nobody):
- ``spend_spike``: hourly spend far above the seasonal expectation (covers sudden level shifts too);
- ``cost_per_call_shift``: cost per call above its usual value (a deploy that doubles the prompt);
- ``runaway``: calls per hour exploding (a retry loop), which supersedes a spend spike it explains;
- ``drift``: a significant upward trend of the de-seasonalised daily level (Kendall tau + Theil-Sen);
- ``new_model``: a model never seen for this dimension value, costing far more per call than usual.
Minimum-volume rules (typical spend per hour, dollars above expected, calls per hour) keep tiny features
quiet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from scipy import stats

__all__ = [
    "Baseline",
    "Finding",
    "Thresholds",
    "datetime_to_hour",
    "detect_new_models",
    "detect_series",
    "explain",
    "fit_baseline",
    "hour_of_week",
    "hour_to_datetime",
]

HOURS_PER_WEEK = 168
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Thresholds:
    """Sensitivity and minimum-volume rules (the service reads them from settings)."""

    z: float = 4.0  # robust z-score of an hour's log ratio to its expectation
    min_ratio: float = 2.0  # observed / expected spend (benign bursts reach 1.5x)
    cpc_min_ratio: float = 1.4  # observed / expected for cost per call
    min_hourly_usd: float = 0.05  # typical spend per hour below which a series is not watched
    min_excess_usd: float = 1.0  # dollars above expectation over an anomaly before anyone is paged
    min_calls: int = 20  # calls in an hour before that hour's cost per call counts
    runaway_ratio: float = 4.0  # calls / expected calls for a runaway loop
    drift_days: int = 14  # window of daily levels tested for a trend
    drift_min_rise: float = 0.15  # total rise over the window before a drift is reported
    drift_p: float = 0.005  # Kendall tau significance
    new_model_ratio: float = 2.0  # new model's cost per call / the usual cost per call
    history_days: int = 28  # history used for the baseline


@dataclass
class Baseline:
    """Expected value = level x profile[hour of week]; sigma is the robust scale of log residuals."""

    profile: np.ndarray
    level: float
    sigma: float
    offset: float

    def expected(self, how: np.ndarray) -> np.ndarray:
        return self.level * self.profile[how]


@dataclass
class Finding:
    """One anomaly: what, for which dimension value, since when, how far from normal."""

    kind: str
    dimension: str
    value: str
    metric: str
    start_hour: int
    last_hour: int
    observed: float
    expected: float
    ratio: float
    excess_usd: float
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Dedup key: the same key updates the open alert instead of opening another."""
        suffix = f"|model={self.extra['model']}" if "model" in self.extra else ""
        return f"{self.kind}|{self.metric}|{self.dimension}={self.value}{suffix}"

    @property
    def start(self) -> datetime:
        return hour_to_datetime(self.start_hour)


def hour_to_datetime(hour: int) -> datetime:
    return datetime.fromtimestamp(int(hour) * 3600, UTC)


def datetime_to_hour(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 3600)


def hour_of_week(hours: np.ndarray) -> np.ndarray:
    """Monday 00:00 = 0 ... Sunday 23:00 = 167 (the epoch was a Thursday)."""
    hours = np.asarray(hours, dtype=np.int64)
    weekday = (hours // 24 + 3) % 7
    return (weekday * 24 + hours % 24).astype(np.int64)


def _profile(values: np.ndarray, how: np.ndarray) -> np.ndarray:
    """Hour-of-week profile with mean 1 (NaN values ignored)."""
    slot_med = np.full(HOURS_PER_WEEK, np.nan)
    counts = np.bincount(how[~np.isnan(values)], minlength=HOURS_PER_WEEK)
    order = np.argsort(how, kind="stable")
    sorted_how, sorted_vals = how[order], values[order]
    bounds = np.searchsorted(sorted_how, np.arange(HOURS_PER_WEEK + 1))
    for slot in range(HOURS_PER_WEEK):
        chunk = sorted_vals[bounds[slot]:bounds[slot + 1]]
        chunk = chunk[~np.isnan(chunk)]
        if chunk.size:
            slot_med[slot] = np.median(chunk)
    # factorised fallback: hour of day x weekday
    hod = how % 24
    dow = how // 24
    hod_med = np.array([np.nanmedian(values[hod == h]) if np.any((hod == h) & ~np.isnan(values))
                        else np.nan for h in range(24)])
    dow_med = np.array([np.nanmedian(values[dow == d]) if np.any((dow == d) & ~np.isnan(values))
                        else np.nan for d in range(7)])
    overall = np.nanmedian(values)
    if not overall or np.isnan(overall):
        overall = np.nanmean(values) or 1.0
    hod_med = np.where(np.isnan(hod_med), overall, hod_med)
    dow_med = np.where(np.isnan(dow_med), overall, dow_med)
    factorised = (hod_med[np.arange(HOURS_PER_WEEK) % 24] * dow_med[np.arange(HOURS_PER_WEEK) // 24]
                  / overall)
    weeks_ok = counts >= 3
    profile = np.where(weeks_ok & ~np.isnan(slot_med), slot_med, factorised)
    profile = np.where(np.isnan(profile), overall, profile)
    # light circular smoothing keeps single noisy slots from dominating
    profile = 0.25 * np.roll(profile, 1) + 0.5 * profile + 0.25 * np.roll(profile, -1)
    mean = profile.mean()
    if mean <= 0 or np.isnan(mean):
        return np.ones(HOURS_PER_WEEK)
    return profile / mean


def fit_baseline(values: np.ndarray, hours: np.ndarray) -> Baseline | None:
    """Fit the seasonal baseline on history (NaN = missing); None when there is too little data."""
    values = np.asarray(values, dtype=float)
    hours = np.asarray(hours, dtype=np.int64)
    valid = ~np.isnan(values)
    if valid.sum() < 48 or np.nansum(values) <= 0:
        return None
    how = hour_of_week(hours)
    profile = _profile(values, how)
    recent = hours >= hours.max() - HOURS_PER_WEEK
    strong = profile[how] >= 0.25
    pick = recent & strong & valid
    if pick.sum() < 12:
        pick = strong & valid
    if not pick.any():
        return None
    level = float(np.median(values[pick] / profile[how[pick]]))
    if level <= 0:
        level = float(np.nanmean(values))
    if level <= 0:
        return None
    offset = 0.1 * level
    expected = level * profile[how]
    residual = np.log((values[valid] + offset) / (expected[valid] + offset))
    mad = float(np.median(np.abs(residual - np.median(residual))))
    sigma = max(1.4826 * mad, 0.03)
    return Baseline(profile=profile, level=level, sigma=sigma, offset=offset)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end inclusive) index pairs of consecutive True values."""
    runs, start = [], None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _flag_runs(x, expected, base: Baseline, z: float, min_ratio: float, dollars_per_unit,
               min_excess: float) -> list[tuple[int, int, float]]:
    """Runs of hours significantly above expectation with enough excess dollars: (i0, i1, excess)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.log((x + base.offset) / (expected + base.offset)) / base.sigma
        flagged = (score >= z) & (x >= min_ratio * expected) & ~np.isnan(x)
    out = []
    for i0, i1 in _runs(flagged):
        excess = float(np.nansum((x[i0:i1 + 1] - expected[i0:i1 + 1]) * dollars_per_unit[i0:i1 + 1]))
        if excess >= min_excess:
            out.append((i0, i1, excess))
    return out


def _finding(kind, dimension, value, metric, hours, x, expected, i0, i1, excess, extra=None):
    obs = float(np.nanmean(x[i0:i1 + 1]))
    exp = float(np.nanmean(expected[i0:i1 + 1]))
    return Finding(kind, dimension, value, metric, int(hours[i0]), int(hours[i1]), obs, exp,
                   obs / exp if exp > 0 else math.inf, excess, dict(extra or {}))


def _fit(cache: dict | None, name: str, values, hours, mask) -> Baseline | None:
    if cache is None:
        return fit_baseline(values[mask], hours[mask])
    if name not in cache:
        cache[name] = fit_baseline(values[mask], hours[mask])
    return cache[name]


def detect_series(hours, calls, cost, *, dimension: str, value: str, eval_from: int,
                  thresholds: Thresholds = Thresholds(), last_fraction: float = 1.0,
                  drift: bool = True, cache: dict | None = None) -> list[Finding]:
    """Findings for one dimension value over the hours ``>= eval_from`` (history is everything before).

    ``hours`` are consecutive absolute hours; ``calls`` and ``cost`` the hourly sums (priced cost).
    ``last_fraction`` is how much of the last hour has elapsed (its expectation is scaled by it).
    ``cache`` (optional, caller-owned) keeps baselines fitted on history before the start of
    ``eval_from``'s day, so a streaming caller refits once a day instead of every hour.
    """
    t = thresholds
    hours = np.asarray(hours, dtype=np.int64)
    calls = np.asarray(calls, dtype=float)
    cost = np.asarray(cost, dtype=float)
    cutoff = eval_from if cache is None else eval_from - eval_from % 24
    if cache is not None and cache.get("cutoff") != cutoff:
        cache.clear()
        cache["cutoff"] = cutoff
    hist = hours < cutoff
    ev = hours >= eval_from
    if not ev.any() or hist.sum() < 48:
        return []
    hist_idx = hist & (hours >= cutoff - t.history_days * 24)
    findings: list[Finding] = []
    h_ev = hours[ev]
    how_ev = hour_of_week(h_ev)
    scale = np.ones(h_ev.size)
    scale[-1] = max(min(last_fraction, 1.0), 0.05)

    spend_base = _fit(cache, "spend", cost, hours, hist_idx)
    if spend_base is None or spend_base.level < t.min_hourly_usd:
        return []  # too small (or too new) to watch: nobody gets paged for pennies
    spend_exp = spend_base.expected(how_ev) * scale
    spend_runs = _flag_runs(cost[ev], spend_exp, spend_base, t.z, t.min_ratio, np.ones(h_ev.size),
                            t.min_excess_usd)

    calls_base = _fit(cache, "calls", calls, hours, hist_idx)
    runaway_runs = []
    if calls_base is not None:
        calls_exp = calls_base.expected(how_ev) * scale
        usual_cpc = spend_base.level / calls_base.level if calls_base.level > 0 else 0.0
        runaway_runs = _flag_runs(calls[ev], calls_exp, calls_base, t.z, t.runaway_ratio,
                                  np.full(h_ev.size, usual_cpc), t.min_excess_usd)
        runaway_runs = [r for r in runaway_runs if np.max(calls[ev][r[0]:r[1] + 1]) >= t.min_calls]
        for i0, i1, excess in runaway_runs:
            findings.append(_finding("runaway", dimension, value, "calls", h_ev, calls[ev], calls_exp,
                                     i0, i1, excess))
    for i0, i1, excess in spend_runs:
        if any(r0 <= i1 and i0 <= r1 for r0, r1, _ in runaway_runs):
            continue  # the runaway loop explains this spend
        findings.append(_finding("spend_spike", dimension, value, "spend", h_ev, cost[ev], spend_exp,
                                 i0, i1, excess))

    with np.errstate(divide="ignore", invalid="ignore"):
        cpc = np.where(calls >= t.min_calls, cost / calls, np.nan)
    cpc_base = _fit(cache, "cpc", cpc, hours, hist_idx)
    if cpc_base is not None:
        cpc_exp = cpc_base.expected(how_ev)
        for i0, i1, excess in _flag_runs(cpc[ev], cpc_exp, cpc_base, t.z, t.cpc_min_ratio,
                                         calls[ev], t.min_excess_usd):
            findings.append(_finding("cost_per_call_shift", dimension, value, "cost_per_call", h_ev,
                                     cpc[ev], cpc_exp, i0, i1, excess))

    if drift:
        findings += _detect_drift(hours, cost, calls, spend_base, dimension, value, eval_from, t)
    return findings


def _daily_levels(hours, values, profile) -> tuple[np.ndarray, np.ndarray]:
    """(day numbers, de-seasonalised level per complete day)."""
    days = hours // 24
    how = hour_of_week(hours)
    out_days, levels = [], []
    for day in np.unique(days):
        sel = (days == day) & ~np.isnan(values)
        if sel.sum() < 20:
            continue
        weight = profile[how[sel]].sum()
        if weight > 0:
            out_days.append(day)
            levels.append(values[sel].sum() / weight)
    return np.array(out_days, dtype=np.int64), np.array(levels)


def _detect_drift(hours, cost, calls, spend_base: Baseline, dimension, value, eval_from, t):
    findings = []
    with np.errstate(divide="ignore", invalid="ignore"):
        cpc = np.where(calls >= t.min_calls, cost / calls, np.nan)
    flat = np.ones(HOURS_PER_WEEK)
    for metric, series, profile in (("spend", cost, spend_base.profile), ("cost_per_call", cpc, flat)):
        days, levels = _daily_levels(hours, series, profile)
        if days.size < t.drift_days + 7:
            continue
        window, ref = levels[-t.drift_days:], levels[:-t.drift_days]
        if np.any(window <= 0) or np.any(ref <= 0):
            continue
        tau, p_value = stats.kendalltau(np.arange(window.size), window)
        if not (tau > 0 and p_value < t.drift_p):
            continue
        slope = stats.theilslopes(np.log(window)).slope
        reference = float(np.median(ref[-14:]))
        recent = float(np.median(window[-3:]))
        rise = recent / reference - 1.0
        if math.expm1(slope * t.drift_days) < t.drift_min_rise or rise < t.drift_min_rise:
            continue
        per_call = metric == "cost_per_call"
        excess_per_day = (recent - reference) * (np.nanmean(calls[-72:]) * 24 if per_call
                                                 else spend_base.profile.sum() / 7)
        if excess_per_day < t.min_excess_usd:
            continue
        start_day = int(days[-t.drift_days:][np.argmax(window > reference * (1 + t.drift_min_rise / 3))])
        findings.append(Finding("drift", dimension, value, metric, start_day * 24, int(hours[-1]),
                                recent, reference, recent / reference, float(excess_per_day),
                                {"slope_per_day": float(math.expm1(slope)),
                                 "p_value": float(p_value)}))
    return findings


def detect_new_models(dimension: str, value: str, history: dict[str, tuple[float, float]],
                      recent: dict[str, tuple[float, float, int]],
                      thresholds: Thresholds = Thresholds()) -> list[Finding]:
    """Models first seen in the recent window that cost far more per call than this value's usual.

    ``history``: model -> (calls, cost) before the window; ``recent``: model -> (calls, cost,
    first hour seen) in the window.
    """
    hist_calls = sum(c for c, _ in history.values())
    hist_cost = sum(v for _, v in history.values())
    if hist_calls <= 0 or hist_cost <= 0:
        return []
    usual = hist_cost / hist_calls
    out = []
    for model, (calls, cost, first_hour) in recent.items():
        if history.get(model, (0, 0))[0] > 0 or calls <= 0:
            continue
        per_call = cost / calls
        if per_call < thresholds.new_model_ratio * usual or cost < thresholds.min_excess_usd:
            continue
        out.append(Finding("new_model", dimension, value, "cost_per_call", int(first_hour),
                           int(first_hour), per_call, usual, per_call / usual,
                           cost - usual * calls, {"model": model, "calls": calls, "cost": cost}))
    return out


def _fmt_metric(metric: str, amount: float) -> str:
    if metric == "spend":
        return f"${amount:,.2f}/h"
    if metric == "cost_per_call":
        return f"${amount:,.4f}/call"
    return f"{amount:,.0f} calls/h"


def explain(f: Finding, contributor: str | None = None) -> str:
    """One sentence a person can act on."""
    when = f.start
    usual = f"the usual {_WEEKDAYS[when.weekday()]} {when:%H}:00"
    onset = f.extra.get("since") if isinstance(f.extra.get("since"), datetime) else when
    since = f"since {onset:%a %Y-%m-%d %H:%M} UTC"
    who = f"{f.dimension}={f.value}"
    if f.kind == "spend_spike":
        text = (f"spend {_fmt_metric('spend', f.observed)}, {f.ratio:.1f}x {usual} "
                f"({_fmt_metric('spend', f.expected)}) for {who}, {since}")
    elif f.kind == "cost_per_call_shift":
        text = (f"cost/call {f.ratio:.1f}x {usual} ({_fmt_metric('cost_per_call', f.observed)} vs "
                f"{_fmt_metric('cost_per_call', f.expected)}) for {who}, {since}")
    elif f.kind == "runaway":
        text = (f"runaway loop? calls/hour {f.ratio:.1f}x {usual} ({f.observed:,.0f} vs "
                f"{f.expected:,.0f}) for {who}, {since}")
    elif f.kind == "drift":
        label = "spend" if f.metric == "spend" else "cost/call"
        text = (f"{label} drifting up {100 * f.extra.get('slope_per_day', 0):.1f}%/day for {who}: "
                f"{f.ratio:.2f}x its level of two weeks ago, {since}")
    elif f.kind == "new_model":
        text = (f"new model {f.extra.get('model')} for {who}: "
                f"{_fmt_metric('cost_per_call', f.observed)}, {f.ratio:.1f}x the usual cost/call, "
                f"${f.extra.get('cost', 0):,.2f} so far, {since}")
    else:
        text = f"{f.kind} for {who}, {since}"
    text += f"; about ${f.excess_usd:,.2f} above normal"
    if contributor:
        text += f"; top contributor {contributor}"
    return text
