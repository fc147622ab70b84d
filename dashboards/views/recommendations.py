"""Recommendations: proven routes with projected savings, the plain-sentence meaning of each decision
and its evidence; push a proven route to the routing registry as a canary or active; start a shadow
run. Layout only: reads and writes go through ``tokenproof.dashboards.data``."""

import math

import streamlit as st

from tokenproof.dashboards import charts, data
from tokenproof.dashboards.session import credential, guarded, header, scoped, write

url = header("Recommendations", "What is proven safe to switch, and the evidence")
token = credential()
routing = bool(guarded(data.routing, url))
NO_ROUTING = "Routing is not enabled on this service: routes can be proven here but not pushed."
READ_NOTE = ("Enter the API token in the sidebar to see prompts and answers (the stored comparisons need "
             "the service's read scope).")
REGISTRY_NOTE = "Enter the API token in the sidebar to see which proven routes are already pushed."
proofs = {s.route_id: s for s in guarded(data.routes, url) or []}


def _money(value):
    return "unpriced" if value is None else f"${value:,.2f}"


def _rate(value):
    return "-" if value is None else f"{value:.1%}"


def evidence(route_id: str, shown_meaning: str | None = None) -> None:
    state = proofs.get(route_id)
    ev = state.evidence if state else None
    if ev is not None:
        if ev.meaning and ev.meaning != shown_meaning:
            st.info(ev.meaning)
        m = st.columns(5)
        m[0].metric("Comparisons", ev.n)
        m[1].metric("Loss or unresolved, upper bound", _rate(ev.loss_rate_upper_bound),
                    help="anytime-valid bound on the share of requests the candidate loses or the judge cannot settle")
        m[2].metric("Tie-adjusted win rate", _rate(ev.tie_adjusted_win_rate))
        m[3].metric("Unresolved", f"{ev.unresolved} ({_rate(ev.unresolved_share)})")
        m[4].metric("Swap inconsistency", _rate(ev.swap_inconsistency_rate),
                    help="share of judged pairs whose verdict changed with the answer order")
        m = st.columns(5)
        lc = ev.length_control
        m[0].metric("Length effect (LC win rate)", "-" if lc.get("lc_win_rate") is None else f"{lc['lc_win_rate']:.1%}",
                    help="win rate once the answers' length difference is controlled for")
        m[1].metric("Format failures", ev.format_failures)
        m[2].metric("Judge failures", ev.judge_failures,
                    delta=None if not ev.judge_failures else f"cost {_money(ev.judge_failure_cost_usd)}",
                    delta_color="off")
        m[3].metric("Shadow spend", _money(ev.shadow_spend_usd))
        m[4].metric("Decision", ev.decision or "-")
        if ev.unresolved_reasons:
            st.caption("Unresolved because: " + ", ".join(f"{k} {v}" for k, v in ev.unresolved_reasons.items()))
        if ev.uninformative_reason:
            st.caption(f"Uninformative: {ev.uninformative_reason}")
    detail = scoped(READ_NOTE, data.route_comparisons, url, token, route_id)
    comparisons = detail.comparisons if detail else []
    left, right = st.columns(2)
    if comparisons:
        left.markdown("Outcomes over time")
        left.altair_chart(charts.outcomes_over_time(data.outcomes_frame(comparisons)), width="stretch")
    full = detail.evidence if detail else ev  # the path comes with the stored comparisons
    if full is not None and full.trajectory:
        upper = math.log(full.switch_threshold_e) if full.switch_threshold_e else full.extra("switch_threshold")
        right.markdown("Sequential test's path to its boundary (log e-value)")
        right.altair_chart(charts.sequential_path(full.trajectory, upper, full.extra("keep_threshold")),
                           width="stretch")
    disputed = data.disputed_pairs(comparisons)
    if detail is not None and comparisons and not disputed:
        st.caption("No disputed pair: every judged pair got the same verdict in both answer orders, and the "
                   "candidate neither lost nor was left unresolved.")
    for pair in disputed:
        st.markdown(f"**Disputed** ({pair.get('outcome')}, judge orders "
                    f"{pair.get('result_baseline_first') or '-'} / {pair.get('result_candidate_first') or '-'}"
                    + (f"; {pair['error_kind']}" if pair.get("error_kind") else "") + "): "
                    f"{str(pair.get('question', ''))[:300]}")
        a, b = st.columns(2)
        a.caption(f"baseline {pair.get('baseline_model', '')}")
        a.code(str(pair.get("baseline_output", "")), language=None, wrap_lines=True)
        b.caption(f"candidate {pair.get('candidate_model', '')}")
        b.code(str(pair.get("candidate_output", "")), language=None, wrap_lines=True)


def _group(match) -> str:
    return "/".join(str(match.get(k) or "*") for k in ("service", "feature", "fingerprint"))


