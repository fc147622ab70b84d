"""Service API of prompt optimisation (mounted through the ``tokenproof.api`` entry-point group).

- ``POST /api/v1/optimize-runs`` (API token): optimise a route's candidate system prompt as a
  background job on the group's captured prompts (or uploaded Batch API lines in ``requests``);
  202 with the job id. Endpoints are service settings picked by name (``endpoint``,
  ``optimizer_endpoint``); a URL or key in the body is refused (422). ``shadow: true`` starts the
  normal shadow proof of the new route version when the run chose a new prompt, on prompts the
  optimiser never used.
- ``GET  /api/v1/optimize-runs`` and ``GET /api/v1/optimize-runs/{job_id}[?wait_s=N]``: state,
  progress and, once done, the report (``result``) with its text summary (``result.text``).
- ``POST /api/v1/optimize-runs/{job_id}/cancel`` (API token): stop the search at the next comparison.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokenproof.analytics.proof import endpoints, job_api
from tokenproof.analytics.proof.jobs import JobRegistry
from tokenproof.analytics.proof.judge import JudgeFamilyError, resolve_judge
from tokenproof.analytics.proof.optimize.check import REFERENCE_CHECK
from tokenproof.analytics.proof.optimize.report import summary_text
from tokenproof.analytics.proof.optimize.search import OptimizeSpec, prompts_from_batch, run_optimize
from tokenproof.analytics.proof.prove import BatchFileError
from tokenproof.analytics.proof.sequential import Params
from tokenproof.analytics.proof.shadow import ShadowSpec, run_shadow
from tokenproof.collector.auth import require_api_token

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["optimize"])
_URL_FIELDS = ("base_url", "anthropic_base_url", "api_key", "anthropic_api_key", "optimizer_base_url",
               "optimizer_api_key")


def _jobs(request: Request) -> JobRegistry:
    return job_api.registry(request, "optimize_jobs")


class OptimizeRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_urls(cls, data):
        if isinstance(data, dict):
            named = [k for k in _URL_FIELDS if k in data]
            if named:
                raise ValueError(f"{', '.join(named)} cannot be set by a caller: provider endpoints and their "
                                 "credentials are service settings (proof_base_url, proof_endpoints); pick "
                                 "configured endpoints by name with \"endpoint\" and \"optimizer_endpoint\"")
        return data

    baseline: str
    candidate: str
    service: str = ""
    feature: str = ""
    fingerprint: str = ""
    judge: str | None = Field(default=None, description=f"a judge model, or {REFERENCE_CHECK!r}; "
                              "default: the reference check where answers are checkable")
    optimizer_model: str | None = None
    candidate_system_prompt: str | None = None
    endpoint: str = "default"
    optimizer_endpoint: str | None = None
    rounds: int = Field(default=3, ge=1, le=10)
    variants_per_round: int = Field(default=3, ge=1, le=8)
    finalists: int = Field(default=3, ge=1, le=10)
    fewshot_tokens: int | None = Field(default=None, ge=0, le=20000)
    max_demos: int = Field(default=3, ge=0, le=10)
    optimise_size: int = Field(default=30, ge=1, le=500)
    select_size: int = Field(default=20, ge=1, le=500)
    held_out_size: int = Field(default=60, ge=1, le=2000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    budget_tokens: int | None = Field(default=None, ge=0)
    budget_usd: float | None = Field(default=None, ge=0)
    monthly_calls: float | None = Field(default=None, ge=0)
    requests: list[dict] | None = Field(default=None, description="uploaded Batch API input lines")
    tolerate_json_fence: bool = False
    shadow: bool = Field(default=False, description="start the shadow proof of the new route version")
    shadow_limit: int = Field(default=50, ge=1, le=5000)
    shadow_budget_usd: float | None = Field(default=None, ge=0)
    alpha: float = Params.alpha
    max_loss: float = Params.max_loss
    margin: float = Params.margin
    min_n: int = Params.n_min
    max_n: int = Params.n_max
    max_unresolved: float = Params.max_unresolved


def _spec(body: OptimizeRunRequest, params: Params) -> OptimizeSpec:
    return OptimizeSpec(
        baseline=body.baseline, candidate=body.candidate, service=body.service, feature=body.feature,
        fingerprint=body.fingerprint, judge=body.judge, optimizer_model=body.optimizer_model,
        candidate_system_prompt=body.candidate_system_prompt, endpoint=body.endpoint,
        optimizer_endpoint=body.optimizer_endpoint, rounds=body.rounds, variants_per_round=body.variants_per_round,
        finalists=body.finalists, fewshot_tokens=body.fewshot_tokens, max_demos=body.max_demos,
        caps=(body.optimise_size, body.select_size, body.held_out_size), seed=body.seed,
        budget_tokens=body.budget_tokens, budget_usd=body.budget_usd, params=params, uploaded=body.requests,
        tolerate_fence=body.tolerate_json_fence, monthly_calls=body.monthly_calls)


def optimise_then_prove(store, spec: OptimizeSpec, body: OptimizeRunRequest, replayer, optimizer_replayer, job) -> dict:
    """The optimisation report; with ``body.shadow``, the new version's shadow proof on fresh prompts."""
    report = run_optimize(store, spec, replayer, optimizer_replayer, progress=job.progress.update, cancel=job.cancel)
    report["text"] = summary_text(report)
    if body.shadow and report["changed"] and not job.cancel.is_set():
        used = frozenset(ref for refs in report["split"]["refs"].values() for ref in refs)
        shadow = ShadowSpec(baseline=spec.baseline, candidate=spec.candidate, service=spec.service,
                            feature=spec.feature, fingerprint=spec.fingerprint, judge=report["proof_judge"],
                            candidate_system_prompt=report["chosen"]["prompt"], budget_usd=body.shadow_budget_usd,
                            limit=body.shadow_limit, params=spec.params, uploaded=spec.uploaded,
                            endpoint=spec.endpoint, seed=spec.seed + 1, tolerate_fence=spec.tolerate_fence,
                            exclude_prompt_refs=used)
        report["shadow"] = run_shadow(store, shadow, replayer, cancel=job.cancel)
    return report


