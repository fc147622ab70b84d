"""Scheduler: the service's proof scheduler at work. Paused or running (who paused it and why), the
last pass, the day's and the month's shadow budget, the alpha ledger, every request group's state and
reason, the routes it started with their evidence and spend, back-offs, recent events; Pause and
Resume. Layout only: reads and writes go through ``tokenproof.dashboards.data``."""

import streamlit as st

from tokenproof.dashboards import data
from tokenproof.dashboards.session import credential, guarded, header, write

url = header("Scheduler", "Judged shadow comparisons the service schedules by itself, within its budgets")
token = credential()

if guarded(data.scheduler, url) is False:
    st.info("This service does not run the proof scheduler: start shadow runs by hand from the "
            "Recommendations page.")
    st.stop()
state = guarded(data.scheduler_status, url)
if state is None:
    st.stop()

# the switch and the loop
loop = state.loop
switch = guarded(data.scheduler_switch, url, state.paused) or {}
by = f" by {switch.get('actor') or 'unknown'} at {switch.get('at', '')}" if switch else ""
why = f": {switch['reason']}" if switch.get("reason") else ""
if state.paused:
    st.warning(f"Paused{by}{why}. No shadow traffic is sent until it is resumed.")
else:
    st.success(f"Running (resumed{by}{why})" if switch else "Running")
if not loop.get("running"):
    st.caption("The service's loop is off (setting scheduler_interval_seconds = 0): passes run only when asked "
               "for (`tokenproof scheduler run`, `POST /api/v1/scheduler/run`).")
else:
    nxt = loop.get("next_pass_in_s")
    st.caption(f"A pass every {loop.get('interval_seconds', 0):g} s"
               + (f"; next in {nxt:g} s" if nxt is not None else "") + f"; policy version {state.policy_version}.")

reason = st.text_input("Reason (recorded with the pause or resume)", key="scheduler-reason")
left, right = st.columns(2)
paused = left.button("Pause", disabled=state.paused, help="batches stop after the comparison in flight")
if paused and write("Pause", data.pause_scheduler, url, token, reason) is not None:
    st.rerun()
resumed = right.button("Resume", disabled=not state.paused)
if resumed and write("Resume", data.resume_scheduler, url, token, reason) is not None:
    st.rerun()

last = state.last_pass
if last:
    batches = last.get("batches") or []
    done = sum(int(b.get("new_comparisons") or 0) for b in batches)
    spent = sum(float(b.get("spent_usd") or 0.0) for b in batches)
    st.markdown(f"**Last pass** at {last.get('at', '-')}: "
                + (f"skipped ({last['skipped']})" if last.get("skipped")
                   else f"{len(batches)} batches, {done} comparisons, ${spent:,.4f}")
                + f", {last.get('seconds', 0):g} s")
else:
    st.caption("No pass since the service started.")

# budgets and the alpha ledger
st.subheader("Budgets")
cols = st.columns(3)
for col, (label, spent, cap) in zip(cols, data.scheduler_budgets(state), strict=False):
    col.metric(label, f"${spent:,.4f}", delta=f"of ${cap:,.2f}", delta_color="off")
    col.progress(min(1.0, spent / cap) if cap > 0 else 1.0)
cols[2].metric("Per route", f"${float(state.budgets.get('route_cap_usd', 0.0)):,.2f}",
               help="shadow and judge spend cap of each route version")
alpha = state.alpha
family, allotted = float(alpha.get("family_alpha", 0.0)), float(alpha.get("allotted", 0.0))
st.subheader("Alpha")
cols = st.columns(3)
cols[0].metric("Groups admitted", f"{alpha.get('groups_admitted', 0)} of {alpha.get('portfolio_routes', 0)}",
               help="each admitted request group holds alpha / proof_portfolio_routes of the family-wise alpha")
cols[1].metric("Alpha allotted", f"{allotted:.4g}", delta=f"of {family:g} family-wise", delta_color="off")
cols[2].metric("Decisions", ", ".join(f"{k} {v}" for k, v in state.decisions.items() if v) or "none yet")
st.progress(min(1.0, allotted / family) if family > 0 else 0.0)
for provider, backoff in state.backoff.items():
    st.warning(f"Backing off {provider}: {int(backoff.get('failures', 0))} provider failures, retry in "
               f"{backoff.get('retry_in_s', 0):g} s")

# groups, routes, events
groups, routes = data.scheduler_frames(state)
st.subheader("Request groups")
if groups.empty:
    st.info("No request group to test yet: the scheduler tests groups with captured content (content capture "
            "on) and enough calls per day. Send traces with captured prompts, then check the policy "
            "(`tokenproof scheduler policy`).")
else:
    st.dataframe(groups, hide_index=True)
st.subheader("Routes it started")
if state.running_batches:
    st.caption("Running now: " + "; ".join(f"{b.get('feature', '')} → {b.get('candidate', '')} (up to "
                                           f"{b.get('quota', 0)} comparisons)" for b in state.running_batches))
if routes.empty:
    st.info("No route started yet: routes appear here when a pass runs the first batch of a group's candidate.")
else:
    st.dataframe(routes, hide_index=True)
    st.caption("A route that decided switch appears on the Recommendations page with its evidence.")
st.subheader("Recent events")
kind = st.selectbox("Kind", ["all", "decision", "batch_finished", "budget_stop", "deferred", "backoff", "admitted",
                             "route_started", "paused", "resumed", "policy_changed", "refused", "error"])
events = guarded(data.scheduler_events, url, "" if kind == "all" else kind, 100)
if events is not None and events.empty:
    st.caption("No event yet.")
elif events is not None:
    st.dataframe(events, hide_index=True)
