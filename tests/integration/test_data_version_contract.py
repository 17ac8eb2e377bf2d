"""One contract for the data version adapters (Redis; embedded: SQLite's data_version plus a counter): a version
holds until a write, a bump moves it for every reader, versions never repeat; the embedded one also moves when
another process commits to the same SQLite file, without that process bumping anything."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as redis

from integrations.data_version_redis import RedisDataVersion
from persistence.data_version import EmbeddedDataVersion, sqlite_file


@dataclass
class VersionsUnderTest:
    make: Callable[[], Any]  # a reader/bumper for the same data (another replica or process would make its own)
    lose_data: Callable[[], Awaitable[None]]  # what the store may forget (Redis restarting empty)


async def _nothing() -> None:
    return None


@pytest.fixture(params=["embedded-file", "embedded-memory", pytest.param("redis", marks=pytest.mark.redis)])
async def versions(request, tmp_path) -> AsyncIterator[VersionsUnderTest]:
    made: list[Any] = []

    def keep(adapter: Any) -> Any:
        made.append(adapter)
        return adapter

    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")

        async def flush() -> None:
            client = redis.from_url(url)
            await client.delete(f"{prefix}:data-version")
            await client.aclose()

        yield VersionsUnderTest(lambda: keep(RedisDataVersion(url, prefix)), flush)
    elif request.param == "embedded-file":
        path = str(tmp_path / "data.db")
        sqlite3.connect(path).close()
        shared = keep(EmbeddedDataVersion(path))
        # One process has one adapter; the file is what other processes share (tested below).
        yield VersionsUnderTest(lambda: shared, _nothing)
    else:
        alone = keep(EmbeddedDataVersion(None))
        yield VersionsUnderTest(lambda: alone, _nothing)
    for adapter in made:
        await adapter.aclose()


async def test_the_version_holds_until_a_bump_then_moves_for_every_reader(versions: VersionsUnderTest):
    writer, reader = versions.make(), versions.make()
    before = await reader.current()
    assert await reader.current() == before
    await writer.bump()
    after = await reader.current()
    assert after != before
    assert await writer.current() == after


async def test_versions_never_repeat(versions: VersionsUnderTest):
    adapter = versions.make()
    seen = [await adapter.current()]
    for _ in range(5):
        await adapter.bump()
        seen.append(await adapter.current())
    await versions.lose_data()
    seen.append(await adapter.current())
    for _ in range(5):
        await adapter.bump()
        seen.append(await adapter.current())
    # The same version twice in a row is allowed only across the loss (nothing was bumped in between).
    after_loss = seen[7:]
    assert len(set(seen[:6])) == 6 and len(set(after_loss)) == 5
    assert not set(after_loss) & set(seen[:6])


def test_sqlite_file_is_found_only_for_a_sqlite_file():
    assert sqlite_file("sqlite:///var/rdflow.db") == "var/rdflow.db"
    assert sqlite_file("sqlite:////tmp/x.db") == "/tmp/x.db"
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://postgres@127.0.0.1/db") is None


COMMIT_ELSEWHERE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("INSERT INTO t VALUES (1)")
connection.close()
"""


async def test_the_embedded_version_moves_when_another_process_commits_to_the_file(tmp_path):
    path = str(tmp_path / "shared.db")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.close()
    versions = EmbeddedDataVersion(path)
    try:
        before = await versions.current()
        assert await versions.current() == before
        subprocess.run([sys.executable, "-c", COMMIT_ELSEWHERE, path], check=True, timeout=30)
        assert await versions.current() != before
    finally:
        await versions.aclose()
