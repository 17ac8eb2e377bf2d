"""The data version in Redis (production): one key under the configured prefix, shared by every replica and worker.

A bump SETs a fresh random value rather than INCRementing a counter: a counter restarts at 1 when Redis loses its
data (a restart without persistence, a flush) and would repeat a version a replica stored a response under; a
random value never comes back. A missing key is a version too (no write since Redis started): entries stored under
it stop matching at the next bump."""

from __future__ import annotations

import secrets

import redis.asyncio as redis

KEY = "data-version"


class RedisDataVersion:
    def __init__(self, redis_url: str, prefix: str = "rdflow"):
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
        self.key = f"{prefix}:{KEY}"

    async def current(self) -> bytes | None:
        return await self.redis.get(self.key)

    async def bump(self) -> None:
        await self.redis.set(self.key, secrets.token_bytes(16))

    async def aclose(self) -> None:
        await self.redis.aclose()
