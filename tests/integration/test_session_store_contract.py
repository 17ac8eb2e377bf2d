"""One contract for the session adapters: TokenStore and RateLimiter (SQL on SQLite and PostgreSQL, Redis):
revocation and its expiry, single-use claims under concurrency, fixed-window counting under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.rate_limit import RedisRateLimiter
from integrations.tokens_redis import RedisTokenStore
from persistence.engine import create_engine
from persistence.migrations import upgrade
from persistence.rate_limits import SqlRateLimiter
from persistence.tokens import SqlTokenStore
from tests.fakes.clock import SettableClock


@dataclass
class StoreUnderTest:
    store: Any
    clock: SettableClock
    real_time: bool  # Redis expires keys by its own clock: time must really pass

    async def elapse(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.real_time:
            await asyncio.sleep(seconds)


_migrated: set[str] = set()


def migrated(url: str) -> str:
    if url not in _migrated:
        upgrade(url)
        _migrated.add(url)
    return url


# Every session adapter runs on SQLite, PostgreSQL and Redis.
BACKENDS = [
    "sql-sqlite",
    pytest.param("sql-postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


def sql_url(request, tmp_path) -> str:
    """The migrated database of a `sql-*` parameter."""
    url = (
        f"sqlite:///{tmp_path}/sessions.db"
        if request.param == "sql-sqlite"
        else request.getfixturevalue("postgres_url")
    )
    return migrated(url)


@pytest.fixture(params=BACKENDS)
async def tokens(request, tmp_path):
    clock = SettableClock(datetime.now(UTC))
    if request.param == "redis":
        store = RedisTokenStore(
            request.getfixturevalue("redis_url"), clock, prefix=request.getfixturevalue("redis_prefix")
        )
        yield StoreUnderTest(store, clock, real_time=True)
        await store.aclose()
        return
    engine = create_engine(sql_url(request, tmp_path))
    yield StoreUnderTest(SqlTokenStore(engine, clock), clock, real_time=False)
    await engine.dispose()


@dataclass
class LimiterUnderTest:
    limiter: Any
    clock: SettableClock
    real_time: bool  # Redis expires windows by its own clock: time must really pass
    another: Callable[[], Any]  # a second limiter on the same store, as another worker process has

    async def hit(self, key: str, limit: int, window_s: int) -> int:
        return await self.limiter.hit(key, limit, window_s)

    async def elapse(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.real_time:
            await asyncio.sleep(seconds)


@pytest.fixture(params=BACKENDS)
async def limiter(request, tmp_path):
    clock = SettableClock(datetime.now(UTC))
    if request.param.startswith("sql"):
        url = sql_url(request, tmp_path)
        engines = []

        def on_the_database() -> SqlRateLimiter:
            engines.append(create_engine(url))
            return SqlRateLimiter(engines[-1], clock)

        yield LimiterUnderTest(on_the_database(), clock, real_time=False, another=on_the_database)
        for engine in engines:
            await engine.dispose()
        return
    made: list[RedisRateLimiter] = []

    def on_redis() -> RedisRateLimiter:
        made.append(
            RedisRateLimiter(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix"))
        )
        return made[-1]

    yield LimiterUnderTest(on_redis(), clock, real_time=True, another=on_redis)
    for limiter in made:
        await limiter.aclose()


def key(kind: str = "jti") -> str:
    return f"{kind}:{uuid.uuid4().hex}"


# --- TokenStore -----------------------------------------------------------------------------------------------


async def test_a_revoked_key_is_revoked_and_no_other(tokens: StoreUnderTest):
    store, later = tokens.store, tokens.clock.now() + timedelta(hours=1)
    revoked, other, family = key("jti"), key("jti"), key("family")
    assert not await store.is_revoked(revoked)
    await store.revoke(revoked, later)
    assert await store.is_revoked(revoked)
    assert not await store.is_revoked(other)
    assert not await store.is_revoked(f"family:{revoked.partition(':')[2]}")  # same id, another kind
    assert not await store.is_revoked(other, family)
    assert await store.is_revoked(other, revoked, family)
    await store.revoke(family, later)
    assert await store.is_revoked(other, family)


async def test_concurrent_checks_keep_their_own_answers(tokens: StoreUnderTest):
    """The stores answer checks that arrive together in shared reads: each check still gets its own keys' answer."""
    store, later = tokens.store, tokens.clock.now() + timedelta(hours=1)
    keys = [(key("jti"), key("family")) for _ in range(60)]
    for jti, _ in keys[::4]:
        await store.revoke(jti, later)
    for _, family in keys[1::4]:
        await store.revoke(family, later)
    answers = await asyncio.gather(*(store.is_revoked(jti, family) for jti, family in keys))
    assert answers == [i % 4 in (0, 1) for i in range(60)]


async def test_revoking_twice_keeps_the_key_revoked(tokens: StoreUnderTest):
    store, now = tokens.store, tokens.clock.now()
    k = key("family")
    await store.revoke(k, now + timedelta(hours=1))
    await store.revoke(k, now + timedelta(hours=2))
    assert await store.is_revoked(k)


