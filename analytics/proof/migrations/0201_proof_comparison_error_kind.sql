-- Proof engine v2: every comparison keeps why it is not a plain judged verdict.
-- ErrorKind: '' (a judged verdict) or baseline_failed | candidate_failed | candidate_invalid |
-- degenerate | baseline_invalid | order_disagreement | judge_error | judge_truncated | judge_refused |
-- judge_unparseable; Reason: the human-readable detail; JudgeCalls: judge calls made (retries included).
ALTER TABLE proof_comparisons /*ON_CLUSTER*/ ADD COLUMN IF NOT EXISTS ErrorKind LowCardinality(String) DEFAULT '';
ALTER TABLE proof_comparisons /*ON_CLUSTER*/ ADD COLUMN IF NOT EXISTS Reason String DEFAULT '';
ALTER TABLE proof_comparisons /*ON_CLUSTER*/ ADD COLUMN IF NOT EXISTS JudgeCalls UInt16 DEFAULT 0
