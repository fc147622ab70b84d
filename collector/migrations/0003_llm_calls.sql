-- One typed row per GenAI inference span, derived inside the engine from otel_traces, so spans
-- written by otelcol-contrib straight into otel_traces land here too.
--
-- Rows: spans whose gen_ai.operation.name is an inference operation (chat, text_completion,
-- completion, generate_content, embeddings, responses). Agent/tool spans (invoke_agent,
-- execute_tool, ...) are not calls to a model and would double-count their children's tokens.
--
-- Priced: tokenproof.cost.status = 'priced'; a span without that attribute (another
-- instrumentation) counts as priced only when it carries a numeric gen_ai.usage.cost. Unpriced
-- rows have CostUSD = 0 and Priced = 0: always filter on Priced before trusting CostUSD.
--
-- Re-pricing inserts a new version of a row (higher Version); read with FINAL (or argMax by
-- Version) to see the latest price. The view writes Version = 0.
CREATE TABLE IF NOT EXISTS llm_calls /*ON_CLUSTER*/
(
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    Provider LowCardinality(String),
    Operation LowCardinality(String),
    RequestModel LowCardinality(String),
    ResponseModel LowCardinality(String),
    Feature LowCardinality(String),
    Tier LowCardinality(String),
    Customer String CODEC(ZSTD(1)),
    PromptFingerprint String CODEC(ZSTD(1)),
    OutputFormat LowCardinality(String),
    TrafficClass LowCardinality(String),
    RouteId String CODEC(ZSTD(1)),
    Fallback UInt8,
    Streamed UInt8,
    InputTokens UInt64,
    OutputTokens UInt64,
    CacheReadTokens UInt64,
    CacheCreationTokens UInt64,
    ReasoningTokens UInt64,
    CostUSD Float64,
    Priced UInt8,
    UsageSource LowCardinality(String),
    PriceVersion String,
    PriceSource LowCardinality(String),
    StatusCode LowCardinality(String),
    ErrorType String,
    DurationNs UInt64,
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Version UInt64,
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(Version)
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (toStartOfHour(Timestamp), ServiceName, TraceId, SpanId)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_mv /*ON_CLUSTER*/
TO llm_calls
AS SELECT
    Timestamp,
    ServiceName,
    TraceId,
    SpanId,
    ParentSpanId,
    if(SpanAttributes['gen_ai.provider.name'] != '',
       SpanAttributes['gen_ai.provider.name'], SpanAttributes['gen_ai.system']) AS Provider,
    SpanAttributes['gen_ai.operation.name'] AS Operation,
    SpanAttributes['gen_ai.request.model'] AS RequestModel,
    if(SpanAttributes['gen_ai.response.model'] != '',
       SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model']) AS ResponseModel,
    SpanAttributes['tokenproof.feature'] AS Feature,
    SpanAttributes['tokenproof.tier'] AS Tier,
    SpanAttributes['tokenproof.customer'] AS Customer,
    SpanAttributes['tokenproof.prompt.fingerprint'] AS PromptFingerprint,
    SpanAttributes['tokenproof.output.format'] AS OutputFormat,
    if(SpanAttributes['tokenproof.traffic_class'] != '',
       SpanAttributes['tokenproof.traffic_class'], 'product') AS TrafficClass,
    SpanAttributes['tokenproof.route.id'] AS RouteId,
    toUInt8(lower(SpanAttributes['tokenproof.route.fallback']) IN ('true', '1')) AS Fallback,
    toUInt8(lower(SpanAttributes['gen_ai.request.stream']) IN ('true', '1')) AS Streamed,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens']) AS InputTokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.output_tokens']) AS OutputTokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.cache_read.input_tokens']) AS CacheReadTokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.cache_creation.input_tokens']) AS CacheCreationTokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.reasoning.output_tokens']) AS ReasoningTokens,
    toUInt8(if(SpanAttributes['tokenproof.cost.status'] != '',
               SpanAttributes['tokenproof.cost.status'] = 'priced',
               isNotNull(toFloat64OrNull(SpanAttributes['gen_ai.usage.cost'])))) AS Priced,
    if(Priced = 1, toFloat64OrZero(SpanAttributes['gen_ai.usage.cost']), 0) AS CostUSD,
    if(SpanAttributes['tokenproof.usage.source'] != '',
       SpanAttributes['tokenproof.usage.source'], 'provider') AS UsageSource,
    SpanAttributes['tokenproof.price.version'] AS PriceVersion,
    SpanAttributes['tokenproof.price.source'] AS PriceSource,
    StatusCode,
    SpanAttributes['error.type'] AS ErrorType,
    Duration AS DurationNs,
    SpanAttributes,
    toUInt64(0) AS Version
FROM otel_traces
WHERE SpanAttributes['gen_ai.operation.name'] IN
      ('chat', 'text_completion', 'completion', 'generate_content', 'embeddings', 'responses');
