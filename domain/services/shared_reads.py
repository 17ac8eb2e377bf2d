"""Coalesced reads: concurrent callers of the same read share one, started after each of them asked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


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
