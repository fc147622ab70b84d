"""Service API of the proof engine (mounted through the ``tokenproof.api`` entry-point group).

- ``GET  /api/v1/candidates``: request groups ranked by spend with cheaper candidates (mining).
- ``POST /api/v1/shadow-runs`` (API token): start (or continue) a judged shadow comparison for a
  route as a background job; returns 202 with the job id. Provider endpoints are service settings:
  the body names one (``endpoint``); a ``base_url`` in the body is refused (422).
- ``GET  /api/v1/shadow-runs`` and ``GET /api/v1/shadow-runs/{job_id}[?wait_s=N]``: state, progress,
  result (``wait_s`` waits up to N seconds for the job to end).
- ``POST /api/v1/shadow-runs/{job_id}/cancel`` (API token): stop after the comparison in flight.
- ``GET  /api/v1/routes``: routes under test with their evidence.
- ``GET  /api/v1/routes/{route_id}/comparisons``: one route's stored comparisons and evidence.
- ``GET  /api/v1/recommendations``: decided "switch" routes with savings and confidence.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokenproof.analytics.proof import endpoints, job_api
from tokenproof.analytics.proof import store as proof_store
from tokenproof.analytics.proof.jobs import JobRegistry
from tokenproof.analytics.proof.judge import JudgeFamilyError, resolve_judge
from tokenproof.analytics.proof.mining import mine
from tokenproof.analytics.proof.prove import BatchFileError
from tokenproof.analytics.proof.recommend import recommendations, route_alpha_of, route_params, route_states
from tokenproof.analytics.proof.sequential import Params
from tokenproof.analytics.proof.shadow import ShadowSpec, evidence_for, run_shadow, uploaded_prompts
from tokenproof.collector.auth import require_api_token, require_content_scope

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["proof"])
_URL_FIELDS = ("base_url", "anthropic_base_url", "api_key", "anthropic_api_key")


def _jobs(request: Request) -> JobRegistry:
    return job_api.registry(request, "proof_jobs")


class ShadowRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_urls(cls, data):
        if isinstance(data, dict):
            named = [k for k in _URL_FIELDS if k in data]
            if named:
                raise ValueError(f"{', '.join(named)} cannot be set by a caller: provider endpoints and their "
                                 "credentials are service settings (proof_base_url, proof_endpoints); "
                                 "pick a configured endpoint by name with \"endpoint\"")
        return data

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
    endpoint: str = Field(default="default", description="name of a provider endpoint configured in the service")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    tolerate_json_fence: bool = False
    q0: float = Params.q0
    q1: float = Params.q1
    alpha: float = Params.alpha
    beta: float = Params.beta
    min_n: int = Params.n_min
    max_n: int = Params.n_max
    max_loss: float = Params.max_loss
    margin: float = Params.margin
    max_unresolved: float = Params.max_unresolved


@router.get("/candidates")
def candidates(request: Request, days: int = Query(30, ge=1, le=366), limit: int = Query(20, ge=1, le=500)) -> dict:
    groups = mine(request.app.state.store, days=days, limit=limit)
    return {"groups": [g.to_dict() for g in groups]}


def _bad_request(exc: Exception) -> HTTPException:
    return HTTPException(status_code=422, detail=str(exc))


@router.post("/shadow-runs", dependencies=[Depends(require_api_token)], status_code=202)
def shadow_run(request: Request, body: ShadowRunRequest) -> JSONResponse:
    try:
        params = Params(q0=body.q0, q1=body.q1, alpha=body.alpha, beta=body.beta, n_min=body.min_n,
                        n_max=body.max_n, max_loss=body.max_loss, margin=body.margin,
                        max_unresolved=body.max_unresolved)
        replayer = endpoints.replayer(body.endpoint, feature=body.feature or None)
        resolve_judge(body.baseline, body.candidate, body.judge)
        if body.requests is not None:
            uploaded_prompts(body.requests, body.baseline)  # validate before accepting the job
    except (ValueError, JudgeFamilyError, BatchFileError) as exc:
        raise _bad_request(exc) from None
    spec = ShadowSpec(baseline=body.baseline, candidate=body.candidate, service=body.service, feature=body.feature,
                      fingerprint=body.fingerprint, judge=body.judge,
                      candidate_system_prompt=body.candidate_system_prompt, budget_usd=body.budget_usd,
                      limit=body.limit, params=params, uploaded=body.requests, endpoint=body.endpoint,
                      seed=body.seed, tolerate_fence=body.tolerate_json_fence)
    store = request.app.state.store

    def work(job):
        return run_shadow(store, spec, replayer, progress=job.progress.update, cancel=job.cancel)
    return job_api.accept(_jobs(request), body.model_dump(exclude={"requests", "candidate_system_prompt"}), work, "/api/v1/shadow-runs")


@router.get("/shadow-runs")
def shadow_runs(request: Request) -> dict:
    return {"jobs": [j.to_dict() for j in _jobs(request).list()]}


@router.get("/shadow-runs/{job_id}")
def shadow_run_status(request: Request, job_id: str, wait_s: float = Query(0.0, ge=0.0, le=300.0)) -> dict:
    return job_api.wait(job_api.find(_jobs(request), job_id, "shadow run"), wait_s)


@router.post("/shadow-runs/{job_id}/cancel", dependencies=[Depends(require_api_token)])
def shadow_run_cancel(request: Request, job_id: str) -> dict:
    job = job_api.find(_jobs(request), job_id, "shadow run")
    job.cancel.set()
    return job.to_dict()


@router.get("/routes")
def routes(request: Request) -> dict:
    return {"routes": route_states(request.app.state.store)}


@router.get("/routes/{route_id}/comparisons", dependencies=[Depends(require_content_scope)])
def route_comparisons(request: Request, route_id: str) -> dict:
    store = request.app.state.store
    route = proof_store.get_route(store, route_id)
    if route is None:
        raise HTTPException(status_code=404, detail=f"no route {route_id!r}")
    evidence = evidence_for(store, route_id, route_params(route), route_alpha_of(route))
    return {"route": {k: (str(v) if k.endswith("At") else v) for k, v in route.items()},
            "evidence": evidence.summary(), "comparisons": proof_store.load_comparisons(store, route_id)}


@router.get("/recommendations")
def list_recommendations(request: Request) -> dict:
    return recommendations(request.app.state.store)
