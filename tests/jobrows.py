"""Job rows straight in a database (SQLite unless told), for tests of the executor, the queues and the reconciler
without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from domain.model import Job
from domain.ports import Clock
from domain.services.base import Deps
from integrations.events_memory import InProcessEventBus
from persistence.engine import create_engine, session_factory
from persistence.migrations import upgrade
from persistence.uow import SqlUnitOfWorkFactory


@asynccontextmanager
async def sqlite_deps(directory: Path, clock: Clock) -> AsyncIterator[Deps]:
    """Deps over a migrated SQLite database in `directory`, its engine disposed on exit."""
    async with database_deps(f"sqlite:///{directory}/jobs.db", clock) as deps:
        yield deps


@asynccontextmanager
async def database_deps(url: str, clock: Clock) -> AsyncIterator[Deps]:
    """Deps over the database at `url`, migrated, its engine disposed on exit."""
    upgrade(url)
    engine = create_engine(url)
    try:
        yield Deps(uow=SqlUnitOfWorkFactory(session_factory(engine)), bus=InProcessEventBus(), clock=clock)
    finally:
        await engine.dispose()


async def store(deps: Deps, job: Job) -> Job:
    async with deps.uow() as uow:
        uow.jobs.add(job)
        await uow.commit()
    return job


async def reload(deps: Deps, job: Job) -> Job:
    async with deps.uow() as uow:
        found = await uow.jobs.get(job.id)
    assert found is not None, f"job {job.id} is gone"
    return found
