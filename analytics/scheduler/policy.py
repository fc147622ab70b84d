"""The scheduler's policy: what it may test, on what, with which judge, at what cost and when.

Every field has a default from a setting (``scheduler_*``, so a ``tokenproof.toml`` or the environment
sets the policy of a fresh store), and the API can override any field; the overrides are stored
(``scheduler_control``) and survive a restart. The effective policy is the settings with the stored
overrides on top. The test parameters are part of every route version the scheduler creates, so
changing them starts new route versions whose evidence begins at zero and whose alpha is spent from
the same group series (docs/scheduler.md "Policy").
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tokenproof import settings
from tokenproof.analytics.proof.sequential import Params

__all__ = ["Policy", "TestParams", "effective_policy", "in_quiet_hours", "policy_defaults"]

settings.declare("scheduler_interval_seconds", float, 120.0,
                 "how often the service's proof scheduler mines candidates and runs shadow batches (0 = off)")
settings.declare("scheduler_start_paused", bool, False,
                 "a store whose scheduler was never paused or resumed starts paused")
settings.declare("scheduler_services", list, [], "services the scheduler may test (empty = all)")
settings.declare("scheduler_features", list, [], "features the scheduler may test (empty = all)")
settings.declare("scheduler_min_calls_per_day", float, 20.0, "a request group needs this many calls per day to be tested")
settings.declare("scheduler_candidate_models", list, [], "candidate models the scheduler may test (empty = any mined)")
settings.declare("scheduler_candidate_providers", list, [],
                 "providers whose models may be candidates besides the baseline's own (semconv names)")
settings.declare("scheduler_judge_model", str, "", "the scheduler's judge (empty = proof_judge_model)")
settings.declare("scheduler_endpoint", str, "default", "the configured provider endpoint the scheduler calls")
settings.declare("scheduler_sample_rate", float, 0.1,
                 "share of each group's captured calls the scheduler replays in shadow")
settings.declare("scheduler_batch_size", int, 25, "comparisons per route per pass at most")
settings.declare("scheduler_budget_route_usd", float, 5.0, "shadow and judge spend cap per route version")
settings.declare("scheduler_budget_day_usd", float, 5.0, "shadow and judge spend cap per UTC day, over all routes")
settings.declare("scheduler_budget_month_usd", float, 50.0, "shadow and judge spend cap per UTC month, over all routes")
settings.declare("scheduler_max_concurrent_routes", int, 2, "routes whose batches run at once")
settings.declare("scheduler_rate_limit_rpm", float, 600.0, "requests per minute toward each provider")
settings.declare("scheduler_provider_rate_limits", list, [],
                 "per-provider requests per minute, provider=rpm entries (override scheduler_rate_limit_rpm)")
settings.declare("scheduler_quiet_hours", list, [], "UTC windows without shadow traffic, HH:MM-HH:MM entries")
settings.declare("scheduler_auto_canary", bool, False,
                 "push a route the scheduler proved 'switch' as a canary through the routing endpoint")
settings.declare("scheduler_canary_share", float, 0.05, "traffic share of a canary the scheduler pushes")
settings.declare("scheduler_max_deferrals", int, 3,
                 "times a prompt spoiled by a provider failure is drawn again before it is stored as a failure")

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class TestParams(BaseModel):
    """The decision test's parameters (docs/proof.md "The decision"), locked into each route version."""

    model_config = ConfigDict(extra="forbid")
    alpha: float = Field(default=Params.alpha, gt=0, lt=0.5)
    beta: float = Field(default=Params.beta, gt=0, lt=0.5)
    min_n: int = Field(default=Params.n_min, ge=1, le=100_000)
    max_n: int = Field(default=Params.n_max, ge=1, le=100_000)
    max_loss: float = Field(default=Params.max_loss, gt=0, lt=1)
    margin: float = Field(default=Params.margin, ge=0, lt=0.5)
    max_unresolved: float = Field(default=Params.max_unresolved, gt=0, lt=1)

    def params(self) -> Params:
        return Params(alpha=self.alpha, beta=self.beta, n_min=self.min_n, n_max=self.max_n,
                      max_loss=self.max_loss, margin=self.margin, max_unresolved=self.max_unresolved)


