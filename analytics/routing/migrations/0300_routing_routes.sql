-- Routing (tokenproof.analytics.routing): the routes the instrumentation applies, and their audit log.
--
-- routing_routes: one row per route version. Every change (push, canary share, pause, rollback,
-- re-proof flag) inserts the route's next Version; read with FINAL. A route matches (service,
-- feature, prompt fingerprint, baseline model); an empty feature or fingerprint matches any.
CREATE TABLE IF NOT EXISTS routing_routes /*ON_CLUSTER*/
(
    RouteId String,
    Version UInt32,
    ServiceName LowCardinality(String),
    Feature LowCardinality(String),
    PromptFingerprint String,
    BaselineModel LowCardinality(String),
    CandidateModel LowCardinality(String),
    CandidateSystemPrompt String,
    ProofRouteId String,
    ProofDecision LowCardinality(String),
    ProofResponseModel String,
    Override UInt8,
    State LowCardinality(String),
    TrafficShare Float64,
    ScheduleJson String,
    TimeoutSeconds Float64,
    StateReason String,
    ReproofReason String,
    ChangedBy String,
    ChangedAt DateTime64(6),
    CreatedAt DateTime64(6)
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(Version)
ORDER BY RouteId
SETTINGS index_granularity = 8192;

-- routing_audit: append-only; one row per attempted change, applied or refused (a refused write
-- without the write credential is recorded too). Never updated, never deleted.
CREATE TABLE IF NOT EXISTS routing_audit /*ON_CLUSTER*/
(
    At DateTime64(6),
    AuditId String,
    RouteId String,
    Action LowCardinality(String),
    Outcome LowCardinality(String),
    Actor String,
    Client String,
    Override UInt8,
    Reason String,
    DetailJson String
)
ENGINE = /*ENGINE:MergeTree*/MergeTree
ORDER BY (At, AuditId)
SETTINGS index_granularity = 8192;
