-- One row per webhook delivery attempt of an alert notification (tokenproof.analytics):
-- Outcome is delivered | retrying | failed | dropped (queue full).
CREATE TABLE IF NOT EXISTS analytics_webhook_deliveries /*ON_CLUSTER*/
(
    At DateTime64(3),
    DeliveryId String,
    AlertId String,
    Url String,
    Format LowCardinality(String),
    Attempt UInt16,
    Outcome LowCardinality(String),
    HttpStatus UInt16,
    Error String
)
ENGINE = /*ENGINE:MergeTree*/MergeTree
PARTITION BY toYYYYMM(At)
ORDER BY (At, DeliveryId)
SETTINGS index_granularity = 8192;
