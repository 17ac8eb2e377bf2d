"""No work is lost when a worker dies mid-job: `kill -9` one `rdflow worker`, start another, and every job ends.

The dead worker's jobs stop heartbeating; the new worker's reconciler puts them back in the queue (or fails
those out of attempts), and arq hands the job to the new worker once the dead one's claim on it expires
(job_timeout_s + grace + 10 s, so the timeout is kept short here).
"""

from __future__ import annotations

import pytest

from domain.enums import JobStatus
from tests.jobkinds import traced
from tests.jobstack import job_settings, open_stack

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


async def test_jobs_of_a_killed_worker_end_succeeded_or_failed(fresh_postgres_url, redis_url, redis_prefix, tmp_path):
    fields = job_settings(
        fresh_postgres_url, tmp_path, redis_url=redis_url, redis_prefix=redis_prefix, job_concurrency=2, job_timeout_s=5
    )
    stack = await open_stack(fields, tmp_path / "traces")
    try:
        first = stack.start_worker(fields, "doomed")
        again_log, once_log = stack.trace_path(), stack.trace_path()
        again = await stack.request("test.sleep", {"seconds": 3, "steps": 6, "log": str(again_log)}, max_attempts=3)
        once = await stack.request("test.sleep", {"seconds": 3, "steps": 6, "log": str(once_log)}, max_attempts=1)
        await stack.running(again.id)
        await stack.running(once.id)

        first.kill()
        stack.start_worker(fields, "survivor")

        rerun = await stack.finished(again.id, timeout=55)
        lost = await stack.finished(once.id, timeout=55)
        assert await stack.jobs_in(JobStatus.RUNNING, JobStatus.QUEUED) == []
    finally:
        await stack.aclose()

    assert (rerun.status, rerun.attempts, rerun.error) == (JobStatus.SUCCEEDED, 2, None)
    assert traced(again_log) == ["started attempt 1", "started attempt 2", "finished"]
    assert lost.status is JobStatus.FAILED and "after 1 attempts" in lost.error, lost.error
    assert lost.error.startswith(("worker lost", "gave up")), lost.error
    assert traced(once_log) == ["started attempt 1"]