@router.post("/optimize-runs", dependencies=[Depends(require_api_token)], status_code=202)
def optimize_run(request: Request, body: OptimizeRunRequest) -> JSONResponse:
    try:
        params = Params(alpha=body.alpha, max_loss=body.max_loss, margin=body.margin, n_min=body.min_n,
                        n_max=body.max_n, max_unresolved=body.max_unresolved)
        replayer = endpoints.replayer(body.endpoint, feature=body.feature or None)
        optimizer_replayer = (endpoints.replayer(body.optimizer_endpoint, feature=body.feature or None)
                              if body.optimizer_endpoint else None)
        resolve_judge(body.baseline, body.candidate, None if body.judge == REFERENCE_CHECK else body.judge)
        if body.requests is not None:
            prompts_from_batch(body.requests, body.baseline)  # validate before accepting the job
    except (ValueError, JudgeFamilyError, BatchFileError) as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    spec = _spec(body, params)
    store = request.app.state.store

    def work(job):
        return optimise_then_prove(store, spec, body, replayer, optimizer_replayer, job)
    return job_api.accept(_jobs(request), body.model_dump(exclude={"requests", "candidate_system_prompt"}), work, "/api/v1/optimize-runs")


@router.get("/optimize-runs")
def optimize_runs(request: Request) -> dict:
    return {"jobs": [j.to_dict() for j in _jobs(request).list()]}


@router.get("/optimize-runs/{job_id}")
def optimize_run_status(request: Request, job_id: str, wait_s: float = Query(0.0, ge=0.0, le=300.0)) -> dict:
    return job_api.wait(job_api.find(_jobs(request), job_id, "optimisation run"), wait_s)


@router.post("/optimize-runs/{job_id}/cancel", dependencies=[Depends(require_api_token)])
def optimize_run_cancel(request: Request, job_id: str) -> dict:
    job = job_api.find(_jobs(request), job_id, "optimisation run")
    job.cancel.set()
    return job.to_dict()
