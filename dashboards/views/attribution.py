"""Attribution explorer: group by any dimensions and span attributes, filter, drill down to prompt
fingerprints and sample traces; CSV download and FOCUS export. Layout only."""

import streamlit as st

from tokenproof.dashboards import data
from tokenproof.dashboards.session import guarded, header

DIMENSIONS = ["feature", "tier", "customer", "model", "request_model", "provider", "service", "fingerprint"]
WINDOWS = {"last 24 hours": "24h", "last 7 days": "7d", "last 30 days": "30d", "last 90 days": "90d"}

url = header("Attribution explorer", "Who spent what, by any combination of dimensions")
c1, c2, c3 = st.columns([3, 2, 1])
dims = c1.multiselect("Group by", DIMENSIONS, default=["feature", "model"])
attrs = c2.text_input("Span attribute keys (comma separated, grouped as attr.<key>)", value="")
window = c3.selectbox("Window", list(WINDOWS), index=1)
granularity = st.radio("Granularity", ["total", "hour", "day", "week", "month"], horizontal=True)
where_text = st.text_input("Filters (dimension=value, comma separated)", value="",
                           help="e.g. tier=pro, attr.app.region=eu")
group = tuple(dims) + tuple(f"attr.{a.strip()}" for a in attrs.split(",") if a.strip())
where = tuple(w.strip() for w in where_text.split(",") if w.strip())
since = WINDOWS[window]

view = guarded(data.attribution, url, since, group, granularity, where)
if view is None:
    st.stop()
if view.status.llm_calls == 0:
    st.info("No LLM calls stored yet: nothing to attribute. Send traces to the service and come back.")
    st.stop()
report, features = view.report, view.features
frame = data.cost_frame(report, group)
t = report.totals
st.markdown(f"**${t.cost_usd:,.4f}** over **{t.calls:,}** product calls "
            f"({t.unpriced_calls:,} unpriced, not in $) · source `{report.source}`")
if frame.empty:
    st.info("No product calls match.")
else:
    st.dataframe(frame, hide_index=True, column_config={
        "cost_usd": st.column_config.NumberColumn(format="$%.6f"),
        "cost_per_call": st.column_config.NumberColumn(format="$%.6f"),
        "cost_per_1k_calls": st.column_config.NumberColumn(format="$%.4f")})
d1, d2 = st.columns(2)
d1.download_button("Download CSV", frame.to_csv(index=False).encode(), file_name="tokenproof-cost.csv",
                   mime="text/csv", disabled=frame.empty)
d2.download_button("Download FOCUS export (CSV)", lambda: data.focus_export(url, since, "csv"),
                   file_name=f"focus-{since}.csv", mime="text/csv", on_click="ignore")

st.subheader("Drill down")
names = [r.dimension("feature") for r in features.rows]
if not names:
    st.caption("No features in the window.")
    st.stop()
feature = st.selectbox("Feature", names)
prints = guarded(data.cost, url, since, ("fingerprint", "model"), "total", (f"feature={feature}",))
if prints is not None:
    st.markdown(f"Prompt fingerprints of **{feature or '(none)'}**")
    st.dataframe(data.cost_frame(prints, ("fingerprint", "model")), hide_index=True)
    fingerprints = sorted({r.dimension("fingerprint") for r in prints.rows})
    fingerprint = st.selectbox("Fingerprint", ["(any)", *fingerprints])
    if not st.toggle("Show sample traces of this group", help="reads the most recent calls of the group"):
        st.stop()
    calls = guarded(data.sample_calls, url, feature, "" if fingerprint == "(any)" else fingerprint)
    if calls:
        st.markdown("Sample traces (most recent calls)")
        st.dataframe([{"time": c.Timestamp, "trace": c.TraceId, "model": c.ResponseModel or c.RequestModel,
                       "in": c.InputTokens, "out": c.OutputTokens,
                       "cost_usd": "unpriced" if c.CostUSD is None else f"{c.CostUSD:.6f}"} for c in calls[:50]],
                     hide_index=True)
        trace_id = st.selectbox("Trace", [c.TraceId for c in calls[:50]])
        rollup = guarded(data.trace, url, trace_id)
        if rollup is not None:
            st.markdown(f"Trace `{rollup.trace_id}`: **${rollup.totals.cost_usd:,.6f}** over "
                        f"{rollup.inference_spans} model calls ({rollup.other_spans_not_summed} agent/tool "
                        "spans not summed)")
            st.dataframe([m.as_dict() for m in rollup.by_model], hide_index=True)
    else:
        st.caption("No recent calls of this group.")
