"""A direct read of the server's database: a digest of every row per table, and whether jobs are still running."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from domain.enums import JobStatus
from persistence.engine import async_url
from persistence.tables import audit_log, jobs, metadata, rate_limit_windows, users

T = TypeVar("T")


class DatabaseReader:
    """One engine on a private event loop thread, so synchronous hypothesis tests can read between requests."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.engine = self._run(self._engine(url))

    @staticmethod
    async def _engine(url: str):
        # Not persistence.engine.create_engine: that maps the domain classes, which this process also builds plainly.
        return create_async_engine(async_url(url), pool_size=1)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def fingerprint(self) -> dict[str, tuple[int, str]]:
        """(row count, sha256 of the sorted rows) per table; audit rows of denied attempts and the attempt counters
        are left out, since a refusal is expected to record one and a refused login to count."""
        return self._run(self._fingerprint())

    async def _fingerprint(self) -> dict[str, tuple[int, str]]:
        result = {}
        async with self.engine.connect() as conn:
            for table in metadata.sorted_tables:
                if table is rate_limit_windows:
                    continue
                query = select(table)
                if table is audit_log:
                    query = query.where(audit_log.c.outcome != "DENIED")
                rows = sorted(repr(tuple(row)) for row in await conn.execute(query))
                result[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return result

    def active_jobs(self) -> int:
        return self._run(self._active_jobs())

    async def _active_jobs(self) -> int:
        async with self.engine.connect() as conn:
            query = (
                select(func.count()).select_from(jobs).where(jobs.c.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            )
            return (await conn.execute(query)).scalar_one()

    def password_hash(self, user_id: uuid.UUID) -> str:
        """Tokens carry a version of it, so tokens minted by the tests need the stored one."""
        return self._run(self._password_hash(user_id))

    async def _password_hash(self, user_id: uuid.UUID) -> str:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(users.c.password_hash).where(users.c.id == user_id))).scalar_one()

    def close(self) -> None:
        self._run(self.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
