-- otel_traces as the OpenTelemetry Collector ClickHouse exporter creates it today, whoever created
-- it first (tokenproof's 0001, or otelcol-contrib before tokenproof ever ran). See docs/store.md.
--
-- 1. Retry safety: a retried OTLP batch carries the same insert_deduplication_token and must be
--    stored once. That needs a deduplication window on every table the batch lands in; the
--    exporter creates its tables without one, so set it here (a no-op on tables from 0001/0002).
ALTER TABLE otel_traces /*ON_CLUSTER*/ MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE otel_traces_trace_id_ts /*ON_CLUSTER*/ MODIFY SETTING non_replicated_deduplication_window = 10000;

-- 2. The exporter's newest layout: "key=value" ALIAS columns (computed on read, nothing stored) and
--    the token index on the lower-cased span name that queries written for it rely on.
ALTER TABLE otel_traces /*ON_CLUSTER*/ ADD COLUMN IF NOT EXISTS ResourceAttributeItems Array(String)
    ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))'));
ALTER TABLE otel_traces /*ON_CLUSTER*/ ADD COLUMN IF NOT EXISTS SpanAttributeItems Array(String)
    ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))'));
ALTER TABLE otel_traces /*ON_CLUSTER*/ ADD INDEX IF NOT EXISTS idx_lower_span_name lower(SpanName)
    TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8;
