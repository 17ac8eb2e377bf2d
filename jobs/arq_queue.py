"""The production job queue: one arq job per job row, keyed by the row's id, run by `rdflow worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import replace

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.jobs import Job as ArqJob
from redis.exceptions import RedisError

log = logging.getLogger("rdflow.jobs")

RUN_JOB = "run_job"


def queue_name(redis_prefix: str) -> str:
    """The arq queue (a Redis sorted set) shared by the API, which enqueues, and the workers."""
    return f"{redis_prefix}:jobs"


class ArqJobQueue:
    """Enqueue and abort by job id. The job row is the source of truth: when Redis is unreachable the
    row stays QUEUED and the workers' reconciler enqueues it again, so a failed enqueue is logged, not raised."""

    def __init__(self, redis_url: str, queue_name: str, *, abort_wait_s: float = 0.2):
        self.redis_settings = replace(RedisSettings.from_dsn(redis_url), conn_retries=1)
        self.queue_name = queue_name
        self.abort_wait_s = abort_wait_s
        self._pool: ArqRedis | None = None
        self._connecting = asyncio.Lock()

    async def _redis(self) -> ArqRedis:
        async with self._connecting:
            if self._pool is None:
                self._pool = await create_pool(self.redis_settings, default_queue_name=self.queue_name)
        return self._pool

    async def enqueue(self, job_id: uuid.UUID, kind: str) -> None:
        """Arq refuses a second job with the same id while the first is queued or running."""
        try:
            redis = await self._redis()
            await redis.enqueue_job(RUN_JOB, str(job_id), _job_id=str(job_id), _queue_name=self.queue_name)
        except (RedisError, OSError) as exc:
            log.warning("could not enqueue job %s (%s): %r; the reconciler will enqueue it again", job_id, kind, exc)

    async def cancel(self, job_id: uuid.UUID) -> None:
        """Ask the worker running this job to stop it now (the executor's heartbeat would notice too)."""
        try:
            job = ArqJob(str(job_id), await self._redis(), _queue_name=self.queue_name)
            with contextlib.suppress(asyncio.TimeoutError):
                await job.abort(timeout=self.abort_wait_s, poll_delay=self.abort_wait_s / 2)
        except (RedisError, OSError) as exc:
            log.warning("could not abort job %s: %r; its worker stops it at the next heartbeat", job_id, exc)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
