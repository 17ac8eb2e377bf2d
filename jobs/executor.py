"""Runs one job id through its lifecycle: claim, heartbeat, handler, then success, retry, failure or cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from domain.errors import DomainError, RetryableError
from domain.services.jobs import JobLifecycle, backoff_seconds
from jobs.registry import Handler, JobContext

log = logging.getLogger("rdflow.jobs")


@dataclass(frozen=True)
class Outcome:
    retry_in: float | None = None


DONE = Outcome()


class JobExecutor:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        handlers: dict[str, Handler],
        *,
        heartbeat_s: float = 2.0,
        backoff_base_s: float = 2.0,
    ):
        self.lifecycle = lifecycle
        self.handlers = handlers
        self.heartbeat_s = heartbeat_s
        self.backoff_base_s = backoff_base_s

    async def run(self, job_id: uuid.UUID) -> Outcome:
        job = await self.lifecycle.claim(job_id)
        if job is None:
            return DONE
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self.lifecycle.fail(job_id, f"no handler for job kind {job.kind!r}")
            return DONE
        ctx = JobContext(job=job, progress=lambda pct, msg: self.lifecycle.progress(job_id, pct, msg))
        work = asyncio.ensure_future(handler(ctx))
        watcher = asyncio.create_task(self._watch(job_id, work))
        try:
            result = await work
        except asyncio.CancelledError:
            # Cancelled on request: record it and end normally. Otherwise the worker is stopping:
            # the row stays RUNNING and the reconciler queues it again.
            if await asyncio.shield(self.lifecycle.heartbeat(job_id)):
                await asyncio.shield(self.lifecycle.cancelled(job_id))
                return DONE
            raise
        except RetryableError as exc:
            if job.attempts < job.max_attempts:
                delay = backoff_seconds(job.attempts, self.backoff_base_s)
                await self.lifecycle.retry_later(job_id, exc.message, delay)
                return Outcome(retry_in=delay)
            await self.lifecycle.fail(job_id, f"{exc.message} (gave up after {job.attempts} attempts)")
        except DomainError as exc:
            await self.lifecycle.fail(job_id, exc.message)
        except Exception as exc:
            log.exception("job %s (%s) failed", job_id, job.kind)
            await self.lifecycle.fail(job_id, f"{type(exc).__name__}: {exc}")
        else:
            await self.lifecycle.succeed(job_id, result)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return DONE

    async def run_with_deadline(self, job_id: uuid.UUID, limit_s: float) -> Outcome:
        """`run`, but a job still running after `limit_s` is stopped and FAILED (both queues use this)."""
        deadline = asyncio.timeout(limit_s)
        try:
            async with deadline:
                return await self.run(job_id)
        except TimeoutError:
            if not deadline.expired():
                raise
            await self.lifecycle.fail(job_id, f"timed out after {limit_s:g} s")
            return DONE

    async def _watch(self, job_id: uuid.UUID, work: asyncio.Future) -> bool:
        """Heartbeats while the handler runs; cancels it when cancellation is requested (returns True)."""
        while not work.done():
            await asyncio.sleep(self.heartbeat_s)
            if await self.lifecycle.heartbeat(job_id):
                work.cancel()
                return True
        return False
