"""Fixed-window attempt counters in the database (no Redis): one row per key, counted by one atomic upsert, so
every worker process and replica sharing the database counts the same attempts."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import case, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ports import Clock
from persistence.tables import rate_limit_windows as t

PURGE_EVERY = timedelta(minutes=5)
# Keys hold what a client typed (a login's unknown name): a longer one is stored as its digest.
MAX_KEY = 200


def _stored(key: str) -> str:
    return key if len(key) <= MAX_KEY else f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class SqlRateLimiter:
    """A key's window starts at its first hit and ends `window_s` later; a hit after that starts a new one. Finished
    windows are deleted now and then (at most once per `purge_every`) by the hits themselves."""

    def __init__(self, engine: AsyncEngine, clock: Clock, purge_every: timedelta = PURGE_EVERY):
        self.engine = engine
        self.clock = clock
        self.purge_every = purge_every
        self._next_purge = clock.now()
        self._insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert

    async def hit(self, key: str, limit: int, window_s: int) -> int:
        now = self.clock.now()
        insert = self._insert(t).values(key=_stored(key), hits=1, ends_at=now + timedelta(seconds=window_s))
        over = t.c.ends_at <= now  # the stored window has ended: this hit starts the next
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.key],
            # Both read the row as it was before this update.
            set_={
                "hits": case((over, 1), else_=t.c.hits + 1),
                "ends_at": case((over, insert.excluded.ends_at), else_=t.c.ends_at),
            },
        ).returning(t.c.hits, t.c.ends_at)
        async with self.engine.begin() as conn:
            hits, ends_at = (await conn.execute(upsert)).one()
            if now >= self._next_purge:
                self._next_purge = now + self.purge_every
                await conn.execute(delete(t).where(t.c.ends_at <= now))
        return max(1, int((ends_at - now).total_seconds())) if hits > limit else 0
