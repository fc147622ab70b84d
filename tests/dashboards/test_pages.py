"""Every dashboard page run by Streamlit's AppTest against a real `tokenproof serve` (seeded through
OTLP, and empty): no exceptions, the seeded numbers shown, actions change the API's state, and a
write without the credential is refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tokenproof.client import ServiceClient

from .conftest import PRODUCT_SPEND, SHADOW_SPEND, TOKEN, UNPRICED_CALLS

PAGES = Path(__file__).resolve().parents[2] / "dashboards" / "views"
CREDENTIAL = "tokenproof_write_credential_field"


def _page(name: str, url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("TOKENPROOF_SERVICE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [i.value for i in at.info] + [c.value for c in at.caption]
    parts += [f"{m.label}: {m.value} {m.delta or ''}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_overview_shows_the_seeded_spend(seeded_service, monkeypatch):
    at = _page("overview", seeded_service, monkeypatch)
    assert _metric(at, "Product spend") == f"${PRODUCT_SPEND:,.2f}"
    assert _metric(at, "Experiment spend") == f"${SHADOW_SPEND:,.2f}"
    assert _metric(at, "Unpriced calls").startswith(f"{UNPRICED_CALLS:,} of ")
    assert _metric(at, "Cost per customer") == f"${PRODUCT_SPEND / 2:,.2f}"  # acme and globex
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the spend chart
    # stacking by another dimension re-renders without errors
    at.selectbox[1].select("tier").run()
    assert not at.exception


def test_attribution_groups_and_drills_down(seeded_service, monkeypatch):
    at = _page("attribution", seeded_service, monkeypatch)
    table = at.dataframe[0].value
    by_feature = table.groupby("feature")["cost_usd"].sum().round(4).to_dict()
    assert by_feature["summarize"] == 5.0 and by_feature["chat"] == 1.0 and by_feature["math-tutor"] == 0.9
    assert "private" in by_feature  # unpriced group listed, with no $ attributed
    assert any(b.label == "Download CSV" for b in at.get("download_button"))
    feature = next(s for s in at.selectbox if s.label == "Feature")
    feature.select("math-tutor").run()
    assert not at.exception
    assert "fp-math" in set(at.dataframe[1].value["fingerprint"])
    # sample traces on demand, and one trace's cost
    next(t for t in at.toggle if t.label.startswith("Show sample traces")).set_value(True).run()
    assert not at.exception
    traces = at.dataframe[2].value
    assert len(traces) == 50 and set(traces["cost_usd"]) == {"0.010000"}  # the 50 most recent of 90
    assert any("Trace `" in m.value and "$0.010000" in m.value for m in at.markdown)


def test_alerts_budget_set_and_acknowledged_through_the_page(seeded_service, monkeypatch):
    client = ServiceClient(seeded_service, token=TOKEN)
    at = _page("alerts", seeded_service, monkeypatch)

    def save_budget(at: AppTest, value: str, usd: float) -> AppTest:
        next(t for t in at.text_input if t.label == "Value").input(value)
        next(n for n in at.number_input if n.label == "Monthly USD").set_value(usd)
        next(b for b in at.button if b.label == "Save budget").click()
        return at.run()

    # without the write credential the service refuses and nothing changes
    at = save_budget(at, "summarize", 2.0)
    assert any("refused" in e.value for e in at.error)
    assert not [b for b in client.budgets() if b.value == "summarize"]
    # with it, the budget is stored and the burn-down shows it
    at.sidebar.text_input(key=CREDENTIAL).input(TOKEN).run()
    at = save_budget(at, "summarize", 2.0)
    assert not at.exception
    assert [(b.scope, b.monthly_usd) for b in client.budgets() if b.value == "summarize"] == [("feature", 2.0)]
    assert any("summarize" in m.value and "$2.00" in m.value for m in at.markdown)

    # the spend runs over the budget: evaluating opens a budget alert; acknowledge it on the page
    next(b for b in at.button if b.label == "Evaluate now").click()
    at.run()
    opened = [a for a in client.alerts("open") if a.kind.startswith("budget") and a.value == "summarize"]
    assert opened, client.alerts()
    alert = opened[0]
    assert any(alert.explanation in m.value for m in at.markdown)
    at.button(key=f"ack-{alert.id}").click()
    at.run()
    assert not at.exception
    assert client.alert(alert.id).status == "acknowledged"


PROVIDER = "deepinfra"  # prices both GPT-4 and Mixtral (the registry refuses a route with an unpriced model)


def _prove(at: AppTest, client: ServiceClient, provider) -> AppTest:
    """Start a shadow run from the page on the math-tutor group and wait for its background job."""
    next(t for t in at.toggle if t.label == "Propose candidates").set_value(True).run()
    group = next(s for s in at.selectbox if s.label == "Request group and candidate")
    group.select_index(next(i for i, o in enumerate(group.options) if "math-tutor" in o))
    next(t for t in at.text_input if t.label.startswith("Candidate model")).input("mixtral-8x7b-instruct")
    next(n for n in at.number_input if n.label == "Prompts at most").set_value(80)
    next(b for b in at.button if b.label == "Start shadow run").click()
    at.run(timeout=60)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    job = at.session_state["shadow_job"]
    assert client.shadow_run(job, wait_s=150).state == "done"
    at.run()  # the page shows the finished job's decision
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_recommendations_prove_and_push_a_route(seeded_service, provider, monkeypatch):
    client = ServiceClient(seeded_service, token=TOKEN)
    at = _page("recommendations", seeded_service, monkeypatch)
    assert any("No route is proven yet" in i.value for i in at.info)
    before = len(client.routes())
    at.sidebar.text_input(key=CREDENTIAL).input(TOKEN).run()
    at = _prove(at, client, provider)
    assert any("**switch**" in m.value for m in at.markdown), _text(at)
    routes = client.routes()
    assert len(routes) == before + 1 and routes[-1].evidence.n >= 30
    # the route's candidate prompt can be optimised from the page (a background job, report shown when done)
    rid = routes[-1].route_id
    at.number_input(key=f"optimize-rounds-{rid}").set_value(1)
    at.number_input(key=f"optimize-held-{rid}").set_value(6)
    next(b for b in at.button if b.label == "Optimise the candidate's prompt").click().run(timeout=60)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert client.optimize_run(at.session_state["optimize_job"], wait_s=150).state == "done"
    at.run()
    assert any("HELD-OUT FIGURES" in c.value for c in at.code), _text(at)
    (rec,) = client.recommendations().recommendations  # the recorded answers prove Mixtral good enough here

    # a fresh session without the credential: evidence and meaning shown, prompts hidden, push refused
    at = _page("recommendations", seeded_service, monkeypatch)
    assert any(e.label.startswith(f"{rec.baseline} → {rec.candidate}") and "saves $" in e.label for e in at.expander)
    assert any(rec.route_id in c.value for c in at.caption)
    assert rec.meaning and [i.value for i in at.info].count(rec.meaning) == 1  # the decision's plain sentence
    assert next(m for m in at.metric if m.label == "Comparisons").value == str(rec.confidence.comparisons)
    assert any(m.label == "Loss or unresolved, upper bound" for m in at.metric)
    assert any(i.value.startswith("Enter the API token in the sidebar to see prompts and answers") for i in at.info)
    assert "Outcomes over time" not in _text(at)
    assert not at.error
    confirm = next(c for c in at.checkbox if c.key == f"confirm-canary-{rec.route_id}")
    (moves,) = [m.value for m in at.markdown if m.value.startswith("**As canary**: moves 10% of shop/math-tutor/fp-math")]
    assert "calls per month" in moves  # the confirmation names the traffic it moves and its volume
    assert at.button(key=f"push-canary-{rec.route_id}").disabled  # until confirmed
    at.text_input(key=f"provider-{rec.route_id}").input(PROVIDER)
    confirm.check().run()
    at.button(key=f"push-canary-{rec.route_id}").click().run()
    assert any("refused by the service" in e.value for e in at.error)
    assert not client.routing_routes()

    # with the credential: pushed as a canary carrying the proof it was approved on
    at.sidebar.text_input(key=CREDENTIAL).input(TOKEN).run()
    assert not [i for i in at.info if i.value.startswith("Enter the API token")]  # prompts and answers shown
    assert "Outcomes over time" in _text(at)  # read from the stored comparisons
    assert "Sequential test's path to its boundary (log e-value)" in _text(at)
    assert any(m.value.startswith("**Disputed**") for m in at.markdown) or "No disputed pair" in _text(at)
    at.button(key=f"push-canary-{rec.route_id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (route,) = client.routing_routes()
    assert (route.state, route.traffic_share, route.proof.get("route_id", ""), route.candidate) == (
        "canary", 0.1, rec.route_id, rec.candidate)
    assert route.match["feature"] == "math-tutor" and route.match["fingerprint"] == "fp-math"
    at.run()
    assert any(s.value.startswith(f"Pushed as route `{route.id}`: canary") for s in at.success)


def test_routes_page_shows_pushed_routes_and_rolls_back(seeded_service, provider, monkeypatch):
    client = ServiceClient(seeded_service, token=TOKEN)
    if not client.routing_routes():  # run alone: prove and push first
        test_recommendations_prove_and_push_a_route(seeded_service, provider, monkeypatch)
    (route,) = client.routing_routes()
    deadline = time.monotonic() + 30  # the drift monitor picks the canary up on its next pass
    while client.routing_route(route.id)["monitor"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
    at = _page("routes", seeded_service, monkeypatch)
    assert any(i.value.startswith("Enter the API token in the sidebar to see the routing registry") for i in at.info)
    at.sidebar.text_input(key=CREDENTIAL).input(TOKEN).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["route"]) == [route.id] and list(table["state"]) == ["canary"]
    assert list(table["proof_route"]) == [route.proof.get("route_id", "")]
    assert _metric(at, "Traffic share") == "10%"
    # the drift monitor's two CUSUM detectors, charted with their alarm threshold
    assert any(m.value.startswith("Drift monitor (CUSUM statistics") for m in at.markdown), _text(at)
    audit = at.dataframe[-1].value
    assert list(audit["action"][:1]) == ["push"] and "refused" in set(audit["outcome"])  # the refused push too

    at.number_input(key=f"share-{route.id}").set_value(25)
    at.button(key=f"canary-{route.id}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert client.routing_routes()[0].traffic_share == 0.25
    at.button(key=f"rollback-{route.id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert client.routing_routes()[0].state == "rolled_back"
    audit = at.dataframe[-1].value
    assert list(audit["action"][:2]) == ["rollback", "canary"]
    at.run()
    assert _metric(at, "State") == "rolled_back"
    assert not [b for b in at.button if b.key == f"rollback-{route.id}"]


@pytest.mark.parametrize("page", ["overview", "attribution", "alerts", "recommendations", "routes", "scheduler"])
def test_every_page_has_an_empty_state_on_a_new_install(empty_service, monkeypatch, page):
    at = _page(page, empty_service, monkeypatch)
    assert at.info, f"{page}: no empty-state message"
    assert not at.error
