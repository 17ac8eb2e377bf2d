"""Coalesced reads: concurrent callers of the same read share one, and concurrent lookups of different keys go
together in one read; either way each caller gets a read that started after it asked."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedReads:
    """At most one read in flight per key. A caller joins the next read that has not started yet, or makes one
    that starts when the running one ends: every caller gets a read that began after it asked, so it sees at least
    what was committed then (a subscriber that read before a change it was not yet subscribed to could miss it).
    Thousands of subscribers joining at once then cost a few reads, not one each (and not one pool connection
    each). The read runs in its own task: a caller that is cancelled does not cancel it for the others."""

    def __init__(self) -> None:
        self._next: dict[Hashable, asyncio.Future[Any]] = {}
        self._running: dict[Hashable, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.reads = 0

    async def read(self, key: Hashable, run: Callable[[], Awaitable[Any]]) -> Any:
        future = self._next.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._next[key] = future
            task = asyncio.ensure_future(self._start(key, future, run))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(future)

    async def _start(self, key: Hashable, future: asyncio.Future[Any], run: Callable[[], Awaitable[Any]]) -> None:
        running = self._running.get(key)
        if running is not None:
            await asyncio.wait([running])
        # From here on, a new caller needs a read that starts after it: the next one.
        del self._next[key]
        self._running[key] = future
        self.reads += 1
        try:
            future.set_result(await run())
        except Exception as exc:  # noqa: BLE001 - every caller of this read gets its error
            future.set_exception(exc)
            future.exception()  # retrieved: callers that all left before it ended must not log "never retrieved"
        finally:
            del self._running[key]


class BatchedReads(Generic[K, V]):
    """Lookups of many keys by many callers at once, in few reads: a lookup that arrives while a read is in flight
    waits for it to end and goes, with every lookup that arrived meanwhile, into the next one (at most `max_keys`
    keys each). Every lookup is answered by a read that began after it asked (a sign-in must see a logout committed
    before it), and at most one read is in flight: thousands of WebSocket sign-ins arriving together cost a few
    reads and one pooled connection, not one each. A failed read fails every lookup in it, as each would have failed
    alone (an outage is then 1013 or 503 for each); the next lookups read again."""

    def __init__(self, load: Callable[[list[K]], Awaitable[Mapping[K, V]]], max_keys: int = 500):
        self.load = load
        self.max_keys = max_keys
        self._waiting: deque[tuple[list[K], asyncio.Future[dict[K, V]]]] = deque()
        self._runner: asyncio.Task[None] | None = None
        self.reads = 0

    async def get(self, key: K) -> V | None:
        return (await self.get_many([key])).get(key)

    async def get_many(self, keys: Sequence[K]) -> dict[K, V]:
        """The entries `load` found among `keys` (a key it did not find is absent)."""
        future: asyncio.Future[dict[K, V]] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(keys), future))
        if self._runner is None:
            self._runner = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                await self._read(self._take())
        finally:
            self._runner = None
            while self._waiting:  # only when cancelled (shutdown): nobody is left to read for them
                self._waiting.popleft()[1].cancel()

    def _take(self) -> list[tuple[list[K], asyncio.Future[dict[K, V]]]]:
        batch = [self._waiting.popleft()]
        count = len(batch[0][0])
        while self._waiting and count + len(self._waiting[0][0]) <= self.max_keys:
            batch.append(self._waiting.popleft())
            count += len(batch[-1][0])
        return batch

    async def _read(self, batch: list[tuple[list[K], asyncio.Future[dict[K, V]]]]) -> None:
        asking = [(keys, future) for keys, future in batch if not future.done()]  # a caller may have been cancelled
        if not asking:
            return
        self.reads += 1
        try:
            found = await self.load(list(dict.fromkeys(k for keys, _ in asking for k in keys)))
        except BaseException as exc:  # every lookup of the read gets its error (cancelled with it at shutdown)
            for _, future in asking:
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    future.set_exception(exc)
                    future.exception()  # retrieved: its caller may have left meanwhile
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for keys, future in asking:
            if not future.done():
                future.set_result({k: found[k] for k in keys if k in found})
