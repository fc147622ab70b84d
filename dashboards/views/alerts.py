"""Alerts and budgets: open alerts with their explanation and expected-vs-actual chart, acknowledge /
resolve; budget burn-down with forecast; set a budget. Layout only."""

import calendar
from datetime import UTC, datetime

import streamlit as st

from tokenproof.dashboards import charts, data
from tokenproof.dashboards.session import credential, guarded, header, write

url = header("Alerts and budgets", "Spend anomalies, budget burn-down and forecasts")
token = credential()

st.subheader("Alerts")
show = st.radio("Show", ["open", "acknowledged", "resolved", "all"], horizontal=True)
alerts = guarded(data.alerts, url, "" if show == "all" else show)
if st.button("Evaluate now", help="run anomaly detection and budget checks now"):
    result = write("Evaluation", data.evaluate_alerts, url, token)
    if result is not None:
        st.rerun()
if alerts is not None and not alerts:
    st.info(f"No {'' if show == 'all' else show + ' '}alerts. Alerts open when spend moves away from its "
            "seasonal baseline or a budget is about to run out.")
for alert in alerts or []:
    with st.expander(f"[{alert.severity}] {alert.kind} · {alert.dimension}={alert.value} · {alert.status}",
                     expanded=alert.status == "open"):
        st.write(alert.explanation)
        m1, m2, m3 = st.columns(3)
        m1.metric("Observed", f"${alert.observed:,.4f}")
        m2.metric("Expected", f"${alert.expected:,.4f}")
        m3.metric("Excess", f"${alert.excess_usd:,.4f}")
        series = guarded(data.alert_series, url, alert.dimension, alert.value, alert.started_at, alert.last_seen_at)
        if series is not None and not series.empty:
            hours = max(1, int(series["in_alert"].sum()))
            per_hour = alert.expected / hours if alert.metric == "spend" and not alert.kind.startswith("budget") else None
            st.altair_chart(charts.alert_chart(series, per_hour), width="stretch")
        st.caption(f"opened {alert.opened_at} · last seen {alert.last_seen_at} · {alert.occurrences} occurrences")
        b1, b2 = st.columns(2)
        acked = b1.button("Acknowledge", key=f"ack-{alert.id}", disabled=alert.status != "open")
        if acked and write("Acknowledge", data.acknowledge_alert, url, token, alert.id) is not None:
            st.rerun()
        resolved = b2.button("Resolve", key=f"resolve-{alert.id}", disabled=alert.status == "resolved")
        if resolved and write("Resolve", data.resolve_alert, url, token, alert.id) is not None:
            st.rerun()

st.subheader("Budgets")
budgets = guarded(data.budgets, url)
if budgets is not None and not budgets:
    st.info("No budgets yet. Set a monthly budget for a feature, tier or customer below.")
now = datetime.now(UTC)
month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
month_end = month_start.replace(day=calendar.monthrange(now.year, now.month)[1], hour=23, minute=59)
for budget in budgets or []:
    st.markdown(f"**{budget.scope} = {budget.value}**: ${budget.month_to_date_usd:,.2f} of "
                f"${budget.monthly_usd:,.2f} spent in {budget.month}, projected ${budget.projected_usd:,.2f}; "
                f"runs out {budget.runs_out_at or 'after month end'} ({budget.method} forecast)")
    st.altair_chart(charts.burn_down(month_start, now, month_end, budget.month_to_date_usd,
                                     budget.projected_usd, budget.monthly_usd), width="stretch")

with st.form("set-budget"):
    st.markdown("**Set a budget** (0 removes it)")
    f1, f2, f3 = st.columns(3)
    scope = f1.selectbox("Scope", ["feature", "tier", "customer"])
    value = f2.text_input("Value", placeholder="e.g. summarize")
    monthly = f3.number_input("Monthly USD", min_value=0.0, value=100.0, step=10.0)
    if st.form_submit_button("Save budget"):
        if not value.strip():
            st.error("A budget needs a value (the feature, tier or customer name).")
        elif write("Budget", data.set_budget, url, token, scope, value.strip(), float(monthly)) is not None:
            st.rerun()
