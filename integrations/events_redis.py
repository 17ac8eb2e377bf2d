"""The production event bus: Redis pub/sub fan-out to every replica, one PubSub connection per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from domain.errors import ServiceUnavailable
from domain.events import DomainEvent, SubscriberOverflow, topics_of
from integrations.events_memory import UNOBSERVED, EventsObserver, Subscription, fan_out, tell_missed, unindex

log = logging.getLogger("rdflow.events")

_TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisEventBus:
    """Publishes each event on `<prefix>:events:<topic>`; a reader task dispatches to local subscribers.

    Channels are reference-counted: the first local subscriber of a topic subscribes its channel,
    the last one to leave unsubscribes it, so an idle replica holds no Redis subscriptions.
    Pub/sub keeps nothing for a disconnected subscriber: when the connection drops, every local subscriber is told
    (EventsMissed) and the reader reconnects at once, re-subscribing the channels still in use.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str = "rdflow",
        max_pending: int = 1000,
        subscribe_timeout_s: float = 5.0,
        publish_attempts: int = 3,
        observer: EventsObserver = UNOBSERVED,
    ):
        # Named so operators (and tests) can tell this replica's connections apart in CLIENT LIST.
        self.client_name = f"{prefix}-events-{uuid.uuid4().hex[:8]}"
        self.redis = redis.Redis.from_url(redis_url, client_name=self.client_name, socket_connect_timeout=2)
        self.prefix = f"{prefix}:events:"
        self.max_pending = max_pending
        self.subscribe_timeout_s = subscribe_timeout_s
        self.publish_attempts = publish_attempts
        self.observer = observer
        self._pubsub = self.redis.pubsub()
        self._by_topic: dict[str, set[Subscription]] = defaultdict(set)
        self._confirmations: dict[bytes, asyncio.Future] = {}
        self._lock = asyncio.Lock()  # serialises SUBSCRIBE/UNSUBSCRIBE bookkeeping
        self._reader: asyncio.Task | None = None
        self._closed = False
        self._connected = True  # False from a lost pub/sub connection until the reader has a new one
        self._resubscribing: set[bytes] = set()  # channels sent again on the new connection, not yet confirmed
        self._live = asyncio.Event()
        self._live.set()

    def _channel(self, topic: str) -> str:
        return self.prefix + topic

    async def publish(self, event: DomainEvent) -> None:
        payload = orjson.dumps(event.to_dict())
        self.observer.published()
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_TRANSIENT),
                stop=stop_after_attempt(self.publish_attempts),
                wait=wait_exponential(multiplier=0.05, max=1),
                reraise=True,
            ):
                with attempt:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for topic in topics_of(event):
                            pipe.publish(self._channel(topic), payload)
                        await pipe.execute()
        except _TRANSIENT:
            # The change is committed already; failing the request would not undo it.
            self.observer.dropped("publish_failed")
            log.exception(
                "event %s (%s %s) not published: Redis unreachable after %d attempts",
                event.id,
                event.entity_type,
                event.entity_id,
                self.publish_attempts,
            )

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        topics: Sequence[str],
        on_overflow: Callable[[SubscriberOverflow], None] | None = None,
        direct: Callable[[DomainEvent], bool] | None = None,
    ) -> AsyncIterator[AsyncIterator[DomainEvent]]:
        sub = Subscription(topics, self.max_pending, on_overflow, self.observer, direct)
        await self._wait_live()
        await self._attach(sub)
        self.observer.subscribed(1)
        try:
            yield sub.__aiter__()
        finally:
            self.observer.subscribed(-1)
            # Shielded so a cancelled subscriber still releases its channels.
            await asyncio.shield(self._detach(sub))

    async def _wait_live(self) -> None:
        """A channel already in use may not be subscribed again yet after a reconnect: joining it now would miss
        events without being told."""
        try:
            await asyncio.wait_for(self._live.wait(), self.subscribe_timeout_s)
        except TimeoutError as exc:
            raise ServiceUnavailable("live events are unavailable: reconnecting to Redis") from exc

    async def _attach(self, sub: Subscription) -> None:
        async with self._lock:
            if not self._connected:
                raise ServiceUnavailable("live events are unavailable: reconnecting to Redis")
            new = [t for t in sub.topics if not self._by_topic.get(t)]
            for topic in sub.topics:
                self._by_topic[topic].add(sub)
            if not new:
                return
            channels = [self._channel(t).encode() for t in new]
            loop = asyncio.get_running_loop()
            waits = [self._confirmations.setdefault(c, loop.create_future()) for c in channels]
            try:
                await self._pubsub.subscribe(*channels)
                self._start_reader()
                await asyncio.wait_for(asyncio.gather(*waits), self.subscribe_timeout_s)
            except BaseException:
                for c in channels:
                    self._confirmations.pop(c, None)
                unindex(self._by_topic, sub)
                raise

    async def _detach(self, sub: Subscription) -> None:
        async with self._lock:
            emptied = unindex(self._by_topic, sub)
            self._resubscribing.difference_update(self._channel(t).encode() for t in emptied)
            self._update_live()
            # While the reader reconnects, the connection is its alone; it drops channels nobody uses anyway.
            if emptied and not self._closed and self._connected:
                with contextlib.suppress(*_TRANSIENT):
                    await self._pubsub.unsubscribe(*(self._channel(t) for t in emptied))

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever(), name="rdflow-event-reader")

    async def _read_forever(self) -> None:
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except _TRANSIENT as exc:
                log.warning("event bus lost Redis (%s); reconnecting", exc.__class__.__name__)
                self._lost()
                await self._reconnect()
                continue
            if message is not None:
                self._handle(message)

    def _lost(self) -> None:
        self._connected = False
        self._update_live()
        tell_missed(self._by_topic)

    async def _reconnect(self) -> None:
        # Capped at 1 s: the sooner channels are subscribed again, the fewer events nobody hears.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(_TRANSIENT), wait=wait_exponential(multiplier=0.1, max=1)
        ):
            with attempt:
                # connect() subscribes redis-py's channel list again (its on_connect callback): only the channels
                # someone still listens to, since subscribers told of the loss may have left meanwhile.
                wanted = {self._channel(t).encode() for t in self._by_topic}
                self._pubsub.channels = dict.fromkeys(wanted)
                self._resubscribing = wanted
                await self._pubsub.connect()
        self._connected = True
        self._update_live()

    def _update_live(self) -> None:
        if self.subscription_live():
            self._live.set()
        else:
            self._live.clear()

    def subscription_live(self) -> bool:
        """Whether events reach this process: connected, with every channel in use subscribed (for /ready)."""
        return self._connected and not self._resubscribing

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "subscribe":
            waiter = self._confirmations.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            self._resubscribing.discard(channel)
            self._update_live()
        elif kind == "message":
            try:
                event = DomainEvent.from_dict(orjson.loads(message["data"]))
            except (ValueError, TypeError, KeyError):
                self.observer.dropped("undecodable")
                log.error("dropping an undecodable event on %r", channel)
                return
            topic = channel.decode()[len(self.prefix) :]
            fan_out(self._by_topic.get(topic, ()), event, self.observer)

    async def ping(self) -> None:
        await self.redis.ping()

    def subscriber_count(self) -> int:
        return len({id(s) for subs in self._by_topic.values() for s in subs})

    def topic_count(self) -> int:
        return len(self._by_topic)

    async def aclose(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_TRANSIENT):
                await self._reader
        await self._pubsub.aclose()
        await self.redis.aclose()
