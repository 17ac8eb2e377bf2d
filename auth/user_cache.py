"""Signed-in users kept briefly in this process, so a request does not read its viewer from the database.

An entry is used only while the data version (domain.ports.DataVersion, bumped after every commit in any process)
is the one read before its user was loaded: a role change, deactivation or password change committed on any replica
moves it before that replica answers, so the next request anywhere reads the user again (the event announcing the
change may still be on its way through Redis). An entry is also dropped when an event about its user reaches this
process, when the bus may have lost events, and after `ttl_s` anyway."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from domain.events import entity_topic
from domain.model import User
from domain.ports import DataVersion, EventBus

TTL_S = 30.0
MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    user: User | None
    version: Hashable  # the data version read before the user was
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
        versions: DataVersion | None = None,
    ):
        self.bus = bus
        self.load = load
        self.versions = versions
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._filling: dict[tuple[uuid.UUID, Hashable], asyncio.Future[User | None]] = {}
        # Told +1/-1 as a listener starts and ends (the subscription gauge counts clients' subscriptions only).
        self.on_listen = on_listen

    async def get(self, user_id: uuid.UUID, version_read: Awaitable[Hashable] | None = None) -> User | None:
        """`version_read`: the data version the request read (asked before its revocation check, so both go in one
        Redis round trip); None: read now."""
        version: Hashable = None
        if version_read is None and self.versions is not None:
            version_read = self.versions.current()
        if version_read is not None:
            try:
                version = await version_read
            except Exception:  # noqa: BLE001 - freshness unknown (e.g. SQLite busy): read the user, keep nothing
                return await self.load(user_id)
        entry = self._entries.get(user_id)
        if (
            entry is not None
            and entry.version == version
            and entry.expires > time.monotonic()
            and not entry.listener.done()
        ):
            return entry.user
        # Only a read that began after this request's version was read may answer it.
        key = (user_id, version)
        filling = self._filling.get(key)
        if filling is not None:
            return await asyncio.shield(filling)
        future: asyncio.Future[User | None] = asyncio.get_running_loop().create_future()
        self._filling[key] = future
        try:
            user = await self._fill(user_id, version)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._filling.pop(key, None)
        future.set_result(user)
        return user

    async def _fill(self, user_id: uuid.UUID, version: Hashable) -> User | None:
        entry = self._entries.get(user_id)
        if entry is not None and not entry.listener.done():
            # Only the version moved (a write somewhere): read again under the listener that is live already.
            user = await self.load(user_id)
            if self._entries.get(user_id) is entry and not entry.listener.done():
                self._entries[user_id] = _Entry(user, version, time.monotonic() + self.ttl_s, entry.listener)
            return user
        # Listen first, then read: a change committed after the read is announced after the listener is live.
        live: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        listener = asyncio.create_task(self._listen(user_id, live), name=f"rdflow-user-cache-{user_id}")
        try:
            await asyncio.shield(live)
        except Exception:  # noqa: BLE001 - the bus is down: read without caching
            return await self.load(user_id)
        user = await self.load(user_id)
        replaced = self._entries.get(user_id)  # a concurrent fill under another version got there first
        if listener.done() or replaced is not None or len(self._entries) >= self.max_entries:
            listener.cancel()
            return user
        self._entries[user_id] = _Entry(user, version, time.monotonic() + self.ttl_s, listener)
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
