"""The compiled reader's pooled connection: returned after every read, also when the request is cancelled mid-query
or the statement fails, and usable again by the next read."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from persistence.compiled_reads import PgCompiledReader
from persistence.engine import create_engine

pytestmark = pytest.mark.postgres


async def _reader(url: str) -> PgCompiledReader:
    engine = create_engine(url, pool_size=2)
    reader = PgCompiledReader(engine)
    assert (await reader.fetch_row("SELECT 1", ()))[0] == 1  # the pool holds an open connection
    return reader


async def test_a_cancelled_read_gives_its_connection_back(postgres_url):
    reader = await _reader(postgres_url)
    pool = reader.engine.sync_engine.pool
    try:
        slow = asyncio.ensure_future(reader.fetch_row("SELECT pg_sleep(30)", ()))
        await asyncio.sleep(0.3)
        assert pool.checkedout() == 1
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert pool.checkedout() == 0
        async with asyncio.timeout(10):  # the connection the cancelled read held answers (or was replaced)
            rows = await asyncio.gather(*(reader.fetch_row("SELECT $1::int", (n,)) for n in range(4)))
        assert [row[0] for row in rows] == [0, 1, 2, 3]
        assert pool.checkedout() == 0
    finally:
        await reader.engine.dispose()


async def test_a_failed_statement_gives_its_connection_back(postgres_url):
    reader = await _reader(postgres_url)
    pool = reader.engine.sync_engine.pool
    try:
        with pytest.raises(asyncpg.exceptions.UndefinedTableError):
            await reader.fetch_row("SELECT * FROM no_such_table", ())
        assert pool.checkedout() == 0
        assert (await reader.fetch_row("SELECT $1::text", ("after",)))[0] == "after"
    finally:
        await reader.engine.dispose()
