"""A typed client for the tokenproof service API: response models and one client class.

Every reader of the API (the CLI commands, the dashboard, scripts) goes through ``ServiceClient``
and reads fields of the models below, so no caller re-derives JSON keys. Models accept fields they do
not know (a newer service may add some) and keep them (``model_extra``). Transport and error
handling are those of ``tokenproof.service_client.call`` (standard library HTTP); a failure raises
``ServiceError``. See docs/dashboard.md for the endpoints each page reads.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tokenproof import service_client
from tokenproof.service_client import ServiceError

__all__ = [
    "Alert",
    "Budget",
    "BudgetChange",
    "Call",
    "Candidate",
    "CostReport",
    "CostRow",
    "Coverage",
    "Evaluation",
    "MoverRow",
    "Movers",
    "OptimizeJob",
    "Recommendation",
    "Recommendations",
    "RepriceResult",
    "RequestGroup",
    "RouteComparisons",
    "RouteState",
    "SchedulerEvent",
    "SchedulerGroup",
    "SchedulerRoute",
    "SchedulerStatus",
    "ServiceClient",
    "ServiceError",
    "ShadowRun",
    "Status",
    "TraceRollup",
    "add_service_options",
]


class _Model(BaseModel):
    """A response object: known fields typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def extra(self, name: str, default: Any = None) -> Any:
        return (self.model_extra or {}).get(name, default)

    def as_dict(self) -> dict[str, Any]:
        """The fields as the service sent them (nothing added for fields it left out)."""
        return self.model_dump(mode="json", exclude_unset=True)


# --- collector: status, recent calls, re-pricing -------------------------------------------------

class Status(_Model):
    spans: int = 0
    llm_calls: int = 0
    unpriced_llm_calls: int = 0
    rollup_calls: int = 0
    schema_version: int | str = 0
    schema_versions: dict[str, int] = Field(default_factory=dict)  # per area (collector, analytics, ...)
    distinct_spans: int | None = None
    store: dict[str, Any] = Field(default_factory=dict)
    uptime_seconds: float = 0.0
    ingest: dict[str, Any] = Field(default_factory=dict)
    api_routers: dict[str, str] = Field(default_factory=dict)

    @property
    def store_kind(self) -> str:
        return str(self.store.get("kind", ""))

    @property
    def store_location(self) -> str:
        return str(self.store.get("data_dir") or self.store.get("url", ""))


class FocusMetadata(_Model):
    """``GET /export/focus/metadata``: the FOCUS schema metadata and the usage left out as unpriced."""

    Schema: dict[str, Any] = Field(default_factory=dict)
    x_UnpricedUsage: dict[str, Any] = Field(default_factory=dict)

    @property
    def focus_version(self) -> str:
        return str(self.Schema.get("FocusVersion", ""))

    @property
    def unpriced_calls(self) -> int:
        return int(self.x_UnpricedUsage.get("calls", 0) or 0)


class Call(_Model):
    """One stored LLM call (column names as in ``llm_calls``); ``CostUSD`` is None when unpriced."""

    Timestamp: str = ""
    ServiceName: str = ""
    TraceId: str = ""
    SpanId: str = ""
    Provider: str = ""
    Operation: str = ""
    RequestModel: str = ""
    ResponseModel: str = ""
    Feature: str = ""
    Tier: str = ""
    Customer: str = ""
    PromptFingerprint: str = ""
    TrafficClass: str = ""
    InputTokens: int = 0
    OutputTokens: int = 0
    CacheReadTokens: int = 0
    CacheCreationTokens: int = 0
    ReasoningTokens: int = 0
    CostUSD: float | None = None
    Priced: bool = False
    UsageSource: str = ""
    PriceVersion: str = ""
    StatusCode: str = ""
    ErrorType: str = ""
    DurationNs: int = 0
    Streamed: bool = False


class RepriceResult(_Model):
    rows: int = 0
    repriced: int = 0
    newly_priced: int = 0
    still_unpriced: int = 0
    cost_before_usd: float = 0.0
    cost_after_usd: float = 0.0
    price_version: str = ""


# --- analytics: attribution ----------------------------------------------------------------------

