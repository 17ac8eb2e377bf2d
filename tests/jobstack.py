"""A job stack for tests and benchmarks: a migrated database, the container, an admin and a project to hang
jobs on, and `rdflow worker` subprocesses configured from the same settings."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from domain.enums import JobStatus, Role
from domain.events import DomainEvent, project_topic
from domain.model import Job
from domain.permissions import Viewer
from domain.services.base import Deps, Tx
from domain.services.jobs import TERMINAL, request_job
from persistence.migrations import upgrade
from server.container import Container, build_container
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Short enough that retries, heartbeats and the reconciler act within a test, with the same ratios as production.
FAST = {"job_heartbeat_s": 0.2, "job_stale_after_s": 2.0, "job_backoff_base_s": 0.1, "job_reconcile_every_s": 1}
ALIASED = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL")


def job_settings(database_url: str, data_dir: Path, **overrides: Any) -> dict[str, Any]:
    """Settings fields for a stack running the test job kinds; the worker subprocess gets the same."""
    return {"database_url": database_url, "data_dir": data_dir, "job_modules": "tests.jobkinds", **FAST, **overrides}


class WorkerProcess:
    """`python -m server.cli worker` with settings passed as RDFLOW_* variables and its output in a log file."""

    def __init__(self, fields: dict[str, Any], log_path: Path):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RDFLOW_") and k not in ALIASED}
        self.env.update({f"RDFLOW_{name.upper()}": str(value) for name, value in fields.items() if value is not None})
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "worker"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"worker is not running (exit code {code}); its log:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, exactly like a machine dying."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclasses.dataclass
class JobStack:
    container: Container
    admin: Viewer
    project_id: uuid.UUID
    traces: Path
    workers: list[WorkerProcess] = dataclasses.field(default_factory=list)

    @property
    def deps(self) -> Deps:
        return self.container.services.deps

    def trace_path(self) -> Path:
        return self.traces / f"{uuid.uuid4().hex}.log"

    async def request(
        self, kind: str, payload: dict[str, Any] | None = None, *, max_attempts: int = 3, deps: Deps | None = None
    ) -> Job:
        async with Tx(deps or self.deps, self.admin) as tx:
            return await request_job(
                tx,
                kind=kind,
                subject_type="Project",
                subject_id=self.project_id,
                project_id=self.project_id,
                payload=payload or {},
                max_attempts=max_attempts,
            )

    async def job(self, job_id: uuid.UUID) -> Job | None:
        async with self.deps.uow() as uow:
            return await uow.jobs.get(job_id)

    async def jobs_in(self, *statuses: JobStatus) -> list[Job]:
        async with self.deps.uow() as uow:
            return await uow.jobs.find_in("status", list(statuses))

    async def wait(self, job_id: uuid.UUID, until: Callable[[Job], bool], what: str, timeout: float = 30.0) -> Job:
        """Polls the row until `until` holds; fails naming `what`, the row and any dead worker's log."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            job = await self.job(job_id)
            if job is not None and until(job):
                return job
            for worker in self.workers:
                if worker.proc is not None and worker.proc.returncode is None:
                    worker.check_alive()
            if loop.time() > deadline:
                logs = "\n".join(w.log()[-3000:] for w in self.workers)
                raise AssertionError(f"job {job_id} never became {what} within {timeout:g} s: {job}\n{logs}")
            await asyncio.sleep(0.05)

    async def finished(self, job_id: uuid.UUID, timeout: float = 30.0) -> Job:
        return await self.wait(job_id, lambda j: j.status in TERMINAL, "finished", timeout)

    async def running(self, job_id: uuid.UUID, timeout: float = 30.0) -> Job:
        """Until its handler has reported progress, so it is surely inside the handler."""
        return await self.wait(
            job_id, lambda j: j.status is JobStatus.RUNNING and j.progress > 0, "running with progress", timeout
        )

    @contextlib.asynccontextmanager
    async def recording(self) -> AsyncIterator[list[DomainEvent]]:
        """Every event published on the project's topic while the block runs, from any process."""
        events: list[DomainEvent] = []
        async with self.container.bus.subscribe([project_topic(str(self.project_id))]) as stream:

            async def pump() -> None:
                async for event in stream:
                    events.append(event)  # noqa: PERF401 - the caller reads the list while it fills

            task = asyncio.create_task(pump())
            try:
                yield events
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def start_worker(self, fields: dict[str, Any], name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(fields, self.traces / f"{name}-{len(self.workers)}.out").start()
        self.workers.append(worker)
        return worker

    async def aclose(self) -> None:
        for worker in self.workers:
            worker.stop()
        await self.container.aclose()


async def open_stack(fields: dict[str, Any], traces: Path) -> JobStack:
    """Migrates the database, builds the container and creates an admin and a project."""
    upgrade(fields["database_url"])
    container = build_container(Settings(**fields))
    services = container.services
    user = await services.users.bootstrap_admin(
        username=f"admin{uuid.uuid4().hex[:6]}", email=f"{uuid.uuid4().hex[:8]}@example.com", password="s3cret-pass-1"
    )
    admin = Viewer(user_id=user.id, role=Role.SUPER_ADMIN, username=user.username, request_id="jobs-test")
    project = await services.projects.create(admin, name="Jobs")
    traces.mkdir(parents=True, exist_ok=True)
    return JobStack(container=container, admin=admin, project_id=project.id, traces=traces)
