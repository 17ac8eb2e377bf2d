"""`rdflow worker`: arq runs job rows by id through the shared executor, and reconciles silent jobs on a cron."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from arq import Retry, cron, func
from arq.connections import RedisSettings
from arq.worker import run_worker

from jobs.arq_queue import RUN_JOB, queue_name
from jobs.reconciler import reconcile_once
from server.container import Container, build_container
from server.settings import Settings

# arq cancels a job at job_timeout_s + this; before that run_job's own deadline records the timeout on the row.
TIMEOUT_GRACE_S = 5.0
# The executor counts attempts and fails the row when they run out (Job.max_attempts, 3 by default); arq's own
# count also includes deliveries cut short by a crash or a shutdown, so it is only a backstop far above that.
# Were arq to give up first, the row would stay QUEUED until the reconciler enqueues it again.
MAX_DELIVERIES = 20
# arq starts at most max_jobs jobs per poll of Redis; with its 0.5 s default one worker ran a third of the
# trivial jobs per second that it runs at 0.05 s (bench/jobs_throughput.py), which costs ~40 small reads a second.
POLL_DELAY_S = 0.05


def _container(ctx: dict[str, Any]) -> Container:
    return ctx["container"]


async def run_job(ctx: dict[str, Any], job_id: str) -> None:
    """Run one job row; a retryable failure goes back to arq with the executor's backoff."""
    container = _container(ctx)
    outcome = await container.executor.run_with_deadline(uuid.UUID(job_id), container.settings.job_timeout_s)
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)


async def reconcile(ctx: dict[str, Any]) -> int:
    """Jobs whose worker died go back to the queue (or fail when out of attempts)."""
    container = _container(ctx)
    stale_after = timedelta(seconds=container.settings.job_stale_after_s)
    return await reconcile_once(container.services.job_lifecycle, container.queue, stale_after)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for arq's Worker, from the same Settings as the API."""
    if not settings.redis_url:
        raise ValueError("rdflow worker needs REDIS_URL (without it the API runs jobs in-process)")
    name = queue_name(settings.redis_prefix)
    timeout = settings.job_timeout_s + TIMEOUT_GRACE_S

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["container"] = build_container(settings)

    async def shutdown(ctx: dict[str, Any]) -> None:
        container = ctx.pop("container", None)
        if container is not None:
            await container.aclose()

    return {
        # No results kept: arq refuses to enqueue an id whose result it still holds, and the reconciler must be
        # able to enqueue a row again whatever became of its earlier arq job (the row holds the result anyway).
        "functions": [func(run_job, name=RUN_JOB, timeout=timeout, max_tries=MAX_DELIVERIES, keep_result=0)],
        # The name carries the queue: arq derives cron job ids from it, and ids are global in Redis. Its timeout
        # must not exceed run_job's: arq holds a dead worker's jobs for the longest function timeout + 10 s.
        "cron_jobs": [
            cron(
                reconcile,
                name=f"reconcile@{name}",
                second=set(range(0, 60, settings.job_reconcile_every_s)),
                timeout=timeout,
            )
        ],
        "queue_name": name,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": settings.job_concurrency,
        "job_timeout": timeout,
        "max_tries": MAX_DELIVERIES,
        "keep_result": 0,
        "allow_abort_jobs": True,
        "health_check_interval": 10,
        "poll_delay": POLL_DELAY_S,
    }


def run(settings: Settings) -> None:
    """Block running a worker until SIGINT/SIGTERM; running jobs are handed back to the queue on the way out."""
    run_worker(worker_settings(settings))