class CostRow(_Model):
    """One attribution row: metrics, plus one field per requested dimension (``dimension(name)``)."""

    bucket: str | None = None
    traffic_class: str | None = None
    calls: int = 0
    priced_calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0
    cost_per_call: float | None = None
    cost_per_1k_calls: float | None = None

    def dimension(self, name: str) -> str:
        value = self.extra(name, "")
        return "" if value is None else str(value)


class Experiment(_Model):
    rows: list[CostRow] = Field(default_factory=list)
    totals: CostRow = Field(default_factory=CostRow)


class CostReport(_Model):
    since: str = ""
    until: str = ""
    granularity: str = "total"
    group_by: list[str] = Field(default_factory=list)
    filters: dict[str, str] = Field(default_factory=dict)
    source: str = ""
    rows: list[CostRow] = Field(default_factory=list)
    totals: CostRow = Field(default_factory=CostRow)
    experiment: Experiment = Field(default_factory=Experiment)


class MoverRow(_Model):
    cost_usd: float = 0.0
    previous_cost_usd: float = 0.0
    delta_usd: float = 0.0
    change_pct: float | None = None
    calls: int = 0
    previous_calls: int = 0

    def dimension(self, name: str) -> str:
        value = self.extra(name, "")
        return "" if value is None else str(value)


class Movers(_Model):
    since: str = ""
    until: str = ""
    previous_since: str = ""
    group_by: list[str] = Field(default_factory=list)
    source: str = ""
    rows: list[MoverRow] = Field(default_factory=list)


class UnpricedModel(_Model):
    provider: str = ""
    response_model: str = ""
    request_model: str = ""
    calls: int = 0
    tokens: int = 0
    last_seen: str = ""


class Coverage(_Model):
    since: str = ""
    until: str = ""
    calls: int = 0
    unpriced_calls: int = 0
    unpriced_call_share: float = 0.0
    tokens: int = 0
    unpriced_tokens: int = 0
    unpriced_token_share: float = 0.0
    estimated_usage_calls: int = 0
    top_unpriced_models: list[UnpricedModel] = Field(default_factory=list)


class TraceTotals(_Model):
    calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class TraceModel(_Model):
    model: str = ""
    calls: int = 0
    cost_usd: float = 0.0


class TraceRollup(_Model):
    trace_id: str = ""
    spans: int = 0
    inference_spans: int = 0
    other_spans_not_summed: int = 0
    totals: TraceTotals = Field(default_factory=TraceTotals)
    experiment: TraceTotals = Field(default_factory=TraceTotals)
    by_model: list[TraceModel] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)


# --- analytics: alerts and budgets ---------------------------------------------------------------

class Alert(_Model):
    id: str = ""
    key: str = ""
    kind: str = ""
    dimension: str = ""
    value: str = ""
    metric: str = ""
    status: str = ""
    severity: str = ""
    explanation: str = ""
    observed: float = 0.0
    expected: float = 0.0
    ratio: float = 0.0
    excess_usd: float = 0.0
    started_at: str | None = None
    last_seen_at: str | None = None
    opened_at: str | None = None
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    resolved_by: str = ""
    occurrences: int = 0
    details: dict[str, Any] = Field(default_factory=dict)
    deliveries: list[dict[str, Any]] | None = None


class Evaluation(_Model):
    evaluated_at: str = ""
    findings: int = 0
    opened: list[Alert] = Field(default_factory=list)
    updated: int = 0
    resolved: list[str] = Field(default_factory=list)
    budgets: list[dict[str, Any]] = Field(default_factory=list)


class Budget(_Model):
    scope: str = ""
    value: str = ""
    monthly_usd: float = 0.0
    updated_at: str | None = None
    month: str = ""
    month_to_date_usd: float = 0.0
    projected_usd: float = 0.0
    budget_usd: float = 0.0
    used_pct: float | None = None
    projected_pct: float | None = None
    runs_out_at: str | None = None
    method: str = ""


class BudgetChange(_Model):
    scope: str = ""
    value: str = ""
    monthly_usd: float = 0.0
    deleted: bool = False


# --- proof engine: candidates, shadow runs, routes, recommendations ------------------------------

class Candidate(_Model):
    provider: str = ""
    model: str = ""
    cost_per_call_usd: float | None = None
    saving_per_call_usd: float | None = None
    projected_monthly_saving_usd: float | None = None
    saving_share: float = 0.0


