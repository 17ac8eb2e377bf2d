"""The user cache reads a user once per TTL and forgets it when an event about the user arrives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from auth.user_cache import UserCache
from domain.events import DomainEvent
from domain.model import User
from integrations.events_memory import InProcessEventBus


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
