"""Which (request group, candidate) pairs the scheduler tests next, and why the others wait.

Each pass mines the store (:func:`~tokenproof.analytics.proof.mining.mine`) with the policy's
candidate rules and sampling rate, then for each group:

- **eligibility**: the policy's services and features, at least ``min_calls_per_day``, content capture
  on (captured calls to replay), enough traffic to decide within the horizon;
- **candidate**: one route under test per group at a time (a group's versions spend one alpha series,
  in order). A route already started continues; otherwise the untested allowed candidate with the
  highest *value*, projected monthly saving / expected cost to a decision (expected comparisons x
  the reserved cost of one comparison for the group's token shape), is next. A candidate with a
  finished route of any version (switch, keep, uninformative, undecided, budget exhausted) is done;
- **quota**: within the sampling window (``proof_sample_days``) the route may compare
  ``floor(sample_rate x captured calls in the window)`` prompts, so testing follows the group's new
  traffic at the sampling rate; a route whose last batch found no fresh prompt waits until the group
  has captured more calls;
- **a proven group is done**: once a route of the group decided "switch", its other candidates are
  not tested (the recommendation is there; a user can still run one by hand);
- **alpha**: a group is admitted to testing once, with the share ``alpha / proof_portfolio_routes``
  of the family-wise alpha, and only while the shares of all admitted groups stay within alpha
  (docs/scheduler.md "Alpha"); the group's route versions then spend that share as a series.

Groups with work are ranked by their best value and walked in that order: a group not yet admitted
is admitted only while its share fits, and the first ``max_concurrent_routes`` run a batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from tokenproof import settings
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.judge import JudgeFamilyError, resolve_judge
from tokenproof.analytics.proof.mining import Candidate, RequestGroup, mine
from tokenproof.analytics.proof.reserve import comparison_reservation
from tokenproof.analytics.proof.route import lineage_id, route_id
from tokenproof.analytics.scheduler.policy import Policy

__all__ = ["FINISHED", "GroupPlan", "Work", "plan"]

FINISHED = {"switch", "keep", "uninformative", "undecided", "budget_exhausted"}
_EPS = 1e-12
# comparisons of one route: all of them (its cap) and those of the sampling window (its quota)
COMPARED_SQL = """
SELECT count(), countIf(Timestamp >= now64(6) - toIntervalDay({days:UInt32}))
FROM proof_comparisons WHERE RouteId = {route:String}
"""


@dataclass
class Work:
    """One route to run a batch on in this pass."""

    group: RequestGroup
    candidate: Candidate
    judge: str
    lineage: str
    route_id: str
    value: float
    quota: int
    admit: bool  # the group is admitted (its alpha share recorded) when this batch starts

    @property
    def match(self) -> dict:
        return {"service": self.group.service, "feature": self.group.feature, "fingerprint": self.group.fingerprint}


@dataclass
class GroupPlan:
    """What the scheduler makes of one request group (the status page's row)."""

    service: str
    feature: str
    fingerprint: str
    baseline: str
    lineage: str
    state: str  # testing | waiting | done | not eligible | portfolio full
    reason: str = ""
    candidate: str = ""
    route_id: str = ""
    value: float | None = None
    quota: int = 0
    projected_monthly_saving_usd: float | None = None
    candidates_done: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _eligible(group: RequestGroup, policy: Policy) -> str | None:
    """Why a group may not be tested (None: it may)."""
    if policy.services and group.service not in policy.services:
        return "service not in the policy"
    if policy.features and group.feature not in policy.features:
        return "feature not in the policy"
    if group.calls_per_day < policy.min_calls_per_day:
        return f"{group.calls_per_day:g} calls per day, below the policy's {policy.min_calls_per_day:g}"
    if group.captured_calls == 0:
        return "no captured content (content capture is off for this group)"
    if group.too_small:
        return f"too little traffic to decide within {settings.get('proof_decision_horizon_days'):g} days"
    if not group.candidates:
        return "no allowed candidate cuts the cost per call enough"
    return None


def _value(group: RequestGroup, candidate: Candidate, judge: str) -> float:
    """Projected monthly saving per dollar of expected proving cost."""
    shape = {"usage": (round(group.mean_input_tokens), round(group.mean_output_tokens), 0), "output": {}}
    per_comparison = comparison_reservation(shape, baseline=group.baseline_model, candidate=candidate.model,
                                            judge=judge) or 0.0
    cost = max(group.comparisons_needed, 1) * max(per_comparison, 1e-6)
    return candidate.projected_monthly_saving_usd / cost


def plan(store, policy: Policy, *, admitted: dict[str, dict], scheduled: set[str], portfolio: int,
         exhausted: dict[str, int] | None = None) -> tuple[list[Work], list[GroupPlan]]:
    """This pass's work (best first, at most ``max_concurrent_routes``) and every group's plan.

    ``exhausted``: route id -> the group's captured calls when a batch of it last found no fresh prompt."""
    params = policy.params.params()
    days = settings.get("proof_sample_days")
    exhausted = exhausted or {}
    groups = mine(store, days=days, limit=500, params=params, max_candidates=5,
                  providers=policy.candidate_providers, models=policy.candidate_models,
                  sample_rate=policy.sample_rate)
    routes_by_lineage: dict[str, list[dict]] = {}
    for route in proof_store.list_routes(store):
        routes_by_lineage.setdefault(route["Lineage"], []).append(route)
    share = params.alpha / max(1, portfolio)
    allotted = sum(float(g["AlphaShare"]) for g in admitted.values())
    ready: list[tuple[Work, GroupPlan]] = []
    plans: list[GroupPlan] = []
    for group in groups:
        match = {"service": group.service, "feature": group.feature, "fingerprint": group.fingerprint}
        lineage = lineage_id(match)
        row = GroupPlan(group.service, group.feature, group.fingerprint, group.baseline_model, lineage, "not eligible")
        plans.append(row)
        reason = _eligible(group, policy)
        if reason:
            row.reason = reason
            continue
        lineage_routes = routes_by_lineage.get(lineage, [])
        done = {r["CandidateModel"] for r in lineage_routes if r["Status"] in FINISHED}
        row.candidates_done = sorted(done)
        switched = [r for r in lineage_routes if r["Status"] == "switch"]
        if switched:
            row.state, row.candidate, row.route_id = "done", switched[0]["CandidateModel"], switched[0]["RouteId"]
            row.reason = f"proven: switch to {switched[0]['CandidateModel']} (see the recommendations)"
            continue
        options = []
        for candidate in group.candidates:
            if candidate.model in done:
                continue
            try:
                judge = resolve_judge(group.baseline_model, candidate.model, policy.judge or None)
            except JudgeFamilyError as exc:
                row.reason = str(exc)
                continue
            rid = route_id(match, group.baseline_model, candidate.model, "", judge, params)
            options.append((rid in scheduled, _value(group, candidate, judge), candidate, judge, rid))
        if not options:
            row.state = "done" if done else "not eligible"
            row.reason = row.reason or ("every allowed candidate has a finished route" if done else "no candidate")
            continue
        options.sort(key=lambda o: (not o[0], -o[1]))  # a route already started continues first
        _started, value, candidate, judge, rid = options[0]
        total, in_window = store.query_rows(COMPARED_SQL, {"route": rid, "days": int(days)})[0]
        allowed = math.floor(policy.sample_rate * group.captured_calls + _EPS)
        quota = max(0, min(allowed - int(in_window), policy.batch_size, params.n_max - int(total)))
        row.candidate, row.route_id, row.value = candidate.model, rid, round(value, 4)
        row.projected_monthly_saving_usd = candidate.projected_monthly_saving_usd
        row.quota = quota
        if quota > 0 and exhausted.get(rid) == group.captured_calls:
            quota = row.quota = 0
            row.state, row.reason = "waiting", "every captured prompt is compared; waiting for new captured traffic"
            continue
        if quota <= 0:
            row.state = "waiting"
            row.reason = (f"{in_window} of the window's {allowed} sampled prompts compared; waiting for new "
                          "captured traffic")
            continue
        ready.append((Work(group, candidate, judge, lineage, rid, value, quota, lineage not in admitted), row))
    chosen: list[Work] = []
    for work, row in sorted(ready, key=lambda pair: -pair[0].value):
        if work.admit and allotted + share > params.alpha + _EPS:
            row.state, row.reason = "portfolio full", (
                f"the {len(admitted)} admitted groups hold alpha {allotted:.4g} of {params.alpha:g}; raise "
                "proof_portfolio_routes before admitting more (docs/scheduler.md \"Alpha\")")
            continue
        if len(chosen) >= policy.max_concurrent_routes:
            row.state, row.reason = "waiting", "other routes run first (max_concurrent_routes)"
            continue
        if work.admit:
            allotted += share  # two new groups in one pass cannot overfill the portfolio
        row.state = "testing"
        chosen.append(work)
    return chosen, plans
