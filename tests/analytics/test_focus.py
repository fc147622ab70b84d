"""FOCUS export: the column list, one row per hour x model x token type, unpriced usage reported apart."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from tokenproof.analytics.focus import FOCUS_COLUMNS, export_bytes, focus_rows, unpriced_usage
from tokenproof.collector.testing import insert_spans

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
# FOCUS columns an LLM usage export must carry (FOCUS 1.4 names)
REQUIRED = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency", "BillingAccountId",
            "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
            "ChargeDescription", "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity",
            "PricingUnit", "ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceName", "ServiceCategory",
            "SkuId", "SkuPriceId", "ServiceProviderName", "HostProviderName", "Tags"]


@pytest.fixture()
def usage(store, span):
    insert_spans(store, [
        span(feature="summarize", tier="pro", customer="acme", model="gpt-4o", cost=0.35,
             input_tokens=1000, cache_read=400, output_tokens=200, when=NOW - timedelta(hours=1)),
        span(feature="chat", customer="globex", model="mystery-model", cost=None, input_tokens=50,
             output_tokens=5, when=NOW - timedelta(hours=1)),
    ])
    return store


def test_rows_per_token_type_with_costs_summing_to_the_calls(usage):
    rows = focus_rows(usage, NOW - timedelta(days=1), NOW + timedelta(hours=1))
    priced = [r for r in rows if r["SkuId"] == "openai/gpt-4o"]
    assert {r["x_TokenType"]: r["ConsumedQuantity"] for r in priced} == {"input": 600, "cache_read": 400, "output": 200}
    assert sum(r["BilledCost"] for r in priced) == pytest.approx(0.35)
    assert all(r["ChargeCategory"] == "Usage" and r["ConsumedUnit"] == "Tokens" for r in rows)
    assert all(r["ServiceCategory"] == "AI and Machine Learning" for r in rows)
    first = priced[0]
    assert json.loads(first["Tags"]) == {"feature": "summarize", "tier": "pro", "service": "app", "customer": "acme"}
    assert first["SkuPriceId"].startswith("openai/gpt-4o/")
    assert first["ChargePeriodEnd"] - first["ChargePeriodStart"] == timedelta(hours=1)
    # output tokens cost more than input at list rates, so they carry more of the cost
    by_type = {r["x_TokenType"]: r["BilledCost"] for r in priced}
    assert by_type["output"] > by_type["cache_read"]


def test_unpriced_usage_is_left_out_and_reported_not_zero(usage):
    since, until = NOW - timedelta(days=1), NOW + timedelta(hours=1)
    assert not [r for r in focus_rows(usage, since, until) if r["SkuId"] == "openai/mystery-model"]
    report = unpriced_usage(usage, since, until)
    assert report["calls"] == 1
    assert report["by_model"][0]["model"] == "mystery-model" and report["by_model"][0]["input_tokens"] == 50


def test_csv_and_parquet_carry_the_focus_columns(usage):
    since, until = NOW - timedelta(days=1), NOW + timedelta(hours=1)
    reader = csv.DictReader(io.StringIO(export_bytes(usage, since, until, "csv").decode()))
    assert reader.fieldnames == FOCUS_COLUMNS and set(REQUIRED) <= set(reader.fieldnames)
    records = list(reader)
    assert len(records) == 3  # the priced call's three token types; the unpriced call is reported apart
    assert all(r["BilledCost"] != "" for r in records)
    table = pq.read_table(io.BytesIO(export_bytes(usage, since, until, "parquet")))
    assert table.column_names == FOCUS_COLUMNS and table.num_rows == 3
    assert str(table.schema.field("ChargePeriodStart").type) == "timestamp[us, tz=UTC]"
    with pytest.raises(ValueError, match="xlsx"):
        export_bytes(usage, since, until, "xlsx")
