"""The schema, the migration runner and the exporter-compatible insert, on the real embedded engine."""

from __future__ import annotations

import datetime as dt

import pytest

from tokenproof import semconv as sc
from tokenproof.collector.migrate import Migration, MigrationError, apply_migrations, load_migrations
from tokenproof.collector.rows import EXPORTER_COLUMNS
from tokenproof.collector.testing import insert_spans

# The INSERT the OpenTelemetry Collector ClickHouse exporter issues (its column list is the contract).
EXPORTER_INSERT = """INSERT INTO otel_traces (
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    Events.Timestamp, Events.Name, Events.Attributes, Links.TraceId, Links.SpanId, Links.TraceState,
    Links.Attributes) VALUES"""


def test_fresh_store_has_every_table_at_latest_version(store):
    tables = {row[0] for row in store.query_rows("SHOW TABLES")}
    assert {"otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv", "llm_calls",
            "llm_calls_mv", "llm_calls_hourly", "llm_calls_hourly_mv", "schema_migrations"} <= tables
    apply_migrations(store)  # (a file another area may have added since the session store opened)
    assert store.schema_version() == max(m.version for m in load_migrations())


def test_rerunning_migrations_applies_nothing(store):
    apply_migrations(store)  # (picks up a file another area may have just added)
    assert apply_migrations(store) == []
    rows = store.query_rows("SELECT Version, count() FROM schema_migrations GROUP BY Version")
    assert all(count == 1 for _version, count in rows)


