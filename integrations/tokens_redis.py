"""Token revocation in Redis (production): `token:blacklist:{jti}` and friends, each with a TTL to its expiry."""

from __future__ import annotations

from datetime import datetime

import redis.asyncio as redis

from domain.ports import Clock

KINDS = {
    "jti": "token:blacklist",
    "family": "token:family",
    "refresh": "token:used",
    "grace": "token:grace",
    "kept": "token:kept",
}


class RedisTokenStore:
    def __init__(self, redis_url: str, clock: Clock, prefix: str = "rdflow"):
        self.redis = redis.Redis.from_url(redis_url)
        self.clock = clock
        self.prefix = prefix

    def _key(self, key: str) -> str:
        kind, _, value = key.partition(":")
        return f"{self.prefix}:{KINDS[kind]}:{value}"

    def _ttl(self, expires_at: datetime) -> int:
        return max(1, int((expires_at - self.clock.now()).total_seconds()))

    async def revoke(self, key: str, expires_at: datetime) -> None:
        """A second revocation can only lengthen the first (EXPIRE GT), as in the SQL store."""
        name, ttl = self._key(key), self._ttl(expires_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.set(name, 1, ex=ttl, nx=True).expire(name, ttl, gt=True).execute()

    async def is_revoked(self, *keys: str) -> bool:
        return bool(await self.redis.exists(*(self._key(k) for k in keys)))

    async def claim_once(self, key: str, expires_at: datetime) -> bool:
        return bool(await self.redis.set(self._key(key), 1, ex=self._ttl(expires_at), nx=True))

    async def aclose(self) -> None:
        await self.redis.aclose()
