"""Expired revocations leave the SQL token store by themselves (embedded mode has no Redis TTLs)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from persistence.engine import create_engine
from persistence.migrations import upgrade
from persistence.tables import token_revocations
from persistence.tokens import SqlTokenStore
from tests.fakes.clock import SettableClock


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path}/tokens.db"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    upgrade(url)
    made = create_engine(url)
    yield made
    await made.dispose()


async def stored(engine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(token_revocations.c.key))).scalars())


async def test_writes_purge_expired_rows_at_most_once_per_interval(engine):
    clock = SettableClock()
    store = SqlTokenStore(engine, clock, purge_every=timedelta(minutes=5))
    now = clock.now()
    await store.revoke("jti:short", now + timedelta(seconds=1))
    await store.claim_once("refresh:long", now + timedelta(hours=1))
    clock.advance(60)
    await store.revoke("jti:between", now + timedelta(hours=1))
    assert await stored(engine) == {"jti:short", "refresh:long", "jti:between"}  # not purged on every write

    clock.advance(5 * 60)
    await store.claim_once("refresh:later", clock.now() + timedelta(hours=1))
    assert await stored(engine) == {"refresh:long", "jti:between", "refresh:later"}
    assert not await store.is_revoked("jti:short")
