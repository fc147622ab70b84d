-- Post-switch monitoring (tokenproof.analytics.routing): one row per observation of a routed call.
-- Kind 'attempt': every candidate attempt (Indicator = it fell back: error, timeout, format failure,
-- refusal). Kind 'judge': a sampled routed call replayed on the baseline in shadow and judged
-- (Indicator = a loss or an unresolved judgement). The drift detectors are rebuilt from these rows
-- in order, so a service restart keeps their state; SpendUSD is the shadow and judge spend.
CREATE TABLE IF NOT EXISTS routing_observations /*ON_CLUSTER*/
(
    At DateTime64(6),
    RouteId String,
    Kind LowCardinality(String),
    TraceId String,
    SpanId String,
    PromptFingerprint String,
    ResponseModel LowCardinality(String),
    Outcome LowCardinality(String),
    Indicator UInt8,
    SpendUSD Nullable(Float64),
    DetailJson String
)
ENGINE = /*ENGINE:MergeTree*/MergeTree
ORDER BY (RouteId, At, SpanId)
SETTINGS index_granularity = 8192;
