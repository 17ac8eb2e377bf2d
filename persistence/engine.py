"""Engine and session factory from a database URL; SQLite gets WAL, foreign keys, a busy timeout and
`BEGIN IMMEDIATE` for write transactions."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from persistence.conflicts import ConflictMappingSession
from persistence.mapping import start_mappers

WRITE = "rdflow_write"
"""Execution option of a session's connection that begins a write transaction (see SqlUnitOfWork.begin_write)."""


def async_url(url: str) -> str:
    """Accept plain postgresql:// and sqlite:// URLs and pick the async drivers."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    elif u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    return u.render_as_string(hide_password=False)


# Nineteen digits in a row: maybe an integer beyond 64 bits, which orjson would read as a float.
_LONG_NUMBER = re.compile(r"\d{19}")


def read_json(text: str) -> Any:
    """A JSON column's value: orjson (an audit page decodes ~40 small values, 0.1-0.4 us each; the standard library
    took 0.7-1.0 us), or the standard library where orjson would not read it exactly (a very long integer) or at all
    (NaN, which Python's own writer puts in SQLite's JSON text)."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


# PostgreSQL connections per process, all kept open once made: overflow connections beyond a smaller pool were closed
# as soon as they were returned, so a busy server opened (and TLS-negotiated) a new connection for most requests.
POOL_SIZE = 20


class RollingBackConnection(sqlite3.Connection):
    """Ends its transaction before closing. close() leaves the database open (a "zombie") while any statement of the
    connection lives on, and a cancelled task's traceback keeps its cursor alive until the garbage collector runs:
    without this rollback, an IMMEDIATE transaction cancelled mid-way held the write lock until then, and every
    other writer waited out its busy timeout."""

    def close(self) -> None:
        if self.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


def create_engine(url: str, *, echo: bool = False, pool_size: int = POOL_SIZE) -> AsyncEngine:
    start_mappers()
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "factory": RollingBackConnection},
            json_deserializer=read_json,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # The driver would begin a transaction only at the first write, leaving the reads before it unguarded:
            # it emits no BEGIN of its own, and _begin below does (SQLAlchemy's documented pysqlite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn):
            # IMMEDIATE takes the write lock before the first read: check-then-write transactions run one at a time.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

        return engine
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=0, json_deserializer=read_json)
    ping_when_idle(engine)
    return engine


# A connection in steady use is not pinged before each checkout (a round trip per request); one that sat idle in the
# pool this long is, as the server may have dropped it. A busy connection that died fails its request (503) and
# SQLAlchemy then replaces every pooled connection opened before the failure.
IDLE_PING_S = 5.0


def ping_when_idle(engine: AsyncEngine, idle_s: float = IDLE_PING_S) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["rdflow_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("rdflow_idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the pooled connection did not answer")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True, sync_session_class=ConflictMappingSession)
