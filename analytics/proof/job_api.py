"""The HTTP side of background jobs, shared by shadow runs and optimisation runs.

Each kind of job keeps its own :class:`~tokenproof.analytics.proof.jobs.JobRegistry` on the app
(``app.state.<name>``); starting answers 202 with the job and its status URL (429 with Retry-After
when too many run), an unknown id answers 404, and a status read may wait for the job to end.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from tokenproof.analytics.proof.jobs import Job, JobRegistry, TooManyJobs

__all__ = ["accept", "find", "registry", "wait"]


def registry(request: Request, name: str) -> JobRegistry:
    jobs = getattr(request.app.state, name, None)
    if jobs is None:
        jobs = JobRegistry()
        setattr(request.app.state, name, jobs)
    return jobs


def accept(jobs: JobRegistry, spec: dict, work: Callable[[Job], dict], status_path: str) -> JSONResponse:
    """Start ``work`` as a background job: 202 with the job, or 429 when too many are running."""
    try:
        job = jobs.start(spec, work)
    except TooManyJobs as exc:
        raise HTTPException(status_code=429, detail=str(exc), headers={"Retry-After": "30"}) from None
    return JSONResponse(status_code=202, content={**job.to_dict(), "status_url": f"{status_path}/{job.id}"})


def find(jobs: JobRegistry, job_id: str, what: str) -> Job:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no {what} {job_id!r}")
    return job


def wait(job: Job, wait_s: float) -> dict:
    """The job's state, after waiting up to ``wait_s`` seconds for it to end."""
    if wait_s > 0:
        job.finished.wait(wait_s)
    return job.to_dict()
