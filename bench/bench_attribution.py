"""Attribution query latency over millions of LLM calls in the embedded store (chDB).

Generates ``--rows`` LLM calls (default 10 million) spread over ``--days`` days (default 30) inside the
engine with ``INSERT ... SELECT ... FROM numbers()``, in chunks:

- ``--via traces`` (default): rows go into ``otel_traces`` in the exporter's layout, so the collector's
  materialized views fill ``llm_calls`` and ``llm_calls_hourly`` exactly as for real traffic;
- ``--via calls``: rows go straight into ``llm_calls`` (its view still fills the rollup), skipping the
  attribute-map parsing - faster generation, same query-side tables.

Then times the attribution functions the API serves (cold run excluded), p50/p95 over ``--repeat``
runs: feature x model over the whole window (the headline, target p50 < 500 ms), feature by day,
top customers over 7 days, movers, coverage, and a breakdown by an arbitrary span attribute key
(typed table). Prints the figures.

    .venv/bin/python bench/bench_attribution.py [--rows 10000000] [--days 30] [--via traces|calls]
        [--keys correlated|independent]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from tokenproof.analytics import attribution as A
from tokenproof.collector.store import Store

_ATTRS = """map(
    'gen_ai.operation.name', 'chat',
    'gen_ai.provider.name', if(m < 5, 'openai', 'anthropic'),
    'gen_ai.request.model', concat('model-', toString(m)),
    'gen_ai.response.model', concat('model-', toString(m)),
    'gen_ai.usage.input_tokens', toString(it),
    'gen_ai.usage.output_tokens', toString(ot),
    'gen_ai.usage.cache_read.input_tokens', toString(intDiv(it, 4)),
    'gen_ai.usage.cost', if(m = 7, '', toString(round((it * (m + 1) * 0.5 + ot * (m + 1) * 2) / 1e6, 8))),
    'tokenproof.cost.status', if(m = 7, 'unpriced', 'priced'),
    'tokenproof.feature', concat('feature-', toString(f)),
    'tokenproof.tier', ['free', 'pro', 'enterprise'][1 + (ht % 3)],
    'tokenproof.customer', concat('cust-', toString(hc % 500)),
    'tokenproof.prompt.fingerprint', concat('fp-', toString(f * 5 + hs % 5)),
    'tokenproof.traffic_class', if(h % 50 = 0, 'shadow', 'product'),
    'app.region', ['eu', 'us', 'ap'][1 + (h % 3)]
)"""
_GEN_TRACES = """INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind,
    ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage)
SELECT ts, hex(cityHash64(number, 1)), hex(cityHash64(number, 2)), '', '', concat('chat model-', toString(m)),
    'Client', concat('svc-', toString(hs % 5)), map('service.name', concat('svc-', toString(hs % 5))),
    'tokenproof.instrumentation', '', """ + _ATTRS + """, 500000000 + h % 1000000, 'Unset', ''
FROM (
    SELECT number, cityHash64(number) AS h, toUInt32(h % 8) AS m, toUInt32(intDiv(h, 8) % 40) AS f,
        if({independent:UInt8}, cityHash64(number, 3), h) AS hc, if({independent:UInt8}, cityHash64(number, 4), h) AS ht,
        if({independent:UInt8}, cityHash64(number, 5), h) AS hs,
        100 + h % 2000 AS it, 10 + intDiv(h, 7) % 500 AS ot,
        toDateTime64({start:DateTime64(9)}, 9) + toIntervalSecond(intDiv(number * {span_s:UInt64}, {rows:UInt64}))
            + toIntervalMillisecond(h % 1000) AS ts
    FROM numbers({offset:UInt64}, {chunk:UInt64})
)"""
_GEN_CALLS = """INSERT INTO llm_calls (Timestamp, ServiceName, TraceId, SpanId, ParentSpanId, Provider, Operation,
    RequestModel, ResponseModel, Feature, Tier, Customer, PromptFingerprint, OutputFormat, TrafficClass, RouteId,
    Fallback, Streamed, InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens, ReasoningTokens, CostUSD,
    Priced, UsageSource, PriceVersion, PriceSource, StatusCode, ErrorType, DurationNs, SpanAttributes, Version)
SELECT ts, concat('svc-', toString(hs % 5)), hex(cityHash64(number, 1)), hex(cityHash64(number, 2)), '',
    if(m < 5, 'openai', 'anthropic'), 'chat', concat('model-', toString(m)), concat('model-', toString(m)),
    concat('feature-', toString(f)), ['free', 'pro', 'enterprise'][1 + (ht % 3)], concat('cust-', toString(hc % 500)),
    concat('fp-', toString(f * 5 + hs % 5)), 'text', if(h % 50 = 0, 'shadow', 'product'), '', 0, 0, it, ot,
    intDiv(it, 4), 0, 0, if(m = 7, 0, round((it * (m + 1) * 0.5 + ot * (m + 1) * 2) / 1e6, 8)), m != 7,
    'provider', 'bench', 'genai-prices', 'Unset', '', 500000000 + h % 1000000,
    map('app.region', ['eu', 'us', 'ap'][1 + (h % 3)]), 0
