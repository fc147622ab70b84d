"""Routes as the registry stores and serves them: states, bodies, ids, overlap rules.

A route matches (service, feature, prompt fingerprint, baseline model) and names the candidate
model, an optional candidate system prompt, the proof it was approved on and its state. An empty
feature or fingerprint matches any value; two live routes of one (service, baseline) overlap when
every match field is equal or empty on one side, and the registry refuses the second one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "LIVE_STATES",
    "ROUTED_STATES",
    "STATES",
    "CanaryBody",
    "PushBody",
    "ReasonBody",
    "ScheduleStep",
    "overlaps",
    "prompt_hash",
    "public",
    "route_id",
]

SHADOW, CANARY, ACTIVE, PAUSED, ROLLED_BACK = "shadow", "canary", "active", "paused", "rolled_back"
STATES = (SHADOW, CANARY, ACTIVE, PAUSED, ROLLED_BACK)
LIVE_STATES = (SHADOW, CANARY, ACTIVE, PAUSED)  # hold their match: a second overlapping route is refused
ROUTED_STATES = (CANARY, ACTIVE)  # move traffic


def route_id(service: str, feature: str, fingerprint: str, baseline: str, candidate: str) -> str:
    """Stable id of a route: its match and candidate (a candidate prompt change is a new version)."""
    raw = json.dumps([service, feature, fingerprint, baseline, candidate], separators=(",", ":"))
    return "rt_" + hashlib.sha256(raw.encode()).hexdigest()[:16]


def prompt_hash(prompt: str) -> str:
    """Hash of a candidate system prompt, the way the proof engine records it ("" for none)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:32] if prompt else ""


class ScheduleStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_hours: float = Field(ge=0, description="hours after the push")
    share: float = Field(gt=0, le=1)


class PushBody(BaseModel):
    """Body of ``POST /api/v1/routing/routes``."""

    model_config = ConfigDict(extra="forbid")
    service: str = Field(min_length=1, max_length=200)
    feature: str = Field(default="", max_length=200)
    fingerprint: str = Field(default="", max_length=200)
    baseline: str = Field(min_length=1, max_length=200)
    candidate: str = Field(min_length=1, max_length=200)
    provider: str = Field(default="openai", max_length=64, description="gen_ai.provider.name both models are priced under")
    candidate_system_prompt: str = Field(default="", max_length=100_000)
    proof_route_id: str = Field(default="", max_length=64, description="the proof route version it was approved on")
    state: str = CANARY
    traffic_share: float | None = Field(default=None, gt=0, le=1)
    schedule: list[ScheduleStep] = Field(default_factory=list, max_length=20)
    timeout_s: float = Field(default=0.0, ge=0, le=600, description="candidate attempt timeout (0 = the app's)")
    proven_response_model: str = Field(default="", max_length=200)
    override: bool = Field(default=False, description="push although the proof did not decide 'switch' (audited)")
    reason: str = Field(default="", max_length=2000)

    @field_validator("state")
    @classmethod
    def _state(cls, value: str) -> str:
        if value not in (SHADOW, CANARY, ACTIVE):
            raise ValueError("a pushed route starts as shadow, canary or active")
        return value

    @field_validator("schedule")
    @classmethod
    def _growing(cls, steps: list[ScheduleStep]) -> list[ScheduleStep]:
        hours = [s.after_hours for s in steps]
        shares = [s.share for s in steps]
        if hours != sorted(hours) or shares != sorted(shares):
            raise ValueError("schedule steps must grow: after_hours and share non-decreasing")
        return steps


class CanaryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float = Field(gt=0, le=1, description="traffic share; 1.0 makes the route active")
    reason: str = Field(default="", max_length=2000)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two routes (stored rows) can match the same request."""
    if a["ServiceName"] != b["ServiceName"] or a["BaselineModel"] != b["BaselineModel"]:
        return False
    return all(not (a[key] and b[key] and a[key] != b[key]) for key in ("Feature", "PromptFingerprint"))


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A stored route row as the API serves it (and the instrumentation reads it)."""
    return {
        "id": row["RouteId"], "version": int(row["Version"]),
        "match": {"service": row["ServiceName"], "feature": row["Feature"],
                  "fingerprint": row["PromptFingerprint"], "baseline": row["BaselineModel"]},
        "candidate": row["CandidateModel"], "candidate_system_prompt": row["CandidateSystemPrompt"],
        "proof": {"route_id": row["ProofRouteId"], "decision": row["ProofDecision"],
                  "override": bool(row["Override"]), "response_model": row["ProofResponseModel"]},
        "state": row["State"], "traffic_share": float(row["TrafficShare"]),
        "schedule": json.loads(row["ScheduleJson"] or "[]"), "timeout_s": float(row["TimeoutSeconds"]),
        "state_reason": row["StateReason"], "reproof": row["ReproofReason"],
        "changed_by": row["ChangedBy"], "changed_at": _iso(row["ChangedAt"]), "created_at": _iso(row["CreatedAt"]),
    }


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
