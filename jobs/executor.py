"""Runs one job id through its lifecycle: claim, heartbeat, handler, then success, retry, failure or cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.errors import DomainError, RetryableError
from domain.model import Job
from domain.services.jobs import JobLifecycle, backoff_seconds
from jobs.registry import Handler, JobContext

log = logging.getLogger("rdflow.jobs")


@dataclass(frozen=True)
class Outcome:
    retry_in: float | None = None


DONE = Outcome()

# Given by the composition root: the error to report when an exception means a dependency is down, else None.
Outage = Callable[[BaseException], DomainError | None]


def no_outage(_: BaseException) -> None:
    return None


class JobsObserver(Protocol):
    """Told how each run of a job ended and how long it took (the composition root gives one counting metrics)."""

    def finished(self, kind: str, outcome: str, seconds: float) -> None: ...


class Unobserved:
    def finished(self, kind: str, outcome: str, seconds: float) -> None:
        pass


UNOBSERVED = Unobserved()


class JobExecutor:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        handlers: dict[str, Handler],
        *,
        heartbeat_s: float = 2.0,
        backoff_base_s: float = 2.0,
        outage: Outage = no_outage,
        observer: JobsObserver = UNOBSERVED,
    ):
        self.lifecycle = lifecycle
        self.handlers = handlers
        self.heartbeat_s = heartbeat_s
        self.backoff_base_s = backoff_base_s
        self.outage = outage
        self.observer = observer

    async def run(self, job_id: uuid.UUID, deadline: asyncio.Timeout | None = None) -> Outcome:
        job = await self.lifecycle.claim(job_id)
        if job is None:
            return DONE
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self.lifecycle.fail(job_id, f"no handler for job kind {job.kind!r}")
            self.observer.finished("unknown", "failed", 0.0)
            return DONE
        loop = asyncio.get_running_loop()
        started, ended = loop.time(), "interrupted"
        try:
            ended, outcome = await self._run(job, handler)
        except asyncio.CancelledError:
            # Stopped without a cancellation request: by the deadline (run_with_deadline fails the row), or because
            # the worker is stopping (the row stays RUNNING and the reconciler queues it again).
            if deadline is not None and deadline.expired():
                ended = "timed_out"
            raise
        finally:
            self.observer.finished(job.kind, ended, loop.time() - started)
        return outcome

    async def _run(self, job: Job, handler: Handler) -> tuple[str, Outcome]:
        """The handler under a heartbeat: how it ended (succeeded, failed, retried or cancelled) and what next."""
        job_id = job.id
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
                return "cancelled", DONE
            raise
        except Exception as exc:  # noqa: BLE001 - every failure settles the job one way or another
            outcome = await self._failed(job, exc)
            return ("retried" if outcome.retry_in is not None else "failed"), outcome
        else:
            await self.lifecycle.succeed(job_id, result)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return "succeeded", DONE

    async def _failed(self, job: Job, exc: Exception) -> Outcome:
        """A retryable failure or an outage is retried with backoff while attempts remain; anything else fails."""
        retryable = (
            exc if isinstance(exc, RetryableError) else None if isinstance(exc, DomainError) else self.outage(exc)
        )
        if retryable is not None:
            if job.attempts < job.max_attempts:
                delay = backoff_seconds(job.attempts, self.backoff_base_s)
                await self.lifecycle.retry_later(job.id, retryable.message, delay)
                return Outcome(retry_in=delay)
            await self.lifecycle.fail(job.id, f"{retryable.message} (gave up after {job.attempts} attempts)")
        elif isinstance(exc, DomainError):
            await self.lifecycle.fail(job.id, exc.message)
        else:
            log.error("job %s (%s) failed", job.id, job.kind, exc_info=exc)
            await self.lifecycle.fail(job.id, f"{type(exc).__name__}: {exc}")
        return DONE

    async def run_with_deadline(self, job_id: uuid.UUID, limit_s: float) -> Outcome:
        """`run`, but a job still running after `limit_s` is stopped and FAILED (both queues use this). When the
        job's own row cannot be read or written (the database is down) it is delivered again after a backoff."""
        deadline = asyncio.timeout(limit_s)
        try:
            async with deadline:
                return await self.run(job_id, deadline)
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Stopped, but ended by an error instead (a cancelled handler's clean-up meeting an outage, say):
                # the stop stands. Delivering it again would start a run that nobody is left to stop.
                raise asyncio.CancelledError(f"job {job_id} stopped") from exc
            if isinstance(exc, TimeoutError) and deadline.expired():
                await self.lifecycle.fail(job_id, f"timed out after {limit_s:g} s")
                return DONE
            outage = self.outage(exc)
            if outage is None:
                raise
            # claim() takes a re-delivered RUNNING row back, so the next delivery picks up where this one failed.
            log.warning("job %s not run: %s; delivering it again in %g s", job_id, outage.message, self.backoff_base_s)
            return Outcome(retry_in=self.backoff_base_s)

    async def _watch(self, job_id: uuid.UUID, work: asyncio.Future) -> bool:
        """Heartbeats while the handler runs; cancels it when cancellation is requested (returns True)."""
        while not work.done():
            await asyncio.sleep(self.heartbeat_s)
            try:
                cancel = await self.lifecycle.heartbeat(job_id)
            except Exception as exc:
                if self.outage(exc) is None:
                    raise
                continue  # a missed heartbeat is harmless: the reconciler waits job_stale_after_s before acting
            if cancel:
                work.cancel()
                return True
        return False
