"""A closed SQLite connection never keeps the database's write lock, even while one of its statements lives on.

A task cancelled in the middle of a write transaction leaves its cursor referenced from the CancelledError's
traceback; SQLAlchemy then closes (terminates) the connection, and sqlite3's close() only marks a connection with a
live statement for closing later, its transaction and write lock included. Every other writer then waited out its
busy timeout until the garbage collector happened to free that cursor.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3

from sqlalchemy import text

from persistence.engine import WRITE, RollingBackConnection, create_engine


def write_lock_is_free(path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def close_with_a_live_statement(path, factory: type[sqlite3.Connection]) -> list[object]:
    """Begins a write, closes the connection while a cursor is still referenced, and returns that cursor."""
    connection = sqlite3.connect(path, isolation_level=None, factory=factory)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO t (v) VALUES (1)")
    live = connection.execute("SELECT v FROM t")  # not read to its end: its statement stays active
    connection.close()
    return [live]


def test_the_plain_driver_keeps_the_lock_after_close_and_ours_does_not(tmp_path):
    path = tmp_path / "lock.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (v INTEGER)")
    setup.close()

    kept = close_with_a_live_statement(path, sqlite3.Connection)
    assert not write_lock_is_free(path), "the plain driver was expected to defer the close (what this guards)"
    kept.clear()
    assert write_lock_is_free(path)

    kept = close_with_a_live_statement(path, RollingBackConnection)
    assert write_lock_is_free(path)
    assert kept  # still referenced while the lock was probed


async def test_cancelled_write_transactions_never_leave_the_lock_taken(tmp_path):
    path = tmp_path / "cancel.db"
    engine = create_engine(f"sqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))

    async def write_forever() -> None:
        while True:
            async with engine.connect() as conn:
                writing = await conn.execution_options(**{WRITE: True})
                async with writing.begin():
                    await writing.execute(text("INSERT INTO t (v) VALUES (1)"))
                    await writing.execute(text("SELECT count(*) FROM t"))

    rng = random.Random(7)
    stuck = []
    try:
        for attempt in range(60):
            writers = [asyncio.create_task(write_forever()) for _ in range(3)]
            await asyncio.sleep(rng.uniform(0.001, 0.03))
            for writer in writers:
                writer.cancel()
            outcomes = await asyncio.gather(*writers, return_exceptions=True)  # keeps the tracebacks referenced
            await asyncio.sleep(0.02)
            if not write_lock_is_free(path):
                stuck.append(attempt)
            del outcomes
    finally:
        await engine.dispose()
    assert stuck == [], f"the write lock stayed taken after cancelling the writers in attempts {stuck}"