FROM (
    SELECT number, cityHash64(number) AS h, toUInt32(h % 8) AS m, toUInt32(intDiv(h, 8) % 40) AS f,
        if({independent:UInt8}, cityHash64(number, 3), h) AS hc, if({independent:UInt8}, cityHash64(number, 4), h) AS ht,
        if({independent:UInt8}, cityHash64(number, 5), h) AS hs,
        100 + h % 2000 AS it, 10 + intDiv(h, 7) % 500 AS ot,
        toDateTime64({start:DateTime64(9)}, 9) + toIntervalSecond(intDiv(number * {span_s:UInt64}, {rows:UInt64}))
            + toIntervalMillisecond(h % 1000) AS ts
    FROM numbers({offset:UInt64}, {chunk:UInt64})
)"""


def generate(store: Store, rows: int, days: int, via: str, end: datetime, independent: bool) -> float:
    start = end - timedelta(days=days)
    sql = _GEN_TRACES if via == "traces" else _GEN_CALLS
    chunk = 1_000_000
    began = time.perf_counter()
    for offset in range(0, rows, chunk):
        n = min(chunk, rows - offset)
        store.command(sql, {"start": start.replace(tzinfo=None), "span_s": days * 86400, "rows": rows,
                            "offset": offset, "chunk": n, "independent": int(independent)})
        print(f"  generated {offset + n:,} / {rows:,} rows ({time.perf_counter() - began:.0f}s)", flush=True)
    return time.perf_counter() - began


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # cold run (caches, parts) excluded
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--via", choices=["traces", "calls"], default="traces")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keys", choices=["correlated", "independent"], default="correlated",
                        help="correlated: customer, tier and service derive from the call's hash together "
                             "with feature and model; independent: each drawn from its own hash (worst case "
                             "for the hourly rollup, which then holds about one row per call)")
    parser.add_argument("--data-dir", default=None, help="store directory (default: a temporary one)")
    args = parser.parse_args()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(data_dir=args.data_dir or tmp)
        try:
            print(f"generating {args.rows:,} LLM calls over {args.days} days via {args.via}, {args.keys} keys ...")
            took = generate(store, args.rows, args.days, args.via, end, args.keys == "independent")
            calls, first, last = store.query_rows(
                "SELECT count(), toString(min(Timestamp)), toString(max(Timestamp)) FROM llm_calls")[0]
            rollup = store.query_rows("SELECT count(), sum(Calls) FROM llm_calls_hourly")[0]
            print(f"generated in {took:.0f}s ({args.rows / took:,.0f} rows/s): llm_calls {calls:,} rows; "
                  f"llm_calls_hourly {rollup[0]:,} rows summing {rollup[1]:,} calls; calls from {first} to {last}")
            since_all = end - timedelta(days=args.days)
            until = end + timedelta(hours=1)
            week = end - timedelta(days=7)
            cases = [
                ("feature x model, whole window (headline)",
                 lambda: A.cost(store, A.Query(since_all, until, ["feature", "model"], "total", {}, 1000))),
                ("feature by day, whole window",
                 lambda: A.cost(store, A.Query(since_all, until, ["feature"], "day", {}, 10000))),
                ("top 100 customers x feature, whole window (hourly rollup only)",
                 lambda: A.cost(store, A.Query(since_all, until, ["customer", "feature"], "total", {}, 100))),
                ("top 100 customers, 7 days",
                 lambda: A.cost(store, A.Query(week, until, ["customer"], "total", {}, 100))),
                ("tier x provider, filtered to one feature, whole window",
                 lambda: A.cost(store, A.Query(since_all, until, ["tier", "provider"], "total",
                                               {"feature": "feature-3"}, 100))),
                ("movers by feature, 7 days vs previous 7",
                 lambda: A.movers(store, A.Query(week, until, ["feature"], "total", {}, 20))),
                ("unpriced coverage, whole window",
                 lambda: A.coverage(store, since_all, until)),
                ("span attribute app.region x feature, 1 day (typed table)",
                 lambda: A.cost(store, A.Query(end - timedelta(days=1), until, ["attr.app.region", "feature"],
                                               "total", {}, 1000))),
            ]
            print(f"\n{'query':<66} {'p50 ms':>8} {'p95 ms':>8}")
            headline = None
            for label, fn in cases:
                p50, p95 = timed(fn, args.repeat)
                headline = headline if headline is not None else p50
                print(f"{label:<66} {p50:>8.1f} {p95:>8.1f}")
            print(f"\ntarget p50 < 500 ms for feature x model over {args.rows:,} calls / {args.days} days: "
                  f"{'met' if headline < 500 else 'NOT met'} ({headline:.1f} ms)")
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
