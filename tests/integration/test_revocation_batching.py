"""The Redis token store answers concurrent revocation checks with one MGET for many requests (and with the data
version a request reads beside them), each with its own answer, and never with the answer of a read sent before
the check was asked (a logout must hold at once)."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta

import pytest
import redis.exceptions

from integrations.data_version_redis import RedisDataVersion
from integrations.redis_gets import RedisGets
from integrations.tokens_redis import RedisTokenStore
from tests.fakes.clock import SettableClock

pytestmark = pytest.mark.redis


@pytest.fixture
async def store(redis_url, redis_prefix):
    store = RedisTokenStore(redis_url, SettableClock(datetime.now(UTC)), prefix=redis_prefix)
    yield store
    await store.aclose()


@pytest.fixture
async def store_and_versions(redis_url, redis_prefix):
    """A token store and the data version sharing one batched reader, as the container wires them."""
    gets = RedisGets.from_url(redis_url)
    store = RedisTokenStore(redis_url, SettableClock(datetime.now(UTC)), prefix=redis_prefix, gets=gets)
    versions = RedisDataVersion(redis_url, redis_prefix, gets)
    yield store, versions
    await store.aclose()
    await versions.aclose()
    await gets.aclose()


class CountingMget:
    """Wraps the client's MGET: how many reads went to Redis, and a gate that holds the first one's reply (Redis
    has answered it; the answer has not reached the store yet)."""

    def __init__(self, store: RedisTokenStore, hold_first: bool = False):
        self.mget = store.redis.mget
        self.calls: list[list[str]] = []
        self.first_sent = asyncio.Event()
        self.release_first = asyncio.Event()
        if not hold_first:
            self.release_first.set()
        store.redis.mget = self  # type: ignore[method-assign]

    async def __call__(self, names: list[str]):
        self.calls.append(list(names))
        values = await self.mget(names)
        if len(self.calls) == 1:
            self.first_sent.set()
            await self.release_first.wait()
        return values


async def test_concurrent_checks_share_a_round_trip_and_keep_their_own_answers(store):
    expires = datetime.now(UTC) + timedelta(minutes=5)
    for i in range(0, 40, 3):
        await store.revoke(f"jti:batched-{i}", expires)
    counting = CountingMget(store)

    answers = await asyncio.gather(*(store.is_revoked(f"jti:batched-{i}", f"family:none-{i}") for i in range(40)))

    assert answers == [i % 3 == 0 for i in range(40)]
    # All 40 were asked in the same turn of the event loop: one read for all of them.
    assert len(counting.calls) == 1
    assert len(counting.calls[0]) == 80


async def test_checks_asked_while_a_read_is_on_its_way_go_together_in_the_next_one(store):
    counting = CountingMget(store, hold_first=True)
    first = asyncio.create_task(store.is_revoked("jti:first"))
    await asyncio.wait_for(counting.first_sent.wait(), 10)
    later = [asyncio.create_task(store.is_revoked(f"jti:later-{i}")) for i in range(5)]
    await asyncio.sleep(0.05)
    assert len(counting.calls) == 1  # nothing else is sent while the first read is on its way
    counting.release_first.set()

    assert await asyncio.gather(first, *later) == [False] * 6
    assert [len(c) for c in counting.calls] == [1, 5]


async def test_the_revocation_check_and_the_data_version_share_one_read(store_and_versions, redis_prefix):
    store, versions = store_and_versions
    await versions.bump()
    counting = CountingMget(store)
    version_read = versions.current()  # asked first, awaited after the sign-in, as the response cache does
    revoked = await store.is_revoked("jti:shared-read")
    version = await version_read
    assert revoked is False
    assert version is not None and version == await versions.current()
    # Both names as sent: bytes, formatted once.
    assert counting.calls[0] == [
        f"{redis_prefix}:data-version".encode(),
        f"{redis_prefix}:token:blacklist:shared-read".encode(),
    ]


async def test_a_key_many_requests_ask_in_one_turn_is_read_once_and_each_gets_its_answer(
    store_and_versions, redis_prefix
):
    store, versions = store_and_versions
    await versions.bump()
    await store.revoke("jti:one-user-out", datetime.now(UTC) + timedelta(minutes=5))
    counting = CountingMget(store)

    async def request(jti: str) -> tuple[bool, bytes | None]:  # as the response cache's look-up reads them
        version_read = versions.current()
        return await store.is_revoked(jti), await version_read

    answers = await asyncio.gather(
        *(request("jti:one-user-out") for _ in range(10)), *(request("jti:other-user-in") for _ in range(10))
    )

    assert [revoked for revoked, _ in answers] == [True] * 10 + [False] * 10
    version = answers[0][1]
    assert version is not None and all(read == version for _, read in answers)
    assert len(counting.calls) == 1  # the twenty requests of one turn: one read
    assert sorted(counting.calls[0]) == sorted(
        [
            f"{redis_prefix}:data-version".encode(),
            f"{redis_prefix}:token:blacklist:one-user-out".encode(),
            f"{redis_prefix}:token:blacklist:other-user-in".encode(),
        ]
    )


async def test_a_check_never_takes_the_answer_of_a_read_sent_before_it(store):
    counting = CountingMget(store, hold_first=True)
    first = asyncio.create_task(store.is_revoked("jti:logged-out"))
    await asyncio.wait_for(counting.first_sent.wait(), 10)  # Redis answered this read before the logout below
    await store.revoke("jti:logged-out", datetime.now(UTC) + timedelta(minutes=5))
    second = asyncio.create_task(store.is_revoked("jti:logged-out"))
    await asyncio.sleep(0)
    counting.release_first.set()

    assert await first is False  # asked and answered before the logout
    assert await second is True  # asked after it: must see it
    assert len(counting.calls) == 2


async def test_a_failed_read_fails_every_check_waiting_on_it_and_the_next_ones_ask_again(store):
    counting = CountingMget(store, hold_first=True)
    first = asyncio.create_task(store.is_revoked("jti:a"))
    await asyncio.wait_for(counting.first_sent.wait(), 10)
    waiting = [asyncio.create_task(store.is_revoked(f"jti:w{i}")) for i in range(3)]
    await asyncio.sleep(0)

    async def broken(names):
        raise ConnectionError("redis is down")

    original, counting.mget = counting.mget, broken
    counting.release_first.set()

    assert await first is False
    for check in waiting:  # one read for the three, and each of them fails as it would have alone
        with pytest.raises(ConnectionError):
            await check
    assert len(counting.calls) == 2

    counting.mget = original
    assert await store.is_revoked("jti:a") is False
    assert len(counting.calls) == 3


async def _error_of(read: asyncio.Future) -> type[BaseException] | None:
    """The read's error's type; the error itself is not kept (its traceback would keep the other reads alive)."""
    try:
        await read
    except Exception as exc:  # noqa: BLE001 - any error is the answer here
        return type(exc)
    return None


async def test_a_failed_read_fails_every_reader_and_one_nobody_awaited_is_not_reported():
    """Redis is unreachable: the request that waits gets the error (a 503 upstream); the read of a request that was
    refused before it looked (its data version) must not end up in asyncio's "exception was never retrieved"."""
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    gets = RedisGets.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        unseen = gets.get_one(b"rdflow:data-version")
        assert await _error_of(gets.get([b"rdflow:token:blacklist:x"])) is redis.exceptions.ConnectionError
        assert unseen.done() and not unseen.cancelled()
        await gets.aclose()  # the client holds the error's traceback, and through it the reads
        del unseen, gets
        gc.collect()
        assert reported == []
    finally:
        loop.set_exception_handler(None)
