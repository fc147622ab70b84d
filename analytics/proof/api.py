"""Service API of the proof engine (mounted through the ``tokenproof.api`` entry-point group).

- ``GET  /api/v1/candidates``: request groups ranked by spend with cheaper candidates (mining).
- ``POST /api/v1/shadow-runs`` (API token): run or continue a judged shadow comparison for a route.
- ``GET  /api/v1/routes``: routes under test with their evidence.
- ``GET  /api/v1/routes/{route_id}/comparisons``: one route's stored comparisons and evidence.
- ``GET  /api/v1/recommendations``: decided "switch" routes with savings and confidence.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from tokenproof import settings
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.judge import JudgeFamilyError
from tokenproof.analytics.proof.mining import mine
from tokenproof.analytics.proof.prove import BatchFileError
from tokenproof.analytics.proof.recommend import recommendations, route_params, route_states
from tokenproof.analytics.proof.replay import Replayer
from tokenproof.analytics.proof.sequential import Params, alpha_spending
from tokenproof.analytics.proof.shadow import ShadowSpec, evidence_for, run_shadow
from tokenproof.collector.auth import require_api_token

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["proof"])


def _at_least_one(value: int) -> None:
    if value < 1:
        raise ValueError("must be at least 1")


settings.declare("proof_portfolio_routes", int, 1,
                 "routes tested at once for portfolio control: each shadow run's alpha is alpha / this "
                 "(Bonferroni alpha spending; 1 = per-route control)",
                 validate=_at_least_one)


class ShadowRunRequest(BaseModel):
    baseline: str
    candidate: str
    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    judge: str | None = None
    candidate_system_prompt: str | None = None
    budget_usd: float | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=5000)
    requests: list[dict] | None = Field(default=None, description="uploaded Batch API input lines (instead of captured prompts)")
    base_url: str | None = None
    anthropic_base_url: str | None = None
    q0: float = 0.85
    q1: float = 0.95
    alpha: float = 0.05
    beta: float = 0.05
    min_n: int = 30
    max_n: int = 400


@router.get("/candidates")
def candidates(request: Request, days: int = Query(30, ge=1, le=366), limit: int = Query(20, ge=1, le=500)) -> dict:
    groups = mine(request.app.state.store, days=days, limit=limit)
    return {"groups": [g.to_dict() for g in groups]}


@router.post("/shadow-runs", dependencies=[Depends(require_api_token)])
def shadow_run(request: Request, body: ShadowRunRequest) -> dict:
    try:
        # portfolio control by alpha spending: each of m routes tested at once gets alpha / m
        alpha = alpha_spending(settings.get("proof_portfolio_routes"), body.alpha)
        params = Params(q0=body.q0, q1=body.q1, alpha=alpha, beta=body.beta, n_min=body.min_n, n_max=body.max_n)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    spec = ShadowSpec(baseline=body.baseline, candidate=body.candidate, service=body.service, feature=body.feature,
                      fingerprint=body.fingerprint, judge=body.judge,
                      candidate_system_prompt=body.candidate_system_prompt, budget_usd=body.budget_usd,
                      limit=body.limit, params=params, uploaded=body.requests)
    replayer = None
    if body.base_url or body.anthropic_base_url:
        replayer = Replayer(base_url=body.base_url, anthropic_base_url=body.anthropic_base_url,
                            feature=body.feature or None)
    try:
        return run_shadow(request.app.state.store, spec, replayer)
    except (JudgeFamilyError, BatchFileError) as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.get("/routes")
def routes(request: Request) -> dict:
    return {"routes": route_states(request.app.state.store)}


@router.get("/routes/{route_id}/comparisons")
def route_comparisons(request: Request, route_id: str) -> dict:
    store = request.app.state.store
    route = proof_store.get_route(store, route_id)
    if route is None:
        raise HTTPException(status_code=404, detail=f"no route {route_id!r}")
    evidence = evidence_for(store, route_id, route_params(route))
    return {"route": {k: (str(v) if k.endswith("At") else v) for k, v in route.items()},
            "evidence": evidence.summary(), "comparisons": proof_store.load_comparisons(store, route_id)}


@router.get("/recommendations")
def list_recommendations(request: Request) -> dict:
    return recommendations(request.app.state.store)
