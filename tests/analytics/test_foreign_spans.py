"""Spans written by otelcol-contrib (no tokenproof cost attributes) are priced as they arrive."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tokenproof import pricing
from tokenproof import semconv as sc
from tokenproof.analytics import attribution
from tokenproof.collector.app import create_app
from tokenproof.collector.reprice import price_arrivals
from tokenproof.collector.testing import insert_spans


def _contrib_spans(n: int, model: str = "gpt-4o", when: datetime | None = None) -> list[dict]:
    when = when or datetime.now(UTC) - timedelta(minutes=5)
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: model,
             sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_USAGE_INPUT_TOKENS: 3000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 400}
    return [{"timestamp": when + timedelta(seconds=i), "attributes": attrs,
             "scope_name": "opentelemetry.instrumentation.openai_v2"} for i in range(n)]


def _totals(store) -> dict:
    now = datetime.now(UTC)
    return attribution.cost(store, attribution.Query(now - timedelta(hours=2), now + timedelta(hours=1)))["totals"]


def test_service_loop_step_prices_otelcol_contrib_spans(store, span):
    insert_spans(store, [span(cost=0.002)])  # a tokenproof span, priced at the source: left alone
    insert_spans(store, _contrib_spans(3) + _contrib_spans(1, model="no-such-model-xyz"))
    assert _totals(store)["unpriced_calls"] == 4
    result = price_arrivals(store)
    assert (result["newly_priced"], result["still_unpriced"]) == (3, 1)
    each = pricing.price("openai", "gpt-4o", pricing.Usage(3000, 400)).usd
    totals = _totals(store)
    assert (totals["priced_calls"], totals["unpriced_calls"]) == (4, 1)  # an unknown model stays unpriced
    assert abs(totals["cost_usd"] - (0.002 + 3 * each)) < 1e-9
    assert price_arrivals(store)["rows"] == 0  # each call is priced once, not on every pass
    seen: dict = {}
    price_arrivals(store, seen=seen)
    insert_spans(store, _contrib_spans(2, when=datetime.now(UTC) - timedelta(hours=1)))
    assert price_arrivals(store, seen=seen)["newly_priced"] == 2  # a later arrival is still found
    assert price_arrivals(store, seen=seen)["rows"] == 0


def test_running_service_prices_them_without_a_reprice(store, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_PRICE_ARRIVALS_INTERVAL_SECONDS", "0.2")
    with TestClient(create_app(store, api_token="t")) as client:
        insert_spans(store, _contrib_spans(2))
        deadline = time.monotonic() + 60
        while _totals(store)["priced_calls"] < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _totals(store)["priced_calls"] == 2
        assert client.get("/api/v1/status").json()["ingest"]["arrivals_priced"] == 2
