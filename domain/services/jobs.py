"""Jobs: requested inside the change that needs them, run by a queue, every state change committed and published."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain import status as machines
from domain.enums import JobStatus, Role
from domain.errors import Forbidden, InvalidInput, ServiceUnavailable
from domain.model import Job
from domain.permissions import Viewer
from domain.services.access import load, require_member
from domain.services.base import Deps, Tx, snapshot

TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
MAX_ERROR = 4_000


def job_data(job: Job) -> dict[str, Any]:
    """What subscribers need to show a job without reading the database."""
    return snapshot(job)


def _emit(tx: Tx, job: Job, action: str, old: JobStatus | None = None) -> None:
    tx.emit("Job", job.id, action, project_id=job.project_id, old_status=old, new_status=job.status, data=job_data(job))


async def request_job(
    tx: Tx,
    *,
    kind: str,
    subject_type: str,
    subject_id: uuid.UUID,
    project_id: uuid.UUID | None,
    payload: dict[str, Any],
    max_attempts: int = 3,
) -> Job:
    """Add a QUEUED job row to this transaction; it is enqueued only once the transaction commits."""
    queue = tx.deps.queue
    if queue is None:
        raise ServiceUnavailable("no job queue is configured")
    now = tx.now()
    job = Job(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        project_id=project_id,
        payload=payload,
        max_attempts=max_attempts,
        requested_by=tx.viewer.user_id,
        created_at=now,
        updated_at=now,
    )
    tx.uow.jobs.add(job)
    tx.audit("job.request", "Job", job.id, None, {"kind": kind, "subject": f"{subject_type}:{subject_id}"})
    _emit(tx, job, "queued")
    tx.after_commit.append(lambda: queue.enqueue(job.id, kind))
    return job


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 60.0) -> float:
    """Exponential backoff after the given (1-based) attempt: base, 2*base, 4*base, ... capped."""
    return min(cap, base * 2.0 ** max(0, attempt - 1))


class JobService:
    def __init__(self, deps: Deps):
        self.deps = deps

    async def get(self, viewer: Viewer, job_id: uuid.UUID) -> Job:
        async with self.deps.uow() as uow:
            job = await load(uow.jobs, "Job", job_id)
            await self._require_read(uow, viewer, job)
            return job

    @staticmethod
    async def _require_read(uow: Any, viewer: Viewer, job: Job) -> None:
        if job.project_id is not None:
            await require_member(uow, viewer, job.project_id)
        elif viewer.require_login() != job.requested_by and not viewer.is_super_admin:
            raise Forbidden("job:read", "only the requester or a super admin may read this job")

    async def cancel(self, viewer: Viewer, job_id: uuid.UUID) -> Job:
        async with Tx(self.deps, viewer, "job.cancel") as tx:
            job = await load(tx.uow.jobs, "Job", job_id, for_update=True)
            await self._require_read(tx.uow, viewer, job)
            if viewer.user_id != job.requested_by and viewer.role not in (Role.SUPER_ADMIN, Role.PROJECT_ADMIN):
                raise Forbidden("job:cancel", "only the requester or a project admin may cancel this job")
            if job.status in TERMINAL:
                raise InvalidInput(
                    f"job is already {job.status.value}",
                    field="id",
                    details={"currentStatus": job.status.value, "requestedStatus": "CANCELLED"},
                )
            request_cancel(tx, job)
        return job


def request_cancel(tx: Tx, job: Job) -> None:
    """Cancel a job that has not ended (its row locked by the caller): a queued one at once, a running one through
    the queue once this transaction commits (the executor records CANCELLED)."""
    old = job.status
    if job.status is JobStatus.QUEUED:
        job.status, job.finished_at, job.message = JobStatus.CANCELLED, tx.now(), "cancelled before it ran"
    else:
        job.cancel_requested, job.message = True, "cancellation requested"
    job.updated_at = tx.now()
    tx.audit("job.cancel", "Job", job.id, {"status": old.value}, {"status": job.status.value})
    _emit(tx, job, "cancel_requested" if job.cancel_requested else "cancelled", old)
    queue = tx.deps.queue
    if queue is not None:
        tx.after_commit.append(lambda: queue.cancel(job.id))


class JobLifecycle:
    """State changes made by the executor and the reconciler, each in its own committed transaction."""

    def __init__(self, deps: Deps):
        self.deps = deps

    def _tx(self) -> Tx:
        return Tx(self.deps, Viewer(request_id="jobs"))

    async def _change(
        self, job_id: uuid.UUID, action: str, change: Callable[[Job, datetime], bool | None]
    ) -> Job | None:
        async with self._tx() as tx:
            job = await tx.uow.jobs.get_for_update(job_id)
            if job is None:
                return None
            old = job.status
            if change(job, tx.now()) is False:
                return job
            job.updated_at = tx.now()
            if job.status is not old:
                machines.check_transition(machines.JOB, "job", old, job.status)
            _emit(tx, job, action, old)
            return job

    async def claim(self, job_id: uuid.UUID) -> Job | None:
        """QUEUED (or re-delivered RUNNING) -> RUNNING with one more attempt; None when there is nothing to run."""

        def start(job: Job, now: datetime) -> bool:
            if job.status in TERMINAL:
                return False
            if job.cancel_requested:
                job.status, job.finished_at, job.message = JobStatus.CANCELLED, now, "cancelled"
                return True
            if job.attempts >= job.max_attempts:
                job.status, job.finished_at = JobStatus.FAILED, now
                job.error = job.error or f"gave up after {job.attempts} attempts"
                return True
            job.status, job.attempts = JobStatus.RUNNING, job.attempts + 1
            job.started_at = job.started_at or now
            job.heartbeat_at, job.message = now, f"attempt {job.attempts} of {job.max_attempts}"
            return True

        job = await self._change(job_id, "started", start)
        return job if job is not None and job.status is JobStatus.RUNNING else None

    async def progress(self, job_id: uuid.UUID, percent: int, message: str | None = None) -> None:
        def advance(job: Job, now: datetime) -> bool:
            if job.status is not JobStatus.RUNNING:
                return False
            job.progress = max(job.progress, min(100, max(0, int(percent))))
            job.message, job.heartbeat_at = message, now
            return True

        await self._change(job_id, "progress", advance)

    async def heartbeat(self, job_id: uuid.UUID) -> bool:
        """Record liveness; returns whether cancellation was requested."""
        async with self._tx() as tx:
            job = await tx.uow.jobs.get(job_id)
            if job is None:
                return True
            job.heartbeat_at = tx.now()
            return job.cancel_requested

    async def succeed(self, job_id: uuid.UUID, result: dict[str, Any]) -> None:
        def done(job: Job, now: datetime) -> bool:
            if job.status in TERMINAL:
                return False  # cancelled (or given up) meanwhile: that outcome stands
            job.status, job.progress, job.result, job.finished_at = JobStatus.SUCCEEDED, 100, result, now
            job.message, job.error = "done", None
            return True

        await self._change(job_id, "succeeded", done)

    async def fail(self, job_id: uuid.UUID, error: str) -> None:
        def failed(job: Job, now: datetime) -> bool:
            if job.status in TERMINAL:
                return False
            job.status, job.error, job.finished_at = JobStatus.FAILED, error[:MAX_ERROR], now
            job.message = "failed"
            return True

        await self._change(job_id, "failed", failed)

    async def cancelled(self, job_id: uuid.UUID) -> None:
        def stop(job: Job, now: datetime) -> bool:
            if job.status in TERMINAL:
                return False
            job.status, job.finished_at, job.message = JobStatus.CANCELLED, now, "cancelled while running"
            return True

        await self._change(job_id, "cancelled", stop)

    async def retry_later(self, job_id: uuid.UUID, error: str, delay: float) -> None:
        def requeue(job: Job, now: datetime) -> None:
            job.status, job.error = JobStatus.QUEUED, error[:MAX_ERROR]
            job.message = f"attempt {job.attempts} failed, retrying in {delay:.0f}s: {error[:200]}"

        await self._change(job_id, "retrying", requeue)

    async def reconcile(self, stale_after: timedelta) -> list[Job]:
        """RUNNING jobs whose worker went silent go back to QUEUED (or FAILED when out of attempts), and
        QUEUED jobs that waited too long are returned too, to be enqueued again (the queue dedupes)."""
        now = self.deps.clock.now()
        to_enqueue: list[Job] = []
        async with self._tx() as tx:
            for candidate in await tx.uow.jobs.find_in("status", [JobStatus.RUNNING, JobStatus.QUEUED]):
                if _last_seen(candidate, now, stale_after) is None:
                    continue
                # Locked and read again: its worker may have finished it since it was read (a worker whose
                # heartbeats failed during an outage goes on), and a finished job must stay finished.
                job = await tx.uow.jobs.get_for_update(candidate.id)
                seen = _last_seen(job, now, stale_after) if job is not None else None
                if job is None or seen is None or job.status not in (JobStatus.RUNNING, JobStatus.QUEUED):
                    continue
                old = job.status
                if job.status is JobStatus.RUNNING:
                    if job.attempts >= job.max_attempts:
                        job.status, job.finished_at = JobStatus.FAILED, now
                        job.error = f"worker lost (no heartbeat since {seen.isoformat()}) after {job.attempts} attempts"
                    else:
                        job.status = JobStatus.QUEUED
                        job.message = f"worker lost (no heartbeat since {seen.isoformat()}); queued again"
                job.updated_at = now
                if job.status is JobStatus.QUEUED:
                    to_enqueue.append(job)
                if job.status is not old:
                    _emit(tx, job, "reconciled", old)
        return to_enqueue


def _last_seen(job: Job, now: datetime, stale_after: timedelta) -> datetime | None:
    """When `job` was last heard of, if that is `stale_after` or more ago; else None."""
    seen = job.heartbeat_at or job.updated_at or job.created_at
    return seen if seen is not None and now - seen >= stale_after else None
