"""The user cache reads a user once per TTL and forgets it when an event about the user arrives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from auth.user_cache import UserCache
from domain.events import DomainEvent
from domain.model import User
from integrations.events_memory import InProcessEventBus
from persistence.data_version import EmbeddedDataVersion


def _counting_loader(user: User):
    reads: list[object] = []

    async def load(user_id):
        reads.append(user_id)
        return user if user_id == user.id else None

    return load, reads


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_user_is_read_once_until_an_event_about_them_arrives():
    bus = InProcessEventBus()
    maria, other = User("maria", "maria@example.com", "hash"), User("paul", "paul@example.com", "hash")
    load, reads = _counting_loader(maria)
    cache = UserCache(bus, load)
    try:
        assert [await cache.get(maria.id) for _ in range(3)] == [maria] * 3
        assert reads == [maria.id]
        await bus.publish(DomainEvent("User", str(other.id), "role_changed", datetime.now(UTC)))
        await _settle()
        await cache.get(maria.id)
        assert reads == [maria.id]  # someone else's change
        await bus.publish(DomainEvent("User", str(maria.id), "role_changed", datetime.now(UTC)))
        await _settle()
        await cache.get(maria.id)
        assert reads == [maria.id, maria.id]
    finally:
        await cache.aclose()
    assert bus.subscriber_count() == 0


async def test_concurrent_first_requests_read_the_user_once_and_an_expired_entry_is_read_again():
    bus = InProcessEventBus()
    maria = User("maria", "maria@example.com", "hash")
    load, reads = _counting_loader(maria)
    cache = UserCache(bus, load, ttl_s=0.05)
    try:
        assert await asyncio.gather(*(cache.get(maria.id) for _ in range(10))) == [maria] * 10
        assert reads == [maria.id]
        await asyncio.sleep(0.1)
        await cache.get(maria.id)
        assert reads == [maria.id, maria.id]
    finally:
        await cache.aclose()


async def test_a_commit_anywhere_makes_the_next_read_fresh_before_its_event_arrives():
    """Another replica's role change reaches this one's bus later than its next request may: the data version,
    bumped after every commit and read by the request, decides. The listener already live is kept."""
    bus = InProcessEventBus()  # nothing is ever published: the event is still on its way
    versions = EmbeddedDataVersion(None)
    maria = User("maria", "maria@example.com", "hash")
    load, reads = _counting_loader(maria)
    cache = UserCache(bus, load, versions=versions)
    try:
        await cache.get(maria.id)
        await cache.get(maria.id)
        assert reads == [maria.id]
        await versions.bump()
        await cache.get(maria.id)
        assert reads == [maria.id, maria.id]
        await cache.get(maria.id, versions.current())  # the request's own reading of the same version
        assert reads == [maria.id, maria.id]
        assert bus.subscriber_count() == 1
    finally:
        await cache.aclose()


async def test_a_read_under_a_newer_version_does_not_share_a_fill_begun_under_an_older_one():
    bus = InProcessEventBus()
    maria = User("maria", "maria@example.com", "hash")
    gate = asyncio.Event()
    reads: list[object] = []

    async def slow_load(user_id):
        reads.append(user_id)
        await gate.wait()
        return maria

    cache = UserCache(bus, slow_load)
    try:

        async def at(version: int) -> User | None:
            return await cache.get(maria.id, asyncio.sleep(0, version))

        older = [asyncio.create_task(at(1)) for _ in range(3)]
        await _settle()
        newer = asyncio.create_task(at(2))
        await _settle()
        assert len(reads) == 2  # the three at version 1 share one read; version 2 has its own
        gate.set()
        assert await asyncio.gather(*older, newer) == [maria] * 4
    finally:
        await cache.aclose()


async def test_an_unreadable_version_reads_the_user_every_time():
    class Down:
        async def current(self):
            raise ConnectionError("redis is down")

        async def bump(self) -> None:
            pass

    bus = InProcessEventBus()
    maria = User("maria", "maria@example.com", "hash")
    load, reads = _counting_loader(maria)
    cache = UserCache(bus, load, versions=Down())
    try:
        assert [await cache.get(maria.id) for _ in range(2)] == [maria] * 2
        assert reads == [maria.id, maria.id]
        assert bus.subscriber_count() == 0
    finally:
        await cache.aclose()
