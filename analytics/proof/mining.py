"""Candidate mining: which request groups to prove on which cheaper model, and what it would save.

A request group is (service, feature, prompt fingerprint, provider, baseline model) over product
traffic only (shadow and judge calls are experiment cost). For each group, ranked by priced spend:
token profile (mean input/output tokens, cache share), output format, calls per day and unpriced
calls. Candidates come from the price catalogue: models of the same provider, or of providers the
user allows (setting ``proof_candidate_providers``), optionally restricted to
``proof_candidate_models``, that are cheaper for the group's token shape; the projected monthly saving
is (baseline cost - candidate cost) per call x calls per day x 30. A candidate that cuts the cost per
call by less than ``proof_min_saving_share`` (default 20%) is not worth the shadow spend of proving it.

A group is flagged, not proposed, when its traffic cannot reach a decision within the horizon: the
decision test needs about ``expected_comparisons(params)`` comparisons (simulated on a candidate
that matches the baseline, at least ``n_min``) at the shadow sampling rate. Several candidates of one
group share its alpha (the route versions of a group spend one series, see ``shadow.route_alpha``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from tokenproof import pricing, semconv, settings
from tokenproof.analytics.proof.judge import model_family
from tokenproof.analytics.proof.promise import expected_comparisons
from tokenproof.analytics.proof.sequential import Params

__all__ = ["GROUPS_SQL", "Candidate", "RequestGroup", "mine"]

settings.declare("proof_candidate_providers", list, [],
                 "other providers whose models may be proposed as candidates (semconv names, comma separated)")
settings.declare("proof_candidate_models", list, [],
                 "if set, only these models are proposed as candidates (comma separated)")
settings.declare("proof_min_saving_share", float, 0.2,
                 "a candidate must cut the cost per call by at least this share to be worth proving")
settings.declare("proof_shadow_sample_rate", float, 0.1, "share of a group's traffic replayed in shadow")
settings.declare("proof_decision_horizon_days", float, 30.0,
                 "a group that cannot reach a decision within this many days is flagged, not proposed")

GROUPS_SQL = """
SELECT ServiceName, Feature, PromptFingerprint, Provider, RequestModel,
       count() AS calls,
       countIf(Priced = 0) AS unpriced_calls,
       sumIf(CostUSD, Priced = 1) AS cost_usd,
       avg(InputTokens) AS mean_input_tokens,
       avg(OutputTokens) AS mean_output_tokens,
       if(sum(InputTokens) = 0, 0, sum(CacheReadTokens) / sum(InputTokens)) AS cache_share,
       topK(1)(OutputFormat)[1] AS output_format,
       min(Timestamp) AS first_seen, max(Timestamp) AS last_seen,
       countIf(SpanAttributes['gen_ai.input.messages'] != '') AS captured_calls
FROM llm_calls FINAL
WHERE TrafficClass = {product:String}
  AND Timestamp >= now64(9) - toIntervalDay({days:UInt32})
  AND StatusCode != 'Error'
