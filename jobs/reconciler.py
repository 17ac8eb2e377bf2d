"""One reconciler pass: jobs whose worker went silent are queued again (or failed) and handed back to the queue."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from domain.ports import JobQueue
from domain.services.jobs import JobLifecycle

log = logging.getLogger("rdflow.jobs")


async def reconcile_once(lifecycle: JobLifecycle, queue: JobQueue, stale_after: timedelta) -> int:
    """Returns how many jobs were enqueued again; the queue drops ids it already holds."""
    jobs = await lifecycle.reconcile(stale_after)
    for job in jobs:
        await queue.enqueue(job.id, job.kind)
    return len(jobs)


async def reconcile_forever(lifecycle: JobLifecycle, queue: JobQueue, stale_after: timedelta, every_s: float) -> None:
    """The embedded-mode reconciler (arq workers run `reconcile_once` as a cron job instead)."""
    while True:
        try:
            await reconcile_once(lifecycle, queue, stale_after)
        except Exception:
            log.exception("reconciler pass failed")
        await asyncio.sleep(every_s)
