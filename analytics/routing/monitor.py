"""Post-switch monitoring, inside the service: drift alarms, automatic rollback, re-proof flags.

The service has the store, so the monitor runs there, fed by the spans of routed calls. Every
``routing_monitor_interval_seconds`` it reads the new candidate attempts of each canary or active
route: each one feeds the fallback detector (a Bernoulli CUSUM on "this attempt fell back"); a
deterministic sample of those that succeeded with captured content goes on a bounded queue, where
one worker replays the request on the baseline (shadow traffic), judges the pair through
:func:`~tokenproof.analytics.routing.prooflink.judge_routed_pair` and feeds the loss detector
(unresolved judgements count as losses). Shadow and judge spend per route is capped. An alarm rolls
the route back, records why, and raises an alert through the alert store and the webhooks. A
response model other than the proven one, or a fingerprint mix change on a route matching any
fingerprint, flags the route for re-proof. Observations are stored (``routing_observations``), so
the detectors survive a restart. Canary schedules are applied here too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from datetime import UTC, datetime
from typing import Any

from tokenproof import semconv, settings
from tokenproof.analytics import alerts
from tokenproof.analytics.routing import registry, service
from tokenproof.analytics.routing.cusum import BernoulliCUSUM
from tokenproof.analytics.routing.model import CANARY, ROUTED_STATES
from tokenproof.analytics.routing.prooflink import answer_from_span, judge_routed_pair, request_from_span
from tokenproof.analytics.webhooks import Target, WebhookWorker, validate_webhook_urls

__all__ = ["Monitor", "start_monitor"]

log = logging.getLogger(__name__)

settings.declare("routing_monitor_interval_seconds", float, 30.0,
                 "how often the service's route monitor reads new routed calls (0 = monitor off)")
settings.declare("routing_monitor_sample", float, 0.1, "share of routed calls replayed on the baseline and judged")
settings.declare("routing_monitor_budget_usd", float, 2.0, "shadow and judge spend cap per route since its push")
settings.declare("routing_monitor_queue_size", int, 200, "routed calls waiting to be judged (more are dropped)")
settings.declare("routing_judge_model", str, "", "judge model of the route monitor (empty = proof_judge_model)")
settings.declare("routing_loss_cusum", list, ["0.05", "0.15", "3.5"], "p0, p1, h of the loss-rate CUSUM")
settings.declare("routing_fallback_cusum", list, ["0.05", "0.15", "3.5"],
                 "p0, p1, h of the CUSUM on fallbacks (errors, timeouts, format failures, refusals)")
settings.declare("routing_fingerprint_mix_share", float, 0.2,
                 "share of recent routed calls with fingerprints unseen at the start that flags re-proof")
settings.declare("routing_webhook_urls", list, [], "URLs that receive a JSON event on every route change",
                 validate=validate_webhook_urls)

ATTEMPTS_SQL = """
SELECT TraceId, SpanId, toUnixTimestamp64Micro(Timestamp) AS ts, RequestModel, ResponseModel, PromptFingerprint,
       SpanAttributes['tokenproof.route.fallback_reason'] AS reason,
       SpanAttributes['gen_ai.system_instructions'] AS system, SpanAttributes['gen_ai.input.messages'] AS messages,
       SpanAttributes['gen_ai.output.messages'] AS output, SpanAttributes['tokenproof.request.params'] AS params
FROM llm_calls FINAL
WHERE RouteId = {route:String} AND TrafficClass = {product:String}
  AND SpanAttributes['tokenproof.route.attempt'] = {candidate:String}
  AND Timestamp >= fromUnixTimestamp64Micro({since:Int64})
  AND SpanId NOT IN (SELECT SpanId FROM routing_observations WHERE RouteId = {route:String} AND Kind = 'attempt')