GROUP BY ServiceName, Feature, PromptFingerprint, Provider, RequestModel
ORDER BY cost_usd DESC, calls DESC
LIMIT {limit:UInt32}
"""


@dataclass
class Candidate:
    provider: str
    model: str
    cost_per_call_usd: float
    saving_per_call_usd: float
    projected_monthly_saving_usd: float
    saving_share: float


@dataclass
class RequestGroup:
    service: str
    feature: str
    fingerprint: str
    provider: str
    baseline_model: str
    calls: int
    unpriced_calls: int
    cost_usd: float
    mean_input_tokens: float
    mean_output_tokens: float
    cache_share: float
    output_format: str
    calls_per_day: float
    captured_calls: int
    baseline_cost_per_call_usd: float | None
    comparisons_needed: int
    days_to_decision: float | None
    too_small: bool
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


_SPECIALISED = re.compile(
    r"audio|realtime|tts|transcribe|image|search|embed|moderation|whisper|dall|computer-use|research|"
    r"ft[:-]|codex|cyber|rosalind|live|instruct|davinci|curie|babbage|^ada|vision|:|guard|preview", re.I)


def _per_call(provider: str, model: str, mean_in: float, mean_out: float, cache_share: float) -> float | None:
    tin, tout = round(mean_in), round(mean_out)
    usage = pricing.Usage(input_tokens=tin, output_tokens=tout, cache_read_tokens=int(tin * cache_share))
    return pricing.price(provider, model, usage).usd


def _catalogue(providers: list[str]) -> list:
    entries = []
    for provider in providers:
        try:
            entries.extend(pricing.catalogue([provider]))
        except pricing.PricingError:
            continue
    return entries


def mine(store, *, days: int = 30, limit: int = 20, params: Params | None = None,
         max_candidates: int = 3, providers: list[str] | None = None, models: list[str] | None = None,
         sample_rate: float | None = None) -> list[RequestGroup]:
    """Request groups ranked by spend, each with cheaper candidates (or flagged too small).

    ``providers``, ``models`` and ``sample_rate`` default to the settings (the scheduler passes its
    policy's)."""
    params = params or Params()
    rows = store.query_dicts(GROUPS_SQL, {"product": semconv.TRAFFIC_PRODUCT, "days": int(days), "limit": int(limit)})
    sample_rate = settings.get("proof_shadow_sample_rate") if sample_rate is None else sample_rate
    horizon = settings.get("proof_decision_horizon_days")
    allowed = settings.get("proof_candidate_providers") if providers is None else providers
    only = set(settings.get("proof_candidate_models") if models is None else models)
    needed = round(max(params.n_min, expected_comparisons(params)[0]))  # simulated, not Wald's approximation
    groups = []
    for row in rows:
        span_days = max(1.0, (row["last_seen"] - row["first_seen"]).total_seconds() / 86400.0)
        per_day = row["calls"] / span_days
        shadow_per_day = per_day * sample_rate
        days_needed = needed / shadow_per_day if shadow_per_day > 0 else None
        mean_in, mean_out = float(row["mean_input_tokens"]), float(row["mean_output_tokens"])
        cache = float(row["cache_share"])
        base_cost = _per_call(row["Provider"], row["RequestModel"], mean_in, mean_out, cache)
        group = RequestGroup(
            service=row["ServiceName"], feature=row["Feature"], fingerprint=row["PromptFingerprint"],
            provider=row["Provider"], baseline_model=row["RequestModel"], calls=int(row["calls"]),
            unpriced_calls=int(row["unpriced_calls"]), cost_usd=round(float(row["cost_usd"]), 6),
            mean_input_tokens=round(mean_in, 1), mean_output_tokens=round(mean_out, 1),
            cache_share=round(cache, 4), output_format=row["output_format"] or "text",
            calls_per_day=round(per_day, 2), captured_calls=int(row["captured_calls"]),
            baseline_cost_per_call_usd=base_cost, comparisons_needed=needed,
            days_to_decision=None if days_needed is None else round(days_needed, 1),
            too_small=days_needed is None or days_needed > horizon)
        if not group.too_small and base_cost:
            group.candidates = _candidates(group, allowed, only, max_candidates,
                                           settings.get("proof_min_saving_share"))
        groups.append(group)
    return groups


def _candidates(group: RequestGroup, allowed: list[str], only: set[str], max_candidates: int,
                min_share: float = 0.0) -> list[Candidate]:
    providers = [group.provider] + [p for p in allowed if p != group.provider]
    baseline_family = model_family(group.baseline_model)
    found: dict[str, Candidate] = {}
    for entry in _catalogue(providers):
        if only and entry.model not in only:
            continue
        if entry.input_mtok is None or entry.output_mtok is None or entry.output_mtok == 0:
            continue  # embeddings, images and models without token prices
        if not only and (_SPECIALISED.search(entry.model) or entry.context_window is None
                         or entry.context_window < group.mean_input_tokens + group.mean_output_tokens):
            continue  # audio/image/realtime/fine-tune/legacy models, or a context too small
        if entry.model == group.baseline_model or (
                model_family(entry.model) == baseline_family and _snapshot_of(entry.model, group.baseline_model)):
            continue  # the baseline under another name (a dated snapshot), not a cheaper model
        cost = _per_call(entry.provider, entry.model, group.mean_input_tokens, group.mean_output_tokens,
                         group.cache_share)
        base = group.baseline_cost_per_call_usd or 0.0
        if cost is None or cost >= base or (base - cost) / base < min_share:
            continue  # not cheaper, or too small a cut to be worth the shadow spend of proving it
        saving = base - cost
        candidate = Candidate(entry.provider, entry.model, round(cost, 8), round(saving, 8),
                              round(saving * group.calls_per_day * 30.0, 4), round(saving / base, 4))
        if entry.model not in found or found[entry.model].saving_per_call_usd < saving:
            found[entry.model] = candidate
    # the least aggressive cuts first: a close cheaper sibling is likelier to pass than the cheapest
    ranked = sorted(found.values(), key=lambda c: c.saving_share)
    return _spread(ranked, max_candidates)


_SNAPSHOT = re.compile(r"^(?:[-@]\d|-latest$)")


def _snapshot_of(model: str, baseline: str) -> bool:
    """``gpt-4o-2024-08-06`` is ``gpt-4o``; ``gpt-4o-mini`` is another model."""
    return model.startswith(baseline) and bool(_SNAPSHOT.match(model[len(baseline):]))


def _spread(ranked: list[Candidate], k: int) -> list[Candidate]:
    """Up to k candidates spread from the mildest to the deepest cut."""
    if len(ranked) <= k:
        return ranked
    step = (len(ranked) - 1) / (k - 1) if k > 1 else 0
    return [ranked[round(i * step)] for i in range(k)]
