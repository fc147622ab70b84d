"""Overview: where the money goes (spend over time by any dimension), what moved, unit costs,
unpriced coverage, and experiment spend apart from product spend. Layout only."""

import streamlit as st

from tokenproof.dashboards import charts, data
from tokenproof.dashboards.session import guarded, header

WINDOWS = {"last 24 hours": ("24h", "hour"), "last 7 days": ("7d", "day"), "last 30 days": ("30d", "day"),
           "last 90 days": ("90d", "week")}
STACKS = ["feature", "tier", "model", "provider", "service", "customer", "request_model"]

url = header("Overview", "Product spend, what moved, unit costs and unpriced coverage")
left, right = st.columns(2)
window = left.selectbox("Window", list(WINDOWS), index=1)
stack = right.selectbox("Stack spend by", [*STACKS, "attr.<key>…"], index=0)
if stack.startswith("attr."):
    stack = "attr." + st.text_input("Span attribute key", value="app.region").strip()
since, granularity = WINDOWS[window]

view = guarded(data.overview, url, since, stack, granularity)
if view is None:
    st.stop()
if view.status.llm_calls == 0:
    st.info("No LLM calls stored yet. Run your app under `opentelemetry-instrument` with "
            f"`OTEL_EXPORTER_OTLP_ENDPOINT={url}` (or `tokenproof demo`), and the spend shows here.")
    st.stop()
report, totals = view.spend, view.customers

t = totals.totals
customers = len([r for r in totals.rows if r.dimension("customer")])
cols = st.columns(5)
cols[0].metric("Product spend", f"${t.cost_usd:,.2f}")
cols[1].metric("LLM calls", f"{t.calls:,}")
cols[2].metric("Cost per call", "unpriced" if t.cost_per_call is None else f"${t.cost_per_call:,.5f}")
cols[3].metric("Cost per 1k calls", "unpriced" if t.cost_per_1k_calls is None else f"${t.cost_per_1k_calls:,.2f}")
cols[4].metric("Cost per customer", f"${t.cost_usd / customers:,.2f}" if customers else "no customer tags")

st.subheader(f"Spend over time by {stack}")
frame = data.cost_frame(report, [stack])
if frame.empty:
    st.info("No product spend in this window.")
else:
    st.altair_chart(charts.spend_over_time(frame, stack, granularity), width="stretch")

st.subheader("Movers versus the previous period")
movers = view.movers
if movers is not None:
    rows = [{stack: m.dimension(stack) or "(none)", "spend": m.cost_usd, "previous": m.previous_cost_usd,
             "change_usd": m.delta_usd, "change_pct": m.change_pct} for m in movers.rows]
    if rows:
        st.dataframe(rows, hide_index=True, column_config={
            "spend": st.column_config.NumberColumn(format="$%.4f"),
            "previous": st.column_config.NumberColumn(format="$%.4f"),
            "change_usd": st.column_config.NumberColumn(format="$%.4f"),
            "change_pct": st.column_config.NumberColumn(format="%.1f%%")})
    else:
        st.caption("Nothing moved.")

left, right = st.columns(2)
with left:
    st.subheader("Unpriced coverage")
    cov = view.coverage
    if cov is not None:
        st.metric("Unpriced calls", f"{cov.unpriced_calls:,} of {cov.calls:,}",
                  f"{100 * cov.unpriced_call_share:.1f}% of calls, not counted as $0", delta_color="off", delta_arrow="off")
        if cov.top_unpriced_models:
            st.dataframe([m.as_dict() for m in cov.top_unpriced_models], hide_index=True)
        else:
            st.caption("Every call in the window has a price.")
with right:
    st.subheader("Experiment spend (shadow, judge, monitoring)")
    exp = report.experiment.totals
    st.metric("Experiment spend", f"${exp.cost_usd:,.2f}", f"{exp.calls:,} calls, not in product spend",
              delta_color="off", delta_arrow="off")
    by_class = data.experiment_frame(report)
    if not by_class.empty:
        st.dataframe(by_class, hide_index=True)

st.subheader("Top customers")
top = [{"customer": r.dimension("customer") or "(untagged)", "calls": r.calls, "spend": r.cost_usd,
        "cost_per_call": r.cost_per_call} for r in totals.rows[:20]]
st.dataframe(top, hide_index=True, column_config={"spend": st.column_config.NumberColumn(format="$%.4f")})
