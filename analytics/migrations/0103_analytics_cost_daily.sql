-- Daily cost rollup for long-window attribution (tokenproof.analytics): llm_calls_hourly summed per
-- UTC day without the high-cardinality Customer and PromptFingerprint keys. Its view reads
-- llm_calls_hourly, so it also receives the re-pricing delta rows written there. Attribution reads it
-- for the whole days of a window (the hourly rollup covers the partial days at the edges) when the
-- requested dimensions are among its keys. Read with sum(...) GROUP BY.
CREATE TABLE IF NOT EXISTS analytics_cost_daily /*ON_CLUSTER*/
(
    Day Date,
    ServiceName LowCardinality(String),
    Feature LowCardinality(String),
    Tier LowCardinality(String),
    Provider LowCardinality(String),
    RequestModel LowCardinality(String),
    ResponseModel LowCardinality(String),
    TrafficClass LowCardinality(String),
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
PARTITION BY toYYYYMM(Day)
ORDER BY (Day, ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel, TrafficClass)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics_cost_daily_mv /*ON_CLUSTER*/
TO analytics_cost_daily
AS SELECT
    toDate(Hour, 'UTC') AS Day,
    ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel, TrafficClass,
    sum(Calls) AS Calls,
    sum(InputTokens) AS InputTokens,
    sum(OutputTokens) AS OutputTokens,
    sum(CacheReadTokens) AS CacheReadTokens,
    sum(CacheCreationTokens) AS CacheCreationTokens,
    sum(ReasoningTokens) AS ReasoningTokens,
    sum(CostUSD) AS CostUSD,
    sum(PricedCalls) AS PricedCalls,
    sum(UnpricedCalls) AS UnpricedCalls,
    sum(EstimatedCalls) AS EstimatedCalls,
    sum(Errors) AS Errors,
    sum(DurationNs) AS DurationNs
FROM llm_calls_hourly
GROUP BY Day, ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel, TrafficClass;

-- Backfill from history already in the hourly rollup (migrations run before the service ingests).
INSERT INTO analytics_cost_daily
SELECT toDate(Hour, 'UTC') AS Day, ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel,
    TrafficClass, sum(Calls), sum(InputTokens), sum(OutputTokens), sum(CacheReadTokens),
    sum(CacheCreationTokens), sum(ReasoningTokens), sum(CostUSD), sum(PricedCalls), sum(UnpricedCalls),
    sum(EstimatedCalls), sum(Errors), sum(DurationNs)
FROM llm_calls_hourly
GROUP BY Day, ServiceName, Feature, Tier, Provider, RequestModel, ResponseModel, TrafficClass;
