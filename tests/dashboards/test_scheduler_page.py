"""The Scheduler page by Streamlit's AppTest against a real `tokenproof serve` of its own (captured
traffic of one feature sent through the OTLP exporter; the loop off, one small pass on demand): the
switch, budgets, alpha ledger, groups and routes shown; Pause and Resume refused without the write
credential and applied with it."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tokenproof.client import ServiceClient
from tokenproof_devkit.provider.corpus import GPT4, get_corpus

from .conftest import HOUR_NS, TOKEN, _attrs, _serve, _stop, export
from .test_pages import CREDENTIAL, PAGES

FEATURE = "quiz"


@pytest.fixture(scope="module")
def scheduler_service(tmp_path_factory, provider):
    service = _serve(tmp_path_factory.mktemp("dash-scheduler") / "data", provider.base_url_openai,
                     TOKENPROOF_PROOF_ANTHROPIC_BASE_URL=provider.base_url_anthropic)
    try:
        records = [r for r in get_corpus().records if r.feature == "mmlu:marketing" and GPT4 in r.answers][:40]
        export(service.url, [(i * HOUR_NS, _attrs(FEATURE, GPT4, 0.01, record=r, fingerprint="fp-quiz"))
                             for i, r in enumerate(records)])
        ServiceClient(service.url, token=TOKEN).set_scheduler_policy(
            {"features": [FEATURE], "candidate_models": ["gpt-4o-mini"], "judge": "claude-opus-4-1",
             "sample_rate": 1.0, "batch_size": 3, "min_calls_per_day": 1, "rate_limit_rpm": 60000}, reason="test")
        yield service.url
    finally:
        _stop(service)


def _page(url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("TOKENPROOF_SERVICE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(PAGES / "scheduler.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def test_pause_and_resume_need_the_credential_and_are_shown_with_who_and_why(scheduler_service, monkeypatch):
    client = ServiceClient(scheduler_service, token=TOKEN)
    at = _page(scheduler_service, monkeypatch)
    assert [s.value for s in at.success] == ["Running"]
    assert any("loop is off" in c.value for c in at.caption)
    groups = at.dataframe[0].value  # the group the policy allows, ready for its first batch
    assert list(groups["feature"]) == [FEATURE] and list(groups["state"]) == ["testing"]
    assert list(groups["candidate"]) == ["gpt-4o-mini"]
    assert any(i.value.startswith("No route started yet") for i in at.info)
    assert _metric(at, "Groups admitted").value == "0 of 5"

    next(b for b in at.button if b.label == "Pause").click().run()
    assert any("refused by the service" in e.value for e in at.error)
    assert client.scheduler_status().paused is False

    at.sidebar.text_input(key=CREDENTIAL).input(TOKEN).run()
    next(t for t in at.text_input if t.key == "scheduler-reason").input("provider maintenance").run()
    next(b for b in at.button if b.label == "Pause").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    state = client.scheduler_status()
    assert state.paused is True and state.reason == "provider maintenance"
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith("Paused by api at ") and "provider maintenance" in warning
    assert next(b for b in at.button if b.label == "Pause").disabled
    events = at.dataframe[-1].value
    assert list(events["kind"][:1]) == ["paused"] and "refused" in set(events["kind"])

    next(b for b in at.button if b.label == "Resume").click().run()
    assert not at.exception and not at.error
    assert client.scheduler_status().paused is False
    assert not at.warning and at.success[-1].value.startswith("Running (resumed by api at ")


def test_after_a_pass_the_page_shows_the_route_its_spend_and_the_alpha_ledger(scheduler_service, monkeypatch):
    client = ServiceClient(scheduler_service, token=TOKEN)
    if client.scheduler_status().paused:
        client.resume_scheduler("test")
    result = client.run_scheduler_pass(timeout=300)
    (batch,) = result["batches"]
    assert batch["new_comparisons"] == 3
    at = _page(scheduler_service, monkeypatch)
    routes = at.dataframe[1].value
    assert list(routes["candidate"]) == ["gpt-4o-mini"] and list(routes["status"]) == ["testing"]
    assert list(routes["n"]) == [3] and routes["route_spent_usd"][0] > 0
    day = _metric(at, "Today (UTC)")
    assert day.value == f"${client.scheduler_status().budgets['day']['spent_usd']:,.4f}" != "$0.0000"
    assert _metric(at, "Groups admitted").value == "1 of 5"
    assert _metric(at, "Alpha allotted").value == "0.01"
    assert any(m.value.startswith("**Last pass**") and "1 batches, 3 comparisons" in m.value for m in at.markdown)
    # the event log, filtered by kind
    next(s for s in at.selectbox if s.label == "Kind").select("batch_finished").run()
    assert not at.exception
    events = at.dataframe[-1].value
    assert set(events["kind"]) == {"batch_finished"} and list(events["comparisons"]) == [3]
