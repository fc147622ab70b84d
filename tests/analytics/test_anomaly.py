"""The anomaly detector on synthetic seasonal hourly series (pure numpy, no store)."""

from __future__ import annotations

import numpy as np
import pytest

from tokenproof.analytics.anomaly import detect_new_models, detect_series, explain, hour_to_datetime

START = 490_000 - 490_000 % 168 + 96  # a Monday 00:00 UTC, in hours since the epoch
WEEKS = 5


def seasonal(seed=0, calls_at_peak=400.0, cpc=0.01, hours=WEEKS * 168):
    """Daily and weekly pattern with Poisson calls and noisy cost per call."""
    rng = np.random.default_rng(seed)
    h = START + np.arange(hours)
    hod, dow = h % 24, (h // 24 + 3) % 7
    shape = (0.2 + 0.8 * np.exp(-((hod - 14) ** 2) / 18)) * np.where(dow >= 5, 0.6, 1.0)
    calls = rng.poisson(calls_at_peak * shape * rng.lognormal(0, 0.1, hours)).astype(float)
    cost = calls * cpc * rng.lognormal(0, 0.05, hours)
    return h, calls, cost


def run(h, calls, cost, at, window=6, **kw):
    return detect_series(h[:at + 1], calls[:at + 1], cost[:at + 1], dimension="feature", value="summarize",
                         eval_from=int(h[at]) - window + 1, **kw)


def kinds(findings):
    return {f.kind for f in findings}


def test_quiet_on_normal_traffic():
    h, calls, cost = seasonal(seed=1)
    alarms = [f for at in range(4 * 168, 5 * 168, 6) for f in run(h, calls, cost, at)]
    assert alarms == []


def test_spend_spike_is_caught_in_its_first_hour_and_explained():
    h, calls, cost = seasonal(seed=2)
    at = 4 * 168 + 24 + 14  # Tuesday 14:00 of the last week
    calls[at] *= 3
    cost[at] *= 3
    found = run(h, calls, cost, at)
    spike = next(f for f in found if f.kind == "spend_spike")
    assert spike.ratio == pytest.approx(3, rel=0.25)
    assert hour_to_datetime(spike.start_hour).strftime("%A %H") == "Tuesday 14"
    text = explain(spike, "model=gpt-4o")
    assert "the usual Tuesday 14:00" in text and "feature=summarize" in text and "model=gpt-4o" in text


def test_cost_per_call_level_shift():
    h, calls, cost = seasonal(seed=3)
    at = 4 * 168 + 48 + 11
    cost[at - 2:] *= 2.0  # a deploy doubled the prompt two hours ago
    found = run(h, calls, cost, at)
    shift = next(f for f in found if f.kind == "cost_per_call_shift")
    assert shift.ratio == pytest.approx(2, rel=0.2)
    assert shift.start_hour == h[at - 2]


def test_runaway_loop_supersedes_the_spend_spike():
    h, calls, cost = seasonal(seed=4)
    at = 4 * 168 + 72 + 10
    calls[at - 1:at + 1] *= 10
    cost[at - 1:at + 1] *= 10
    found = run(h, calls, cost, at)
    assert "runaway" in kinds(found) and "spend_spike" not in kinds(found)


def test_slow_drift_of_two_percent_a_day():
    h, calls, cost = seasonal(seed=5, hours=6 * 168)
    start = 3 * 168
    days = np.maximum(0, (np.arange(h.size) - start) / 24)
    cost = cost * 1.02 ** days
    found = run(h, calls, cost, h.size - 1)
    drift = next(f for f in found if f.kind == "drift")
    assert drift.metric in {"spend", "cost_per_call"}
    assert 0.01 < drift.extra["slope_per_day"] < 0.04


def test_tiny_feature_pages_nobody():
    at = 4 * 168 + 14  # Monday 14:00, the daily peak
    h, calls, cost = seasonal(seed=6, calls_at_peak=3, cpc=0.002)
    calls[at] += 12  # five times its usual peak hour, but cents
    cost[at] += 12 * 0.002
    assert run(h, calls, cost, at) == []
    # the same relative jump on a feature that spends real money is reported
    h, calls, cost = seasonal(seed=6, calls_at_peak=3000, cpc=0.002)
    calls[at] *= 5
    cost[at] *= 5
    assert kinds(run(h, calls, cost, at)) & {"spend_spike", "runaway"}


def test_new_expensive_model():
    history = {"gpt-4o-mini": (10_000.0, 20.0)}
    recent = {"gpt-4o-mini": (300.0, 0.6, START), "o1-pro": (60.0, 36.0, START + 1)}
    found = detect_new_models("feature", "summarize", history, recent)
    assert [f.extra["model"] for f in found] == ["o1-pro"]
    assert found[0].ratio == pytest.approx(300, rel=0.01)
    assert "new model o1-pro" in explain(found[0])
    # a cheap new model, or a known one, is not news
    assert detect_new_models("feature", "x", history, {"tiny": (60.0, 0.06, START)}) == []
