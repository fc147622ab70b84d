"""FOCUS conformance: each MUST rule of the current released FOCUS (1.4) asserted on a real export.

The data: two gpt-4o calls under a negotiated 20% discount (overrides file), one gemini-2.5-pro call
past its 200k-token tier (a tiered price), and one call of a model without a price. Spans go in as the
instrumentation writes them; the export is read back the way a FinOps tool reads it (CSV text, Parquet).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from tokenproof import pricing
from tokenproof import semconv as sc
from tokenproof.analytics.focus import FOCUS_COLUMNS, export
from tokenproof.collector.testing import insert_spans

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
SINCE, UNTIL = HOUR - timedelta(hours=1), HOUR + timedelta(hours=2)
GPT = pricing.Usage(10_000, 1_000, cache_read_tokens=4_000)
GEMINI = pricing.Usage(300_000, 2_000)
LIST_RATES_GPT4O = {"input": 2.5, "cache_read": 1.25, "output": 10.0}  # USD per 1M tokens, list
# Columns of the released FOCUS 1.4 this export may use (ConsumerId exists only in a later draft).
RELEASED = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency", "BillingAccountId",
            "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
            "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ConsumedQuantity",
            "ConsumedUnit", "PricingCategory", "PricingQuantity", "PricingUnit", "ListUnitPrice",
            "ContractedUnitPrice", "InvoiceIssuerName", "ServiceProviderName", "HostProviderName", "ProviderName",
            "PublisherName", "ServiceName", "ServiceCategory", "ServiceSubcategory", "SkuId", "SkuPriceId",
            "SkuMeter", "SubAccountId", "SubAccountName", "Tags"}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _span(provider, model, usage, cost, minute):
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: provider, sc.GEN_AI_REQUEST_MODEL: model,
             sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
             sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens, sc.TP_FEATURE: "search", sc.TP_CUSTOMER: "acme",
             sc.TP_COST_STATUS: sc.COST_PRICED if cost is not None else sc.COST_UNPRICED}
    if usage.cache_read_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
    if cost is not None:
        attrs[sc.GEN_AI_USAGE_COST] = cost
    return {"timestamp": HOUR + timedelta(minutes=minute), "attributes": attrs, "service": "app"}


@pytest.fixture(scope="module")
def exported(module_store, tmp_path_factory):
    store = module_store
    for table in ("otel_traces", "llm_calls", "llm_calls_hourly", "analytics_cost_daily"):
        store.command(f"TRUNCATE TABLE {table}")
    list_gpt = pricing.price("openai", "gpt-4o", GPT).usd
    overrides = tmp_path_factory.mktemp("prices") / "prices.toml"
    overrides.write_text('[[overrides]]\nprovider = "openai"\ndiscount = 0.2\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENPROOF_PRICE_OVERRIDES", str(overrides))
        pricing.reset()
        try:
            paid_gpt = pricing.price("openai", "gpt-4o", GPT).usd
            gemini = pricing.price("google", "gemini-2.5-pro", GEMINI).usd
            insert_spans(store, [_span("openai", "gpt-4o", GPT, paid_gpt, 1), _span("openai", "gpt-4o", GPT, paid_gpt, 2),
                                 _span("google", "gemini-2.5-pro", GEMINI, gemini, 3),
                                 _span("openai", "mystery-model", pricing.Usage(50, 5), None, 4)])
            data, meta = export(store, SINCE, UNTIL, "csv")
            parquet, _ = export(store, SINCE, UNTIL, "parquet")
        finally:
            pricing.reset()
    pricing.reset()  # the overrides file is gone from the environment now
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    return {"rows": rows, "meta": meta, "parquet": pq.read_table(io.BytesIO(parquet)),
            "list_gpt": float(list_gpt), "paid_gpt": float(paid_gpt), "gemini": float(gemini)}


def _num(row, column):
    return float(row[column])


def test_cost_columns_are_never_null_and_unpriced_usage_is_reported_beside(exported):
    rows = exported["rows"]
    assert rows and all(row[c] != "" for row in rows for c in ("BilledCost", "EffectiveCost", "ListCost",
                                                                 "ContractedCost"))
    assert not [r for r in rows if "mystery-model" in r["SkuId"]]
    unpriced = exported["meta"]["x_UnpricedUsage"]
    assert unpriced["calls"] == 1 and unpriced["by_model"][0]["model"] == "mystery-model"


def test_units_follow_the_focus_unit_format(exported):
    for row in exported["rows"]:
        assert row["ConsumedUnit"] == "Tokens" and row["PricingUnit"] == "1000000 Tokens"
        assert _num(row, "PricingQuantity") == pytest.approx(_num(row, "ConsumedQuantity") / 1e6, rel=1e-12)


def test_csv_date_times_are_iso_8601_utc(exported):
    for row in exported["rows"]:
        for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            assert ISO.match(row[column]), (column, row[column])
    assert exported["rows"][0]["ChargePeriodStart"] == HOUR.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_list_cost_is_undiscounted_and_billed_cost_discounted(exported):
    gpt = [r for r in exported["rows"] if r["SkuId"] == "openai/gpt-4o"]
    assert {r["x_TokenType"] for r in gpt} == set(LIST_RATES_GPT4O)
    for row in gpt:
        assert _num(row, "ListUnitPrice") == pytest.approx(LIST_RATES_GPT4O[row["x_TokenType"]], rel=1e-9)
        assert _num(row, "ContractedUnitPrice") == pytest.approx(0.8 * LIST_RATES_GPT4O[row["x_TokenType"]], rel=1e-9)
        assert _num(row, "BilledCost") == _num(row, "EffectiveCost") == _num(row, "ContractedCost")
        assert _num(row, "EffectiveCost") == pytest.approx(0.8 * _num(row, "ListCost"), rel=1e-9)
    assert sum(_num(r, "ListCost") for r in gpt) == pytest.approx(2 * exported["list_gpt"], rel=1e-9)
    assert sum(_num(r, "BilledCost") for r in gpt) == pytest.approx(2 * exported["paid_gpt"], rel=1e-9)


def test_unit_price_times_quantity_is_the_cost_also_on_tiered_prices(exported):
    gemini = [r for r in exported["rows"] if r["SkuId"] == "google/gemini-2.5-pro"]
    assert gemini
    assert sum(_num(r, "ListCost") for r in gemini) == pytest.approx(exported["gemini"], rel=1e-9)
    # past 200k prompt tokens the input rate is the higher tier's, not the first tier's $1.25
    by_type = {r["x_TokenType"]: r for r in gemini}
    assert _num(by_type["input"], "ListUnitPrice") > 1.25
    for row in exported["rows"]:
        assert _num(row, "ListUnitPrice") * _num(row, "PricingQuantity") == pytest.approx(_num(row, "ListCost"), rel=1e-12)
        assert _num(row, "ContractedUnitPrice") * _num(row, "PricingQuantity") == pytest.approx(
            _num(row, "ContractedCost"), rel=1e-12)


def test_export_carries_its_focus_version(exported):
    schema = exported["meta"]["Schema"]
    assert schema["FocusVersion"] == "1.4" and ISO.match(schema["CreationDate"])
    assert [c["ColumnName"] for c in schema["ColumnDefinition"]] == FOCUS_COLUMNS
    assert exported["parquet"].schema.metadata[b"FocusVersion"] == b"1.4"
    assert json.loads(exported["parquet"].schema.metadata[b"focus_metadata"])["Schema"]["FocusVersion"] == "1.4"


def test_call_counts_sum_to_the_calls(exported):
    rows = exported["rows"]
    assert sum(int(r["x_Calls"]) for r in rows) == 3  # priced calls, each once
    assert sum(int(r["x_Calls"]) for r in rows if r["SkuId"] == "openai/gpt-4o") == 2


def test_provider_columns_and_charge_columns(exported):
    for row in exported["rows"]:
        provider = row["SkuId"].split("/")[0]
        assert row["ServiceProviderName"] == row["HostProviderName"] == row["InvoiceIssuerName"] == provider
        assert row["ChargeCategory"] == "Usage" and row["ChargeClass"] == "" and row["PricingCategory"] == "Standard"
        assert row["BillingCurrency"] == "USD" and row["ServiceCategory"] == "AI and Machine Learning"
        assert json.loads(row["Tags"])["customer"] == "acme"


def test_no_draft_only_columns(exported):
    columns = list(exported["rows"][0])
    assert "ConsumerId" not in columns
    assert {c for c in columns if not c.startswith("x_")} <= RELEASED
