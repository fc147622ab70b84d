"""Recommendations: candidate routes with projected savings and their evidence; start a shadow run;
push / canary / roll back when the service offers routing. Layout only."""

import streamlit as st

from tokenproof.dashboards import charts, data
from tokenproof.dashboards.session import credential, guarded, header, write

url = header("Recommendations", "What is proven safe to switch, and the evidence")
token = credential()
routing = guarded(data.routing, url) or {}
NO_ROUTING = "Routing is not enabled on this service yet: routes can be proven here but not pushed."


def _money(value):
    return "unpriced" if value is None else f"${value:,.2f}"


def evidence(route_id: str) -> None:
    detail = guarded(data.route_comparisons, url, route_id)
    if detail is None:
        return
    ev, comparisons = detail.evidence, detail.comparisons
    meaning = ev.meaning or ev.extra("plain_meaning") or ev.extra("meaning_text")
    if meaning:
        st.info(meaning)
    m = st.columns(5)
    m[0].metric("Comparisons", ev.n)
    m[1].metric("Non-loss rate", "-" if ev.non_loss_rate is None else f"{ev.non_loss_rate:.1%}")
    unresolved = data.unresolved_share(comparisons)
    m[2].metric("Unresolved (order flipped)", "-" if unresolved is None else f"{unresolved:.1%}")
    m[3].metric("Length effect (LC win rate)", str(ev.length_control.get("lc_win_rate", "-")))
    m[4].metric("Format failures", ev.format_failures)
    if comparisons:
        left, right = st.columns(2)
        left.markdown("Outcomes over time")
        left.altair_chart(charts.outcomes_over_time(data.outcomes_frame(comparisons)), width="stretch")
        right.markdown("Sequential test's path to its boundary")
        right.altair_chart(charts.sequential_path(ev.trajectory, ev.extra("switch_threshold"),
                                                  ev.extra("keep_threshold")), width="stretch")
    for pair in data.disputed_pairs(comparisons):
        st.markdown(f"**Disputed** ({pair.get('outcome')}, judge orders "
                    f"{pair.get('result_baseline_first')} / {pair.get('result_candidate_first')}): "
                    f"{str(pair.get('question', ''))[:300]}")
        a, b = st.columns(2)
        a.caption(f"baseline {pair.get('baseline_model', '')}")
        a.code(str(pair.get("baseline_output", "")), language=None, wrap_lines=True)
        b.caption(f"candidate {pair.get('candidate_model', '')}")
        b.code(str(pair.get("candidate_output", "")), language=None, wrap_lines=True)


recs = guarded(data.recommendations, url)
st.subheader("Proven routes")
if recs is not None and not recs.recommendations:
    st.info(f"No route is proven yet ({recs.routes_tested} under test). Start a shadow run on a candidate "
            "below: the sequential test decides when the evidence is enough.")
for rec in recs.recommendations if recs else []:
    with st.expander(f"{rec.baseline} → {rec.candidate} for {rec.match}: saves {_money(rec.monthly_saving_usd)} "
                     "per month", expanded=True):
        conf = rec.confidence
        st.markdown(f"Non-loss rate {conf.non_loss_rate} (at least {conf.non_loss_lower_bound} at "
                    f"{conf.level:.0%} confidence) over {conf.comparisons} comparisons; swap inconsistency "
                    f"{conf.swap_inconsistency_rate}; length-controlled win rate {conf.length_controlled_win_rate}"
                    + ("" if rec.portfolio_switch else "; not significant at portfolio level"))
        evidence(rec.route_id)
        volume = guarded(data.monthly_volume, url, rec.match, rec.baseline) if any(routing.values()) else None
        moves = (f"all traffic of {rec.match} from {rec.baseline} to {rec.candidate}"
                 + (f" (~{volume:,.0f} calls per month)" if volume else ""))
        b = st.columns(3)
        for col, action, label in zip(b, ("push", "canary", "rollback"), ("Push route", "Start canary", "Roll back"),
                                      strict=True):
            enabled = bool(routing.get(action))
            confirm = col.checkbox(f"Confirm: moves {moves}", key=f"confirm-{action}-{rec.route_id}",
                                   disabled=not enabled) if action != "rollback" else True
            if col.button(label, key=f"{action}-{rec.route_id}", disabled=not enabled or not confirm,
                          help=None if enabled else NO_ROUTING):
                write(label, data.route_action, url, token, rec.route_id, action)
if not any(routing.values()):
    st.caption(NO_ROUTING + " The push, canary and roll-back buttons stay disabled until it is.")

st.subheader("Routes under test")
states = guarded(data.routes, url) or []
if not states:
    st.caption("No shadow runs yet.")
for state in states:
    ev = state.evidence
    with st.expander(f"{state.route.get('BaselineModel', '')} → {state.route.get('CandidateModel', '')}: "
                     f"{ev.decision} after {ev.n} comparisons (wins {ev.wins}, ties {ev.ties}, losses {ev.losses})"):
        st.caption(f"route {state.route_id}")
        evidence(state.route_id)

st.subheader("Start a shadow run")
if not st.toggle("Propose candidates", help="mines the last 30 days of product traffic for request groups "
                 "and cheaper models"):
    st.caption("Turn on to mine your traffic for candidate routes and start a judged shadow run on one.")
    st.stop()
groups = guarded(data.candidates, url) or []
options = [(g, c.model) for g in groups if not g.too_small for c in g.candidates]
if not options:
    st.info("No request group has a cheaper candidate yet (groups need product traffic with captured prompts).")
else:
    with st.form("shadow"):
        labels = [f"{g.service}/{g.feature or '-'}/{g.fingerprint or '-'}: {g.baseline_model} → {m}" for g, m in options]
        choice = st.selectbox("Request group and candidate", range(len(options)), format_func=lambda i: labels[i])
        c1, c2, c3 = st.columns(3)
        limit = c1.number_input("Prompts at most", min_value=1, max_value=5000, value=50)
        budget = c2.number_input("Spend cap USD (0 = none)", min_value=0.0, value=0.0)
        endpoint = c3.text_input("Provider endpoint (a name the service configures; blank = default)", value="")
        c4, c5 = st.columns(2)
        other = c4.text_input("Candidate model (blank = the proposed one)", value="")
        judge = c5.text_input("Judge model (blank = the baseline's)", value="")
        if st.form_submit_button("Start shadow run"):
            group, model = options[choice]
            with st.spinner("Shadow run in progress: replaying, judging, deciding…"):
                run = write("Shadow run", data.start_shadow_run, url, token, group, other.strip() or model,
                            int(limit), budget or None, endpoint.strip() or None, judge.strip() or None)
            if run is not None:
                st.session_state["shadow_job"] = run.job_id

job = st.session_state.get("shadow_job")
if job:  # a service that runs shadow runs in the background: show the job's progress
    run = guarded(data.shadow_run, url, job)
    if run is not None:
        done, total = run.progress.get("done", 0), run.progress.get("total") or 0
        st.progress(min(1.0, done / total) if total else 0.0,
                    text=f"shadow run {job}: {run.state} ({run.progress.get('n', 0)} comparisons so far)")
        if run.running:
            st.button("Refresh progress")
        elif run.result is not None:
            result = run.result
            st.markdown(f"Route `{result.route_id}`: **{result.decision}** after {result.n} comparisons "
                        f"({result.new_comparisons} new; stopped: {result.stop_reason})")
            if result.meaning:
                st.info(result.meaning)
            del st.session_state["shadow_job"]
        else:
            st.error(f"shadow run {job} {run.state}: {run.error or ''}")
            del st.session_state["shadow_job"]