def test_changed_applied_migration_is_refused(store):
    first = load_migrations()[0]
    edited = Migration(first.version, first.name, first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(store, [edited])


def test_otel_traces_columns_match_the_exporter(store):
    rows = store.query_rows("SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                            "AND table = 'otel_traces' AND default_kind != 'ALIAS' ORDER BY position")
    types = dict(rows)
    assert [name for name, _ in rows] == EXPORTER_COLUMNS
    assert types["Timestamp"] == "DateTime64(9)"
    assert types["SpanAttributes"] == "Map(LowCardinality(String), String)"
    assert types["Events.Attributes"] == "Array(Map(LowCardinality(String), String))"
    assert types["Duration"] == "UInt64"
    ddl = store.query_rows("SHOW CREATE TABLE otel_traces")[0][0]
    assert "PARTITION BY toDate(Timestamp)" in ddl and "ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))" in ddl
    assert "fsync_after_insert = 1" in ddl  # an acknowledged insert is on disk (embedded store)


def test_exporter_insert_lands_in_llm_calls_typed(store):
    store.command(EXPORTER_INSERT + """ (
        '2026-11-02 10:15:00.123456789', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '', '',
        'chat gpt-4o-mini', 'Client', 'checkout',
        {'service.name': 'checkout', 'telemetry.sdk.language': 'python'},
        'opentelemetry.instrumentation.openai_v2', '2.1b0',
        {'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
         'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
         'gen_ai.usage.input_tokens': '1200', 'gen_ai.usage.output_tokens': '80',
         'tokenproof.feature': 'summarise', 'tokenproof.customer': 'acme'},
        812000000, 'Ok', '', [], [], [], [], [], [], [])""")
    calls = store.query_dicts("SELECT * FROM llm_calls FINAL")
    assert len(calls) == 1
    call = calls[0]
    assert call["ServiceName"] == "checkout"
    assert call["Provider"] == "openai"
    assert call["RequestModel"] == "gpt-4o-mini"
    assert call["ResponseModel"] == "gpt-4o-mini-2024-07-18"
    assert (call["InputTokens"], call["OutputTokens"]) == (1200, 80)
    assert call["Feature"] == "summarise" and call["Customer"] == "acme"
    assert call["TrafficClass"] == "product"
    assert call["Priced"] == 0 and call["CostUSD"] == 0  # no cost attribute: unpriced, not $0
    assert call["DurationNs"] == 812000000
    assert store.query_rows("SELECT count() FROM otel_traces_trace_id_ts") == [(1,)]


def test_helper_spans_are_typed_and_rolled_up(store):
    hour = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    base = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5", sc.GEN_AI_USAGE_INPUT_TOKENS: 1000,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 200, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 400,
            sc.TP_COST_STATUS: sc.COST_PRICED, sc.GEN_AI_USAGE_COST: 0.0042, sc.TP_FEATURE: "chatbot",
            sc.GEN_AI_REQUEST_STREAM: True}
    insert_spans(store, [
        {"service": "web", "timestamp": hour + dt.timedelta(minutes=5), "attributes": base},
        {"service": "web", "timestamp": hour + dt.timedelta(minutes=6),
         "attributes": {**base, sc.TP_TRAFFIC_CLASS: sc.TRAFFIC_SHADOW}},
        {"service": "web", "timestamp": hour + dt.timedelta(minutes=7), "status": "Error",
         "attributes": {**base, sc.TP_COST_STATUS: sc.COST_UNPRICED, sc.GEN_AI_USAGE_COST: None}},
        {"service": "web", "timestamp": hour, "attributes": {sc.GEN_AI_OPERATION_NAME: "execute_tool"}},
        {"service": "web", "timestamp": hour, "name": "GET /", "attributes": {"http.method": "GET"}},
    ])
    assert store.query_rows("SELECT count() FROM otel_traces") == [(5,)]
    calls = store.query_dicts("SELECT TrafficClass, Priced, CostUSD, CacheReadTokens, Streamed, StatusCode "
                              "FROM llm_calls FINAL ORDER BY Timestamp")
    assert [c["TrafficClass"] for c in calls] == ["product", "shadow", "product"]
    assert [c["Priced"] for c in calls] == [1, 1, 0]
    assert calls[0]["CostUSD"] == pytest.approx(0.0042) and calls[2]["CostUSD"] == 0
    assert all(c["CacheReadTokens"] == 400 and c["Streamed"] == 1 for c in calls)
    hourly = store.query_dicts(
        "SELECT Hour, sum(Calls) AS calls, sum(UnpricedCalls) AS unpriced, sum(Errors) AS errors, "
        "sum(CostUSD) AS cost, sum(InputTokens) AS input FROM llm_calls_hourly GROUP BY Hour")
    assert len(hourly) == 1
    row = hourly[0]
    assert (row["calls"], row["unpriced"], row["errors"], row["input"]) == (3, 1, 1, 3000)
    assert row["cost"] == pytest.approx(0.0084)


def test_same_token_twice_is_stored_once_in_every_table(store):
    spans = [{"attributes": {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}}] * 3
    spans = [dict(s, span_id=f"{i:016x}", trace_id="ab" * 16) for i, s in enumerate(spans)]
    insert_spans(store, spans, token="batch-1")
    insert_spans(store, spans, token="batch-1")
    assert store.query_rows("SELECT count() FROM otel_traces") == [(3,)]
    assert store.query_rows("SELECT count() FROM llm_calls") == [(3,)]
    assert store.query_rows("SELECT sum(Calls) FROM llm_calls_hourly") == [(3,)]


def test_events_keep_their_nanosecond_timestamps(store):
    insert_spans(store, [{"timestamp": 1_794_000_000_123_456_789, "attributes": {sc.GEN_AI_OPERATION_NAME: "chat"},
                          "events": [{"timestamp": 1_794_000_000_223_456_789, "name": "gen_ai.choice",
                                      "attributes": {"index": 0, "finish_reason": "stop"}}]}])
    row = store.query_rows("SELECT toUnixTimestamp64Nano(Timestamp), arrayMap(t -> toUnixTimestamp64Nano(t), "
                           "Events.Timestamp), Events.Name, Events.Attributes FROM otel_traces")[0]
    assert row == (1_794_000_000_123_456_789, [1_794_000_000_223_456_789], ["gen_ai.choice"],
                   [{"index": "0", "finish_reason": "stop"}])


def test_concurrent_inserts_and_queries_from_many_threads(store):
    import threading

    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for j in range(5):
                insert_spans(store, [{"attributes": {sc.GEN_AI_OPERATION_NAME: "chat"}}] * 20, token=f"t{n}-{j}")
                store.query_rows("SELECT count() FROM llm_calls FINAL")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.query_rows("SELECT count() FROM otel_traces") == [(6 * 5 * 20,)]
    assert store.query_rows("SELECT count() FROM llm_calls") == [(6 * 5 * 20,)]


def test_retry_fills_views_that_missed_a_crashed_first_attempt(store):
    """A crash between the otel_traces part and the views' parts: the retried batch (same token) is
    dropped from otel_traces as a duplicate but still reaches the views, once."""
    from tokenproof.collector.rows import insert_span_columns
    from tokenproof.collector.testing import span_columns

    cols, _ = span_columns([{"attributes": {sc.GEN_AI_OPERATION_NAME: "chat"}}] * 5)
    store.command("DETACH TABLE llm_calls_mv")  # the first attempt reaches otel_traces only
    try:
        insert_span_columns(store, cols, "crashed-batch")
    finally:
        store.command("ATTACH TABLE llm_calls_mv")
    assert store.query_rows("SELECT count() FROM llm_calls") == [(0,)]
    insert_span_columns(store, cols, "crashed-batch")
    insert_span_columns(store, cols, "crashed-batch")
    assert store.query_rows("SELECT count() FROM otel_traces") == [(5,)]
    assert store.query_rows("SELECT count() FROM llm_calls") == [(5,)]
    assert store.query_rows("SELECT sum(Calls) FROM llm_calls_hourly") == [(5,)]
