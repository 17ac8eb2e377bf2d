"""One contract for both job queues: the in-process runner, and arq with a real `rdflow worker` subprocess.

The in-process runner runs on SQLite (embedded mode, no services needed); arq on a real PostgreSQL database and a
real Redis with a queue of its own. Every job leaves a trace file (tests/jobkinds.py), so double runs and stopped
handlers are visible, not inferred.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from domain.enums import JobStatus
from domain.services.base import Tx
from domain.services.jobs import request_job
from tests import services
from tests.jobkinds import traced
from tests.jobstack import JobStack, job_settings, open_stack

CONCURRENCY = 2


@pytest.fixture(
    scope="module",
    params=["inprocess", pytest.param("arq", marks=[pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow])],
)
async def stack(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"jobs-{request.param}")
    if request.param == "inprocess":
        url, database = f"sqlite:///{data_dir}/jobs.db", None
    else:
        url, database = services.create_database()
    fields = job_settings(url, data_dir, job_concurrency=CONCURRENCY, redis_url=None)
    if request.param == "arq":
        fields.update(redis_url=services.check_redis(), redis_prefix=f"rdflow-test-{uuid.uuid4().hex[:8]}")
    jobs = await open_stack(fields, data_dir / "traces")
    if request.param == "arq":
        jobs.start_worker(fields)
    yield jobs
    await jobs.aclose()
    if database is not None:
        services.drop_database(database)


async def settle(stack: JobStack) -> None:
    """Runs one more job to its end, so anything enqueued before it (with a free slot) has had its turn."""
    for _ in range(CONCURRENCY):
        sentinel = await stack.request("test.count")
        assert (await stack.finished(sentinel.id)).status is JobStatus.SUCCEEDED


async def test_a_job_succeeds_with_progress_and_result(stack: JobStack):
    log = stack.trace_path()
    async with stack.recording() as events:
        job = await stack.request("test.sleep", {"seconds": 0.4, "steps": 4, "log": str(log)})
        done = await stack.finished(job.id)
        await stack.wait(
            job.id,
            lambda _: any(e.action == "succeeded" and e.entity_id == str(job.id) for e in events),
            "announced as succeeded",
        )

    assert done.status is JobStatus.SUCCEEDED
    assert (done.progress, done.result, done.error, done.attempts) == (100, {"slept": 0.4, "attempt": 1}, None, 1)
    assert done.started_at is not None and done.finished_at is not None and done.finished_at >= done.started_at
    mine = [e for e in events if e.entity_id == str(job.id)]
    assert [e.action for e in mine] == [
        "queued",
        "started",
        "progress",
        "progress",
        "progress",
        "progress",
        "succeeded",
    ]
    assert [e.data["progress"] for e in mine if e.action == "progress"] == [20, 40, 60, 80]
    assert mine[-1].data["result"] == {"slept": 0.4, "attempt": 1} and mine[-1].new_status == "SUCCEEDED"
    assert traced(log) == ["started attempt 1", "finished"]


async def test_enqueueing_twice_runs_once(stack: JobStack):
    log = stack.trace_path()
    job = await stack.request("test.count", {"log": str(log)})
    await stack.container.queue.enqueue(job.id, job.kind)
    await stack.container.queue.enqueue(job.id, job.kind)

    done = await stack.finished(job.id)
    await settle(stack)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 1)
    assert traced(log) == ["ran attempt 1"]


async def test_a_failing_job_fails_with_its_reason_and_is_not_retried(stack: JobStack):
    log = stack.trace_path()
    job = await stack.request("test.boom", {"message": "kaput", "log": str(log)})

    done = await stack.finished(job.id)
    assert (done.status, done.error, done.attempts) == (JobStatus.FAILED, "ValueError: kaput", 1)
    assert done.result is None and done.finished_at is not None
    assert traced(log) == ["ran attempt 1"]


async def test_a_flaky_job_is_retried_then_succeeds(stack: JobStack):
    log = stack.trace_path()
    job = await stack.request("test.flaky", {"failures": 2, "log": str(log)}, max_attempts=3)

    done = await stack.finished(job.id)
    assert (done.status, done.attempts, done.result, done.error) == (JobStatus.SUCCEEDED, 3, {"attempt": 3}, None)
    assert traced(log) == ["ran attempt 1", "ran attempt 2", "ran attempt 3"]


async def test_an_always_retryable_job_fails_after_its_attempts(stack: JobStack):
    log = stack.trace_path()
    job = await stack.request("test.flaky", {"failures": 99, "log": str(log)}, max_attempts=2)

    done = await stack.finished(job.id)
    assert (done.status, done.attempts) == (JobStatus.FAILED, 2)
    assert done.error == "dependency down on attempt 2 (gave up after 2 attempts)"
    await settle(stack)
    assert traced(log) == ["ran attempt 1", "ran attempt 2"]


async def test_cancelling_a_queued_job_means_it_never_runs(stack: JobStack):
    blockers = [await stack.request("test.sleep", {"seconds": 60, "steps": 120}) for _ in range(CONCURRENCY)]
    for blocker in blockers:
        await stack.running(blocker.id)
    log = stack.trace_path()
    queued = await stack.request("test.count", {"log": str(log)})

    cancelled = await stack.container.services.jobs.cancel(stack.admin, queued.id)
    assert (cancelled.status, cancelled.message) == (JobStatus.CANCELLED, "cancelled before it ran")
    for blocker in blockers:
        await stack.container.services.jobs.cancel(stack.admin, blocker.id)
        assert (await stack.finished(blocker.id)).status is JobStatus.CANCELLED
    await settle(stack)
    after = await stack.job(queued.id)
    assert (after.status, after.attempts, after.started_at) == (JobStatus.CANCELLED, 0, None)
    assert traced(log) == []


async def test_cancelling_a_running_job_stops_its_handler(stack: JobStack):
    log = stack.trace_path()
    job = await stack.request("test.sleep", {"seconds": 60, "steps": 120, "log": str(log)})
    await stack.running(job.id)

    requested = await stack.container.services.jobs.cancel(stack.admin, job.id)
    assert (requested.status, requested.cancel_requested) == (JobStatus.RUNNING, True)
    done = await stack.finished(job.id)
    assert (done.status, done.message) == (JobStatus.CANCELLED, "cancelled while running")
    assert done.result is None
    assert traced(log) == ["started attempt 1", "stopped"]


class CommitWitness:
    """A JobQueue in front of the real one that looks, at each enqueue, whether the row is already committed."""

    def __init__(self, stack: JobStack):
        self.stack = stack
        self.seen: list[tuple[uuid.UUID, bool]] = []

    async def enqueue(self, job_id: uuid.UUID, kind: str) -> None:
        self.seen.append((job_id, await self.stack.job(job_id) is not None))
        await self.stack.container.queue.enqueue(job_id, kind)

    async def cancel(self, job_id: uuid.UUID) -> None:
        await self.stack.container.queue.cancel(job_id)


async def test_the_row_is_committed_before_it_is_enqueued(stack: JobStack):
    witness = CommitWitness(stack)
    job = await stack.request("test.count", deps=dataclasses.replace(stack.deps, queue=witness))

    assert witness.seen == [(job.id, True)]
    assert (await stack.finished(job.id)).status is JobStatus.SUCCEEDED


async def test_a_rolled_back_request_enqueues_nothing(stack: JobStack):
    witness = CommitWitness(stack)
    log = stack.trace_path()
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with Tx(dataclasses.replace(stack.deps, queue=witness), stack.admin) as tx:
            job = await request_job(
                tx,
                kind="test.count",
                subject_type="Project",
                subject_id=stack.project_id,
                project_id=stack.project_id,
                payload={"log": str(log)},
            )
            raise RuntimeError("changed my mind")

    assert witness.seen == []
    assert await stack.job(job.id) is None
    await settle(stack)
    assert traced(log) == []
