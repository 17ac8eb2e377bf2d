"""Token revocation in the database (embedded mode): one row per revoked or used key, until it expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ports import Clock
from domain.services.shared_reads import BatchedReads
from persistence.tables import token_revocations as t

PURGE_EVERY = timedelta(minutes=5)


class SqlTokenStore:
    """Rows are added only by writes, so writes also purge expired rows, at most once per `purge_every`."""

    def __init__(self, engine: AsyncEngine, clock: Clock, purge_every: timedelta = PURGE_EVERY):
        self.engine = engine
        self.clock = clock
        self.purge_every = purge_every
        self._next_purge = clock.now()
        # Every signed-in request and WebSocket sign-in asks: the checks that arrive while one read is on its way go
        # together in the next (each answered by a read that began after it asked).
        self._checks: BatchedReads[str, bool] = BatchedReads(self._revoked_among)

    async def _purge_now_and_then(self) -> None:
        now = self.clock.now()
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every
            await self.purge_expired()

    async def revoke(self, key: str, expires_at: datetime) -> None:
        """Idempotent under concurrency (one upsert); a second revocation can only lengthen the first."""
        dialect_insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(t).values(key=key, expires_at=expires_at)
        statement = statement.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"expires_at": statement.excluded.expires_at},
            where=t.c.expires_at < statement.excluded.expires_at,
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
        await self._purge_now_and_then()

    async def is_revoked(self, *keys: str) -> bool:
        return bool(await self._checks.get_many(keys))

    async def _revoked_among(self, keys: list[str]) -> dict[str, bool]:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(t.c.key).where(t.c.key.in_(keys), t.c.expires_at > self.clock.now()))
            return dict.fromkeys(found.scalars(), True)

    async def claim_once(self, key: str, expires_at: datetime) -> bool:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t).values(key=key, expires_at=expires_at))
        except IntegrityError:
            return False
        await self._purge_now_and_then()
        return True

    async def purge_expired(self) -> int:
        async with self.engine.begin() as conn:
            return (await conn.execute(delete(t).where(t.c.expires_at <= self.clock.now()))).rowcount
