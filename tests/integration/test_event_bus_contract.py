"""One contract for every event bus: the in-process broadcaster, its relay between local processes, and Redis
pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis

from domain.events import DomainEvent, EventsMissed, SubscriberOverflow, entity_topic, project_topic
from integrations.events_memory import InProcessEventBus
from integrations.events_redis import RedisEventBus
from integrations.events_relay import LocalRelayEventBus, relay_folder

WAIT_S = 5


def event(entity_id: str = "t1", project_id: str | None = "p1", status: str = "TODO") -> DomainEvent:
    return DomainEvent(
        entity_type="Task",
        entity_id=entity_id,
        action="status_changed",
        at=datetime.now(UTC),
        project_id=project_id,
        new_status=status,
    )


@pytest.fixture(params=["memory", "relay", pytest.param("redis", marks=pytest.mark.redis)])
async def bus_factory(request):
    """Builds buses that share one broker (for Redis: one URL and prefix, like replicas do; for the relay: one
    folder, like the worker processes of one server)."""
    made = []
    if request.param == "relay":
        folder = relay_folder(request.getfixturevalue("tmp_path"))

        def make(max_pending: int = 1000):
            bus = LocalRelayEventBus(folder, max_pending=max_pending)
            made.append(bus)
            return bus
    elif request.param == "memory":
        shared = {}

        def make(max_pending: int = 1000):
            # In-process buses cannot span processes; every "replica" here is the same bus.
            bus = shared.setdefault("bus", InProcessEventBus(max_pending=max_pending))
            made.append(bus)
            return bus
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

        def make(max_pending: int = 1000):
            bus = RedisEventBus(url, prefix=prefix, max_pending=max_pending)
            made.append(bus)
            return bus

    yield make
    for bus in {id(b): b for b in made}.values():
        if hasattr(bus, "aclose"):
            await bus.aclose()


async def take(events, n: int) -> list[DomainEvent]:
    got = []
    async with asyncio.timeout(WAIT_S):
        async for item in events:
            got.append(item)
            if len(got) == n:
                return got
    return got


async def test_a_subscriber_gets_its_topics_in_order_and_nothing_else(bus_factory):
    bus = bus_factory()
    async with bus.subscribe([project_topic("p1")]) as events:
        await bus.publish(event("other", project_id="p2"))
        sent = [event(f"t{i}", status=s) for i, s in enumerate(["TODO", "IN_PROGRESS", "DONE"])]
        for e in sent:
            await bus.publish(e)
        got = await take(events, 3)
    assert [(e.id, e.entity_id, e.new_status) for e in got] == [(e.id, e.entity_id, e.new_status) for e in sent]
    assert got[0].at == sent[0].at and got[0].project_id == "p1"


async def test_an_event_on_two_subscribed_topics_arrives_once(bus_factory):
    bus = bus_factory()
    async with bus.subscribe([entity_topic("Task", "t1"), project_topic("p1")]) as events:
        first, second = event("t1"), event("t2")
        await bus.publish(first)
        await bus.publish(second)
        got = await take(events, 2)
    assert [e.id for e in got] == [first.id, second.id]


async def test_a_slow_subscriber_is_dropped_without_slowing_the_others(bus_factory):
    bus = bus_factory(max_pending=3)
    overflowed: list[SubscriberOverflow] = []
    async with (
        bus.subscribe([project_topic("p1")], on_overflow=overflowed.append) as slow,
        bus.subscribe([project_topic("p1")]) as fast,
    ):
        received = []
        for i in range(3):
            await bus.publish(event(f"t{i}"))
            received += await take(fast, 1)
        await bus.publish(event("t3"))
        received += await take(fast, 1)
        async with asyncio.timeout(WAIT_S):
            while not overflowed:
                await asyncio.sleep(0.01)
        with pytest.raises(SubscriberOverflow):
            await take(slow, 4)
    assert [e.entity_id for e in received] == ["t0", "t1", "t2", "t3"]
    assert overflowed[0].pending == 3


async def test_leaving_releases_every_subscription(bus_factory, request):
    bus = bus_factory()
    async with bus.subscribe([project_topic("p1"), entity_topic("Task", "t1")]):
        async with bus.subscribe([project_topic("p1")]):
            assert bus.subscriber_count() == 2 and bus.topic_count() == 2
        assert bus.subscriber_count() == 1 and bus.topic_count() == 2
    assert bus.subscriber_count() == 0 and bus.topic_count() == 0
    if isinstance(bus, RedisEventBus):
        await eventually_no_channels(request.getfixturevalue("redis_url"), bus.prefix)


async def test_a_cancelled_subscriber_releases_its_subscription(bus_factory):
    bus = bus_factory()
    entered = asyncio.Event()

    async def listen():
        async with bus.subscribe([project_topic("p1")]) as events:
            entered.set()
            async for _ in events:
                pass

    task = asyncio.create_task(listen())
    await asyncio.wait_for(entered.wait(), WAIT_S)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert bus.subscriber_count() == 0 and bus.topic_count() == 0


async def eventually_no_channels(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        async with asyncio.timeout(WAIT_S):
            while await client.pubsub_channels(f"{prefix}*"):
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def test_an_event_published_on_one_replica_reaches_subscribers_on_another(bus_factory):
    a, b = bus_factory(), bus_factory()
    async with b.subscribe([project_topic("p1")]) as on_b, a.subscribe([project_topic("p1")]) as on_a:
        sent = [event(f"t{i}") for i in range(20)]
        for e in sent:
            await a.publish(e)
        assert await take(on_b, 20) == sent  # every field, in the order published
        assert [e.id for e in await take(on_a, 20)] == [e.id for e in sent]


async def kill_pubsub_connection(admin: redis.Redis, bus: RedisEventBus) -> None:
    """Cut the bus's pub/sub connection from the server side, as a Redis restart or a network fault would."""
    for client in await admin.client_list(_type="pubsub"):
        if client["name"] == bus.client_name:
            await admin.client_kill_filter(_id=client["id"])
            return
    pytest.fail(f"no pubsub connection named {bus.client_name}")


