"""The scheduler's one loop, inside the service: every pass plans, then runs shadow batches.

A pass (``Scheduler.run_pass``) is skipped while paused or in quiet hours (and recorded as such).
Otherwise it plans (:mod:`~tokenproof.analytics.scheduler.planner`), and for each chosen route:

1. computes the batch's spend cap: the smallest of what the day's budget, the month's budget (shared
   by the routes of this pass) and the route's own budget leave; nothing runs on a cap of zero;
2. records ``batch_started`` with the cap as its reservation (:mod:`~tokenproof.analytics.scheduler.ledger`),
   then runs :func:`~tokenproof.analytics.proof.shadow.run_shadow` with that cap and cost reservation
   on, so no budget is ever crossed, and provider failures deferred;
3. records ``batch_finished`` with what it spent and compared, and the route's decision or budget stop.

Provider calls pass a token bucket per provider (the policy's requests per minute). A batch stopped by
a provider failure (429, overload, outage, refused credentials) records the deferred prompt and backs
that provider off exponentially (30 s doubling to one hour, with jitter); a prompt deferred
``max_deferrals`` times is then stored as the failure it is, against the candidate. A decided
"switch" becomes a recommendation, and with ``auto_canary`` a canary through the routing registry.

Restart-safe: the policy, the pause switch, admissions, reservations and deferrals are in the store,
and a route continues from its stored comparisons (prompts already compared are never drawn again).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tokenproof import settings
from tokenproof.analytics.proof import endpoints
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.replay import provider_of
from tokenproof.analytics.proof.shadow import ShadowSpec, run_shadow
from tokenproof.analytics.scheduler.ledger import Ledger, day_start, month_start
from tokenproof.analytics.scheduler.planner import FINISHED, Work, plan
from tokenproof.analytics.scheduler.policy import Policy, effective_policy, in_quiet_hours

__all__ = ["Backoff", "RateLimiter", "Scheduler"]

log = logging.getLogger(__name__)
_ACTOR = "scheduler"


class RateLimiter:
    """A token bucket per provider (requests per minute, burst of one second's worth, at least 1)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # provider -> (tokens, at)

    def acquire(self, provider: str, rpm: float, stop: threading.Event | None = None) -> None:
        rate = rpm / 60.0
        burst = max(1.0, rate)
        while True:
            with self._lock:
                tokens, at = self._buckets.get(provider, (burst, time.monotonic()))
                now = time.monotonic()
                tokens = min(burst, tokens + (now - at) * rate)
                if tokens >= 1.0:
                    self._buckets[provider] = (tokens - 1.0, now)
                    return
                self._buckets[provider] = (tokens, now)
                wait = (1.0 - tokens) / rate
            if stop is not None and stop.wait(min(wait, 1.0)):
                return
            if stop is None:
                time.sleep(min(wait, 1.0))


class Backoff:
    """Exponential back-off per provider after provider failures (30 s doubling to 1 h, jittered)."""

    BASE_S, MAX_S = 30.0, 3600.0

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()

    def fail(self, provider: str) -> float:
        with self._lock:
            n = self._failures.get(provider, 0) + 1
            self._failures[provider] = n
            delay = min(self.MAX_S, self.BASE_S * 2 ** (n - 1)) * random.uniform(0.8, 1.2)
            self._until[provider] = time.monotonic() + delay
            return delay

    def ok(self, provider: str) -> None:
        with self._lock:
            self._failures.pop(provider, None)
            self._until.pop(provider, None)

    def waiting(self, provider: str) -> float:
        with self._lock:
            return max(0.0, self._until.get(provider, 0.0) - time.monotonic())

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            now = time.monotonic()
            return {p: {"failures": self._failures.get(p, 0), "retry_in_s": round(max(0.0, u - now), 1)}
                    for p, u in self._until.items() if u > now}


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Scheduler:
    """The service's proof scheduler over one store (one instance per service process)."""

    def __init__(self, store, *, interval_s: float | None = None) -> None:
        self.store = store
        self.ledger = Ledger(store)
        self.interval_s = settings.get("scheduler_interval_seconds") if interval_s is None else interval_s
        self.limiter = RateLimiter()
        self.backoff = Backoff()
        self._stop = threading.Event()
        self._cancel = threading.Event()  # set by stop and pause: batches end after the comparison in flight
        self._wake = threading.Event()
        self._pass_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_pass: dict[str, Any] | None = None
        self.next_pass_at: float | None = None
        self.running_batches: dict[str, dict[str, Any]] = {}
        # route id -> the group's captured calls when its last batch found no fresh prompt (in memory:
        # after a restart one batch finds out again, at no cost)
        self.exhausted: dict[str, int] = {}

    # control -------------------------------------------------------------------------------------
    def control(self) -> dict[str, Any]:
        control = self.ledger.control()
        if control is None:
            return {"overrides": {}, "policy_version": 0, "paused": settings.get("scheduler_start_paused"),
                    "actor": "", "reason": "", "updated_at": None}
        return control

    def policy(self) -> Policy:
        return effective_policy(self.control()["overrides"])

    def set_policy(self, changes: dict[str, Any], *, actor: str, reason: str = "", replace: bool = False) -> Policy:
        """Apply policy overrides (validated first; a bad value changes nothing)."""
        control = self.control()
        overrides = {} if replace else dict(control["overrides"])
        for key, value in changes.items():
            if value is None:
                overrides.pop(key, None)  # back to the setting's value
            elif key == "params" and isinstance(value, dict):
                overrides["params"] = {**overrides.get("params", {}), **value}
            else:
                overrides[key] = value
        policy = effective_policy(overrides)  # raises ValueError on a bad value
        if policy.endpoint not in endpoints.names():  # endpoints are service settings, picked by name only
            raise ValueError(f"unknown endpoint {policy.endpoint!r}; configured: {', '.join(endpoints.names())}")
        version = control["policy_version"] + 1
        # the row's actor and reason stay the pause switch's; who changed the policy is in its event
        self.ledger.set_control(overrides=overrides, policy_version=version, paused=control["paused"],
                                actor=control["actor"], reason=control["reason"])
        self.ledger.event("policy_changed", reason, detail={"changes": changes, "version": version, "actor": actor})
        return policy

    def set_paused(self, paused: bool, *, actor: str, reason: str = "") -> dict[str, Any]:
        control = self.control()
        self.ledger.set_control(overrides=control["overrides"], policy_version=control["policy_version"],
                                paused=paused, actor=actor, reason=reason)
        self.ledger.event("paused" if paused else "resumed", reason, detail={"actor": actor})
        if paused:
            self._cancel.set()
        else:
            self._wake.set()
        return self.control()

    # the loop ------------------------------------------------------------------------------------
    def start(self) -> Scheduler:
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tokenproof-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._cancel.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pass()
            except Exception as exc:  # one failed pass must never end the loop; it is recorded
                log.exception("scheduler pass failed")
                self._safe_event("error", f"{type(exc).__name__}: {exc}")
            self.next_pass_at = time.time() + self.interval_s
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def _safe_event(self, kind: str, message: str, **kw: Any) -> None:
        try:
            self.ledger.event(kind, message, **kw)
        except Exception:
            log.exception("could not record a scheduler event")

    def run_pass(self) -> dict[str, Any]:
        """One pass now (the loop's, or ``POST /api/v1/scheduler/run``); returns what it did."""
        with self._pass_lock:
            started = time.time()
            result = self._pass()
            result["seconds"] = round(time.time() - started, 3)
            result["at"] = datetime.fromtimestamp(started, UTC).isoformat()
            self.last_pass = result
            return result

    def _pass(self) -> dict[str, Any]:
        control = self.control()
        if control["paused"]:
            return {"skipped": "paused", "batches": []}
        if not self._stop.is_set():
            self._cancel.clear()
        policy = effective_policy(control["overrides"])
        now = _utcnow()
        quiet = in_quiet_hours(policy, now)
        if quiet:
            return {"skipped": f"quiet hours {quiet} UTC", "batches": []}
        admitted = {g["Lineage"]: g for g in self.ledger.groups()}
        works, plans = plan(self.store, policy, admitted=admitted, scheduled=self.ledger.scheduled_routes(),
                            portfolio=settings.get("proof_portfolio_routes"), exhausted=self.exhausted)
        works = [w for w in works if not self._backing_off(w)]
        day_left = policy.budget_day_usd - sum(self.ledger.spend_since(day_start(now)))
        month_left = policy.budget_month_usd - sum(self.ledger.spend_since(month_start(now)))
        pool_left = min(day_left, month_left)
        if works and pool_left <= 0:
            which = "day" if day_left <= month_left else "month"
            self.ledger.event("budget_stop", f"the {which}'s shadow budget is spent",
                              detail={"day_left_usd": round(day_left, 6), "month_left_usd": round(month_left, 6)})
            return {"skipped": f"{which} budget spent", "batches": [], "groups": [p.to_dict() for p in plans]}
        batches: list[dict[str, Any]] = []
        if works:
            each = pool_left / len(works)
            with ThreadPoolExecutor(max_workers=len(works), thread_name_prefix="tokenproof-scheduler-batch") as pool:
                futures = [pool.submit(self._batch, work, policy, control["policy_version"], each,
                                       admitted.get(work.lineage)) for work in works]
                batches = [f.result() for f in futures]
        self.ledger.event("pass", f"{len(batches)} batches", comparisons=sum(b.get("new_comparisons", 0) for b in batches),
                          spend_usd=sum(b.get("spent_usd", 0.0) for b in batches),
                          detail={"groups": len(plans), "testing": sum(p.state == "testing" for p in plans)})
        return {"skipped": None, "batches": batches, "groups": [p.to_dict() for p in plans]}

    def _backing_off(self, work: Work) -> bool:
        models = (work.candidate.model, work.judge, work.group.baseline_model)
        return any(self.backoff.waiting(provider_of(m)) > 0 for m in models)

    def _batch(self, work: Work, policy: Policy, policy_version: int, pool_share: float,
               admission: dict[str, Any] | None) -> dict[str, Any]:
        route = proof_store.get_route(self.store, work.route_id)
        route_left = policy.budget_route_usd - (float(route["SpentUSD"]) if route else 0.0)
        cap = max(0.0, min(pool_share, route_left))
        common = {"route_id": work.route_id, "lineage": work.lineage, "feature": work.group.feature,
                  "candidate": work.candidate.model, "provider": work.candidate.provider}
        if route_left <= 0:
            self.ledger.event("budget_stop", "the route's budget is spent", **common)
            return {"route_id": work.route_id, "stop_reason": "route budget spent", "new_comparisons": 0}
        share = float(admission["AlphaShare"]) if admission else \
            policy.params.alpha / max(1, settings.get("proof_portfolio_routes"))
        if work.admit:
            self.ledger.admit(lineage=work.lineage, service=work.group.service, feature=work.group.feature,
                              fingerprint=work.group.fingerprint, baseline=work.group.baseline_model,
                              alpha_share=share, portfolio=settings.get("proof_portfolio_routes"),
                              policy_version=policy_version)
            self.ledger.event("admitted", f"request group admitted to testing with alpha share {share:.4g}",
                              **common)
        if route is None:
            self.ledger.event("route_started", f"{work.group.baseline_model} -> {work.candidate.model}, judge {work.judge}",
                              **common, detail={"value": work.value, "params": policy.params.model_dump(),
                                                "policy_version": policy_version,
                                                "projected_monthly_saving_usd": work.candidate.projected_monthly_saving_usd})
        batch_id = self.ledger.new_batch_id()
        self.ledger.event("batch_started", f"up to {work.quota} comparisons", batch_id=batch_id, reserved_usd=cap,
                          **common)
        self.running_batches[batch_id] = {**common, "quota": work.quota, "cap_usd": round(cap, 6)}
        try:
            result = self._run(work, policy, cap, share)
        except Exception as exc:
            self.ledger.event("batch_finished", f"failed: {type(exc).__name__}: {exc}", batch_id=batch_id,
                              spend_usd=cap, **common)  # what it spent is unknown: its reservation stands
            raise
        finally:
            self.running_batches.pop(batch_id, None)
        self.ledger.event("batch_finished", result["stop_reason"] or "", batch_id=batch_id,
                          comparisons=result["new_comparisons"], spend_usd=result["run_spent_usd"],
                          **common, detail={"status": result["status"], "n": result["n"],
                                            "decision": result["decision"]})
        if result["stop_reason"] in {"prompts exhausted", "no captured prompts (enable content capture for this group)"} \
                and result["new_comparisons"] < work.quota:
            self.exhausted[work.route_id] = work.group.captured_calls
        else:
            self.exhausted.pop(work.route_id, None)
        self._after(work, policy, result, common)
        return {k: result.get(k) for k in ("route_id", "status", "decision", "stop_reason", "new_comparisons",
                                           "run_spent_usd", "n")} | {"spent_usd": result["run_spent_usd"],
                                                                     "feature": work.group.feature,
                                                                     "candidate": work.candidate.model}

    def _run(self, work: Work, policy: Policy, cap: float, share: float) -> dict[str, Any]:
        replayer = endpoints.replayer(policy.endpoint, feature=work.group.feature or None)
        replayer.before_call = lambda model: self.limiter.acquire(provider_of(model), policy.rpm(provider_of(model)),
                                                                  self._cancel)
        deferred = self.ledger.deferrals(work.route_id)
        store_anyway = frozenset(ref for ref, n in deferred.items() if n >= policy.max_deferrals)
        spec = ShadowSpec(baseline=work.group.baseline_model, candidate=work.candidate.model,
                          service=work.group.service, feature=work.group.feature, fingerprint=work.group.fingerprint,
                          judge=work.judge, budget_usd=policy.budget_route_usd, limit=work.quota,
                          params=policy.params.params(), endpoint=policy.endpoint,
                          seed=int(work.route_id[2:10], 16), group_share=share)
        return run_shadow(self.store, spec, replayer, cancel=self._cancel, spend_cap_usd=cap, reserve=True,
                          defer_provider_failures=True, store_anyway=store_anyway)

    def _after(self, work: Work, policy: Policy, result: dict[str, Any], common: dict[str, Any]) -> None:
        providers = {provider_of(work.candidate.model), provider_of(work.judge)}
        deferred = result.get("deferred")
        if deferred:
            kind = deferred.get("error_kind")
            failing = {provider_of(work.candidate.model)} if kind == "candidate_failed" \
                else {provider_of(work.judge)} if kind == "judge_error" \
                else {provider_of(work.group.baseline_model), provider_of(work.judge)} if kind == "calibration_failed" \
                else {provider_of(work.group.baseline_model)}
            names = ", ".join(sorted(failing))
            self.ledger.event("deferred", deferred["error"][:500], prompt_ref=deferred["prompt_ref"],
                              **{**common, "provider": names}, detail=deferred)
            for provider in sorted(failing):
                delay = self.backoff.fail(provider)
                self.ledger.event("backoff", f"{provider}: retry in {delay:.0f} s", **{**common, "provider": provider},
                                  detail={"retry_in_s": round(delay, 1)})
        elif result["new_comparisons"]:
            for provider in providers:
                self.backoff.ok(provider)
        status = result["status"]
        stopped_by_budget = result["stop_reason"] in {"budget exhausted", "spend cap reached"} or \
            str(result["stop_reason"]).startswith("spend cap too small")
        if stopped_by_budget and status not in FINISHED - {"budget_exhausted"}:
            self.ledger.event("budget_stop", result["stop_reason"], **common, spend_usd=result["run_spent_usd"])
        if status in FINISHED - {"budget_exhausted"}:
            self.ledger.event("decision", f"{status.upper()} after {result['n']} comparisons", comparisons=result["n"],
                              **common, detail={k: result.get(k) for k in ("decision", "n", "wins", "ties", "losses",
                                                                         "unresolved", "alpha", "meaning")})
            if status == "switch" and policy.auto_canary:
                self._push_canary(work, policy, common)

    def _push_canary(self, work: Work, policy: Policy, common: dict[str, Any]) -> None:
        from tokenproof.analytics.routing import service as routing
        from tokenproof.analytics.routing.model import PushBody

        body = PushBody(service=work.group.service or "unknown", feature=work.group.feature,
                        fingerprint=work.group.fingerprint, baseline=work.group.baseline_model,
                        candidate=work.candidate.model, provider=work.group.provider or "openai",
                        proof_route_id=work.route_id, state="canary", traffic_share=policy.canary_share,
                        reason="scheduler: proven switch (policy auto_canary)")
        try:
            pushed = routing.push(self.store, body, actor=_ACTOR, client="scheduler")
            self.ledger.event("canary_pushed", f"routing route {pushed['id']} at {policy.canary_share:.0%}", **common,
                              detail={"routing_route": pushed["id"]})
        except routing.RouteError as exc:
            self.ledger.event("canary_refused", exc.detail, **common)
