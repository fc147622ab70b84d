-- The hourly rollup's view counts errors in both status spellings (the exporter's Error and older
-- collectors' STATUS_CODE_ERROR); replaces 0004's view, 0004 stays as released.
DROP VIEW IF EXISTS llm_calls_hourly_mv /*ON_CLUSTER*/;

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
    toInt64(countIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR'))) AS Errors,
    toInt64(sum(DurationNs)) AS DurationNs
FROM llm_calls
WHERE Version = 0
GROUP BY Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel, ResponseModel,
         TrafficClass, PromptFingerprint;

-- History: calls stored before this migration with STATUS_CODE_ERROR were not counted as errors.
-- Add the missing counts as delta rows (the rollup is summed; every other counter gets 0).
INSERT INTO llm_calls_hourly (Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel,
                              ResponseModel, TrafficClass, PromptFingerprint, Errors)
SELECT toStartOfHour(Timestamp) AS Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel,
       ResponseModel, TrafficClass, PromptFingerprint, toInt64(count())
FROM llm_calls FINAL
WHERE StatusCode = 'STATUS_CODE_ERROR'
GROUP BY Hour, ServiceName, Feature, Tier, Customer, Provider, RequestModel, ResponseModel,
         TrafficClass, PromptFingerprint;
