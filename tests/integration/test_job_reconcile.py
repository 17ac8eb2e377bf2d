"""The reconciler on a real (SQLite) database: silent RUNNING jobs are queued again or failed, waiting QUEUED jobs
are handed back to the queue, and everything else is left alone."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.enums import JobStatus
from domain.events import DomainEvent
from domain.model import Job
from domain.services.base import Deps
from domain.services.jobs import JobLifecycle
from jobs.executor import JobExecutor
from jobs.inprocess import InProcessJobQueue
from jobs.reconciler import reconcile_once
from tests.jobkinds import HANDLERS, traced
from tests.jobrows import database_deps, reload, sqlite_deps, store

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=60)


class SettableClock:
    def __init__(self, now: datetime):
        self.now_value = now

    def now(self) -> datetime:
        return self.now_value


@pytest.fixture
async def deps(tmp_path):
    async with sqlite_deps(tmp_path, SettableClock(NOW)) as deps:
        yield deps


async def add(
    deps: Deps,
    status: JobStatus,
    seen_ago: timedelta,
    *,
    attempts: int = 1,
    max_attempts: int = 3,
    payload: dict | None = None,
) -> Job:
    seen = NOW - seen_ago
    job = Job(
        kind="test.sleep",
        subject_type="Test",
        subject_id=uuid.uuid4(),
        status=status,
        attempts=attempts,
        max_attempts=max_attempts,
        payload=payload or {},
        created_at=seen - timedelta(seconds=5),
        updated_at=seen,
        heartbeat_at=seen if status is JobStatus.RUNNING else None,
    )
    return await store(deps, job)


async def test_a_silent_running_job_is_queued_again(deps):
    job = await add(deps, JobStatus.RUNNING, timedelta(seconds=61), attempts=1)
    async with deps.bus.subscribe([f"Job:{job.id}"]) as stream:
        returned = await JobLifecycle(deps).reconcile(STALE)
        event: DomainEvent = await anext(stream)

    assert [j.id for j in returned] == [job.id]
    after = await reload(deps, job)
    assert (after.status, after.attempts, after.finished_at, after.updated_at) == (JobStatus.QUEUED, 1, None, NOW)
    assert after.message.startswith("worker lost (no heartbeat since 2030-01-01T11:58:59")
    assert (event.action, event.old_status, event.new_status) == ("reconciled", "RUNNING", "QUEUED")


async def test_a_silent_running_job_out_of_attempts_fails_with_the_reason(deps):
    job = await add(deps, JobStatus.RUNNING, timedelta(minutes=5), attempts=3, max_attempts=3)

    assert await JobLifecycle(deps).reconcile(STALE) == []
    after = await reload(deps, job)
    assert (after.status, after.finished_at) == (JobStatus.FAILED, NOW)
    assert after.error == "worker lost (no heartbeat since 2030-01-01T11:55:00+00:00) after 3 attempts"


async def test_live_and_finished_jobs_are_left_alone_and_long_queued_ones_are_returned(deps):
    beating = await add(deps, JobStatus.RUNNING, timedelta(seconds=59))
    fresh = await add(deps, JobStatus.QUEUED, timedelta(seconds=10))
    waiting = await add(deps, JobStatus.QUEUED, timedelta(minutes=10))
    finished = [
        await add(deps, status, timedelta(hours=1))
        for status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
    ]

    returned = await JobLifecycle(deps).reconcile(STALE)

    assert [j.id for j in returned] == [waiting.id]
    assert (await reload(deps, waiting)).status is JobStatus.QUEUED
    for job in (beating, fresh, *finished):
        after = await reload(deps, job)
        assert (after.status, after.updated_at, after.message) == (job.status, job.updated_at, job.message)


async def test_reconcile_once_hands_the_lost_job_to_a_queue_that_runs_it(deps, tmp_path):
    log = tmp_path / "trace.log"
    job = await add(
        deps,
        JobStatus.RUNNING,
        timedelta(minutes=2),
        attempts=1,
        payload={"seconds": 0.01, "steps": 1, "log": str(log)},
    )
    queue = InProcessJobQueue()
    deps.queue = queue
    queue.bind(JobExecutor(JobLifecycle(deps), HANDLERS, heartbeat_s=0.05))

    assert await reconcile_once(JobLifecycle(deps), queue, STALE) == 1
    await queue.join()

    after = await reload(deps, job)
    assert (after.status, after.attempts, after.result) == (JobStatus.SUCCEEDED, 2, {"slept": 0.01, "attempt": 2})
    assert traced(log) == ["started attempt 2", "finished"]
    assert await reconcile_once(JobLifecycle(deps), queue, STALE) == 0


@pytest.mark.postgres
async def test_a_job_its_worker_finishes_while_the_reconciler_looks_stays_finished(fresh_postgres_url):
    """The worker's heartbeats failed (an outage), so the job looks lost, but its worker goes on and finishes it
    while the reconciler runs: the reconciler must not put it back (it would run twice) or fail it."""
    async with database_deps(fresh_postgres_url, SettableClock(NOW)) as deps:
        job = await add(deps, JobStatus.RUNNING, timedelta(minutes=5))
        async with deps.uow() as worker:  # the finishing worker, holding the job's row meanwhile
            worker.begin_write()
            finishing = await worker.jobs.get_for_update(job.id)
            assert finishing is not None
            reconciling = asyncio.create_task(JobLifecycle(deps).reconcile(STALE))
            await asyncio.sleep(1)  # the reconciler has read the job as RUNNING and waits for its row
            finishing.status, finishing.finished_at = JobStatus.SUCCEEDED, NOW
            await worker.commit()
        assert await reconciling == []
        after = await reload(deps, job)
        assert (after.status, after.finished_at, after.message) == (JobStatus.SUCCEEDED, NOW, job.message)