def push_controls(rec, pushed) -> None:
    """Push as canary / as active, each behind a confirmation naming the traffic it moves."""
    if not routing:
        st.button("Push as canary", key=f"push-canary-{rec.route_id}", disabled=True, help=NO_ROUTING)
        return
    live = [r for r in pushed or [] if r.proof.get("route_id", "") == rec.route_id and r.state != "rolled_back"]
    for route in live:
        st.success(f"Pushed as route `{route.id}`: {route.state}, {route.traffic_share:.0%} of the traffic "
                   "(manage it on the Routes page)")
    volume = guarded(data.monthly_volume, url, rec.match, rec.baseline)
    group = _group(rec.match)
    provider = st.text_input("Provider both models are priced under", value="openai", key=f"provider-{rec.route_id}",
                             help="the gen_ai.provider.name the routing registry prices the two models with")
    canary, active = st.columns(2)
    share = canary.number_input("Canary traffic share (%)", min_value=1, max_value=100, value=10,
                                key=f"share-{rec.route_id}")
    for col, state, fraction in ((canary, "canary", share / 100), (active, "active", 1.0)):
        calls = f"; ~{volume * fraction:,.0f} of its {volume:,.0f} calls per month" if volume else ""
        col.markdown(f"**As {state}**: moves {fraction:.0%} of {group} traffic on {rec.baseline} to "
                     f"{rec.candidate}{calls}.")
        confirm = col.checkbox(f"Confirm pushing as {state}", key=f"confirm-{state}-{rec.route_id}")
        if col.button(f"Push as {state}", key=f"push-{state}-{rec.route_id}", disabled=not confirm):
            route = write(f"Push as {state}", data.push_route, url, token, rec, state,
                          fraction if state == "canary" else None, provider.strip() or "openai")
            if route is not None:
                col.markdown(f"Route `{route.id}` is now **{route.state}** at {route.traffic_share:.0%}.")


recs = guarded(data.recommendations, url)
st.subheader("Proven routes")
if recs is not None and not recs.recommendations:
    st.info(f"No route is proven yet ({recs.routes_tested} under test). Start a shadow run on a candidate "
            "below: the sequential test decides when the evidence is enough.")
pushed = scoped(REGISTRY_NOTE, data.routing_routes, url, token) if routing and recs and recs.recommendations else []
for rec in recs.recommendations if recs else []:
    with st.expander(f"{rec.baseline} → {rec.candidate} for {_group(rec.match)}: saves {_money(rec.monthly_saving_usd)} "
                     "per month", expanded=True):
        if rec.meaning:
            st.info(rec.meaning)
        conf = rec.confidence
        st.markdown(f"Loses or is unresolved on at most {_rate(conf.loss_rate_upper_bound)} of requests at "
                    f"{conf.level:.1%} confidence ({conf.unresolved} unresolved of {conf.comparisons} comparisons); "
                    f"tie-adjusted win rate {_rate(conf.tie_adjusted_win_rate)}; swap inconsistency "
                    f"{_rate(conf.swap_inconsistency_rate)}; length-controlled win rate "
                    f"{_rate(conf.length_controlled_win_rate)}"
                    + ("" if rec.portfolio_switch else "; not significant at portfolio level"))
        st.caption(f"proof route {rec.route_id}")
        push_controls(rec, pushed)
        evidence(rec.route_id, rec.meaning)
if not routing:
    st.caption(NO_ROUTING + " The push buttons stay disabled until it is.")

st.subheader("Routes under test")
if not proofs:
    st.caption("No shadow runs yet.")
for state in proofs.values():
    ev = state.evidence
    with st.expander(f"{state.route.get('BaselineModel', '')} → {state.route.get('CandidateModel', '')}: "
                     f"{ev.decision} after {ev.n} comparisons (wins {ev.wins}, ties {ev.ties}, losses {ev.losses}, "
                     f"unresolved {ev.unresolved})"):
        st.caption(f"route {state.route_id}")
        if st.toggle("Show the evidence", key=f"evidence-{state.route_id}"):
            evidence(state.route_id)
        with st.form(f"optimize-form-{state.route_id}"):
            st.caption("Search system prompts for the candidate on a locked split of the group's prompts; the "
                       "held-out match rate is reported apart, and a chosen prompt still needs its own shadow "
                       "proof (docs/optimize.md).")
            o1, o2 = st.columns(2)
            rounds = o1.number_input("Rounds", min_value=1, max_value=10, value=3, key=f"optimize-rounds-{state.route_id}")
            held_out = o2.number_input("Held-out prompts", min_value=5, max_value=2000, value=60,
                                       key=f"optimize-held-{state.route_id}")
            if st.form_submit_button("Optimise the candidate's prompt"):
                started = write("Prompt optimisation", data.start_optimize_run, url, token, state.route, int(rounds),
                                int(held_out))
                if started is not None:
                    st.session_state["optimize_job"] = started.job_id

optimizing = st.session_state.get("optimize_job")
if optimizing:  # a background job: its progress, then its report's text (search and held-out figures apart)
    run = guarded(data.optimize_run, url, optimizing)
    if run is not None:
        if run.running:
            st.info(f"prompt optimisation {optimizing}: {run.progress.get('phase', 'starting')}")
            st.button("Refresh optimisation")
        elif run.result is not None:
            st.code(run.result.get("text", ""), language=None)
            del st.session_state["optimize_job"]
        else:
            st.error(f"prompt optimisation {optimizing} {run.state}: {run.error or ''}")
            del st.session_state["optimize_job"]

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
            run = write("Shadow run", data.start_shadow_run, url, token, group, other.strip() or model,
                        int(limit), budget or None, endpoint.strip() or None, judge.strip() or None)
            if run is not None:
                st.session_state["shadow_job"] = run.job_id

job = st.session_state.get("shadow_job")
if job:  # shadow runs are background jobs: show the job's progress
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
