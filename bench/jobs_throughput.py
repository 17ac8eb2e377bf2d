"""Benchmark: jobs per second through the in-process queue and through one `rdflow worker` (arq) subprocess.

    .venv/bin/python -m bench.jobs_throughput [--jobs 500] [--concurrency 10]

Each run gets a fresh PostgreSQL database (TEST_DATABASE_URL's server) and, for arq, its own Redis queue.
A job is the trivial `test.count` kind: what is measured is the job machinery (a row claimed, heartbeated
and finished in committed transactions, each change published), not the work. Requesting all jobs is one
transaction; the clock runs from its start until every row is SUCCEEDED.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from domain.enums import JobStatus
from domain.services.base import Tx
from domain.services.jobs import TERMINAL, request_job
from tests import services
from tests.jobstack import JobStack, job_settings, open_stack


async def request_many(stack: JobStack, n: int) -> list[uuid.UUID]:
    async with Tx(stack.deps, stack.admin) as tx:
        return [
            (
                await request_job(
                    tx,
                    kind="test.count",
                    subject_type="Project",
                    subject_id=stack.project_id,
                    project_id=stack.project_id,
                    payload={},
                )
            ).id
            for _ in range(n)
        ]


async def wait_all(stack: JobStack, ids: list[uuid.UUID]) -> list[JobStatus]:
    """Final statuses, polling only the rows not finished yet so the watching costs little."""
    pending, done = set(ids), []
    while pending:
        async with stack.deps.uow() as uow:
            finished = [job for job in await uow.jobs.get_many(list(pending)) if job.status in TERMINAL]
        done += [job.status for job in finished]
        pending -= {job.id for job in finished}
        for worker in stack.workers:
            worker.check_alive()
        if pending:
            await asyncio.sleep(0.1)
    return done


async def measure(label: str, fields: dict, n: int, data_dir: Path) -> None:
    stack = await open_stack(fields, data_dir / "traces")
    try:
        if fields.get("redis_url"):
            stack.start_worker(fields)
        await wait_all(stack, await request_many(stack, 1))  # warm up: worker started, connections open
        start = time.perf_counter()
        ids = await request_many(stack, n)
        requested = time.perf_counter() - start
        statuses = await wait_all(stack, ids)
        elapsed = time.perf_counter() - start
    finally:
        await stack.aclose()
    ok = statuses.count(JobStatus.SUCCEEDED)
    print(
        f"{label:<28} {n} jobs in {elapsed:6.2f} s = {n / elapsed:7.1f} jobs/s "
        f"(requesting {requested:.2f} s; {ok}/{n} succeeded)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10, help="jobs at once (RDFLOW_JOB_CONCURRENCY)")
    args = parser.parse_args()
    redis_url = services.check_redis()
    for label, extra in (
        ("in-process queue", {"redis_url": None}),
        ("arq, one worker process", {"redis_url": redis_url, "redis_prefix": f"rdflow-bench-{uuid.uuid4().hex[:8]}"}),
    ):
        url, database = services.create_database()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                fields = job_settings(
                    url,
                    Path(tmp),
                    job_concurrency=args.concurrency,
                    job_heartbeat_s=2.0,
                    job_stale_after_s=60.0,
                    **extra,
                )
                await measure(label, fields, args.jobs, Path(tmp))
        finally:
            services.drop_database(database)


if __name__ == "__main__":
    asyncio.run(main())
