"""Registry operations: push, canary share, pause, rollback, re-proof flags, each validated and audited.

Every operation either applies (a new route version + an ``applied`` audit row + a change
notification) or raises :class:`RouteError` after recording a ``refused`` audit row; a refusal
changes no route. A push needs the proof it names to have decided "switch" for the same baseline,
candidate and candidate prompt; anything else needs ``override`` with a reason (audited as such).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tokenproof import pricing
from tokenproof.analytics.routing import registry
from tokenproof.analytics.routing.model import (
    ACTIVE,
    CANARY,
    LIVE_STATES,
    PAUSED,
    ROLLED_BACK,
    SHADOW,
    PushBody,
    overlaps,
    prompt_hash,
    public,
    route_id,
)
from tokenproof.analytics.routing.prooflink import SWITCH, proof_info

__all__ = [
    "DEFAULT_CANARY_SHARE",
    "RouteError",
    "flag_reproof",
    "pause",
    "push",
    "rollback",
    "set_notifier",
    "set_share",
]

DEFAULT_CANARY_SHARE = 0.05
_notify: list[Callable[[dict[str, Any]], None]] = []


class RouteError(Exception):
    """A refused change: HTTP status and a message saying why (nothing was changed)."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def set_notifier(fn: Callable[[dict[str, Any]], None] | None) -> None:
    """Who hears about every applied change (the service's change webhook)."""
    _notify.clear()
    if fn is not None:
        _notify.append(fn)


def _refuse(store, status: int, detail: str, *, rid: str, action: str, actor: str, client: str,
            override: bool = False, body: dict | None = None) -> RouteError:
    registry.audit(store, route_id=rid, action=action, outcome="refused", actor=actor, client=client,
                   override=override, reason=detail, detail={"status": status, "body": body or {}})
    return RouteError(status, detail)


def _applied(store, row: dict[str, Any], previous: dict | None, *, action: str, actor: str, client: str,
             reason: str = "", override: bool = False) -> dict[str, Any]:
    stored = registry.insert_version(store, row, previous, actor)
    before = public(previous) if previous else None
    after = public(stored)
    audit_id = registry.audit(store, route_id=stored["RouteId"], action=action, outcome="applied", actor=actor,
                              client=client, override=override, reason=reason,
                              detail={"before": before, "after": after})
    event = {"type": "tokenproof.route_change", "action": action, "audit_id": audit_id, "actor": actor,
             "reason": reason, "route": after, "previous": before}
    for fn in list(_notify):
        try:
            fn(event)
        except Exception:  # a notification must not undo an applied change
            pass
    return after


def push(store, body: PushBody, *, actor: str, client: str = "") -> dict[str, Any]:
    rid = route_id(body.service, body.feature, body.fingerprint, body.baseline, body.candidate)
    raw = body.model_dump()

    def refuse(status: int, detail: str) -> RouteError:
        return _refuse(store, status, detail, rid=rid, action="push", actor=actor, client=client,
                       override=body.override, body=raw)

    for role, model in (("baseline", body.baseline), ("candidate", body.candidate)):
        if pricing.resolve(body.provider, model) is None:
            raise refuse(422, f"unknown {role} model {model!r} for provider {body.provider!r} (no price known)")
    if body.baseline == body.candidate:
        raise refuse(422, "candidate and baseline are the same model")
    if body.override and not body.reason.strip():
        raise refuse(422, "an override needs a reason")
    decision = ""
    if body.proof_route_id:
        proof = proof_info(store, body.proof_route_id)
        if proof is None:
            if not body.override:
                raise refuse(422, f"no proof route {body.proof_route_id!r}")
        else:
            if (proof.baseline, proof.candidate) != (body.baseline, body.candidate):
                raise refuse(422, f"proof route {proof.route_id} compares {proof.baseline} -> {proof.candidate}, "
                                  f"not {body.baseline} -> {body.candidate}")
            decision = proof.decision
            if proof.candidate_prompt_hash != prompt_hash(body.candidate_system_prompt) and not body.override:
                raise refuse(409, f"the candidate system prompt differs from the one proof route {proof.route_id} "
                                  "proved; re-prove it, or push with override and a reason")
    if decision != SWITCH and not body.override:
        said = f"decided {decision!r}" if decision else "is missing"
        raise refuse(409, f"the proof {said}, not 'switch'; push with override and a reason to route anyway")
    with registry.write_lock:
        previous = registry.get_row(store, rid)
        for other in registry.live_rows(store, body.service):
            if other["RouteId"] != rid and overlaps(other, {"ServiceName": body.service, "BaselineModel": body.baseline,
                                                            "Feature": body.feature,
                                                            "PromptFingerprint": body.fingerprint}):
                raise refuse(409, f"overlaps live route {other['RouteId']} ({other['State']}: feature "
                                  f"{other['Feature'] or '*'}, fingerprint {other['PromptFingerprint'] or '*'}, "
                                  f"baseline {other['BaselineModel']}); pause or roll it back first")
        share = body.traffic_share if body.traffic_share is not None else (
            1.0 if body.state == ACTIVE else body.schedule[0].share if body.schedule else DEFAULT_CANARY_SHARE)
        state = ACTIVE if body.state == CANARY and share >= 1.0 else body.state
        reproof = ""
        if previous is not None and previous["State"] in LIVE_STATES and \
                previous["CandidateSystemPrompt"] != body.candidate_system_prompt:
            reproof = "candidate system prompt changed"
        row = {"RouteId": rid, "ServiceName": body.service, "Feature": body.feature,
               "PromptFingerprint": body.fingerprint, "BaselineModel": body.baseline,
               "CandidateModel": body.candidate, "CandidateSystemPrompt": body.candidate_system_prompt,
               "ProofRouteId": body.proof_route_id, "ProofDecision": decision,
               "ProofResponseModel": body.proven_response_model, "Override": int(body.override), "State": state,
               "TrafficShare": float(share),
               "ScheduleJson": json.dumps([s.model_dump() for s in body.schedule]),
               "TimeoutSeconds": float(body.timeout_s), "StateReason": body.reason, "ReproofReason": reproof}
        return _applied(store, row, previous, action="push", actor=actor, client=client, reason=body.reason,
                        override=body.override)


