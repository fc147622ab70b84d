-- Proof scheduler (tokenproof.analytics.scheduler): its control row, its admission ledger and its
-- event log. Everything the scheduler knows survives a restart here; the routes and comparisons it
-- produces are the proof engine's own tables.
--
-- scheduler_control: one row per change of the user's policy overrides or the pause switch (Key is
-- always 'default'); the latest UpdatedAt wins (read with FINAL). PolicyJson holds only the fields
-- the user set through the API; the rest come from settings.
CREATE TABLE IF NOT EXISTS scheduler_control /*ON_CLUSTER*/
(
    Key LowCardinality(String),
    PolicyJson String,
    PolicyVersion UInt32,
    Paused UInt8,
    Actor String,
    Reason String,
    UpdatedAt DateTime64(6)
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(UpdatedAt)
ORDER BY Key;

-- scheduler_groups: the request groups the scheduler admitted to testing, each with the share of the
-- family-wise alpha it may spend over all its route versions (docs/scheduler.md "Alpha").
CREATE TABLE IF NOT EXISTS scheduler_groups /*ON_CLUSTER*/
(
    Lineage String,
    ServiceName LowCardinality(String),
    Feature LowCardinality(String),
    PromptFingerprint String,
    BaselineModel LowCardinality(String),
    AlphaShare Float64,
    Portfolio UInt32,
    PolicyVersion UInt32,
    AdmittedAt DateTime64(6)
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(AdmittedAt)
ORDER BY Lineage;

-- scheduler_events: append-only log of every pass, admission, batch (its spend reserved when it
-- starts and settled when it ends), decision, budget stop, deferral, back-off and control change.
CREATE TABLE IF NOT EXISTS scheduler_events /*ON_CLUSTER*/
(
    At DateTime64(6),
    Kind LowCardinality(String),
    BatchId String,
    RouteId String,
    Lineage String,
    Feature LowCardinality(String),
    CandidateModel LowCardinality(String),
    Provider LowCardinality(String),
    PromptRef String,
    Comparisons UInt32,
    ReservedUSD Float64,
    SpendUSD Float64,
    Message String,
    DetailJson String
)
ENGINE = /*ENGINE:MergeTree*/MergeTree
ORDER BY (At, Kind)
SETTINGS index_granularity = 8192;
