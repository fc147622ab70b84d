"""Attribution of routed calls: savings against the baseline and the exact cost of fallbacks."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tokenproof import pricing
from tokenproof import semconv as sc
from tokenproof.collector.app import create_app
from tokenproof.collector.testing import insert_spans


def _span(model, cost, attempt, reason="", fallback=False, tokens=(1000, 200)):
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: model,
             sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_USAGE_INPUT_TOKENS: tokens[0],
             sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1], sc.TP_FEATURE: "math", sc.TP_ROUTE_ID: "rt_1",
             sc.TP_ROUTE_ATTEMPT: attempt, sc.TP_ROUTE_BASELINE_MODEL: "gpt-4o",
             sc.TP_COST_STATUS: sc.COST_PRICED if cost is not None else sc.COST_UNPRICED}
    if cost is not None:
        attrs[sc.GEN_AI_USAGE_COST] = cost
    if reason:
        attrs[sc.TP_ROUTE_FALLBACK_REASON] = reason
    if fallback:
        attrs[sc.TP_ROUTE_FALLBACK] = True
    return {"attributes": attrs, "service": "app"}


def test_savings_and_fallback_cost_per_route(store, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS", "0")
    insert_spans(store, [_span("gpt-4o-mini", 0.0003, "candidate"), _span("gpt-4o-mini", 0.0003, "candidate"),
                         _span("gpt-4o-mini", 0.0001, "candidate", reason="format"),
                         _span("gpt-4o", 0.0045, "baseline", reason="format", fallback=True)])
    with TestClient(create_app(store)) as client:
        [route] = client.get("/api/v1/routing/savings", params={"since": "1d"}).json()["routes"]
    equivalent = pricing.price("openai", "gpt-4o", pricing.Usage(input_tokens=2000, output_tokens=400)).usd
    assert route["routed_calls"] == 3 and route["fallbacks"] == 1 and route["fallback_rate"] == 0.3333
    assert route["fallback_cost_usd"] == 0.0045 and route["wasted_candidate_usd"] == 0.0001
    assert route["candidate_cost_usd"] == 0.0007
    assert abs(route["baseline_equivalent_usd"] - equivalent) < 1e-9
    assert abs(route["saved_usd"] - (equivalent - 0.0006 - 0.0001)) < 1e-9
    insert_spans(store, [_span("gpt-4o-mini", None, "candidate")])  # unpriced: no silent $0
    with TestClient(create_app(store)) as client:
        [route] = client.get("/api/v1/routing/savings").json()["routes"]
    assert route["unpriced_calls"] == 1 and route["saved_usd"] is None