async def test_a_revocation_ends_at_its_expiry(tokens: StoreUnderTest):
    store, now = tokens.store, tokens.clock.now()
    short, long_lived, past = key("jti"), key("jti"), key("family")
    await store.revoke(short, now + timedelta(seconds=1))
    await store.revoke(long_lived, now + timedelta(hours=1))
    await store.revoke(past, now - timedelta(hours=1))
    assert await store.is_revoked(short) and await store.is_revoked(long_lived)
    await tokens.elapse(1.5)
    assert not await store.is_revoked(short)
    assert not await store.is_revoked(past)
    assert not await store.is_revoked(short, past)
    assert await store.is_revoked(short, past, long_lived)


async def test_claim_once_is_true_only_the_first_time(tokens: StoreUnderTest):
    store, later = tokens.store, tokens.clock.now() + timedelta(hours=1)
    first, second = key("refresh"), key("refresh")
    assert await store.claim_once(first, later) is True
    assert await store.claim_once(first, later) is False
    assert await store.claim_once(first, later) is False
    assert await store.claim_once(second, later) is True


async def test_a_revoked_key_cannot_be_claimed(tokens: StoreUnderTest):
    store, later = tokens.store, tokens.clock.now() + timedelta(hours=1)
    k = key("refresh")
    await store.revoke(k, later)
    assert await store.claim_once(k, later) is False


async def test_concurrent_claims_of_one_key_yield_exactly_one_winner(tokens: StoreUnderTest):
    store, later = tokens.store, tokens.clock.now() + timedelta(hours=1)
    k = key("refresh")
    results = await asyncio.gather(*(store.claim_once(k, later) for _ in range(20)))
    assert sorted(results) == [False] * 19 + [True]
    assert await store.is_revoked(k)  # a claimed key reads as recorded


async def test_concurrent_revocations_of_one_key_all_succeed(tokens: StoreUnderTest):
    """Two requests revoking the same family at once (refresh reuse raced, double logout) must both succeed."""
    store, later = tokens.store, tokens.clock.now() + timedelta(hours=1)
    for _ in range(5):
        k = key("family")
        results = await asyncio.gather(*(store.revoke(k, later) for _ in range(20)), return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await store.is_revoked(k)


# --- RateLimiter ----------------------------------------------------------------------------------------------


async def test_under_the_limit_is_free_and_over_it_says_how_long_to_wait(limiter):
    k = f"login:account:{uuid.uuid4().hex}"
    assert [await limiter.hit(k, 3, 60) for _ in range(3)] == [0, 0, 0]
    for _ in range(2):
        wait = await limiter.hit(k, 3, 60)
        assert 0 < wait <= 60 and wait >= 55


async def test_keys_are_counted_separately(limiter):
    a, b = f"login:account:{uuid.uuid4().hex}", f"login:address:{uuid.uuid4().hex}"
    assert [await limiter.hit(a, 2, 60) for _ in range(2)] == [0, 0]
    assert await limiter.hit(a, 2, 60) > 0
    assert [await limiter.hit(b, 2, 60) for _ in range(2)] == [0, 0]
    assert await limiter.hit(b, 2, 60) > 0
    assert await limiter.hit(a, 2, 60) > 0


async def test_the_count_resets_when_the_window_passes(limiter):
    k = f"login:account:{uuid.uuid4().hex}"
    assert await limiter.hit(k, 1, 1) == 0
    wait = await limiter.hit(k, 1, 1)
    assert wait == 1
    await limiter.elapse(0.5)
    assert await limiter.hit(k, 1, 1) == 1
    await limiter.elapse(0.7)
    assert await limiter.hit(k, 1, 1) == 0
    assert await limiter.hit(k, 1, 1) == 1


async def test_concurrent_hits_let_exactly_the_limit_through(limiter):
    k = f"login:address:{uuid.uuid4().hex}"
    waits = await asyncio.gather(*(limiter.hit(k, 5, 60) for _ in range(20)))
    assert waits.count(0) == 5 and all(0 < w <= 60 for w in waits if w)


async def test_a_key_as_long_as_a_client_cares_to_type_is_counted(limiter):
    k = f"login:account:{uuid.uuid4().hex}{'x' * 5000}"
    assert [await limiter.hit(k, 1, 60), await limiter.hit(k[:-1], 1, 60)] == [0, 0]  # two keys, not one
    assert await limiter.hit(k, 1, 60) > 0


async def test_another_process_counts_the_same_attempts(limiter):
    k, other = f"login:account:{uuid.uuid4().hex}", limiter.another()
    assert [await limiter.hit(k, 3, 60), await other.hit(k, 3, 60), await limiter.hit(k, 3, 60)] == [0, 0, 0]
    assert await other.hit(k, 3, 60) > 0 and await limiter.hit(k, 3, 60) > 0


async def test_a_later_revocation_never_shortens_an_earlier_one(tokens: StoreUnderTest):
    store, now = tokens.store, tokens.clock.now()
    k = key("family")
    await store.revoke(k, now + timedelta(hours=2))
    await store.revoke(k, now + timedelta(seconds=1))
    await tokens.elapse(1.5)
    assert await store.is_revoked(k)
