"""The embedded-mode job queue: asyncio tasks in the API process, deduplicated by job id."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from jobs.executor import JobExecutor


class InProcessJobQueue:
    def __init__(self, concurrency: int = 4, timeout_s: float = 300.0):
        self._executor: JobExecutor | None = None
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[uuid.UUID, asyncio.Task] = {}
        self._closing = False

    def bind(self, executor: JobExecutor) -> None:
        self._executor = executor

    async def enqueue(self, job_id: uuid.UUID, kind: str) -> None:
        if job_id not in self._tasks:
            self._tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")

    async def _run(self, job_id: uuid.UUID) -> None:
        assert self._executor is not None, "bind() an executor before enqueueing"
        try:
            while True:
                async with self._slots:
                    outcome = await self._executor.run_with_deadline(job_id, self._timeout_s)
                if outcome.retry_in is None or self._closing:
                    return  # a closing queue starts no further attempt: the row waits for the reconciler
                await asyncio.sleep(outcome.retry_in)
        except asyncio.CancelledError:
            if self._closing:
                raise
        finally:
            self._tasks.pop(job_id, None)

    async def cancel(self, job_id: uuid.UUID) -> None:
        """Stop a running job now; the executor records CANCELLED because the row asks for it."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    async def join(self) -> None:
        """Wait until every job enqueued so far has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        self._closing = True
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
