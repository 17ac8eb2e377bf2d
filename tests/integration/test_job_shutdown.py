"""Closing the in-process queue stops every running job for good, even when stopping meets an outage.

Before, a cancelled job whose clean-up failed with an outage (the SQLite write lock taken, say) was treated as a
failed attempt and delivered again, and the retry loop outlived `aclose()`: the server's shutdown (and CI) hung.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from domain.enums import JobStatus
from domain.model import Job
from domain.services.base import Deps
from domain.services.jobs import JobLifecycle
from integrations.clock import SystemClock
from jobs.executor import JobExecutor
from jobs.inprocess import InProcessJobQueue
from jobs.registry import JobContext
from server.outages import unavailable
from tests.jobrows import reload, sqlite_deps, store

# aclose() returns in well under a second once it works; this only turns a regression into a failure, not a hang.
HANG_GUARD_S = 20


@pytest.fixture
async def deps(tmp_path):
    async with sqlite_deps(tmp_path, SystemClock()) as deps:
        yield deps


async def queued_job(deps: Deps) -> Job:
    now = datetime.now(UTC)
    return await store(
        deps, Job(kind="test.stubborn", subject_type="Test", subject_id=uuid.uuid4(), created_at=now, updated_at=now)
    )


class Started:
    """A handler that counts its starts and, once cancelled, fails its clean-up with an outage (unless told not to)."""

    def __init__(self, *, clean_up_fails: bool = True) -> None:
        self.runs = 0
        self.running = asyncio.Event()
        self.clean_up_fails = clean_up_fails

    async def __call__(self, ctx: JobContext) -> dict:
        self.runs += 1
        self.running.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            if self.clean_up_fails:
                raise ConnectionError("the clean-up found the database locked") from None
            raise
        return {}


class HeartbeatDownWhenStopping(JobLifecycle):
    """The executor's own bookkeeping after a cancellation meets an outage."""

    stopping = False

    async def heartbeat(self, job_id: uuid.UUID) -> bool:
        if self.stopping:
            raise ConnectionError("the database went away during shutdown")
        return await super().heartbeat(job_id)


async def start(deps: Deps, lifecycle: JobLifecycle, handler: Started) -> tuple[InProcessJobQueue, Job]:
    queue = InProcessJobQueue(timeout_s=120)
    executor = JobExecutor(
        lifecycle, {"test.stubborn": handler}, heartbeat_s=0.05, backoff_base_s=0.01, outage=unavailable
    )
    queue.bind(executor)
    job = await queued_job(deps)
    await queue.enqueue(job.id, job.kind)
    await asyncio.wait_for(handler.running.wait(), HANG_GUARD_S)
    return queue, job


async def test_a_job_whose_clean_up_meets_an_outage_is_not_run_again_after_close(deps):
    handler = Started()
    queue, job = await start(deps, JobLifecycle(deps), handler)

    await asyncio.wait_for(queue.aclose(), HANG_GUARD_S)
    await asyncio.sleep(0.1)  # a retry that escaped would have started by now (its backoff is 10 ms)

    assert handler.runs == 1
    assert (await reload(deps, job)).status in (JobStatus.RUNNING, JobStatus.QUEUED)  # left for the reconciler


async def test_a_stop_whose_bookkeeping_meets_an_outage_still_ends_the_job_task(deps):
    handler = Started(clean_up_fails=False)
    lifecycle = HeartbeatDownWhenStopping(deps)
    queue, job = await start(deps, lifecycle, handler)

    lifecycle.stopping = True
    await asyncio.wait_for(queue.aclose(), HANG_GUARD_S)
    await asyncio.sleep(0.1)

    assert handler.runs == 1
    assert (await reload(deps, job)).status is JobStatus.RUNNING  # the reconciler takes it over later


async def test_a_requested_cancel_whose_clean_up_meets_an_outage_ends_cancelled(deps):
    handler = Started()
    lifecycle = JobLifecycle(deps)
    queue, job = await start(deps, lifecycle, handler)

    async with deps.uow() as uow:
        row = await uow.jobs.get_for_update(job.id)
        assert row is not None
        row.cancel_requested = True
        await uow.commit()
    await queue.cancel(job.id)
    await asyncio.wait_for(queue.join(), HANG_GUARD_S)

    assert handler.runs == 1
    assert (await reload(deps, job)).status is JobStatus.CANCELLED
    await queue.aclose()


async def test_the_executor_reports_a_stopped_run_as_stopped_not_as_one_to_deliver_again(deps):
    """What a worker (arq's or the in-process one) is told when stopping a job meets an outage."""
    handler = Started(clean_up_fails=False)
    lifecycle = HeartbeatDownWhenStopping(deps)
    executor = JobExecutor(lifecycle, {"test.stubborn": handler}, heartbeat_s=0.05, outage=unavailable)
    job = await queued_job(deps)
    run = asyncio.create_task(executor.run_with_deadline(job.id, 120))
    await asyncio.wait_for(handler.running.wait(), HANG_GUARD_S)

    lifecycle.stopping = True
    run.cancel()
    outcome = (await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), HANG_GUARD_S))[0]

    assert isinstance(outcome, asyncio.CancelledError), outcome
    assert (await reload(deps, job)).status is JobStatus.RUNNING
