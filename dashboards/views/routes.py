"""Routes: the routing registry's pushed routes with their state, traffic share and proof, live
savings and fallback rate and cost, the drift monitor's CUSUM detectors, canary / pause / roll-back
buttons and the audit log. Layout only: reads and writes go through ``tokenproof.dashboards.data``."""

import streamlit as st

from tokenproof.dashboards import charts, data
from tokenproof.dashboards.session import credential, guarded, header, scoped, write

url = header("Routes", "Pushed routes, live savings, drift and the audit log")
token = credential()
READ_NOTE = ("Enter the API token in the sidebar to see the routing registry (its reads need the service's "
             "read scope).")


def _money(value):
    return "unpriced" if value is None else f"${value:,.4f}"


def _rate(value):
    return "-" if value is None else f"{value:.1%}"


def route_panel(route, saving) -> None:
    m = st.columns(6)
    m[0].metric("State", route.state)
    m[1].metric("Traffic share", f"{route.traffic_share:.0%}")
    m[2].metric("Routed calls", saving.get("routed_calls", 0))
    m[3].metric("Saved", _money(saving.get("saved_usd")) if saving else "-")
    m[4].metric("Fallback rate", _rate(saving.get("fallback_rate")))
    m[5].metric("Fallback cost", _money(saving.get("fallback_cost_usd")) if saving else "-")
    match = ", ".join(f"{k} {v}" for k, v in route.match.items() if v) or "any request"
    st.caption(f"matches {match}; proof route {route.proof.get('route_id', '') or '-'} decided "
               f"{route.proof.get('decision', '') or '-'}{' (override)' if route.proof.get('override') else ''}; "
               f"version {route.version}, changed by {route.changed_by or '-'} at {route.changed_at}"
               + (f"; {route.state_reason}" if route.state_reason else "")
               + (f"; re-proof needed: {route.reproof}" if route.reproof else ""))
    detail = guarded(data.routing_detail, url, token, route.id) or {}
    frame = data.monitor_frame(detail.get("monitor"))
    if frame.empty:
        st.caption("Drift monitor: no observation of this route yet (it watches canary and active routes' "
                   "routed calls).")
    else:
        st.markdown("Drift monitor (CUSUM statistics; the route rolls back when one reaches its threshold)")
        st.altair_chart(charts.drift_monitor(frame), width="stretch")
    if route.state == "rolled_back":
        st.caption("Rolled back: push it again from the Recommendations page to route traffic.")
        return
    share_col, pause_col, back_col = st.columns(3)
    share = share_col.number_input("Canary traffic share (%)", min_value=1, max_value=100,
                                   value=max(1, round(route.traffic_share * 100)), key=f"share-{route.id}")
    if share_col.button("Set share", key=f"canary-{route.id}", help="100% makes the route active"):
        write("Canary share", data.route_action, url, token, route.id, "canary", share / 100)
    if route.state in ("canary", "active") and pause_col.button("Pause", key=f"pause-{route.id}"):
        write("Pause", data.route_action, url, token, route.id, "pause")
    if back_col.button("Roll back", key=f"rollback-{route.id}", type="primary"):
        write("Roll back", data.route_action, url, token, route.id, "rollback")


if not guarded(data.routing, url):
    st.info("Routing is not enabled on this service: no route moves traffic. Proven routes appear on the "
            "Recommendations page.")
    st.stop()
pushed = scoped(READ_NOTE, data.routing_routes, url, token)
if pushed is None:
    st.stop()
if not pushed:
    st.info("No route is pushed yet: push a proven route from the Recommendations page.")
savings = guarded(data.routing_savings, url, token) or {}
live = [r for r in pushed if r.state in ("canary", "active")]
if pushed:
    saved = [savings[r.id].get("saved_usd") for r in pushed if r.id in savings]
    m = st.columns(3)
    m[0].metric("Routes moving traffic", len(live))
    m[1].metric("Saved (30 days)", "no routed calls yet" if not saved else "unpriced" if None in saved
                else f"${sum(saved):,.4f}", help="baseline-equivalent cost of the routed calls minus what they "
                "and their fallbacks cost; unpriced when a model's price is unknown")
    m[2].metric("Fallbacks (30 days)", sum(int(savings.get(r.id, {}).get("fallbacks", 0)) for r in pushed))
    st.dataframe([{"route": r.id, "state": r.state, "traffic_share": r.traffic_share, "baseline": r.match.get("baseline", ""),
                   "candidate": r.candidate, "feature": r.match.get("feature", ""),
                   "fingerprint": r.match.get("fingerprint", ""), "proof_route": r.proof.get("route_id", ""),
                   "proof_decision": r.proof.get("decision", "")} for r in pushed], hide_index=True)
for route in sorted(pushed, key=lambda r: r.state == "rolled_back"):
    with st.expander(f"{route.id}: {route.match.get('baseline', '')} → {route.candidate} ({route.state}, "
                     f"{route.traffic_share:.0%})", expanded=route.state != "rolled_back"):
        route_panel(route, savings.get(route.id, {}))

st.subheader("Audit log")
audit = guarded(data.routing_audit, url, token)
if audit is not None and audit.empty:
    st.caption("No routing change yet.")
elif audit is not None:
    st.dataframe(audit, hide_index=True)
