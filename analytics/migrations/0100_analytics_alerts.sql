-- Spend-anomaly and budget alerts (tokenproof.analytics). One row per alert version: an update
-- (acknowledge, resolve, a repeat of the same anomaly) inserts a new version with a later
-- UpdatedAt; read with FINAL. DedupKey identifies the anomaly (kind, metric, dimension value):
-- while an alert with that key is open or acknowledged, repeats update it instead of opening another.
CREATE TABLE IF NOT EXISTS analytics_alerts /*ON_CLUSTER*/
(
    AlertId String,
    DedupKey String,
    Kind LowCardinality(String),
    Dimension LowCardinality(String),
    Value String,
    Metric LowCardinality(String),
    Status LowCardinality(String),
    Severity LowCardinality(String),
    Explanation String,
    Observed Float64,
    Expected Float64,
    Ratio Float64,
    ExcessUSD Float64,
    StartedAt DateTime64(3),
    LastSeenAt DateTime64(3),
    OpenedAt DateTime64(3),
    AcknowledgedAt Nullable(DateTime64(3)),
    ResolvedAt Nullable(DateTime64(3)),
    ResolvedBy LowCardinality(String),
    Occurrences UInt32,
    Details String,
    UpdatedAt DateTime64(6)
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(UpdatedAt)
ORDER BY AlertId
SETTINGS index_granularity = 8192;
