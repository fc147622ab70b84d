-- Hourly rollup for dashboards: sums per hour x service x feature x tier x customer x provider x
-- models x traffic class x prompt fingerprint. Always read with sum(...) GROUP BY: rows with the
-- same key are summed only when parts merge.
--
-- The view adds each call once, as the collector first stores it (Version = 0). Re-pricing
-- inserts correcting delta rows directly (cost difference, unpriced-call difference), so the
-- counters are signed.
CREATE TABLE IF NOT EXISTS llm_calls_hourly /*ON_CLUSTER*/
(
    Hour DateTime,
    ServiceName LowCardinality(String),
    Feature LowCardinality(String),
    Tier LowCardinality(String),
    Customer String,
    Provider LowCardinality(String),
    RequestModel LowCardinality(String),
    ResponseModel LowCardinality(String),
    TrafficClass LowCardinality(String),
    PromptFingerprint String,
    Calls Int64,
    InputTokens Int64,
    OutputTokens Int64,
    CacheReadTokens Int64,
    CacheCreationTokens Int64,
    ReasoningTokens Int64,
    CostUSD Float64,
    PricedCalls Int64,
    UnpricedCalls Int64,
    EstimatedCalls Int64,
    Errors Int64,
    DurationNs Int64
)
ENGINE = /*ENGINE:SummingMergeTree*/SummingMergeTree
PARTITION BY toYYYYMM(Hour)
ORDER BY (Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel, ResponseModel,
          TrafficClass, PromptFingerprint)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_hourly_mv /*ON_CLUSTER*/
TO llm_calls_hourly
AS SELECT
    toStartOfHour(Timestamp) AS Hour,
    ServiceName, Feature, Tier, Customer, Provider, RequestModel, ResponseModel, TrafficClass,
    PromptFingerprint,
    toInt64(count()) AS Calls,
    toInt64(sum(InputTokens)) AS InputTokens,
    toInt64(sum(OutputTokens)) AS OutputTokens,
    toInt64(sum(CacheReadTokens)) AS CacheReadTokens,
    toInt64(sum(CacheCreationTokens)) AS CacheCreationTokens,
    toInt64(sum(ReasoningTokens)) AS ReasoningTokens,
    sum(CostUSD) AS CostUSD,
    toInt64(countIf(Priced = 1)) AS PricedCalls,
    toInt64(countIf(Priced = 0)) AS UnpricedCalls,
    toInt64(countIf(UsageSource = 'estimated')) AS EstimatedCalls,
    toInt64(countIf(StatusCode = 'Error')) AS Errors,
    toInt64(sum(DurationNs)) AS DurationNs
FROM llm_calls
WHERE Version = 0
GROUP BY Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel, ResponseModel,
         TrafficClass, PromptFingerprint;
