"""Altair charts for the dashboard pages: each takes a table and returns a chart, no data access."""

from __future__ import annotations

from datetime import UTC, datetime

import altair as alt
import pandas as pd

__all__ = ["alert_chart", "burn_down", "drift_monitor", "outcomes_over_time", "sequential_path", "spend_over_time"]


_TIME_UNITS = {"hour": "monthdatehours", "day": "yearmonthdate", "week": "yearmonthdate", "month": "yearmonth"}


def spend_over_time(frame: pd.DataFrame, stack: str, granularity: str = "day") -> alt.Chart:
    """Stacked bars of product spend per bucket (one band per bucket), coloured by one dimension."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("bucket:O", timeUnit=_TIME_UNITS.get(granularity, "yearmonthdate"), title=None),
        y=alt.Y("sum(cost_usd):Q", title="spend (USD)", stack="zero"),
        color=alt.Color(f"{stack}:N", title=stack),
        tooltip=[alt.Tooltip("bucket:T"), alt.Tooltip(f"{stack}:N"), alt.Tooltip("sum(cost_usd):Q", format="$,.4f"),
                 alt.Tooltip("sum(calls):Q", title="calls")],
    ).properties(height=320)


def alert_chart(frame: pd.DataFrame, expected_per_hour: float | None) -> alt.LayerChart:
    """Actual hourly spend with the alert's hours highlighted and the expected level as a rule."""
    bars = alt.Chart(frame).mark_bar().encode(
        x=alt.X("hour:T", title=None), y=alt.Y("cost_usd:Q", title="spend per hour (USD)"),
        color=alt.condition("datum.in_alert", alt.value("#d62728"), alt.value("#8da0cb")),
        tooltip=[alt.Tooltip("hour:T"), alt.Tooltip("cost_usd:Q", format="$,.4f")])
    layers = [bars]
    if expected_per_hour is not None:
        rule = alt.Chart(pd.DataFrame({"expected": [expected_per_hour]})).mark_rule(strokeDash=[6, 3]).encode(
            y="expected:Q", tooltip=[alt.Tooltip("expected:Q", format="$,.4f", title="expected per hour")])
        layers.append(rule)
    return alt.layer(*layers).properties(height=220)


def burn_down(month_start: datetime, now: datetime, month_end: datetime, spent: float, projected: float,
              budget: float) -> alt.LayerChart:
    """Month-to-date spend, the forecast to month end (dashed) and the budget line."""
    actual = pd.DataFrame({"time": [month_start, now], "usd": [0.0, spent], "series": "spent"})
    forecast = pd.DataFrame({"time": [now, month_end], "usd": [spent, projected], "series": "forecast"})
    lines = alt.Chart(pd.concat([actual, forecast])).mark_line(point=True).encode(
        x=alt.X("time:T", title=None), y=alt.Y("usd:Q", title="USD this month"),
        color=alt.Color("series:N", title=None),
        strokeDash=alt.condition("datum.series == 'forecast'", alt.value([6, 3]), alt.value([1, 0])),
        tooltip=[alt.Tooltip("series:N"), alt.Tooltip("time:T"), alt.Tooltip("usd:Q", format="$,.2f")])
    rule = alt.Chart(pd.DataFrame({"budget": [budget]})).mark_rule(color="#d62728").encode(
        y="budget:Q", tooltip=[alt.Tooltip("budget:Q", format="$,.2f")])
    return alt.layer(lines, rule).properties(height=200)


def sequential_path(trajectory: list[float], upper: float | None, lower: float | None) -> alt.LayerChart:
    """The sequential test's statistic comparison by comparison, with its two boundaries."""
    path = pd.DataFrame({"comparison": range(1, len(trajectory) + 1), "statistic": trajectory})
    layers = [alt.Chart(path).mark_line(point=True).encode(
        x=alt.X("comparison:Q"), y=alt.Y("statistic:Q", title="test statistic"))]
    bounds = [(v, name) for v, name in ((upper, "switch"), (lower, "keep")) if v is not None]
    if bounds:
        frame = pd.DataFrame({"value": [v for v, _ in bounds], "boundary": [n for _, n in bounds]})
        layers.append(alt.Chart(frame).mark_rule(strokeDash=[6, 3]).encode(
            y="value:Q", color=alt.Color("boundary:N", title="boundary")))
    return alt.layer(*layers).properties(height=220)


def outcomes_over_time(frame: pd.DataFrame) -> alt.Chart:
    """Cumulative wins, ties, losses and unresolved pairs of the candidate, comparison by comparison."""
    return alt.Chart(frame).mark_area(opacity=0.8).encode(
        x=alt.X("comparison:Q"), y=alt.Y("count:Q", stack="zero", title="comparisons"),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["win", "tie", "loss", "unresolved"],
                                                     range=["#2ca02c", "#bbbbbb", "#d62728", "#ff7f0e"])),
    ).properties(height=200)


def drift_monitor(frame: pd.DataFrame) -> alt.LayerChart:
    """The drift monitor's CUSUM statistics (one line or point per detector) and their alarm thresholds."""
    base = alt.Chart(frame)
    path = base.mark_line(point=True).encode(
        x=alt.X("observation:Q", title="observations"), y=alt.Y("statistic:Q", title="CUSUM statistic"),
        color=alt.Color("detector:N", title="detector"),
        tooltip=["detector:N", "observation:Q", "statistic:Q", "threshold:Q", "alarm:N"])
    threshold = base.mark_rule(strokeDash=[6, 3], color="#d62728").encode(y="max(threshold):Q")
    return alt.layer(path, threshold).properties(height=200)


def now_utc() -> datetime:
    return datetime.now(UTC)
