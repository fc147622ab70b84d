"""Spend-anomaly detection benchmark: tokenproof's seasonal detector vs fixed thresholds.

Generates realistic hourly LLM traffic for many features over several weeks (daily and weekly
pattern, Poisson call counts, noisy cost per call, a few models per feature), injects labelled
incidents in the evaluated weeks - a 3x spend spike, a cost-per-call level shift (a deploy doubling
the prompt), a slow 2%/day cost-per-call drift, a runaway retry loop (calls x10), a new expensive
model - and also gives tiny features spikes that should page nobody. Both detectors are replayed
hour by hour as the service would run them (alerts deduplicated per key, closed after 12 quiet
hours), then scored: recall (incidents caught), precision (alert episodes that match an incident),
and detection delay (end of the hour whose evaluation raised the alert minus the incident start).

The baseline is the fixed-threshold alerting other tools offer, tuned generously per feature:
hourly spend above 2x the feature's 99th percentile in the warm-up weeks, or the day's running
spend above 1.5x its largest warm-up day.

    .venv/bin/python bench/bench_anomaly.py [--features 80] [--weeks 6] [--seed 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from tokenproof.analytics.anomaly import Thresholds, detect_new_models, detect_series

KINDS = ("spike", "shift", "drift", "runaway", "new_model")
START_HOUR = 490_000 - 490_000 % 168 + 96  # a Monday 00:00 UTC (epoch hours)
CLOSE_AFTER = 12  # quiet hours before an alert episode closes
EVAL_WINDOW = 6  # each hourly run looks at the last 6 hours
GRACE = 6  # an alert up to 6 h after an incident ended still matches it


@dataclass
class Incident:
    feature: str
    kind: str
    start: int
    end: int
    labelled: bool = True


def generate(n_features: int, weeks: int, warmup_weeks: int, seed: int):
    """(hours, {feature: (calls[M,H], cost[M,H], models)}, incidents)."""
    rng = np.random.default_rng(seed)
    n_hours = weeks * 168
    hours = START_HOUR + np.arange(n_hours)
    hod = (hours % 24).astype(float)
    dow = ((hours // 24 + 3) % 7)
    eval_start = warmup_weeks * 168
    data, incidents = {}, []
    n_tiny = max(n_features // 8, 1)
    for i in range(n_features):
        name = f"f{i:03d}"
        tiny = i >= n_features - n_tiny
        n_models = int(rng.integers(1, 3))
        cpc = np.exp(rng.uniform(np.log(0.0008), np.log(0.02), n_models))
        if tiny:
            cpc[:] = 0.001
        # typical spend at the daily peak: $1-$40/h for real features, about a cent for tiny ones
        peak_spend = rng.uniform(0.005, 0.02) if tiny else float(np.exp(rng.uniform(np.log(1), np.log(40))))
        base = peak_spend / float(cpc.mean())
        peak = rng.uniform(11, 16)
        daily = 0.25 + 0.75 * np.exp(-((hod - peak) ** 2) / (2 * rng.uniform(3, 5) ** 2))
        weekend = rng.uniform(0.4, 0.9)
        season = daily * np.where(dow >= 5, weekend, 1.0)
        # day-to-day swings, hour-level noise, and benign bursts (a newsletter, a batch job) of
        # 1.2-1.5x for a few hours, which must not page anyone
        day_level = np.repeat(rng.lognormal(0, 0.06, n_hours // 24 + 1), 24)[:n_hours]
        rate = base * season * day_level * rng.lognormal(0, 0.12, n_hours)
        for _ in range(int(rng.integers(2, 6))):
            b0 = int(rng.integers(0, n_hours - 6))
            rate[b0:b0 + int(rng.integers(1, 5))] *= rng.uniform(1.2, 1.5)
        models = [f"model-{rng.integers(0, 6)}-{j}" for j in range(n_models)]
        share = rng.dirichlet(np.ones(n_models)) if n_models > 1 else np.ones(1)
        cpc_mult = np.ones(n_hours)
        call_mult = np.ones(n_hours)
        new_model_from = None
        kind = None
        if tiny:
            kind = "spike"
        elif i % 6 < 5:
            kind = KINDS[i % 6]  # every sixth feature stays clean
        if kind:
            start = int(rng.integers(eval_start + 12, n_hours - 5 * 24))
            if kind == "spike":
                length = int(rng.integers(3, 7))
                call_mult[start:start + length] *= 3.0
                end = start + length
            elif kind == "runaway":
                length = int(rng.integers(3, 9))
                call_mult[start:start + length] *= 10.0
                end = start + length
            elif kind == "shift":
                cpc_mult[start:] *= 2.0
                end = n_hours
            elif kind == "drift":
                start = int(rng.integers(eval_start, eval_start + 72))
                days = np.maximum(0, (np.arange(n_hours) - start) / 24.0)
                cpc_mult *= 1.02 ** days
                end = n_hours
            else:
                new_model_from = start
                end = n_hours
            incidents.append(Incident(name, kind, int(hours[start]), int(hours[min(end, n_hours - 1)]),
                                      labelled=not tiny))
        calls = np.zeros((n_models + 1, n_hours))
        cost = np.zeros((n_models + 1, n_hours))
        lam = rate * call_mult
        for m in range(n_models):
            c = rng.poisson(lam * share[m])
            calls[m] = c
            noise = rng.lognormal(0, 0.05, n_hours) * (1 + rng.normal(0, 0.5, n_hours) / np.sqrt(c + 1))
            cost[m] = c * cpc[m] * cpc_mult * np.clip(noise, 0.2, None)
        if new_model_from is not None:
            moved = rng.binomial(calls[0, new_model_from:].astype(np.int64), 0.5)
            unit = cost[0, new_model_from:] / np.maximum(calls[0, new_model_from:], 1)
            calls[0, new_model_from:] -= moved
            cost[0, new_model_from:] -= moved * unit
            calls[n_models, new_model_from:] = moved
            cost[n_models, new_model_from:] = moved * cpc.max() * 6 * rng.lognormal(0, 0.1, moved.size)
        models.append("expensive-new-model")
        data[name] = (calls, cost, models)
    return hours, data, incidents


class Episodes:
    """Deduplicated alert episodes: one per key, closed after CLOSE_AFTER quiet hours."""

    def __init__(self):
        self.open: dict[str, list] = {}
        self.all: list[tuple[str, str, int]] = []  # (feature, key, opened at hour end)

    def step(self, now: int, keys: dict[str, str]):
        for key, feature in keys.items():
            if key in self.open:
                self.open[key][1] = now
            else:
                self.open[key] = [now, now]
                self.all.append((feature, key, now + 1))
        for key in [k for k, (_, last) in self.open.items() if now - last >= CLOSE_AFTER]:
            del self.open[key]


def run_ours(hours, data, warmup_hours, thresholds):
    episodes = Episodes()
    caches = {name: {} for name in data}
    drifting: dict[str, list[str]] = {}
    for t in range(warmup_hours, hours.size):
        now = int(hours[t])
        keys = {}
        for name, (calls, cost, models) in data.items():
            c_tot, s_tot = calls[:, :t + 1].sum(0), cost[:, :t + 1].sum(0)
            lo = max(0, t + 1 - (thresholds.history_days + 1) * 24)
            found = detect_series(hours[lo:t + 1], c_tot[lo:], s_tot[lo:], dimension="feature",
                                  value=name, eval_from=now - EVAL_WINDOW + 1, thresholds=thresholds,
                                  drift=(now % 24 == 23), cache=caches[name])
            w0 = t + 1 - EVAL_WINDOW
            history = {m: (calls[j, lo:w0].sum(), cost[j, lo:w0].sum()) for j, m in enumerate(models)}
            recent = {}
            for j, m in enumerate(models):
                seen = np.nonzero(calls[j, w0:t + 1])[0]
                if seen.size:
                    recent[m] = (calls[j, w0:t + 1].sum(), cost[j, w0:t + 1].sum(), int(hours[w0 + seen[0]]))
            found += detect_new_models("feature", name, history, recent, thresholds)
            if now % 24 == 23:  # the daily drift test's verdict stands until the next one
                drifting[name] = [f.key for f in found if f.kind == "drift"]
            for key in drifting.get(name, []):
                keys[key] = name
            for f in found:
                keys[f.key] = name
        episodes.step(now, keys)
    return episodes.all


def run_threshold(hours, data, warmup_hours):
    episodes = Episodes()
    limits = {}
    for name, (_calls, cost, _) in data.items():
        spend = cost[:, :warmup_hours].sum(0)
        daily = spend.reshape(-1, 24).sum(1)
        limits[name] = (2.0 * np.percentile(spend, 99), 1.5 * daily.max())
    for t in range(warmup_hours, hours.size):
        now = int(hours[t])
        keys = {}
        for name, (_calls, cost, _) in data.items():
            hourly_limit, daily_limit = limits[name]
            spend = cost[:, t].sum()
            day0 = t - t % 24
            if spend > hourly_limit:
                keys[f"hourly|{name}"] = name
            if cost[:, day0:t + 1].sum() > daily_limit:
                keys[f"daily|{name}"] = name
        episodes.step(now, keys)
    return episodes.all


def score(alerts, incidents):
    labelled = [i for i in incidents if i.labelled]
    by_feature = defaultdict(list)
    for inc in incidents:
        by_feature[inc.feature].append(inc)
    tp_alerts = 0
    false_tiny = 0
    delays = defaultdict(list)
    caught = set()
    for feature, _key, opened in alerts:
        match = [i for i in by_feature.get(feature, []) if i.labelled and i.start < opened <= i.end + GRACE]
        if not match and any(not i.labelled for i in by_feature.get(feature, [])):
            false_tiny += 1
        if match:
            tp_alerts += 1
            for inc in match:
                if id(inc) not in caught:
                    caught.add(id(inc))
                    delays[inc.kind].append(opened - inc.start)
    recall = len(caught) / len(labelled) if labelled else 1.0
    precision = tp_alerts / len(alerts) if alerts else 1.0
    per_kind = {}
    for kind in KINDS:
        total = sum(1 for i in labelled if i.kind == kind)
        got = len(delays[kind])
        per_kind[kind] = (got, total, statistics.median(delays[kind]) if delays[kind] else None)
    false = len(alerts) - tp_alerts
    # incident-level precision: each caught incident counts once, each false episode once
    precision_incidents = len(caught) / (len(caught) + false) if caught or false else 1.0
    return precision, recall, per_kind, len(alerts), false, false_tiny, precision_incidents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=80)
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--warmup-weeks", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    hours, data, incidents = generate(args.features, args.weeks, args.warmup_weeks, args.seed)
    warmup = args.warmup_weeks * 168
    labelled = [i for i in incidents if i.labelled]
    print(f"traffic: {len(data)} features x {hours.size} hours ({args.weeks} weeks, "
          f"{args.warmup_weeks} warm-up), {len(labelled)} labelled incidents "
          f"({', '.join(f'{k}={sum(1 for i in labelled if i.kind == k)}' for k in KINDS)}), "
          f"{len(incidents) - len(labelled)} spikes on tiny features that must page nobody")
    results = {}
    for label, alerts in (("tokenproof", run_ours(hours, data, warmup, Thresholds())),
                          ("fixed threshold", run_threshold(hours, data, warmup))):
        results[label] = score(alerts, incidents)
    print(f"\n{'detector':<16} {'precision':>9} {'p(incid.)':>9} {'recall':>7} {'alerts':>7} {'false':>6} "
          f"{'on tiny':>7}   per kind: caught/total, median delay (h)")
    for label, (precision, recall, per_kind, n_alerts, false, tiny, p_inc) in results.items():
        kinds = "  ".join(f"{k} {got}/{tot} {('-' if d is None else f'{d:.0f}h')}"
                          for k, (got, tot, d) in per_kind.items())
        print(f"{label:<16} {precision:>9.2f} {p_inc:>9.2f} {recall:>7.2f} {n_alerts:>7} {false:>6} {tiny:>7}   {kinds}")
    print("precision: alert episodes matching an incident / all episodes; p(incid.): caught incidents / "
          "(caught incidents + false episodes); 'on tiny': false episodes on tiny features")
    ours = results["tokenproof"]
    fast = [d for k in ("spike", "shift") for d in [ours[2][k][2]] if d is not None]
    ok = ours[0] >= 0.9 and ours[1] >= 0.9 and all(d < 2 for d in fast)
    print(f"\ntarget (precision and recall >= 0.9, median delay < 2 h for spikes and shifts): "
          f"{'met' if ok else 'NOT met'}; runtime {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
