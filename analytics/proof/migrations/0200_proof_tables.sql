-- Proof engine (tokenproof.analytics.proof): routes under test and every judged comparison.
--
-- proof_routes: one row per route version (RouteId = hash of match, baseline, candidate, candidate
-- prompt hash and judge; any change is a new RouteId whose evidence starts from zero). Lineage
-- groups the versions of one (match, candidate); Version numbers them. Updates (status, spend)
-- insert a new row with a later UpdatedAt; read with FINAL.
CREATE TABLE IF NOT EXISTS proof_routes /*ON_CLUSTER*/
(
    RouteId String,
    Lineage String,
    Version UInt32,
    ServiceName LowCardinality(String),
    Feature LowCardinality(String),
    PromptFingerprint String,
    BaselineProvider LowCardinality(String),
    BaselineModel LowCardinality(String),
    CandidateModel LowCardinality(String),
    CandidatePromptHash String,
    JudgeModel LowCardinality(String),
    MatchJson String,
    ParamsJson String,
    Status LowCardinality(String),
    Decision LowCardinality(String),
    BudgetUSD Float64,
    SpentUSD Float64,
    MonthlySavingUSD Nullable(Float64),
    CreatedAt DateTime64(3),
    UpdatedAt DateTime64(6)
)
ENGINE = /*ENGINE:ReplacingMergeTree*/ReplacingMergeTree(UpdatedAt)
ORDER BY RouteId
SETTINGS index_granularity = 8192;

-- proof_comparisons: one row per judged comparison, in arrival order (Seq) per route. Outputs are
-- stored only when content capture is on; their hashes always. Verdicts of both judge orders,
-- format verdicts, lengths, costs (NULL = unpriced, never 0) and latencies.
CREATE TABLE IF NOT EXISTS proof_comparisons /*ON_CLUSTER*/
(
    Timestamp DateTime64(6),
    RouteId String,
    RouteVersion UInt32,
    Seq UInt32,
    PromptRef String,
    RequestRef String,
    BaselineModel LowCardinality(String),
    CandidateModel LowCardinality(String),
    JudgeModel LowCardinality(String),
    Question String CODEC(ZSTD(3)),
    BaselineOutput String CODEC(ZSTD(3)),
    CandidateOutput String CODEC(ZSTD(3)),
    BaselineHash String,
    CandidateHash String,
    BaselineFormatValid UInt8,
    CandidateFormatValid UInt8,
    FormatFailures Array(String),
    VerdictBaselineFirst LowCardinality(String),
    VerdictCandidateFirst LowCardinality(String),
    ResultBaselineFirst LowCardinality(String),
    ResultCandidateFirst LowCardinality(String),
    SwapConsistent Nullable(UInt8),
    Outcome LowCardinality(String),
    DecidedBy LowCardinality(String),
    BaselineLength UInt32,
    CandidateLength UInt32,
    LengthRatio Float64,
    BaselineRecorded UInt8,
    BaselineCostUSD Nullable(Float64),
    CandidateCostUSD Nullable(Float64),
    JudgeCostUSD Nullable(Float64),
    BaselineLatencyS Float64,
    CandidateLatencyS Float64,
    JudgeLatencyS Float64
)
ENGINE = /*ENGINE:MergeTree*/MergeTree
ORDER BY (RouteId, Seq)
SETTINGS index_granularity = 8192;