class Policy(BaseModel):
    """The effective policy (``GET /api/v1/scheduler/policy``); a PUT body sets any subset of it."""

    model_config = ConfigDict(extra="forbid")
    services: list[str] = Field(default_factory=list, max_length=200)
    features: list[str] = Field(default_factory=list, max_length=200)
    min_calls_per_day: float = Field(default=20.0, ge=0)
    candidate_models: list[str] = Field(default_factory=list, max_length=200)
    candidate_providers: list[str] = Field(default_factory=list, max_length=50)
    judge: str = Field(default="", max_length=200)
    endpoint: str = Field(default="default", max_length=100)
    params: TestParams = Field(default_factory=TestParams)
    sample_rate: float = Field(default=0.1, gt=0, le=1)
    batch_size: int = Field(default=25, ge=1, le=1000)
    budget_route_usd: float = Field(default=5.0, ge=0)
    budget_day_usd: float = Field(default=5.0, ge=0)
    budget_month_usd: float = Field(default=50.0, ge=0)
    max_concurrent_routes: int = Field(default=2, ge=1, le=32)
    rate_limit_rpm: float = Field(default=600.0, gt=0)
    provider_rate_limits: dict[str, float] = Field(default_factory=dict)
    quiet_hours: list[str] = Field(default_factory=list, max_length=24)
    auto_canary: bool = False
    canary_share: float = Field(default=0.05, gt=0, le=1)
    max_deferrals: int = Field(default=3, ge=1, le=100)

    @field_validator("quiet_hours")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for window in value:
            if not _WINDOW.match(window.strip()):
                raise ValueError(f"quiet hours are HH:MM-HH:MM windows in UTC, got {window!r}")
        return [w.strip() for w in value]

    @field_validator("provider_rate_limits")
    @classmethod
    def _limits(cls, value: dict[str, float]) -> dict[str, float]:
        for provider, rpm in value.items():
            if not provider or rpm <= 0:
                raise ValueError(f"a provider rate limit is a provider name and requests per minute > 0, got {provider}={rpm}")
        return value

    def rpm(self, provider: str) -> float:
        return self.provider_rate_limits.get(provider, self.rate_limit_rpm)


def _rate_limits(entries: list[str]) -> dict[str, float]:
    limits = {}
    for entry in entries:
        name, sep, rpm = entry.partition("=")
        if not sep:
            raise ValueError(f"expected provider=rpm, got {entry!r}")
        limits[name.strip()] = float(rpm)
    return limits


def policy_defaults() -> dict[str, Any]:
    """The policy the settings give (before the stored overrides)."""
    return {
        "services": settings.get("scheduler_services"), "features": settings.get("scheduler_features"),
        "min_calls_per_day": settings.get("scheduler_min_calls_per_day"),
        "candidate_models": settings.get("scheduler_candidate_models"),
        "candidate_providers": settings.get("scheduler_candidate_providers"),
        "judge": settings.get("scheduler_judge_model") or settings.get("proof_judge_model"),
        "endpoint": settings.get("scheduler_endpoint"), "sample_rate": settings.get("scheduler_sample_rate"),
        "batch_size": settings.get("scheduler_batch_size"),
        "budget_route_usd": settings.get("scheduler_budget_route_usd"),
        "budget_day_usd": settings.get("scheduler_budget_day_usd"),
        "budget_month_usd": settings.get("scheduler_budget_month_usd"),
        "max_concurrent_routes": settings.get("scheduler_max_concurrent_routes"),
        "rate_limit_rpm": settings.get("scheduler_rate_limit_rpm"),
        "provider_rate_limits": _rate_limits(settings.get("scheduler_provider_rate_limits")),
        "quiet_hours": settings.get("scheduler_quiet_hours"),
        "auto_canary": settings.get("scheduler_auto_canary"),
        "canary_share": settings.get("scheduler_canary_share"),
        "max_deferrals": settings.get("scheduler_max_deferrals"),
    }


def effective_policy(overrides: dict[str, Any]) -> Policy:
    """Settings, then the stored overrides (``params`` merged field by field)."""
    raw = policy_defaults()
    for key, value in overrides.items():
        if key == "params" and isinstance(value, dict):
            raw["params"] = {**raw.get("params", {}), **value}
        else:
            raw[key] = value
    return Policy.model_validate(raw)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_quiet_hours(policy: Policy, now: datetime) -> str | None:
    """The quiet window ``now`` (UTC) falls in, or None; a window may wrap past midnight."""
    minute = now.hour * 60 + now.minute
    for window in policy.quiet_hours:
        start, end = (_minutes(part) for part in window.split("-"))
        inside = start <= minute < end if start <= end else (minute >= start or minute < end)
        if inside:
            return window
    return None

