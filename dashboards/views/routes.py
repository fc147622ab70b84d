"""Routes: active and canary routes with live savings, fallback rate, the drift monitor and the audit
log once the service offers routing; until then a clear empty state. Layout only."""

import streamlit as st

from tokenproof.dashboards import data
from tokenproof.dashboards.session import guarded, header

url = header("Routes", "Active and canary routes, drift and the audit log")
routing = guarded(data.routing, url) or {}
states = guarded(data.routes, url) or []
live = [s for s in states if str(s.route.get("State", s.route.get("state", ""))).lower() in {"active", "canary"}]

if not any(routing.values()):
    st.info("Routing is not enabled yet on this service: no route moves traffic. Proven routes appear on "
            "the Recommendations page; once routing is available, active and canary routes, their live "
            "savings, fallback rate, drift monitor and audit log show here.")
elif not live:
    st.info("No active or canary route yet: push a proven route from the Recommendations page.")
for state in live:
    route = state.route
    with st.expander(f"{state.route_id}: {route.get('BaselineModel')} → {route.get('CandidateModel')} "
                     f"({route.get('State', route.get('state'))})", expanded=True):
        st.json({k: v for k, v in route.items() if not k.endswith("Json")})

st.subheader("Routes under test")
if not states:
    st.caption("No shadow runs yet.")
else:
    st.dataframe([{"route": s.route_id, "baseline": s.route.get("BaselineModel", ""),
                   "candidate": s.route.get("CandidateModel", ""), "decision": s.evidence.decision,
                   "comparisons": s.evidence.n, "non_loss_rate": s.evidence.non_loss_rate,
                   "shadow_spend_usd": s.evidence.shadow_spend_usd} for s in states], hide_index=True)