class RequestGroup(_Model):
    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    provider: str = ""
    baseline_model: str = ""
    calls: int = 0
    unpriced_calls: int = 0
    cost_usd: float | None = None
    mean_input_tokens: float = 0.0
    mean_output_tokens: float = 0.0
    cache_share: float = 0.0
    output_format: str = ""
    calls_per_day: float = 0.0
    captured_calls: int = 0
    baseline_cost_per_call_usd: float | None = None
    comparisons_needed: int = 0
    days_to_decision: float | None = None
    too_small: bool = False
    candidates: list[Candidate] = Field(default_factory=list)


class Evidence(_Model):
    """A route's evidence summary (the sequential test's state and the quality signals)."""

    route_id: str = ""
    decision: str = ""
    n: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    non_loss_rate: float | None = None
    non_loss_lower_bound: float | None = None
    e_value: float | None = None
    format_failures: int = 0
    swap_inconsistency_rate: float | None = None
    uninformative: bool = False
    length_control: dict[str, Any] = Field(default_factory=dict)
    trajectory: list[float] = Field(default_factory=list)
    shadow_spend_usd: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    meaning: str | None = None
    # proof v2: unresolved pairs (judge failed, no verdict, replay failed) count against the candidate
    unresolved: int = 0
    unresolved_share: float | None = None
    unresolved_reasons: dict[str, int] = Field(default_factory=dict)
    loss_rate_upper_bound: float | None = None
    tie_adjusted_win_rate: float | None = None
    judge_failures: int = 0
    judge_failure_cost_usd: float | None = None
    error_kinds: dict[str, int] = Field(default_factory=dict)
    swap_inconsistent: int = 0
    judged_pairs: int = 0
    switch_threshold_e: float | None = None
    uninformative_reason: str | None = None


class ShadowRun(Evidence):
    """What starting (or continuing) a shadow run answers: the route's state, or a background job."""

    version: int | None = None
    judge: str = ""
    status: str = ""
    stop_reason: str = ""
    new_comparisons: int = 0
    spent_usd: float | None = None
    budget_usd: float | None = None
    id: str | None = None
    job_id: str | None = None
    progress: float | dict[str, Any] | None = None

    @property
    def job(self) -> str | None:
        """The background job's id when the service runs shadow runs as jobs."""
        return self.job_id or self.id

    @property
    def running(self) -> bool:
        return self.status in {"queued", "pending", "running", "started"}


class PushedRoute(_Model):
    """A route in the routing registry, as ``/api/v1/routing/routes`` serves it (and the
    instrumentation reads it): its match, candidate, the proof it was approved on, state and share."""

    id: str = ""
    version: int = 0
    match: dict[str, str] = Field(default_factory=dict)  # service, feature, fingerprint, baseline
    candidate: str = ""
    candidate_system_prompt: str = ""
    proof: dict[str, Any] = Field(default_factory=dict)  # route_id, decision, override, response_model
    state: str = ""  # shadow | canary | active | paused | rolled_back
    traffic_share: float = 0.0
    schedule: list[dict[str, Any]] = Field(default_factory=list)
    timeout_s: float = 0.0
    state_reason: str = ""
    reproof: str = ""
    changed_by: str = ""
    changed_at: str = ""
    created_at: str = ""


class ShadowJob(_Model):
    """A background shadow run (``POST /shadow-runs`` answers one; ``GET /shadow-runs/{id}`` follows it)."""

    job_id: str = ""
    state: str = ""  # running | done | failed | cancelled
    progress: dict[str, Any] = Field(default_factory=dict)  # done, total, n, spent_usd
    spec: dict[str, Any] = Field(default_factory=dict)
    result: ShadowRun | None = None  # the route's state once the run has stopped
    error: str | None = None
    cancel_requested: bool = False

    @property
    def running(self) -> bool:
        return self.state == "running"


class OptimizeJob(_Model):
    """A background prompt optimisation (``POST /optimize-runs`` answers one; ``GET /optimize-runs/{id}``
    follows it); ``result`` is the report once done (docs/optimize.md)."""

    job_id: str = ""
    state: str = ""  # running | done | failed | cancelled
    progress: dict[str, Any] = Field(default_factory=dict)  # phase, round, tokens spent
    spec: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False

    @property
    def running(self) -> bool:
        return self.state == "running"


