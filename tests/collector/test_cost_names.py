"""The LLM-call view reads the proposed gen_ai.usage.cost.amount names as well as gen_ai.usage.cost."""

from __future__ import annotations

from tokenproof import semconv as sc
from tokenproof.collector.testing import insert_spans


def _call(store, **attrs):
    base = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 10, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5}
    (trace, span), = insert_spans(store, [{"attributes": {**base, **attrs}}])
    return store.query_rows("SELECT Priced, CostUSD, PriceSource FROM llm_calls FINAL "
                            "WHERE TraceId = {t:String} AND SpanId = {s:String}", {"t": trace, "s": span})[0]


def test_amount_name_alone_prices_the_call(store):
    priced, cost, source = _call(store, **{sc.GEN_AI_USAGE_COST_AMOUNT: 0.25, sc.GEN_AI_USAGE_COST_CURRENCY: "USD",
                                           sc.GEN_AI_USAGE_COST_SOURCE: "provider"})
    assert (priced, cost, source) == (1, 0.25, "provider")


def test_legacy_name_wins_when_both_are_present(store):
    assert _call(store, **{sc.GEN_AI_USAGE_COST: 0.5, sc.GEN_AI_USAGE_COST_AMOUNT: 0.5})[:2] == (1, 0.5)
    assert _call(store, **{sc.GEN_AI_USAGE_COST: 0.5, sc.GEN_AI_USAGE_COST_AMOUNT: 0.7})[:2] == (1, 0.5)


def test_amount_in_another_currency_is_not_taken_as_usd(store):
    assert _call(store, **{sc.GEN_AI_USAGE_COST_AMOUNT: 3.0, sc.GEN_AI_USAGE_COST_CURRENCY: "EUR"})[:2] == (0, 0.0)


def test_tokenproof_status_still_decides(store):
    unpriced = {sc.TP_COST_STATUS: sc.COST_UNPRICED, sc.GEN_AI_USAGE_COST_AMOUNT: 0.1}
    assert _call(store, **unpriced)[:2] == (0, 0.0)
