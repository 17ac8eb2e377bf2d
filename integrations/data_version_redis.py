"""The data version in Redis (production): one key under the configured prefix, shared by every replica and worker.

A bump SETs a fresh random value rather than INCRementing a counter: a counter restarts at 1 when Redis loses its
data (a restart without persistence, a flush) and would repeat a version a replica stored a response under; a
random value never comes back. A missing key is a version too (no write since Redis started): entries stored under
it stop matching at the next bump."""

from __future__ import annotations

import asyncio
import secrets

from integrations.redis_gets import RedisGets, Values

KEY = "data-version"


def _first(values: asyncio.Future[Values]) -> asyncio.Future[bytes | None]:
    """The first value, as a future (not a coroutine): a request awaits it from both its caches, and no task is made."""
    first: asyncio.Future[bytes | None] = values.get_loop().create_future()

    def settle(done: asyncio.Future[Values]) -> None:
        if first.done():
            return
        if done.cancelled():
            first.cancel()
        elif (error := done.exception()) is not None:
            first.set_exception(error)
        else:
            first.set_result(done.result()[0])

    values.add_done_callback(settle)
    return first


class RedisDataVersion:
    def __init__(self, redis_url: str, prefix: str = "rdflow", gets: RedisGets | None = None):
        """`gets`: the process's shared batched reads (the container's); without it the version has its own."""
        self._owns_gets = gets is None
        self.gets = gets or RedisGets.from_url(redis_url)
        self.redis = self.gets.redis
        self.key = f"{prefix}:{KEY}"

    def current(self) -> asyncio.Future[bytes | None]:
        """Read in the batched MGET of integrations/redis_gets.py, with the request's revocation check."""
        return _first(self.gets.get([self.key]))

    async def bump(self) -> None:
        await self.redis.set(self.key, secrets.token_bytes(16))

    async def aclose(self) -> None:
        if self._owns_gets:
            await self.gets.aclose()
