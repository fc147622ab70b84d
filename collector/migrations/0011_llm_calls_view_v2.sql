-- The LLM-call view, second version (replaces 0003's view; 0003 stays as released).
--
-- Cost: reads the proposed GenAI names gen_ai.usage.cost.amount (with .currency and .source) as well
-- as gen_ai.usage.cost (OpenLIT's, and what tokenproof has always written). When both are present
-- the legacy name wins (tokenproof writes both with the same value); an amount whose currency is
-- not USD is not taken as CostUSD (the call stays unpriced until re-priced). A span without
-- tokenproof.cost.status counts as priced when either name carries a number.
-- PriceSource falls back to gen_ai.usage.cost.source (provider | local).
--
-- Status: older collectors write STATUS_CODE_ERROR / STATUS_CODE_OK / STATUS_CODE_UNSET; the call
-- table stores the exporter's spelling (Error / Ok / Unset) for every span.
--
-- Migrations run before the service ingests, so no span arrives between the DROP and the CREATE.
DROP VIEW IF EXISTS llm_calls_mv /*ON_CLUSTER*/;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_mv /*ON_CLUSTER*/
TO llm_calls
AS WITH
    toFloat64OrNull(SpanAttributes['gen_ai.usage.cost']) AS legacy_cost,
    if(SpanAttributes['gen_ai.usage.cost.currency'] IN ('', 'USD'),
       toFloat64OrNull(SpanAttributes['gen_ai.usage.cost.amount']), NULL) AS amount_cost,
    if(isNotNull(legacy_cost), legacy_cost, amount_cost) AS any_cost
SELECT
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
               isNotNull(any_cost))) AS Priced,
    if(Priced = 1, ifNull(any_cost, 0), 0) AS CostUSD,
    if(SpanAttributes['tokenproof.usage.source'] != '',
       SpanAttributes['tokenproof.usage.source'], 'provider') AS UsageSource,
    SpanAttributes['tokenproof.price.version'] AS PriceVersion,
    if(SpanAttributes['tokenproof.price.source'] != '', SpanAttributes['tokenproof.price.source'],
       SpanAttributes['gen_ai.usage.cost.source']) AS PriceSource,
    transform(otel_traces.StatusCode, ['STATUS_CODE_ERROR', 'STATUS_CODE_OK', 'STATUS_CODE_UNSET'],
              ['Error', 'Ok', 'Unset'], otel_traces.StatusCode) AS StatusCode,
    SpanAttributes['error.type'] AS ErrorType,
    Duration AS DurationNs,
    SpanAttributes,
    toUInt64(0) AS Version
FROM otel_traces
WHERE SpanAttributes['gen_ai.operation.name'] IN
      ('chat', 'text_completion', 'completion', 'generate_content', 'embeddings', 'responses');