@pytest.mark.redis
async def test_losing_redis_tells_every_subscriber_it_may_have_missed_events(redis_url, redis_prefix):
    bus, publisher = RedisEventBus(redis_url, prefix=redis_prefix), RedisEventBus(redis_url, prefix=redis_prefix)
    admin = redis.Redis.from_url(redis_url)
    try:
        async with (
            bus.subscribe([project_topic("p1")]) as on_project,
            bus.subscribe([entity_topic("Task", "t1")]) as on_task,
        ):
            sent = event("t1")
            await publisher.publish(sent)
            assert [e.id for e in await take(on_project, 1)] == [e.id for e in await take(on_task, 1)] == [sent.id]
            await kill_pubsub_connection(admin, bus)
            for events in (on_project, on_task):
                with pytest.raises(EventsMissed):
                    await take(events, 1)
    finally:
        await bus.aclose()
        await publisher.aclose()
        await admin.aclose()


@pytest.mark.redis
async def test_the_reader_reconnects_and_resubscribes_after_losing_redis(redis_url, redis_prefix):
    bus, publisher = RedisEventBus(redis_url, prefix=redis_prefix), RedisEventBus(redis_url, prefix=redis_prefix)
    admin = redis.Redis.from_url(redis_url)
    try:
        async with bus.subscribe([project_topic("p1")]) as told:
            await kill_pubsub_connection(admin, bus)
            with pytest.raises(EventsMissed):
                await take(told, 1)
            async with asyncio.timeout(WAIT_S):
                while not bus.subscription_live():
                    await asyncio.sleep(0.01)
            # The first subscriber is still attached, so its channel was subscribed again on the new connection.
            assert await admin.pubsub_numsub(bus.prefix + project_topic("p1")) == [
                ((bus.prefix + project_topic("p1")).encode(), 1)
            ]
            async with bus.subscribe([project_topic("p1")]) as events:
                marker = uuid.uuid4().hex
                heard = asyncio.create_task(anext(e async for e in events if e.entity_id == marker))
                async with asyncio.timeout(WAIT_S * 2):
                    # Pub/sub is at-most-once: keep publishing until the resubscribed reader hears one.
                    while not heard.done():
                        await publisher.publish(event(marker))
                        await asyncio.sleep(0.1)
                assert (await heard).entity_id == marker
    finally:
        await bus.aclose()
        await publisher.aclose()
        await admin.aclose()
