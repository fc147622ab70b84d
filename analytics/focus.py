"""FOCUS export: priced LLM usage as FinOps FOCUS 1.4 rows (CSV or Parquet), one per hour x model x token type.

FOCUS 1.4 (ratified 4 June 2026) is the current released version; docs/focus.md lists the MUST rules
the export meets and how. Source: ``llm_calls FINAL`` (product and experiment traffic;
``x_TrafficClass`` tells them apart), so priced and unpriced calls are told apart call by call.

- Only priced usage becomes cost rows (FOCUS cost columns must not be null); unpriced usage is left
  out and reported beside the export (``unpriced_usage``, the metadata's ``x_UnpricedUsage``), never
  as $0.
- One row per token type with tokens (plain input, cache read, cache write, output):
  ``ConsumedQuantity`` tokens in ``Tokens``; ``PricingQuantity`` in ``1000000 Tokens`` (FOCUS unit
  format: a number and a plural unit).
- The calls' billed cost (after negotiated discounts from the overrides file) is split across token
  types by the model's rates, or by tokens when no rate is known (``x_CostAllocation``).
  ``BilledCost = EffectiveCost = ContractedCost`` (no commitments); ``ListCost`` is the same usage at
  the undiscounted list price. Unit prices are cost / ``PricingQuantity``, so
  ``ListUnitPrice x PricingQuantity = ListCost`` holds on tiered prices too.
- ``x_Calls`` is on the first row of each call group only (0 on the others), so sums count each call once.
- Timestamps are ISO 8601 UTC (``2026-11-30T10:00:00Z``) in CSV; Parquet keeps UTC timestamps and
  carries the FOCUS metadata (``FocusVersion`` ...) in its key-value metadata.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tokenproof import pricing, settings

__all__ = ["FOCUS_COLUMNS", "FOCUS_VERSION", "FORMATS", "export", "export_bytes", "focus_rows", "focus_table",
           "metadata", "unpriced_usage"]

settings.declare("focus_billing_account_id", str, "tokenproof",
                 "BillingAccountId written in FOCUS exports (e.g. your provider account)")

FOCUS_VERSION = "1.4"
FORMATS = ("csv", "parquet")
PRICING_UNIT = "1000000 Tokens"
# Released FOCUS columns that apply to LLM usage, then our x_ extensions (FOCUS's custom-column prefix).
# ProviderName and PublisherName are deprecated since 1.3 (ServiceProviderName, HostProviderName) and
# kept for readers of older versions.
FOCUS_COLUMNS = [
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ConsumedQuantity", "ConsumedUnit", "PricingCategory", "PricingQuantity", "PricingUnit",
    "ListUnitPrice", "ContractedUnitPrice", "InvoiceIssuerName", "ServiceProviderName", "HostProviderName",
    "ProviderName", "PublisherName", "ServiceName", "ServiceCategory", "ServiceSubcategory", "SkuId",
    "SkuPriceId", "SkuMeter", "SubAccountId", "SubAccountName", "Tags",
    "x_TokenType", "x_Calls", "x_TrafficClass", "x_CostAllocation",
]
_COST_COLUMNS = ("BilledCost", "EffectiveCost", "ContractedCost")
_TIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
# token type -> (genai-prices rate key, meter name)
_TOKEN_TYPES = {
    "input": ("input_mtok", "Input Tokens"),
    "cache_read": ("cache_read_mtok", "Cached Input Tokens (read)"),
    "cache_write": ("cache_write_mtok", "Cached Input Tokens (write)"),
    "output": ("output_mtok", "Output Tokens"),
}
_WINDOW = "Timestamp >= toStartOfHour({since:DateTime64(9)}) AND Timestamp < {until:DateTime64(9)}"
_PRICED_SQL = """SELECT toUnixTimestamp(toStartOfHour(Timestamp, 'UTC')) AS h, ServiceName, Feature, Tier, Customer,
    Provider, ResponseModel, TrafficClass, count(), sum(InputTokens), sum(OutputTokens), sum(CacheReadTokens),
    sum(CacheCreationTokens), sum(CostUSD)
