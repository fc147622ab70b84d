"""Re-pricing after a price change, through the service API, on the real store and price table."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from tokenproof import pricing
from tokenproof import semconv as sc
from tokenproof.collector.app import create_app
from tokenproof.collector.reprice import parse_time
from tokenproof.collector.testing import insert_spans

T0 = dt.datetime(2026, 10, 5, 14, 0, tzinfo=dt.UTC)


@pytest.fixture()
def overrides(tmp_path, monkeypatch):
    path = tmp_path / "prices.toml"
    monkeypatch.setenv("TOKENPROOF_PRICE_OVERRIDES", str(path))
    path.write_text("overrides = []\n")
    yield path
    monkeypatch.delenv("TOKENPROOF_PRICE_OVERRIDES")
    pricing.reset()


def _span(model, minute, priced, cost=None):
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: model,
             sc.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1_000_000,
             sc.TP_COST_STATUS: sc.COST_PRICED if priced else sc.COST_UNPRICED, sc.TP_FEATURE: "f1"}
    if cost is not None:
        attrs[sc.GEN_AI_USAGE_COST] = cost
    return {"service": "billing", "timestamp": T0 + dt.timedelta(minutes=minute), "attributes": attrs}


def _hourly(store):
    return store.query_rows("SELECT sum(Calls), sum(CostUSD), sum(PricedCalls), sum(UnpricedCalls) FROM llm_calls_hourly")[0]


def test_reprice_prices_unpriced_calls_and_follows_an_override_change(store, overrides):
    insert_spans(store, [_span("acme-private-llm", 1, False), _span("acme-private-llm", 2, False),
                         _span("gpt-4o", 3, True, cost=99.0)])
    assert _hourly(store)[3] == 2
    app = create_app(store, api_token="tok")
    with TestClient(app) as client:
        assert client.post("/api/v1/reprice", json={"since": "2026-10-05"}).status_code == 401
        overrides.write_text('[[overrides]]\nprovider = "openai"\nmodel = "acme-private-llm"\n'
                             "input_mtok = 0.5\noutput_mtok = 1.5\n")
        auth = {"Authorization": "Bearer tok"}
        result = client.post("/api/v1/reprice", json={"since": "2026-10-05", "until": "2026-10-06"}, headers=auth).json()
        assert result["rows"] == 3
        assert result["newly_priced"] == 2 and result["still_unpriced"] == 0
        assert result["repriced"] == 3  # gpt-4o goes from the bogus $99 to its list price
        assert result["cost_before_usd"] == pytest.approx(99.0)
        calls = dict(store.query_rows("SELECT RequestModel, sum(CostUSD) FROM llm_calls FINAL WHERE Priced = 1 GROUP BY RequestModel"))
        assert calls["acme-private-llm"] == pytest.approx(2 * (0.5 + 1.5))
        assert 0 < calls["gpt-4o"] < 99.0
        assert result["cost_after_usd"] == pytest.approx(sum(calls.values()))
        calls_n, cost, priced_n, unpriced_n = _hourly(store)
        assert (calls_n, priced_n, unpriced_n) == (3, 3, 0)
        assert cost == pytest.approx(sum(calls.values()))

        # a negotiated discount appears later: re-price again
        overrides.write_text('[[overrides]]\nprovider = "openai"\nmodel = "acme-private-llm"\n'
                             "input_mtok = 0.5\noutput_mtok = 1.5\ndiscount = 0.5\n")
        again = client.post("/api/v1/reprice", json={"since": "2026-10-05T00:00:00Z"}, headers=auth).json()
        assert again["repriced"] == 3  # the price version changed for every call
        after = dict(store.query_rows("SELECT RequestModel, sum(CostUSD) FROM llm_calls FINAL GROUP BY RequestModel"))
        assert after["acme-private-llm"] == pytest.approx(2.0)
        assert _hourly(store)[1] == pytest.approx(sum(after.values()))
        assert store.query_rows("SELECT count() FROM llm_calls FINAL") == [(3,)]
    # the raw spans are never rewritten
    assert store.query_rows("SELECT count(), countIf(SpanAttributes['gen_ai.usage.cost'] = '99') FROM otel_traces") == [(3, 1)]


def test_reprice_refuses_bad_ranges(store):
    with TestClient(create_app(store, api_token="tok")) as client:
        auth = {"Authorization": "Bearer tok"}
        assert client.post("/api/v1/reprice", json={"since": "yesterday"}, headers=auth).status_code == 400
        assert client.post("/api/v1/reprice", json={"since": "2026-10-05", "until": "2026-10-01"},
                           headers=auth).status_code == 400


def test_parse_time_reads_iso_and_relative():
    assert parse_time("1970-01-01T00:00:01Z") == 10**9
    assert parse_time("2d", now=200_000) == (200_000 - 172_800) * 10**9


def test_reprice_keeps_service_tier_one_hour_cache_writes_and_provider_reported_costs(store):
    """Re-pricing reads the whole price context from the span, never a cheaper default: a flex-tier
    call stays at the flex rate, 1-hour cache writes at their own rate, and a cost the provider
    reported (OpenRouter) is kept as charged."""
    m = 1_000_000
    flex = {"service": "billing", "timestamp": T0, "attributes": {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-5",
        sc.GEN_AI_USAGE_INPUT_TOKENS: m, sc.GEN_AI_USAGE_OUTPUT_TOKENS: m // 10, sc.TP_FEATURE: "tiers",
        sc.OPENAI_RESPONSE_SERVICE_TIER: "flex", sc.TP_COST_STATUS: sc.COST_PRICED, sc.GEN_AI_USAGE_COST: 1.125}}
    cached = {"service": "billing", "timestamp": T0 + dt.timedelta(minutes=1), "attributes": {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-3-5-sonnet-20241022", sc.GEN_AI_USAGE_INPUT_TOKENS: 100_000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 0, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 100_000,
        sc.TP_USAGE_EXTRA_PREFIX + "cache_creation_1h_tokens": 100_000, sc.TP_FEATURE: "cache",
        sc.TP_COST_STATUS: sc.COST_PRICED, sc.GEN_AI_USAGE_COST: 0.6}}
    routed = {"service": "billing", "timestamp": T0 + dt.timedelta(minutes=2), "attributes": {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openrouter",
        sc.GEN_AI_REQUEST_MODEL: "anthropic/claude-3.5-sonnet", sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1000, sc.TP_FEATURE: "routed", sc.TP_COST_STATUS: sc.COST_PRICED,
        sc.TP_COST_SOURCE: sc.COST_SOURCE_PROVIDER, sc.GEN_AI_USAGE_COST: 0.0421}}
    insert_spans(store, [flex, cached, routed])
    with TestClient(create_app(store, api_token="tok")) as client:
        result = client.post("/api/v1/reprice", json={"since": "2026-10-05", "until": "2026-10-06"},
                             headers={"Authorization": "Bearer tok"}).json()
    assert result["cost_after_usd"] == pytest.approx(result["cost_before_usd"])
    costs = dict(store.query_rows("SELECT Feature, sum(CostUSD) FROM llm_calls FINAL "
                                  "WHERE Feature IN ('tiers', 'cache', 'routed') GROUP BY Feature"))
    assert costs == pytest.approx({"tiers": 1.125, "cache": 0.6, "routed": 0.0421})
