"""The SQL token store (embedded mode) answers concurrent revocation checks with few statements, each check with
its own answer, and never with a statement that began before the check was asked (a logout must hold at once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from persistence.engine import create_engine
from persistence.migrations import upgrade
from persistence.tokens import SqlTokenStore
from tests.fakes.clock import SettableClock


def counted(engine) -> list[str]:
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement) if "token_revocations" in statement else None,
    )
    return statements


async def test_a_thousand_concurrent_checks_take_a_few_statements(tmp_path):
    url = f"sqlite:///{tmp_path}/tokens.db"
    upgrade(url)
    engine = create_engine(url)
    try:
        store = SqlTokenStore(engine, SettableClock(datetime.now(UTC)))
        for i in range(0, 1000, 7):
            await store.revoke(f"jti:t{i}", datetime.now(UTC) + timedelta(hours=1))
        statements = counted(engine)
        answers = await asyncio.gather(*(store.is_revoked(f"jti:t{i}", f"family:f{i}") for i in range(1000)))
        assert answers == [i % 7 == 0 for i in range(1000)]
        # 2,000 keys, at most 500 per statement: one statement per check before.
        assert len(statements) <= 5, len(statements)
    finally:
        await engine.dispose()


async def test_a_check_asked_during_a_read_sees_a_logout_committed_before_it(tmp_path):
    url = f"sqlite:///{tmp_path}/tokens.db"
    upgrade(url)
    engine = create_engine(url)
    try:
        store = SqlTokenStore(engine, SettableClock(datetime.now(UTC)))
        statements = counted(engine)
        first = asyncio.create_task(store.is_revoked("jti:logged-out"))
        while not statements:  # the first check's statement is on its way
            await asyncio.sleep(0.001)
        await store.revoke("jti:logged-out", datetime.now(UTC) + timedelta(hours=1))
        assert await store.is_revoked("jti:logged-out") is True
        assert await first is False
    finally:
        await engine.dispose()
