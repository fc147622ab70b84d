"""Everything the dashboard pages read or write, through the typed service client.

Reads are cached for a few seconds (``st.cache_data`` with a short TTL, keyed by the service URL and
the arguments) so moving between pages and widgets does not hit the service again; writes are never
cached and clear the read cache so the next render shows the new state. Pages call these functions
and lay out what they return; they never build API requests or read JSON keys themselves.

Write calls take the user's write credential explicitly (asked for on the page, kept in the session
only; see ``dashboards.session``). Reads send the dashboard process's own ``read_token`` setting
when it is set (none otherwise); reads the service always guards with its read scope (stored
comparisons, which hold prompts and answers, and the routing registry) send the user's credential
instead when one was entered.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from tokenproof import settings
from tokenproof.client import (
    Alert,
    Budget,
    BudgetChange,
    Call,
    CostReport,
    Coverage,
    Movers,
    OptimizeJob,
    PushedRoute,
    Recommendation,
    Recommendations,
    RequestGroup,
    RouteComparisons,
    RouteState,
    SchedulerStatus,
    ServiceClient,
    ServiceError,
    ShadowJob,
    Status,
    TraceRollup,
)

__all__ = [
    "TTL_SECONDS",
    "ServiceError",
    "acknowledge_alert",
    "alert_series",
    "alerts",
    "attribution",
    "budgets",
    "candidates",
    "cost",
    "cost_frame",
    "coverage",
    "disputed_pairs",
    "evaluate_alerts",
    "experiment_frame",
    "focus_export",
    "monitor_frame",
    "monthly_volume",
    "movers",
    "outcomes_frame",
    "overview",
    "pause_scheduler",
    "push_route",
    "recommendations",
    "resolve_alert",
    "resume_scheduler",
    "route_action",
    "route_comparisons",
    "routes",
    "routing",
    "routing_audit",
    "routing_detail",
    "routing_routes",
    "routing_savings",
    "sample_calls",
    "scheduler",
    "scheduler_budgets",
    "scheduler_events",
    "scheduler_frames",
    "scheduler_status",
    "scheduler_switch",
    "service_url",
    "set_budget",
    "shadow_run",
    "start_shadow_run",
    "status",
    "trace",
    "unresolved_share",
]

TTL_SECONDS = 10
# State changes of a pushed route (path suffix on /api/v1/routing/routes/{route_id}/...)
ROUTE_ACTIONS = ("canary", "pause", "rollback")
ROUTING_PATH = "/api/v1/routing/routes"
SCHEDULER_PATH = "/api/v1/scheduler"


def service_url() -> str:
    """The service this dashboard reads (setting ``service_url``, ``TOKENPROOF_SERVICE_URL``)."""
    return str(settings.get("service_url")).rstrip("/")


def _reader(url: str) -> ServiceClient:
    """Plain reads: this process's ``read_token`` when set (a service with one wants it on every read)."""
    return ServiceClient(url, token=str(settings.get("read_token") or ""))


def _scoped(url: str, token: str) -> ServiceClient:
    """A client for read-scoped endpoints: the user's credential, else this process's read token."""
    return ServiceClient(url, token=token or str(settings.get("read_token") or ""))


def _writer(url: str, token: str) -> ServiceClient:
    return ServiceClient(url, token=token or "")


# --- reads (cached) ---------------------------------------------------------------------------------

@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def status(url: str) -> Status:
    return _reader(url).status()


@dataclass
class Overview:
    """What the overview page shows, fetched in one go."""

    status: Status
    spend: CostReport  # by the stacking dimension, per bucket
    customers: CostReport  # totals per customer
    movers: Movers
    coverage: Coverage


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def overview(url: str, since: str, stack: str, granularity: str) -> Overview:
    """The overview's five reads, issued concurrently (the service answers each from the rollups)."""
    client = _reader(url)
    with ThreadPoolExecutor(max_workers=5) as pool:
        status_ = pool.submit(client.status)
        spend = pool.submit(client.cost, since, None, [stack], granularity, (), 1000)
        customers = pool.submit(client.cost, since, None, ["customer"], "total", (), 1000)
        movers_ = pool.submit(client.movers, since, None, [stack], (), 10)
        coverage_ = pool.submit(client.coverage, since)
        return Overview(status_.result(), spend.result(), customers.result(), movers_.result(), coverage_.result())