def _change(store, rid: str, action: str, actor: str, client: str, reason: str,
            apply: Callable[[dict[str, Any]], str | None]) -> dict[str, Any]:
    with registry.write_lock:
        previous = registry.get_row(store, rid)
        if previous is None:
            raise _refuse(store, 404, f"no route {rid!r}", rid=rid, action=action, actor=actor, client=client)
        row = dict(previous)
        problem = apply(row)
        if problem:
            raise _refuse(store, 409, problem, rid=rid, action=action, actor=actor, client=client)
        return _applied(store, row, previous, action=action, actor=actor, client=client, reason=reason)


def set_share(store, rid: str, share: float, *, actor: str, client: str = "", reason: str = "",
              action: str = "canary") -> dict[str, Any]:
    """Set a route's traffic share (by hand or on schedule); 1.0 makes it active."""
    def apply(row: dict[str, Any]) -> str | None:
        if row["State"] == ROLLED_BACK:
            return "the route was rolled back; push it again (with its proof) to route traffic"
        row["TrafficShare"] = float(share)
        row["State"] = ACTIVE if share >= 1.0 else CANARY
        row["StateReason"] = reason
        return None
    return _change(store, rid, action, actor, client, reason, apply)


def pause(store, rid: str, *, actor: str, client: str = "", reason: str = "") -> dict[str, Any]:
    def apply(row: dict[str, Any]) -> str | None:
        if row["State"] not in (SHADOW, CANARY, ACTIVE):
            return f"cannot pause a route in state {row['State']!r}"
        row["State"], row["StateReason"] = PAUSED, reason
        return None
    return _change(store, rid, "pause", actor, client, reason, apply)


def rollback(store, rid: str, *, actor: str, client: str = "", reason: str = "") -> dict[str, Any]:
    """Send the route's traffic back to the baseline for good (a new push is needed to route again)."""
    def apply(row: dict[str, Any]) -> str | None:
        if row["State"] == ROLLED_BACK:
            return "the route is already rolled back"
        row["State"], row["StateReason"] = ROLLED_BACK, reason
        return None
    return _change(store, rid, "rollback", actor, client, reason, apply)


def flag_reproof(store, rid: str, reason: str, *, actor: str) -> dict[str, Any]:
    def apply(row: dict[str, Any]) -> str | None:
        if row["ReproofReason"] == reason:
            return "already flagged for this reason"
        row["ReproofReason"] = reason
        return None
    return _change(store, rid, "reproof", actor, "", reason, apply)


def learn_response_model(store, rid: str, model: str, *, actor: str) -> dict[str, Any]:
    def apply(row: dict[str, Any]) -> str | None:
        if row["ProofResponseModel"]:
            return "response model already known"
        row["ProofResponseModel"] = model
        return None
    return _change(store, rid, "learn_response_model", actor, "", f"first routed response model {model}", apply)