ORDER BY Timestamp
LIMIT {limit:UInt32}
"""
OBSERVATIONS_SQL = """
SELECT Kind, Indicator, SpendUSD, PromptFingerprint FROM routing_observations
WHERE RouteId = {route:String} AND At >= fromUnixTimestamp64Micro({since:Int64})
ORDER BY At, SpanId
"""
PUSHED_SQL = """
SELECT max(toUnixTimestamp64Micro(At)) FROM routing_audit
WHERE RouteId = {route:String} AND Action = 'push' AND Outcome = 'applied'
"""
OBS_COLUMNS = ["At", "RouteId", "Kind", "TraceId", "SpanId", "PromptFingerprint", "ResponseModel", "Outcome",
               "Indicator", "SpendUSD", "DetailJson"]
_ACTOR = "monitor"
_MIX_WINDOW = 50


def _cusum(name: str) -> BernoulliCUSUM:
    p0, p1, h = (float(v) for v in settings.get(name))
    return BernoulliCUSUM(p0, p1, h)


def _sampled(span_id: str, share: float) -> bool:
    return int(hashlib.sha256(span_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


class _RouteState:
    def __init__(self, pushed_at: int):
        self.pushed_at = pushed_at
        self.version = 0
        self.loss = _cusum("routing_loss_cusum")
        self.fallback = _cusum("routing_fallback_cusum")
        self.spend = 0.0
        self.unpriced_spend = 0
        self.judged = 0
        self.dropped = 0
        self.fingerprints: list[str] = []
        self.rolled_back = False

    def to_dict(self) -> dict[str, Any]:
        return {"loss_cusum": self.loss.state(), "fallback_cusum": self.fallback.state(), "judged": self.judged,
                "dropped": self.dropped, "shadow_spend_usd": round(self.spend, 6),
                "unpriced_judgements": self.unpriced_spend}


class Monitor:
    """One polling thread and one judging worker with a bounded queue."""

    def __init__(self, store, *, replayer=None, alert_sink=None, interval_s: float | None = None):
        self.store = store
        self.interval_s = settings.get("routing_monitor_interval_seconds") if interval_s is None else interval_s
        self.sample = settings.get("routing_monitor_sample")
        self.budget = settings.get("routing_monitor_budget_usd")
        self.judge_model = settings.get("routing_judge_model") or settings.get("proof_judge_model") or None
        self._replayer = replayer
        self.alert_sink = alert_sink
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, settings.get("routing_monitor_queue_size")))
        self._queued: set[str] = set()
        self._states: dict[str, _RouteState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.on_stop: list[Any] = []  # called once the threads are stopped (the service's webhook workers)

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Monitor:
        if self.interval_s > 0 and not self._threads:
            for target, name in ((self._poll_loop, "poll"), (self._judge_loop, "judge")):
                thread = threading.Thread(target=target, name=f"tokenproof-route-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        for fn in self.on_stop:
            fn()
        self.on_stop.clear()

    def state_of(self, rid: str) -> dict[str, Any] | None:
        with self._lock:
            state = self._states.get(rid)
            return state.to_dict() if state else None

    @property
    def replayer(self):
        if self._replayer is None:
            from tokenproof.analytics.proof.replay import Replayer

            self._replayer = Replayer(base_url=settings.get("proof_base_url") or None,
                                      anthropic_base_url=settings.get("proof_anthropic_base_url") or None)
        return self._replayer

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:
                log.exception("route monitor pass failed")

    def _judge_loop(self) -> None:
        while not self._stop.is_set():
            try:
                route, span = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._judge(route, span)
            except Exception:
                log.exception("judging routed call %s failed", span.get("SpanId"))
            finally:
                self._queued.discard(span["SpanId"])

    # --- one pass ----------------------------------------------------------------------------------
    def tick(self) -> None:
        for route in registry.list_rows(self.store):
            if route["State"] not in ROUTED_STATES:
                continue
            route = self._apply_schedule(route)
            state = self._state(route)
            if state is None or state.rolled_back:
                continue
            spans = self.store.query_dicts(ATTEMPTS_SQL, {
                "route": route["RouteId"], "product": semconv.TRAFFIC_PRODUCT,
                "candidate": semconv.ROUTE_ATTEMPT_CANDIDATE, "since": state.pushed_at, "limit": 1000})
            for span in spans:
                self._attempt(route, state, span)
                if state.rolled_back:
                    break

    def _state(self, route: dict[str, Any]) -> _RouteState | None:
        rid = route["RouteId"]
        with self._lock:
            known = self._states.get(rid)
            if known is not None and known.version == int(route["Version"]):
                return known
        pushed = self.store.query_rows(PUSHED_SQL, {"route": rid})[0][0]
        if not pushed:
            return None
        with self._lock:
            state = self._states.get(rid)
            if state is not None and state.pushed_at == int(pushed):
                state.version = int(route["Version"])
                return state
            state = _RouteState(int(pushed))  # new (or re-pushed) route: rebuild from its observations
            for kind, indicator, spend, fingerprint in self.store.query_rows(
                    OBSERVATIONS_SQL, {"route": rid, "since": state.pushed_at}):
                if kind == "attempt":
                    state.fallback.update(bool(indicator))
                    state.fingerprints.append(fingerprint)
                elif kind == "judge":
                    state.loss.update(bool(indicator))
                    state.judged += 1
                    state.spend += spend or 0.0
            state.version = int(route["Version"])
            self._states[rid] = state
            return state

    def _apply_schedule(self, route: dict[str, Any]) -> dict[str, Any]:
        steps = json.loads(route["ScheduleJson"] or "[]")
        if route["State"] != CANARY or not steps:
            return route
        hours = (datetime.now(UTC) - route["CreatedAt"]).total_seconds() / 3600
        due = [s["share"] for s in steps if s["after_hours"] <= hours]
        if due and max(due) > float(route["TrafficShare"]):
            service.set_share(self.store, route["RouteId"], max(due), actor="schedule",
                              reason=f"canary schedule: share {max(due)} after {hours:.2f} h", action="schedule")
            return registry.get_row(self.store, route["RouteId"]) or route
        return route

    def _record(self, route: dict[str, Any], span: dict[str, Any], kind: str, outcome: str, indicator: bool,
                spend: float | None = None, detail: dict | None = None) -> None:
        self.store.insert("routing_observations", [[
            datetime.now(UTC), route["RouteId"], kind, span["TraceId"], span["SpanId"], span["PromptFingerprint"],
            span["ResponseModel"], outcome, int(indicator), spend, json.dumps(detail or {}, default=str)]],
            OBS_COLUMNS)

    def _attempt(self, route: dict[str, Any], state: _RouteState, span: dict[str, Any]) -> None:
        failed = bool(span["reason"])
        self._record(route, span, "attempt", span["reason"] or "ok", failed)
        state.fingerprints.append(span["PromptFingerprint"])
        if state.fallback.update(failed):
            self._rollback(route, state, "fallback", state.fallback)
            return
        self._check_reproof(route, state, span)
        if failed or not span["messages"] or not _sampled(span["SpanId"], self.sample):
            return
        if span["SpanId"] in self._queued:
            return
        try:
            self._queue.put_nowait((route, span))
            self._queued.add(span["SpanId"])
        except queue.Full:
            state.dropped += 1
            self._record(route, span, "judge_dropped", "queue full", False)

    def _check_reproof(self, route: dict[str, Any], state: _RouteState, span: dict[str, Any]) -> None:
        model, proven = span["ResponseModel"], route["ProofResponseModel"]
        reason = ""
        if model and not proven:
            self._quiet(service.learn_response_model, self.store, route["RouteId"], model, actor=_ACTOR)
            route["ProofResponseModel"] = model
        elif model and model != proven:
            reason = f"response model {model} differs from the proven {proven}"
        elif not route["PromptFingerprint"] and len(state.fingerprints) >= 2 * _MIX_WINDOW:
            start = set(state.fingerprints[:_MIX_WINDOW])
            recent = state.fingerprints[-_MIX_WINDOW:]
            new = sum(1 for f in recent if f not in start) / len(recent)
            if new > settings.get("routing_fingerprint_mix_share"):
                reason = f"fingerprint mix changed: {new:.0%} of recent calls have fingerprints unseen at the start"
        if reason and route["ReproofReason"] != reason and \
                self._quiet(service.flag_reproof, self.store, route["RouteId"], reason, actor=_ACTOR):
            route["ReproofReason"] = reason
            self._alert(route, "route_reproof", "warning", f"route {route['RouteId']} needs re-proof: {reason}",
                        {"reason": reason})

    @staticmethod
    def _quiet(fn, *args, **kwargs) -> bool:
        try:
            fn(*args, **kwargs)
            return True
        except service.RouteError:
            return False

    def _judge(self, route: dict[str, Any], span: dict[str, Any]) -> None:
        state = self._state(route)
        if state is None or state.rolled_back:
            return
        if state.spend >= self.budget:
            self._record(route, span, "judge_skipped", "budget exhausted", False)
            return
        request = request_from_span(span)
        candidate = answer_from_span(span, span["RequestModel"])
        if request is None or candidate is None:
            self._record(route, span, "judge_skipped", "no captured content", False)
            return
        judgement = judge_routed_pair(request, candidate, route["BaselineModel"], self.replayer, self.judge_model,
                                      route=route["RouteId"])
        self._record(route, span, "judge", judgement.outcome, judgement.loss, judgement.spend_usd, judgement.detail)
        with self._lock:
            state.judged += 1
            if judgement.spend_usd is None:
                state.unpriced_spend += 1
            else:
                state.spend += judgement.spend_usd
            alarm = state.loss.update(judgement.loss)
        if alarm:
            self._rollback(route, state, "loss", state.loss)

    # --- actions -----------------------------------------------------------------------------------
    def _rollback(self, route: dict[str, Any], state: _RouteState, which: str, detector: BernoulliCUSUM) -> None:
        if state.rolled_back:
            return
        state.rolled_back = True
        what = "losses against the baseline" if which == "loss" else "fallbacks"
        reason = (f"drift alarm on {what}: CUSUM {detector.s:.2f} >= h {detector.h} after {detector.n} observations "
                  f"({detector.ones} {what}; in-control rate {detector.p0}, alarm rate {detector.p1})")
        if not self._quiet(service.rollback, self.store, route["RouteId"], actor=_ACTOR, reason=reason):
            return
        self._alert(route, "route_rollback", "critical", f"route {route['RouteId']} "
                    f"({route['BaselineModel']} -> {route['CandidateModel']}) rolled back: {reason}",
                    {"detector": which, "cusum": detector.state()})

    def _alert(self, route: dict[str, Any], kind: str, severity: str, explanation: str, details: dict) -> None:
        now = datetime.now(UTC)
        alert, _ = alerts.record_finding(self.store, {
            "key": f"{kind}:{route['RouteId']}:{route['Version']}", "kind": kind, "dimension": "route",
            "value": route["RouteId"], "metric": kind, "severity": severity, "explanation": explanation,
            "observed": 0.0, "expected": 0.0, "ratio": 0.0, "excess_usd": 0.0, "started_at": now,
            "last_seen_at": now, "details": {**details, "route": registry.public_rows([route])[0]}})
        if alert is not None and self.alert_sink is not None:
            self.alert_sink(alert)


def start_monitor(app) -> Monitor:
    """Start the monitor and the change webhook for a service app (its router's lifespan)."""
    store = app.state.store
    changes = WebhookWorker([Target(u, "raw") for u in settings.get("routing_webhook_urls")],
                            settings.get("webhook_secret"), max_attempts=settings.get("webhook_max_attempts"),
                            backoff_s=settings.get("webhook_backoff_seconds")).start()
    service.set_notifier(changes.submit if changes.targets else None)
    own: list[WebhookWorker] = []

    def alert_sink(alert: dict[str, Any]) -> None:
        worker = getattr(app.state, "analytics_webhooks", None)  # the alert delivery of the analytics router
        if worker is None:
            if not own:
                own.append(WebhookWorker.from_settings().start())
            worker = own[0]
        worker.submit(alert)

    monitor = Monitor(store, alert_sink=alert_sink).start()
    app.state.routing_monitor = monitor
    app.state.routing_changes = changes
    monitor.on_stop += [lambda: service.set_notifier(None), changes.stop, lambda: [w.stop() for w in own]]
    return monitor
