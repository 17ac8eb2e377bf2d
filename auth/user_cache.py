"""Signed-in users kept briefly in this process, so a request does not read its viewer from the database; an entry
is dropped at once when an event about its user (role change, deactivation, password change, sign-out) reaches
this replica through the event bus, when the bus may have lost events, and after `ttl_s` anyway."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.events import entity_topic
from domain.model import User
from domain.ports import EventBus

TTL_S = 30.0
MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    user: User | None
    expires: float
    listener: asyncio.Task[None]


class UserCache:
    def __init__(
        self,
        bus: EventBus,
        load: Callable[[uuid.UUID], Awaitable[User | None]],
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
        on_listen: Callable[[int], None] = lambda _change: None,
    ):
        self.bus = bus
        self.load = load
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._filling: dict[uuid.UUID, asyncio.Future[User | None]] = {}
        # Told +1/-1 as a listener starts and ends (the subscription gauge counts clients' subscriptions only).
        self.on_listen = on_listen

    async def get(self, user_id: uuid.UUID) -> User | None:
        entry = self._entries.get(user_id)
        if entry is not None and entry.expires > time.monotonic() and not entry.listener.done():
            return entry.user
        filling = self._filling.get(user_id)
        if filling is not None:
            return await asyncio.shield(filling)
        future: asyncio.Future[User | None] = asyncio.get_running_loop().create_future()
        self._filling[user_id] = future
        try:
            user = await self._fill(user_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._filling.pop(user_id, None)
        future.set_result(user)
        return user

    async def _fill(self, user_id: uuid.UUID) -> User | None:
        # Listen first, then read: a change committed after the read is announced after the listener is live.
        live: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        listener = asyncio.create_task(self._listen(user_id, live), name=f"rdflow-user-cache-{user_id}")
        try:
            await asyncio.shield(live)
        except Exception:  # noqa: BLE001 - the bus is down: read without caching
            return await self.load(user_id)
        user = await self.load(user_id)
        if listener.done() or len(self._entries) >= self.max_entries:
            listener.cancel()
            return user
        self._entries[user_id] = _Entry(user, time.monotonic() + self.ttl_s, listener)
        return user

    async def _listen(self, user_id: uuid.UUID, live: asyncio.Future[None]) -> None:
        try:
            async with self.bus.subscribe([entity_topic("User", str(user_id))]) as events:
                self.on_listen(1)
                try:
                    live.set_result(None)
                    async with asyncio.timeout(self.ttl_s):
                        async for _ in events:
                            break
                finally:
                    self.on_listen(-1)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a timeout, an overflow or lost events all end the entry
            if not live.done():
                live.set_exception(exc)
        finally:
            if not live.done():
                live.set_exception(RuntimeError("the user's listener ended before it was live"))
            entry = self._entries.get(user_id)
            if entry is not None and entry.listener is asyncio.current_task():
                del self._entries[user_id]

    async def aclose(self) -> None:
        listeners = [e.listener for e in self._entries.values()]
        self._entries.clear()
        for listener in listeners:
            listener.cancel()
        for listener in listeners:
            with contextlib.suppress(asyncio.CancelledError):
                await listener
