-- Monthly budgets per feature, tier or customer (tokenproof.analytics). A change inserts a new
-- version (later UpdatedAt); Deleted = 1 removes the budget. Read with FINAL.
CREATE TABLE IF NOT EXISTS analytics_budgets /*ON_CLUSTER*/
(
    Scope LowCardinality(String),
    Value String,
    MonthlyUSD Float64,
    Deleted UInt8,
    UpdatedAt DateTime64(6)
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(UpdatedAt)
ORDER BY (Scope, Value)
SETTINGS index_granularity = 8192;
