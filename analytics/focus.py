"""FOCUS export: LLM usage and cost as FinOps FOCUS rows (CSV or Parquet), one per hour x model x token type.

Source: ``llm_calls_hourly`` (product and experiment traffic; ``x_TrafficClass`` tells them apart).
Each rollup row becomes one FOCUS row per token type with tokens (plain input, cache read, cache write,
output): ``ConsumedQuantity``/``ConsumedUnit = Tokens``, ``SkuId = provider/model``,
``SkuPriceId = provider/model/token type``, service category "AI and Machine Learning", the customer
in ``ConsumerId`` and feature, tier and service in ``Tags``. The rollup stores one cost per call, so
the cost is split across token types by the model's list rates (tokens x rate), or by tokens when no
rate is known (``x_CostAllocation`` says which). Rows whose calls have no price carry null costs and
``x_Unpriced = true``: unpriced is never exported as $0.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tokenproof import pricing, settings

__all__ = ["FOCUS_COLUMNS", "FORMATS", "export_bytes", "focus_rows", "focus_table"]

settings.declare("focus_billing_account_id", str, "tokenproof",
                 "BillingAccountId written in FOCUS exports (e.g. your provider account)")

FORMATS = ("csv", "parquet")
# FOCUS columns that apply to LLM usage, then our x_ extensions (FOCUS's custom-column prefix).
FOCUS_COLUMNS = [
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit",
    "ListUnitPrice", "ContractedUnitPrice", "InvoiceIssuerName", "ProviderName", "PublisherName",
    "ServiceName", "ServiceCategory", "ServiceSubcategory", "SkuId", "SkuPriceId", "SkuMeter",
    "SubAccountId", "SubAccountName", "ConsumerId", "Tags",
    "x_TokenType", "x_Calls", "x_UnpricedCalls", "x_Unpriced", "x_TrafficClass", "x_CostAllocation",
]
_COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
# token type -> (rollup-derived quantity key, genai-prices rate key, meter name)
_TOKEN_TYPES = {
    "input": ("input", "input_mtok", "Input Tokens"),
    "cache_read": ("cache_read", "cache_read_mtok", "Cached Input Tokens (read)"),
    "cache_write": ("cache_write", "cache_write_mtok", "Cached Input Tokens (write)"),
    "output": ("output", "output_mtok", "Output Tokens"),
}
_SQL = """SELECT toUnixTimestamp(Hour), ServiceName, Feature, Tier, Customer, Provider, ResponseModel, TrafficClass,
    sum(Calls), sum(PricedCalls), sum(UnpricedCalls), sum(InputTokens), sum(OutputTokens),
    sum(CacheReadTokens), sum(CacheCreationTokens), sum(CostUSD)
FROM llm_calls_hourly
WHERE Hour >= toStartOfHour({since:DateTime64(9)}) AND Hour < {until:DateTime64(9)}
GROUP BY Hour, ServiceName, Feature, Tier, Customer, Provider, ResponseModel, TrafficClass
HAVING sum(Calls) > 0
ORDER BY 1, Provider, ResponseModel"""


def _rates(provider: str, model: str, cache: dict) -> dict[str, float] | None:
    key = (provider, model)
    if key not in cache:
        try:
            resolved = pricing.resolve(provider, model)
            cache[key] = resolved.rates() if resolved is not None else None
        except Exception:  # an unresolvable model falls back to allocation by tokens, flagged
            cache[key] = None
    return cache[key]


def _month(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return start, nxt


def focus_rows(store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    account = settings.get("focus_billing_account_id")
    rate_cache: dict = {}
    out = []
    for (hour, service, feature, tier, customer, provider, model, traffic, calls, priced, unpriced,
         input_t, output_t, cache_read, cache_write, cost) in store.query(
            _SQL, {"since": since, "until": until}).result_rows:
        hour = datetime.fromtimestamp(int(hour), UTC)
        quantities = {"input": max(0, input_t - cache_read - cache_write), "cache_read": cache_read,
                      "cache_write": cache_write, "output": output_t}
        rates = _rates(provider, model, rate_cache) or {}
        weights = {}
        for token_type, qty in quantities.items():
            rate = rates.get(_TOKEN_TYPES[token_type][1])
            if rate is None and token_type.startswith("cache"):
                rate = rates.get("input_mtok")
            weights[token_type] = qty * rate if rate is not None else None
        by_rate = rates and all(w is not None for w in weights.values()) and sum(weights.values()) > 0
        total_w = sum(weights.values()) if by_rate else sum(quantities.values())
        billing_start, billing_end = _month(hour)
        tags = {k: v for k, v in (("feature", feature), ("tier", tier), ("service", service)) if v}
        for token_type, qty in quantities.items():
            if qty <= 0:
                continue
            share = ((weights[token_type] if by_rate else qty) / total_w) if total_w else 0.0
            amount = float(cost) * share if priced > 0 else None
            rate_key, meter = _TOKEN_TYPES[token_type][1], _TOKEN_TYPES[token_type][2]
            unit_price = rates.get(rate_key) if rates else None
            row = {c: amount for c in _COST_COLUMNS}
            row.update({
                "BillingCurrency": "USD", "BillingAccountId": account, "BillingAccountName": account,
                "BillingPeriodStart": billing_start, "BillingPeriodEnd": billing_end,
                "ChargePeriodStart": hour, "ChargePeriodEnd": hour + timedelta(hours=1),
                "ChargeCategory": "Usage", "ChargeClass": None,
                "ChargeDescription": f"{meter} for {model} ({provider})" + (f", feature {feature}" if feature else ""),
                "ChargeFrequency": "Usage-Based", "ConsumedQuantity": float(qty), "ConsumedUnit": "Tokens",
                "PricingQuantity": qty / 1e6, "PricingUnit": "1M Tokens", "ListUnitPrice": unit_price,
                "ContractedUnitPrice": unit_price, "InvoiceIssuerName": provider, "ProviderName": provider,
                "PublisherName": provider, "ServiceName": f"{provider} API",
                "ServiceCategory": "AI and Machine Learning", "ServiceSubcategory": "Generative AI",
                "SkuId": f"{provider}/{model}", "SkuPriceId": f"{provider}/{model}/{token_type}",
                "SkuMeter": meter, "SubAccountId": service, "SubAccountName": service,
                "ConsumerId": customer or None, "Tags": json.dumps(tags, sort_keys=True),
                "x_TokenType": token_type, "x_Calls": int(calls), "x_UnpricedCalls": int(unpriced),
                "x_Unpriced": priced == 0, "x_TrafficClass": traffic,
                "x_CostAllocation": "list_rates" if by_rate else "tokens",
            })
            out.append(row)
    return out


_TYPES = {c: pa.float64() for c in (*_COST_COLUMNS, "ConsumedQuantity", "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice")}
_TYPES.update({c: pa.timestamp("us", tz="UTC") for c in ("BillingPeriodStart", "BillingPeriodEnd",
                                                       "ChargePeriodStart", "ChargePeriodEnd")})
_TYPES.update({"x_Calls": pa.int64(), "x_UnpricedCalls": pa.int64(), "x_Unpriced": pa.bool_()})


def focus_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in rows], type=_TYPES.get(c, pa.string())) for c in FOCUS_COLUMNS})


def export_bytes(store, since: datetime, until: datetime, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    table = focus_table(focus_rows(store, since, until))
    sink = io.BytesIO()
    if fmt == "csv":
        pa_csv.write_csv(table, sink)
    else:
        pq.write_table(table, sink)
    return sink.getvalue()