FROM llm_calls FINAL
WHERE """ + _WINDOW + """ AND Priced = 1
GROUP BY h, ServiceName, Feature, Tier, Customer, Provider, ResponseModel, TrafficClass
ORDER BY h, Provider, ResponseModel, ServiceName, Feature, Tier, Customer, TrafficClass"""
_UNPRICED_SQL = """SELECT Provider, ResponseModel, TrafficClass, count() AS calls, sum(InputTokens), sum(OutputTokens),
    sum(CacheReadTokens), sum(CacheCreationTokens)
FROM llm_calls FINAL
WHERE """ + _WINDOW + """ AND Priced = 0
GROUP BY Provider, ResponseModel, TrafficClass
ORDER BY calls DESC"""


def _rates(provider: str, model: str, when: datetime, cache: dict) -> tuple[dict[str, float], dict[str, float]]:
    """(rates after discount, undiscounted list rates) per 1M tokens; empty when the model is unknown."""
    key = (provider, model, when.date())
    if key not in cache:
        try:
            resolved = pricing.resolve(provider, model)
            cache[key] = ((resolved.rates(when), {k: float(v) for k, v in resolved.plan(when).rates.items()})
                          if resolved is not None else ({}, {}))
        except Exception:  # an unresolvable model falls back to allocation by tokens, flagged
            cache[key] = ({}, {})
    return cache[key]


def _month(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def _weights(quantities: dict[str, int], rates: dict[str, float]) -> dict[str, float] | None:
    weights = {}
    for token_type, qty in quantities.items():
        rate = rates.get(_TOKEN_TYPES[token_type][0])
        if rate is None and token_type.startswith("cache"):
            rate = rates.get("input_mtok")
        if rate is None:
            return None
        weights[token_type] = qty * rate
    return weights if sum(weights.values()) > 0 else None


def focus_rows(store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """FOCUS rows of the priced calls in [since, until) (unpriced calls: ``unpriced_usage``)."""
    account = settings.get("focus_billing_account_id")
    rate_cache: dict = {}
    out = []
    for (hour, service, feature, tier, customer, provider, model, traffic, calls, input_t, output_t, cache_read,
         cache_write, cost) in store.query(_PRICED_SQL, {"since": since, "until": until}).result_rows:
        hour = datetime.fromtimestamp(int(hour), UTC)
        quantities = {"input": max(0, input_t - cache_read - cache_write), "cache_read": cache_read,
                      "cache_write": cache_write, "output": output_t}
        rates, list_rates = _rates(provider, model, hour, rate_cache)
        weights, list_weights = _weights(quantities, rates), _weights(quantities, list_rates)
        by_rate = weights is not None and list_weights is not None
        shares: dict[str, float] = {t: float(q) for t, q in quantities.items()}
        list_ratio = 1.0
        if weights is not None and list_weights is not None:
            # the discount is one factor over the model's rates: list cost = billed x list / discounted
            shares, list_ratio = weights, sum(list_weights.values()) / sum(weights.values())
        total_share = sum(shares.values())
        billing_start, billing_end = _month(hour)
        tags = {k: v for k, v in (("feature", feature), ("tier", tier), ("service", service),
                                  ("customer", customer)) if v}
        calls_left = int(calls)
        for token_type, qty in quantities.items():
            if qty <= 0:
                continue
            effective = float(cost) * (shares[token_type] / total_share if total_share else 0.0)
            listed = effective * list_ratio
            pricing_qty = qty / 1e6
            meter = _TOKEN_TYPES[token_type][1]
            row = {c: effective for c in _COST_COLUMNS}
            row.update({
                "ListCost": listed, "BillingCurrency": "USD", "BillingAccountId": account,
                "BillingAccountName": account, "BillingPeriodStart": billing_start, "BillingPeriodEnd": billing_end,
                "ChargePeriodStart": hour, "ChargePeriodEnd": hour + timedelta(hours=1),
                "ChargeCategory": "Usage", "ChargeClass": None,
                "ChargeDescription": f"{meter} for {model} ({provider})" + (f", feature {feature}" if feature else ""),
                "ChargeFrequency": "Usage-Based", "ConsumedQuantity": float(qty), "ConsumedUnit": "Tokens",
                "PricingCategory": "Standard", "PricingQuantity": pricing_qty, "PricingUnit": PRICING_UNIT,
                "ListUnitPrice": listed / pricing_qty, "ContractedUnitPrice": effective / pricing_qty,
                "InvoiceIssuerName": provider, "ServiceProviderName": provider, "HostProviderName": provider,
                "ProviderName": provider, "PublisherName": provider, "ServiceName": f"{provider} API",
                "ServiceCategory": "AI and Machine Learning", "ServiceSubcategory": "Generative AI",
                "SkuId": f"{provider}/{model}", "SkuPriceId": f"{provider}/{model}/{token_type}",
                "SkuMeter": meter, "SubAccountId": service, "SubAccountName": service,
                "Tags": json.dumps(tags, sort_keys=True), "x_TokenType": token_type, "x_Calls": calls_left,
                "x_TrafficClass": traffic, "x_CostAllocation": "list_rates" if by_rate else "tokens",
            })
            calls_left = 0  # each call counted once per group, on its first row
            out.append(row)
    return out


def unpriced_usage(store, since: datetime, until: datetime) -> dict[str, Any]:
    """Calls without a price in [since, until): left out of the cost rows, reported here."""
    rows = [{"provider": p, "model": m, "traffic_class": t, "calls": int(c), "input_tokens": int(i),
             "output_tokens": int(o), "cache_read_tokens": int(cr), "cache_creation_tokens": int(cw)}
            for p, m, t, c, i, o, cr, cw in store.query(_UNPRICED_SQL, {"since": since, "until": until}).result_rows]
    return {"calls": sum(r["calls"] for r in rows), "by_model": rows}


_TYPES = {c: pa.float64() for c in (*_COST_COLUMNS, "ListCost", "ConsumedQuantity", "PricingQuantity",
                                    "ListUnitPrice", "ContractedUnitPrice")}
_TYPES.update({c: pa.timestamp("us", tz="UTC") for c in _TIME_COLUMNS})
_TYPES.update({"x_Calls": pa.int64()})


def focus_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in rows], type=_TYPES.get(c, pa.string())) for c in FOCUS_COLUMNS})


def metadata(unpriced: dict[str, Any], created: datetime | None = None) -> dict[str, Any]:
    """FOCUS metadata of an export (data generator, schema with FocusVersion) plus the unpriced report."""
    columns = [{"ColumnName": c, "DataType": _focus_type(c)} for c in FOCUS_COLUMNS]
    schema_id = hashlib.sha256(json.dumps(columns).encode()).hexdigest()[:16]
    when = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"DataGenerator": {"DataGenerator": "tokenproof"},
            "Schema": {"SchemaId": schema_id, "FocusVersion": FOCUS_VERSION, "CreationDate": when,
                       "ColumnDefinition": columns},
            "x_UnpricedUsage": unpriced}


def _focus_type(column: str) -> str:
    kind = _TYPES.get(column)
    if kind == pa.float64():
        return "Decimal"
    if kind == pa.int64():
        return "Integer"
    if column in _TIME_COLUMNS:
        return "Date/Time"
    return "JSON" if column == "Tags" else "String"


def _csv_table(table: pa.Table) -> pa.Table:
    for name in _TIME_COLUMNS:
        index = table.schema.get_field_index(name)
        text = pa.array([v.strftime("%Y-%m-%dT%H:%M:%SZ") if v is not None else None
                         for v in table.column(name).to_pylist()], type=pa.string())
        table = table.set_column(index, name, text)
    return table


def export(store, since: datetime, until: datetime, fmt: str) -> tuple[bytes, dict[str, Any]]:
    """The export in ``fmt`` and its metadata (FOCUS version, unpriced usage left out)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    table = focus_table(focus_rows(store, since, until))
    meta = metadata(unpriced_usage(store, since, until))
    sink = io.BytesIO()
    if fmt == "csv":
        pa_csv.write_csv(_csv_table(table), sink)
    else:
        table = table.replace_schema_metadata({"FocusVersion": FOCUS_VERSION, "focus_metadata": json.dumps(meta)})
        pq.write_table(table, sink)
    return sink.getvalue(), meta


def export_bytes(store, since: datetime, until: datetime, fmt: str) -> bytes:
    return export(store, since, until, fmt)[0]