class RouteState(_Model):
    route: dict[str, Any] = Field(default_factory=dict)
    evidence: Evidence = Field(default_factory=Evidence)

    @property
    def route_id(self) -> str:
        return str(self.route.get("RouteId", self.evidence.route_id))


class RouteComparisons(_Model):
    route: dict[str, Any] = Field(default_factory=dict)
    evidence: Evidence = Field(default_factory=Evidence)
    comparisons: list[dict[str, Any]] = Field(default_factory=list)


class Confidence(_Model):
    false_switch_bound: float | None = None
    level: float = 0.0
    nominal_alpha: float | None = None
    loss_rate_upper_bound: float | None = None  # losses and unresolved pairs, anytime-valid bound
    unresolved: int = 0
    non_loss_rate: float | None = None
    non_loss_lower_bound: float | None = None
    tie_adjusted_win_rate: float | None = None
    comparisons: int = 0
    swap_inconsistency_rate: float | None = None
    length_controlled_win_rate: float | None = None


class Recommendation(_Model):
    route_id: str = ""
    version: int = 0
    match: dict[str, Any] = Field(default_factory=dict)
    baseline: str = ""
    candidate: str = ""
    judge: str = ""
    candidate_prompt_hash: str = ""
    monthly_saving_usd: float | None = None
    confidence: Confidence = Field(default_factory=Confidence)
    portfolio_switch: bool = False
    shadow_spend_usd: float | None = None
    evidence: str = ""
    meaning: str | None = None


class Recommendations(_Model):
    recommendations: list[Recommendation] = Field(default_factory=list)
    routes_tested: int = 0
    switch_per_route: int = 0
    switch_after_portfolio_control: int = 0
    portfolio_method: str = ""
    meaning: str = ""  # what a switch means, in one sentence


class SchedulerGroup(_Model):
    """What the scheduler makes of one request group (``state``: testing, waiting, done, not eligible,
    portfolio full; ``reason`` says why)."""

    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    baseline: str = ""
    lineage: str = ""
    state: str = ""
    reason: str = ""
    candidate: str = ""
    route_id: str = ""
    value: float | None = None
    quota: int = 0
    projected_monthly_saving_usd: float | None = None
    candidates_done: list[str] = Field(default_factory=list)


class SchedulerRoute(_Model):
    """A route version the scheduler started, with its evidence and what the scheduler spent on it."""

    route_id: str = ""
    version: int = 0
    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    baseline: str = ""
    candidate: str = ""
    judge: str = ""
    status: str = ""  # testing | switch | keep | uninformative | undecided | budget_exhausted | starting
    decision: str | None = None
    n: int = 0
    wins: int | None = None
    ties: int | None = None
    losses: int | None = None
    unresolved: int | None = None
    route_spent_usd: float = 0.0
    budget_usd: float = 0.0
    scheduler_spent_usd: float = 0.0
    scheduler_comparisons: int = 0
    scheduler_batches: int = 0
    scheduler_deferred: int = 0
    created_at: str = ""
    updated_at: str = ""


class SchedulerStatus(_Model):
    """``GET /api/v1/scheduler``: the switch, the loop, budgets, the alpha ledger, groups and routes."""

    paused: bool = False
    paused_by: str = ""
    reason: str = ""
    loop: dict[str, Any] = Field(default_factory=dict)
    policy_version: int = 0
    last_pass: dict[str, Any] | None = None
    budgets: dict[str, Any] = Field(default_factory=dict)  # day / month: cap_usd, spent_usd, left_usd
    alpha: dict[str, Any] = Field(default_factory=dict)
    groups: list[SchedulerGroup] = Field(default_factory=list)
    routes: list[SchedulerRoute] = Field(default_factory=list)
    decisions: dict[str, int] = Field(default_factory=dict)
    backoff: dict[str, dict[str, float]] = Field(default_factory=dict)
    running_batches: list[dict[str, Any]] = Field(default_factory=list)