@dataclass
class Attribution:
    """What the attribution explorer shows first, fetched in one go."""

    status: Status
    report: CostReport  # the requested grouping
    features: CostReport  # product spend per feature (the drill-down's choices)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def attribution(url: str, since: str, by: tuple[str, ...], granularity: str, where: tuple[str, ...]) -> Attribution:
    """The explorer's first three reads, issued concurrently."""
    client = _reader(url)
    with ThreadPoolExecutor(max_workers=3) as pool:
        status_ = pool.submit(client.status)
        report = pool.submit(client.cost, since, None, list(by), granularity, list(where), 1000)
        features = pool.submit(client.cost, since, None, ["feature"], "total", (), 1000)
        return Attribution(status_.result(), report.result(), features.result())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cost(url: str, since: str, by: tuple[str, ...] = (), granularity: str = "total",
         where: tuple[str, ...] = (), limit: int = 1000, until: str | None = None) -> CostReport:
    return _reader(url).cost(since, until, by=list(by), granularity=granularity, where=list(where), limit=limit)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def movers(url: str, since: str, by: tuple[str, ...] = ("feature",), limit: int = 10) -> Movers:
    return _reader(url).movers(since, by=list(by), limit=limit)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def coverage(url: str, since: str) -> Coverage:
    return _reader(url).coverage(since)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def sample_calls(url: str, feature: str, fingerprint: str = "", limit: int = 200) -> list[Call]:
    """Recent calls of a feature (and prompt fingerprint): the sample traces of a drill-down."""
    calls = _reader(url).calls(limit=limit, feature=feature)
    return [c for c in calls if not fingerprint or c.PromptFingerprint == fingerprint]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def trace(url: str, trace_id: str) -> TraceRollup:
    return _reader(url).trace(trace_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def alerts(url: str, status: str = "") -> list[Alert]:
    return _reader(url).alerts(status=status, limit=200)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def alert_series(url: str, dimension: str, value: str, started_at: str | None,
                 last_seen_at: str | None) -> pd.DataFrame:
    """Hourly product spend of an alert's dimension value around the alert (the actual line)."""
    start = _parse(started_at) or datetime.now(UTC) - timedelta(days=1)
    end = _parse(last_seen_at) or datetime.now(UTC)
    since, until = start - timedelta(hours=48), min(end + timedelta(hours=6), datetime.now(UTC) + timedelta(hours=1))
    where = (f"{dimension}={value}",) if dimension in _FILTERABLE and value else ()
    report = _reader(url).cost(_iso(since), _iso(until), granularity="hour", where=list(where), limit=10_000)
    frame = pd.DataFrame([{"hour": r.bucket, "cost_usd": r.cost_usd} for r in report.rows],
                         columns=["hour", "cost_usd"])
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame["in_alert"] = (frame["hour"] >= pd.Timestamp(start).floor("h")) & (frame["hour"] <= pd.Timestamp(end))
    return frame


_FILTERABLE = {"service", "feature", "tier", "customer", "provider", "model", "request_model", "response_model"}


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def budgets(url: str) -> list[Budget]:
    return _reader(url).budgets()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def candidates(url: str, days: int = 30) -> list[RequestGroup]:
    return _reader(url).candidates(days=days, limit=50)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def routes(url: str) -> list[RouteState]:
    return _reader(url).routes()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def route_comparisons(url: str, token: str, route_id: str) -> RouteComparisons:
    """A route's stored comparisons (prompts and answers: needs the read scope)."""
    return _scoped(url, token).route_comparisons(route_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def recommendations(url: str) -> Recommendations:
    return _reader(url).recommendations()


@st.cache_data(ttl=60, show_spinner=False)
def routing(url: str) -> bool:
    """Whether the service offers the routing registry (its API lists ``/api/v1/routing/routes``)."""
    return ROUTING_PATH in _reader(url).paths()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def routing_routes(url: str, token: str) -> list[PushedRoute]:
    return _scoped(url, token).routing_routes()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def routing_detail(url: str, token: str, route_id: str) -> dict[str, Any]:
    """One pushed route and its drift monitor's state (``{"route": ..., "monitor": ... | None}``)."""
    return _scoped(url, token).routing_route(route_id)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def routing_audit(url: str, token: str, limit: int = 200) -> pd.DataFrame:
    """The routing audit log, newest first, as a table (refused writes included)."""
    rows = _scoped(url, token).routing_audit(limit=limit)
    columns = ["at", "route_id", "action", "outcome", "actor", "override", "reason"]
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def routing_savings(url: str, token: str, since: str = "30d") -> dict[str, dict[str, Any]]:
    """Per pushed route: routed calls, fallbacks and their rate and cost, saved USD (None = unpriced)."""
    return {str(r.get("route_id")): r for r in _scoped(url, token).routing_savings(since)}


@st.cache_data(ttl=60, show_spinner=False)
def scheduler(url: str) -> bool:
    """Whether the service runs the proof scheduler (its API lists ``/api/v1/scheduler``)."""
    return SCHEDULER_PATH in _reader(url).paths()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def scheduler_status(url: str) -> SchedulerStatus:
    return _reader(url).scheduler_status()


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def scheduler_events(url: str, kind: str = "", limit: int = 100) -> pd.DataFrame:
    """The scheduler's event log, newest first, as a table."""
    columns = ["at", "kind", "feature", "candidate", "comparisons", "spend_usd", "message", "route_id"]
    rows = [{"at": e.At, "kind": e.Kind, "feature": e.Feature, "candidate": e.CandidateModel,
             "comparisons": e.Comparisons, "spend_usd": e.SpendUSD or e.ReservedUSD, "message": e.Message,
             "route_id": e.RouteId} for e in _reader(url).scheduler_events(kind=kind, limit=limit)]
    frame = pd.DataFrame(rows, columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def scheduler_switch(url: str, paused: bool) -> dict[str, str]:
    """Who last paused (or resumed) the scheduler, why and when, from its event log ({} if nobody did).

    The status's ``paused_by`` / ``reason`` belong to the last control write, a policy change too."""
    events = _reader(url).scheduler_events(kind="paused" if paused else "resumed", limit=1)
    if not events:
        return {}
    return {"actor": str(events[0].Detail.get("actor", "")), "reason": events[0].Message, "at": events[0].At}


def scheduler_budgets(state: SchedulerStatus) -> list[tuple[str, float, float]]:
    """The day's and the month's shadow budget: (label, spent USD, cap USD)."""
    return [(label, float(state.budgets.get(key, {}).get("spent_usd", 0.0)),
             float(state.budgets.get(key, {}).get("cap_usd", 0.0)))
            for key, label in (("day", "Today (UTC)"), ("month", "This month (UTC)"))]


def scheduler_frames(state: SchedulerStatus) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups the scheduler planned (state and reason) and the routes it started (status, n, spend)."""
    group_cols = ["state", "service", "feature", "fingerprint", "baseline", "candidate", "reason", "quota",
                  "projected_monthly_saving_usd", "candidates_done"]
    groups = pd.DataFrame([{c: ", ".join(g.candidates_done) if c == "candidates_done" else getattr(g, c)
                            for c in group_cols} for g in state.groups], columns=group_cols)
    route_cols = ["route_id", "version", "feature", "baseline", "candidate", "judge", "status", "n", "wins", "ties",
                  "losses", "unresolved", "route_spent_usd", "budget_usd", "scheduler_batches", "scheduler_deferred"]
    routes = pd.DataFrame([{c: getattr(r, c) for c in route_cols} for r in state.routes], columns=route_cols)
    return groups, routes


def monitor_frame(monitor: dict[str, Any] | None) -> pd.DataFrame:
    """The drift monitor's two CUSUM detectors: statistic, alarm threshold and observations each.

    A detector that reports its path (``trajectory``) gives one row per observation; otherwise its
    current value is one row at its observation count."""
    rows: list[dict[str, Any]] = []
    for name, label in (("loss_cusum", "loss (judged)"), ("fallback_cusum", "fallback")):
        detector = (monitor or {}).get(name) or {}
        if not detector:
            continue
        path = detector.get("trajectory") or []
        points = list(enumerate(path, start=1)) if path else [(int(detector.get("n", 0)), detector.get("s", 0.0))]
        rows += [{"detector": label, "observation": n, "statistic": float(v), "threshold": float(detector.get("h", 0)),
                  "alarm": bool(detector.get("alarm"))} for n, v in points]
    return pd.DataFrame(rows, columns=["detector", "observation", "statistic", "threshold", "alarm"])


def focus_export(url: str, since: str, fmt: str = "csv") -> bytes:
    """FOCUS rows as file bytes (fetched when the user downloads, not on every render)."""
    return _reader(url).export_focus(since, None, fmt)


# --- shaping for charts and tables --------------------------------------------------------------------

def cost_frame(report: CostReport, dims: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Product rows as a table: dimensions, bucket (if any) and metrics."""
    columns = (["bucket"] if report.granularity != "total" else []) + list(dims) + [
        "calls", "cost_usd", "cost_per_call", "cost_per_1k_calls", "input_tokens", "output_tokens",
        "unpriced_calls", "errors"]
    records = []
    for row in report.rows:
        record: dict[str, Any] = {d: row.dimension(d) or "(none)" for d in dims}
        record.update({c: getattr(row, c) for c in columns if c not in record})
        records.append(record)
    frame = pd.DataFrame(records, columns=columns)
    if "bucket" in frame:
        frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    return frame


def experiment_frame(report: CostReport) -> pd.DataFrame:
    rows = [{"traffic_class": r.traffic_class or "", "calls": r.calls, "cost_usd": r.cost_usd,
             "unpriced_calls": r.unpriced_calls} for r in report.experiment.rows]
    frame = pd.DataFrame(rows, columns=["traffic_class", "calls", "cost_usd", "unpriced_calls"])
    return frame.groupby("traffic_class", as_index=False).sum() if not frame.empty else frame


def outcomes_frame(comparisons: list[dict[str, Any]]) -> pd.DataFrame:
    """Cumulative wins / ties / losses / unresolved after each comparison (long format for a stacked chart)."""
    counts = {"win": 0, "tie": 0, "loss": 0, "unresolved": 0}
    rows = []
    for number, comparison in enumerate(comparisons, start=1):
        outcome = str(comparison.get("outcome", ""))
        if outcome in counts:
            counts[outcome] += 1
        rows += [{"comparison": number, "outcome": k, "count": v} for k, v in counts.items()]
    return pd.DataFrame(rows, columns=["comparison", "outcome", "count"])


def disputed_pairs(comparisons: list[dict[str, Any]], limit: int = 5) -> list[dict[str, Any]]:
    """Comparisons whose two judge orders disagreed (swap-inconsistent), then losses and unresolved
    pairs: shown side by side."""
    disputed = [c for c in comparisons if c.get("swap_consistent") is False]
    rest = [c for c in comparisons if c.get("outcome") in ("loss", "unresolved") and c not in disputed]
    return (disputed + rest)[:limit]


def unresolved_share(comparisons: list[dict[str, Any]]) -> float | None:
    """Share of comparisons the judge could not settle (outcome ``unresolved``)."""
    return sum(1 for c in comparisons if c.get("outcome") == "unresolved") / len(comparisons) if comparisons else None


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- writes (never cached; they clear the read cache) -----------------------------------------------

def _written(result: Any) -> Any:
    st.cache_data.clear()
    return result


def acknowledge_alert(url: str, token: str, alert_id: str) -> Alert:
    return _written(_writer(url, token).acknowledge_alert(alert_id))


def resolve_alert(url: str, token: str, alert_id: str) -> Alert:
    return _written(_writer(url, token).resolve_alert(alert_id))


def evaluate_alerts(url: str, token: str) -> Any:
    return _written(_writer(url, token).evaluate_alerts())


def set_budget(url: str, token: str, scope: str, value: str, monthly_usd: float) -> BudgetChange:
    return _written(_writer(url, token).set_budget(scope, value, monthly_usd))


def start_shadow_run(url: str, token: str, group: RequestGroup, candidate: str, limit: int,
                     budget_usd: float | None, endpoint: str | None, judge: str | None = None) -> ShadowJob:
    """Start a background shadow run on one of the service's configured provider endpoints (by name)."""
    return _written(_writer(url, token).start_shadow_run(
        group.baseline_model, candidate, service=group.service, feature=group.feature,
        fingerprint=group.fingerprint, limit=limit, budget_usd=budget_usd, endpoint=endpoint or None,
        judge=judge or None))


def start_optimize_run(url: str, token: str, route: dict[str, Any], rounds: int = 3,
                       held_out: int = 60) -> OptimizeJob:
    """Optimise the candidate's system prompt of a route under test (a background job, docs/optimize.md);
    the optimise and select sets are half and a third of the held-out size (at least 5 each)."""
    return _written(_writer(url, token).start_optimize_run(
        str(route.get("BaselineModel", "")), str(route.get("CandidateModel", "")),
        service=str(route.get("ServiceName", "")), feature=str(route.get("Feature", "")),
        fingerprint=str(route.get("PromptFingerprint", "")), rounds=rounds, held_out_size=held_out,
        optimise_size=max(5, held_out // 2), select_size=max(5, held_out // 3)))


def optimize_run(url: str, job_id: str) -> OptimizeJob:
    """A prompt optimisation's progress and, once done, its report (not cached: the page polls it)."""
    return _reader(url).optimize_run(job_id)


def shadow_run(url: str, job_id: str) -> ShadowJob:
    """A background shadow run's progress (not cached: the page polls it)."""
    return _reader(url).shadow_run(job_id)


def pause_scheduler(url: str, token: str, reason: str = "") -> dict[str, Any]:
    return _written(_writer(url, token).pause_scheduler(reason or "paused from the dashboard"))


def resume_scheduler(url: str, token: str, reason: str = "") -> dict[str, Any]:
    return _written(_writer(url, token).resume_scheduler(reason or "resumed from the dashboard"))


def monthly_volume(url: str, match: dict[str, Any], baseline: str) -> float | None:
    """Calls per month of a route's request group (from mining's daily rate), for the push confirmation."""
    for group in candidates(url):
        same = all(str(match.get(k, "")) == getattr(group, k) for k in ("service", "feature", "fingerprint"))
        if same and group.baseline_model == baseline:
            return group.calls_per_day * 30
    return None


def push_route(url: str, token: str, rec: Recommendation, state: str, share: float | None = None,
               provider: str = "openai") -> PushedRoute:
    """Push a proven route to the routing registry: its match, models and the proof it was approved on.

    ``state`` is ``canary`` (moves ``share`` of the group's traffic) or ``active`` (all of it);
    ``provider`` is the provider name both models are priced under (the registry refuses unpriced ones)."""
    if state not in ("canary", "active"):
        raise ValueError(state)
    match = rec.match
    return _written(_writer(url, token).push_route(
        service=str(match.get("service", "")), feature=str(match.get("feature", "") or ""),
        fingerprint=str(match.get("fingerprint", "") or ""), baseline=rec.baseline, candidate=rec.candidate,
        provider=provider, proof_route_id=rec.route_id, state=state,
        traffic_share=share if state == "canary" else None))


def route_action(url: str, token: str, route_id: str, action: str, share: float | None = None,
                 reason: str = "") -> dict[str, Any]:
    """Change a pushed route's state: ``canary`` (new traffic share), ``pause`` or ``rollback``."""
    if action not in ROUTE_ACTIONS:
        raise ValueError(action)
    body: dict[str, Any] = {"reason": reason or f"{action} from the dashboard"}
    if action == "canary":
        body["share"] = share
    return _written(_writer(url, token).route_action(route_id, action, **body))
