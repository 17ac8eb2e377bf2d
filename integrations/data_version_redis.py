"""The data version in Redis (production): one key under the configured prefix, shared by every replica and worker.

A bump SETs a fresh random value rather than INCRementing a counter: a counter restarts at 1 when Redis loses its
data (a restart without persistence, a flush) and would repeat a version a replica stored a response under; a
random value never comes back. A missing key is a version too (no write since Redis started): entries stored under
it stop matching at the next bump."""

from __future__ import annotations

import asyncio
import secrets

from integrations.redis_gets import RedisGets

KEY = "data-version"


class RedisDataVersion:
    def __init__(self, redis_url: str, prefix: str = "rdflow", gets: RedisGets | None = None):
        """`gets`: the process's shared batched reads (the container's); without it the version has its own."""
        self._owns_gets = gets is None
        self.gets = gets or RedisGets.from_url(redis_url)
        self.redis = self.gets.redis
        self.key = f"{prefix}:{KEY}"
        self._name = self.key.encode()  # read with every request: bytes, which redis-py sends as they are

    def current(self) -> asyncio.Future[bytes | None]:
        """Read in the batched MGET of integrations/redis_gets.py, with the request's revocation check; a future (not
        a coroutine): a request awaits it from both its caches, and no task is made."""
        return self.gets.get_one(self._name)

    async def bump(self) -> None:
        await self.redis.set(self.key, secrets.token_bytes(16))

    async def aclose(self) -> None:
        if self._owns_gets:
            await self.gets.aclose()
