"""Locating the real PostgreSQL and Redis for tests; skip when absent, fail when RDFLOW_REQUIRE_SERVICES=1."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

REQUIRE = os.environ.get("RDFLOW_REQUIRE_SERVICES") == "1"
LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url(environ: Mapping[str, str]) -> str:
    """Where throw-away databases are created and dropped: TEST_DATABASE_URL or the local server, never
    DATABASE_URL, which may name a database someone cares about."""
    return environ.get("TEST_DATABASE_URL") or LOCAL_ADMIN_URL


PG_ADMIN_URL = admin_url(os.environ)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc!r})"
    if REQUIRE:
        pytest.fail(f"{message}; RDFLOW_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def _plain_pg(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_exec_async(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_plain_pg(url), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_exec(url: str, sql: str) -> None:
    """Run one statement on a private loop in a thread: callers may be inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _pg_exec_async(url, sql)).result()


def create_database() -> tuple[str, str]:
    """A fresh, empty PostgreSQL database; returns (url, name)."""
    from sqlalchemy.engine import make_url

    name = f"rdflow_t_{uuid.uuid4().hex[:12]}"
    try:
        _pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"')
    except (OSError, TimeoutError, ConnectionError) as exc:
        unavailable("PostgreSQL", exc)
    url = make_url(_plain_pg(PG_ADMIN_URL)).set(database=name).render_as_string(hide_password=False)
    return url, name


def drop_database(name: str) -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_sql(sql: str) -> None:
    """One statement as the test server's admin (a role, a database's settings)."""
    _pg_exec(PG_ADMIN_URL, sql)


def check_redis() -> str:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means Redis is unavailable to the suite
        unavailable("Redis", exc)
    return REDIS_URL