class SchedulerEvent(_Model):
    At: str = ""
    Kind: str = ""
    BatchId: str = ""
    RouteId: str = ""
    Lineage: str = ""
    Feature: str = ""
    CandidateModel: str = ""
    Provider: str = ""
    PromptRef: str = ""
    Comparisons: int = 0
    ReservedUSD: float = 0.0
    SpendUSD: float = 0.0
    Message: str = ""
    Detail: dict[str, Any] = Field(default_factory=dict)


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """The service options every API-backed command takes, spelled the same everywhere:
    ``--service-url`` (setting ``service_url``, ``TOKENPROOF_SERVICE_URL``) and ``--token`` (setting
    ``api_token``, ``TOKENPROOF_API_TOKEN``; needed for writes)."""
    parser.add_argument("--service-url", dest="service_url", default=None, metavar="URL",
                        help="service base URL (default: setting service_url, TOKENPROOF_SERVICE_URL, "
                             "http://127.0.0.1:4318)")
    # the earlier spelling of `status`, `calls` and `reprice`, still accepted (not shown in --help)
    parser.add_argument("--url", dest="service_url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--token", default=None,
                        help="API token (default: setting api_token, TOKENPROOF_API_TOKEN); writes need it")


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class ServiceClient:
    """The service API, one method per endpoint; answers are the models above.

    ``url`` defaults to the ``service_url`` setting (``TOKENPROOF_SERVICE_URL``); ``token`` (the write
    credential) to the ``api_token`` setting. Pass ``token=""`` to send no credential at all.
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0,
                 actor: str | None = None):
        self.url = url or None
        self.token = token
        self.timeout = timeout
        self.actor = actor  # who makes the changes (sent as x-tokenproof-actor; audit logs record it)

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
              timeout: float | None = None) -> Any:
        headers = {"x-tokenproof-actor": self.actor} if self.actor else None
        return service_client.call(method, path, params=_clean(params or {}) or None, body=body,
                                   base_url=self.url, token=self.token, timeout=timeout or self.timeout,
                                   headers=headers)

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        answer = self._call(method, path, **kw)
        if isinstance(answer, bytes):
            try:
                answer = json.loads(answer)
            except ValueError:
                raise ServiceError(f"{method} {path}: the service answered something that is not JSON") from None
        if not isinstance(answer, dict):
            raise ServiceError(f"{method} {path}: unexpected answer {type(answer).__name__}")
        return answer

    # collector
    def status(self, exact: bool = False) -> Status:
        return Status.model_validate(self._json("GET", "/api/v1/status", params={"exact": "true" if exact else None}))

    def calls(self, limit: int = 20, feature: str = "") -> list[Call]:
        answer = self._json("GET", "/api/v1/calls", params={"limit": limit, "feature": feature})
        return [Call.model_validate(c) for c in answer.get("calls", [])]

    def reprice(self, since: str, until: str | None = None) -> RepriceResult:
        return RepriceResult.model_validate(
            self._json("POST", "/api/v1/reprice", body={"since": since, "until": until}, timeout=600))

    def paths(self) -> set[str]:
        """The API paths the service offers (from its OpenAPI document), to detect optional features."""
        try:
            return set(self._json("GET", "/openapi.json").get("paths", {}))
        except ServiceError as exc:
            if exc.status == 404:
                return set()
            raise

    # analytics: attribution
    def cost(self, since: str | None = "7d", until: str | None = None, by: str | Iterable[str] = "",
             granularity: str = "total", where: Iterable[str] = (), limit: int = 100) -> CostReport:
        params = {"since": since, "until": until, "by": _by(by), "granularity": granularity, "limit": limit,
                  "where": list(where) or None}
        return CostReport.model_validate(self._json("GET", "/api/v1/cost", params=params))

    def movers(self, since: str | None = "7d", until: str | None = None, by: str | Iterable[str] = "feature",
               where: Iterable[str] = (), limit: int = 20) -> Movers:
        params = {"since": since, "until": until, "by": _by(by), "limit": limit, "where": list(where) or None}
        return Movers.model_validate(self._json("GET", "/api/v1/cost/movers", params=params))

    def coverage(self, since: str | None = "7d", until: str | None = None, limit: int = 10) -> Coverage:
        params = {"since": since, "until": until, "limit": limit}
        return Coverage.model_validate(self._json("GET", "/api/v1/cost/coverage", params=params))

    def trace(self, trace_id: str) -> TraceRollup:
        return TraceRollup.model_validate(self._json("GET", f"/api/v1/cost/traces/{_segment(trace_id)}"))

    def export_focus(self, since: str | None = "30d", until: str | None = None, format: str = "csv") -> bytes:
        data = self._call("GET", "/api/v1/export/focus", params={"since": since, "until": until, "format": format})
        return data if isinstance(data, bytes) else json.dumps(data).encode()

    def export_focus_metadata(self, since: str | None = "30d", until: str | None = None) -> FocusMetadata:
        """The export's FOCUS metadata (version, columns) and the unpriced usage it leaves out."""
        params = {"since": since, "until": until}
        return FocusMetadata.model_validate(self._json("GET", "/api/v1/export/focus/metadata", params=params))

    # analytics: alerts and budgets
    def alerts(self, status: str = "", limit: int = 100) -> list[Alert]:
        answer = self._json("GET", "/api/v1/alerts", params={"status": status, "limit": limit})
        return [Alert.model_validate(a) for a in answer.get("alerts", [])]

    def alert(self, alert_id: str) -> Alert:
        return Alert.model_validate(self._json("GET", f"/api/v1/alerts/{_segment(alert_id)}"))

    def acknowledge_alert(self, alert_id: str) -> Alert:
        return Alert.model_validate(self._json("POST", f"/api/v1/alerts/{_segment(alert_id)}/ack"))

    def resolve_alert(self, alert_id: str) -> Alert:
        return Alert.model_validate(self._json("POST", f"/api/v1/alerts/{_segment(alert_id)}/resolve"))

    def evaluate_alerts(self) -> Evaluation:
        return Evaluation.model_validate(self._json("POST", "/api/v1/alerts/evaluate"))

    def budgets(self) -> list[Budget]:
        return [Budget.model_validate(b) for b in self._json("GET", "/api/v1/budgets").get("budgets", [])]

    def set_budget(self, scope: str, value: str, monthly_usd: float | None) -> BudgetChange:
        body = {"scope": scope, "value": value, "monthly_usd": monthly_usd}
        return BudgetChange.model_validate(self._json("PUT", "/api/v1/budgets", body=body))

    # proof engine
    def candidates(self, days: int = 30, limit: int = 20) -> list[RequestGroup]:
        answer = self._json("GET", "/api/v1/candidates", params={"days": days, "limit": limit})
        return [RequestGroup.model_validate(g) for g in answer.get("groups", [])]

    def start_shadow_run(self, baseline: str, candidate: str, **fields: Any) -> ShadowJob:
        """Start a judged shadow run as a background job; ``fields`` are the API's optional body fields."""
        body = _clean({"baseline": baseline, "candidate": candidate, **fields})
        return ShadowJob.model_validate(self._json("POST", "/api/v1/shadow-runs", body=body))

    def shadow_run(self, job_id: str, wait_s: float = 0.0) -> ShadowJob:
        """A background shadow run's state and progress (``wait_s``: wait up to that long for its end)."""
        params = {"wait_s": wait_s} if wait_s else None
        return ShadowJob.model_validate(self._json("GET", f"/api/v1/shadow-runs/{_segment(job_id)}",
                                                   params=params, timeout=max(30.0, wait_s + 30)))

    def shadow_runs(self) -> list[ShadowJob]:
        return [ShadowJob.model_validate(j) for j in self._json("GET", "/api/v1/shadow-runs").get("jobs", [])]

    def cancel_shadow_run(self, job_id: str) -> ShadowJob:
        return ShadowJob.model_validate(self._json("POST", f"/api/v1/shadow-runs/{_segment(job_id)}/cancel"))

    def start_optimize_run(self, baseline: str, candidate: str, **fields: Any) -> OptimizeJob:
        """Start a prompt optimisation as a background job; ``fields`` are the API's optional body fields."""
        body = _clean({"baseline": baseline, "candidate": candidate, **fields})
        return OptimizeJob.model_validate(self._json("POST", "/api/v1/optimize-runs", body=body))

    def optimize_run(self, job_id: str, wait_s: float = 0.0) -> OptimizeJob:
        params = {"wait_s": wait_s} if wait_s else None
        return OptimizeJob.model_validate(self._json("GET", f"/api/v1/optimize-runs/{_segment(job_id)}",
                                                     params=params, timeout=max(30.0, wait_s + 30)))

    def optimize_runs(self) -> list[OptimizeJob]:
        return [OptimizeJob.model_validate(j) for j in self._json("GET", "/api/v1/optimize-runs").get("jobs", [])]

    def cancel_optimize_run(self, job_id: str) -> OptimizeJob:
        return OptimizeJob.model_validate(self._json("POST", f"/api/v1/optimize-runs/{_segment(job_id)}/cancel"))

    def routes(self) -> list[RouteState]:
        return [RouteState.model_validate(r) for r in self._json("GET", "/api/v1/routes").get("routes", [])]

    def route_comparisons(self, route_id: str) -> RouteComparisons:
        return RouteComparisons.model_validate(
            self._json("GET", f"/api/v1/routes/{_segment(route_id)}/comparisons"))

    # routing: the registry of pushed routes (/api/v1/routing)
    def routing_routes(self, service: str = "", state: str = "") -> list[PushedRoute]:
        answer = self._json("GET", "/api/v1/routing/routes", params=_clean({"service": service or None,
                                                                            "state": state or None}))
        return [PushedRoute.model_validate(r) for r in answer.get("routes", [])]

    def routing_route(self, route_id: str) -> dict[str, Any]:
        """One pushed route with its drift monitor's state (``{"route": ..., "monitor": ...}``)."""
        return self._json("GET", f"/api/v1/routing/routes/{_segment(route_id)}")

    def push_route(self, **body: Any) -> PushedRoute:
        """Push a route (its proof must have decided "switch", or ``override=True`` with a reason)."""
        answer = self._json("POST", "/api/v1/routing/routes", body=_clean(body))
        return PushedRoute.model_validate(answer.get("route", answer))

    def route_action(self, route_id: str, action: str, **body: Any) -> dict[str, Any]:
        """``POST /api/v1/routing/routes/{route_id}/{action}``: canary (with ``share``), pause, rollback."""
        if action not in {"canary", "pause", "rollback"}:
            raise ValueError(f"unknown route action {action!r}")
        return self._json("POST", f"/api/v1/routing/routes/{_segment(route_id)}/{action}", body=_clean(body))

    def routing_audit(self, route_id: str = "", limit: int = 200) -> list[dict[str, Any]]:
        params = _clean({"route_id": route_id or None, "limit": limit})
        return list(self._json("GET", "/api/v1/routing/audit", params=params).get("audit", []))

    def routing_savings(self, since: str = "30d") -> list[dict[str, Any]]:
        return list(self._json("GET", "/api/v1/routing/savings", params={"since": since}).get("routes", []))

    # the proof scheduler (/api/v1/scheduler)
    def scheduler_status(self, refresh: bool = False) -> SchedulerStatus:
        params = {"refresh": "true"} if refresh else None
        return SchedulerStatus.model_validate(self._json("GET", "/api/v1/scheduler", params=params))

    def scheduler_events(self, kind: str = "", route_id: str = "", limit: int = 100) -> list[SchedulerEvent]:
        params = _clean({"kind": kind or None, "route_id": route_id or None, "limit": limit})
        return [SchedulerEvent.model_validate(e) for e in self._json("GET", "/api/v1/scheduler/events",
                                                                     params=params).get("events", [])]

    def scheduler_policy(self) -> dict[str, Any]:
        """``{"policy": effective, "overrides": stored, "settings": from settings, "version": n}``."""
        return self._json("GET", "/api/v1/scheduler/policy")

    def set_scheduler_policy(self, set: dict[str, Any] | None = None, unset: list[str] | None = None,
                             reason: str = "") -> dict[str, Any]:
        body = {"set": set or {}, "unset": unset or [], "reason": reason}
        return self._json("PUT", "/api/v1/scheduler/policy", body=body)

    def pause_scheduler(self, reason: str = "") -> dict[str, Any]:
        return self._json("POST", "/api/v1/scheduler/pause", body={"reason": reason})

    def resume_scheduler(self, reason: str = "") -> dict[str, Any]:
        return self._json("POST", "/api/v1/scheduler/resume", body={"reason": reason})

    def run_scheduler_pass(self, timeout: float = 900.0) -> dict[str, Any]:
        """One scheduler pass now, answered when it ends."""
        return self._json("POST", "/api/v1/scheduler/run", timeout=timeout)

    def recommendations(self) -> Recommendations:
        return Recommendations.model_validate(self._json("GET", "/api/v1/recommendations"))


def _by(by: str | Iterable[str]) -> str:
    return by if isinstance(by, str) else ",".join(by)


def _segment(value: str) -> str:
    """A path segment, quoted: an id never changes which endpoint is called."""
    import urllib.parse

    return urllib.parse.quote(str(value), safe="")
