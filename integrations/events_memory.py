"""The embedded-mode event bus: an in-process broadcaster with a bounded queue per subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol

from domain.events import DomainEvent, EventsMissed, SubscriberOverflow, topics_of

log = logging.getLogger("rdflow.events")


class EventsObserver(Protocol):
    """Told what a bus does (the composition root gives one that counts metrics)."""

    def published(self) -> None: ...

    def delivered(self, count: int = 1) -> None: ...

    def dropped(self, reason: str) -> None: ...

    def subscribed(self, change: int) -> None: ...


class Unobserved:
    def published(self) -> None:
        pass

    def delivered(self, count: int = 1) -> None:
        pass

    def dropped(self, reason: str) -> None:
        pass

    def subscribed(self, change: int) -> None:
        pass


UNOBSERVED = Unobserved()

# Event ids a multi-topic subscription remembers to drop a second delivery of the same event.
RECENT = 256

# How a subscription ends, queued after the events it still gets.
_OVERFLOWED = object()
_MISSED = object()


class Subscription:
    """One subscriber's queue; overflow (or a bus that may have lost events) ends it instead of blocking anyone.

    Slotted, with its own count of queued events: a publish reads this object for each of thousands of subscribers
    in turn, and every other object it touches per subscriber is another cache miss on that hot loop."""

    __slots__ = (
        "_recent",
        "_seen",
        "direct",
        "ended",
        "idle",
        "max_pending",
        "observer",
        "on_overflow",
        "pending",
        "queue",
        "topics",
    )

    def __init__(
        self,
        topics: Sequence[str],
        max_pending: int,
        on_overflow: Callable[[SubscriberOverflow], None] | None = None,
        observer: EventsObserver = UNOBSERVED,
        direct: Callable[[DomainEvent], bool] | None = None,
        *,
        deduplicate: bool = True,
    ):
        """`deduplicate`: whether the bus may offer one event once per matching topic (a broker publishing per
        topic); a bus that offers each event once per subscriber passes False."""
        self.topics = tuple(topics)
        self.direct = direct
        self.idle = False  # the reader waits in get(): nothing taken is still being handled
        self.pending = 0  # events queued, not yet taken by the reader
        self.observer = observer
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max_pending + 1)
        self.max_pending = max_pending
        self.on_overflow = on_overflow
        self.ended = False
        # Keep the first of an event offered on several topics (the set answers "seen?" without scanning the window).
        self._recent: deque[str] | None = deque() if deduplicate and len(self.topics) > 1 else None
        self._seen: set[str] = set()

    def offer(self, event: DomainEvent) -> bool:
        """Queue `event`; True when it was (the bus counts deliveries once per publish, not per subscriber)."""
        if self.ended:
            return False
        if self._recent is not None and self._already_seen(event.id):
            return False
        # Straight to the client from here only when the reader holds nothing and nothing waits before this event.
        if self.idle and not self.pending and self.direct is not None and self._sent_directly(event):
            return True
        if self.pending >= self.max_pending:
            self.observer.dropped("subscriber_overflow")
            self._end(_OVERFLOWED)
            if self.on_overflow is not None:
                # The reader may be stuck writing to its client; tell its owner now, not at its next read.
                self.on_overflow(SubscriberOverflow(self.max_pending))
            return False
        self.pending += 1
        self.queue.put_nowait(event)
        return True

    def _already_seen(self, event_id: str) -> bool:
        assert self._recent is not None
        if event_id in self._seen:
            return True
        self._recent.append(event_id)
        self._seen.add(event_id)
        if len(self._recent) > RECENT:
            self._seen.discard(self._recent.popleft())
        return False

    def _sent_directly(self, event: DomainEvent) -> bool:
        try:
            return self.direct is not None and self.direct(event)
        except Exception:  # one subscriber's failure must not stop the publisher's loop: its reader sends it
            log.exception("direct delivery failed; queued for the subscriber's reader")
            return False

    def missed(self) -> None:
        """The bus may have dropped events for this subscriber: after what it has, iteration raises EventsMissed."""
        if not self.ended:
            self._end(_MISSED)

    def _end(self, how: object) -> None:
        # Events are queued only below max_pending and the queue holds one more: the end marker always fits.
        self.ended = True
        self.queue.put_nowait(how)

    async def __aiter__(self) -> AsyncIterator[DomainEvent]:
        while True:
            self.idle = True
            try:
                item = await self.queue.get()
            finally:
                self.idle = False
            if item is _OVERFLOWED:
                raise SubscriberOverflow(self.max_pending)
            if item is _MISSED:
                raise EventsMissed("the event broker connection dropped: events may have been missed; refetch")
            self.pending -= 1
            yield item


def fan_out(subscribers: Iterable[Subscription], event: DomainEvent, observer: EventsObserver) -> None:
    """Offer `event` to each subscriber; one metrics update for all of them."""
    delivered = 0
    for sub in tuple(subscribers):
        if sub.offer(event):
            delivered += 1
    if delivered:
        observer.delivered(delivered)


def tell_missed(by_topic: dict[str, set[Subscription]]) -> None:
    """Every subscriber in the topic index may have missed events (each is told once)."""
    for sub in {id(s): s for subs in by_topic.values() for s in subs}.values():
        sub.missed()


def unindex(by_topic: dict[str, set[Subscription]], sub: Subscription) -> list[str]:
    """Remove `sub` from the topic index; returns the topics nobody is subscribed to any more (now dropped)."""
    emptied = []
    for topic in sub.topics:
        subs = by_topic.get(topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del by_topic[topic]
                emptied.append(topic)
    return emptied


class InProcessEventBus:
    def __init__(self, max_pending: int = 1000, observer: EventsObserver = UNOBSERVED):
        self.max_pending = max_pending
        self.observer = observer
        self._by_topic: dict[str, set[Subscription]] = defaultdict(set)

    async def publish(self, event: DomainEvent) -> None:
        self.observer.published()
        self.deliver(event)

    def deliver(self, event: DomainEvent) -> None:
        """Each subscriber of any of the event's topics is offered it once (so its subscription need not
        deduplicate)."""
        groups = [subs for topic in topics_of(event) if (subs := self._by_topic.get(topic))]
        if len(groups) == 1:
            fan_out(groups[0], event, self.observer)
        elif groups:
            fan_out(set().union(*groups), event, self.observer)

    def missed(self) -> None:
        """Events may have been lost on their way here: every subscriber is told (EventsMissed, then it refetches)."""
        tell_missed(self._by_topic)

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        topics: Sequence[str],
        on_overflow: Callable[[SubscriberOverflow], None] | None = None,
        direct: Callable[[DomainEvent], bool] | None = None,
    ) -> AsyncIterator[AsyncIterator[DomainEvent]]:
        sub = Subscription(topics, self.max_pending, on_overflow, self.observer, direct, deduplicate=False)
        for topic in sub.topics:
            self._by_topic[topic].add(sub)
        self.observer.subscribed(1)
        try:
            yield sub.__aiter__()
        finally:
            self.observer.subscribed(-1)
            unindex(self._by_topic, sub)

    def subscriber_count(self) -> int:
        return len({id(s) for subs in self._by_topic.values() for s in subs})

    def topic_count(self) -> int:
        return len(self._by_topic)
