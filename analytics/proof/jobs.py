"""Background shadow runs: start returns a job id; status, progress and cancel by id.

Jobs live in the service process (one worker thread each, at most ``proof_max_jobs`` running at
once); a job's final result is the route state :func:`~tokenproof.analytics.proof.shadow.run_shadow`
returns. Jobs are not persisted: after a restart the routes and their evidence are in the store, and
a new run continues the route where it stopped.
"""

from __future__ import annotations

import datetime as dt
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tokenproof import settings

__all__ = ["Job", "JobRegistry", "TooManyJobs"]

settings.declare("proof_max_jobs", int, 4, "background shadow runs running at once in the service")

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


class TooManyJobs(RuntimeError):
    pass


@dataclass
class Job:
    id: str
    spec: dict
    state: str = RUNNING
    progress: dict = field(default_factory=dict)
    result: dict | None = None
    error: str | None = None
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    finished_at: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict:
        return {"job_id": self.id, "state": self.state, "progress": dict(self.progress), "spec": self.spec,
                "result": self.result, "error": self.error, "created_at": self.created_at,
                "finished_at": self.finished_at, "cancel_requested": self.cancel.is_set()}


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, spec: dict, work: Callable[[Job], dict]) -> Job:
        with self._lock:
            running = sum(1 for j in self._jobs.values() if j.state == RUNNING)
            if running >= settings.get("proof_max_jobs"):
                raise TooManyJobs(f"{running} shadow runs are running already (proof_max_jobs)")
            job = Job("job_" + uuid.uuid4().hex[:16], spec)
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, work), name=f"tokenproof-{job.id}", daemon=True)
        thread.start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], dict]) -> None:
        try:
            result: Any = work(job)
            job.result = result
            job.state = CANCELLED if job.cancel.is_set() else DONE
        except Exception as exc:  # the job's failure is its status, never the service's
            job.error = f"{type(exc).__name__}: {exc}"
            job.progress["traceback"] = traceback.format_exc(limit=3)
            job.state = FAILED
        finally:
            job.finished_at = dt.datetime.now(dt.UTC).isoformat()
            job.finished.set()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())
