"""Token revocation in Redis (production): `token:blacklist:{jti}` and friends, each with a TTL to its expiry.
Every signed-in request asks whether its token is revoked, through the batched reads of integrations/redis_gets.py
(one MGET for many requests, each sent after its request arrived)."""

from __future__ import annotations

import functools
from datetime import datetime

from domain.ports import Clock
from integrations.redis_gets import RedisGets

KINDS = {
    "jti": "token:blacklist",
    "family": "token:family",
    "refresh": "token:used",
    "grace": "token:grace",
    "kept": "token:kept",
}


class RedisTokenStore:
    def __init__(self, redis_url: str, clock: Clock, prefix: str = "rdflow", gets: RedisGets | None = None):
        """`gets`: the process's shared batched reads (the container's); without it the store has its own."""
        self._owns_gets = gets is None
        self.gets = gets or RedisGets.from_url(redis_url)
        self.redis = self.gets.redis
        self.clock = clock
        self.prefix = prefix
        # The Redis names of a signed-in request's revocation keys, asked with every request.
        self._names = functools.lru_cache(maxsize=10_000)(self._names_of)

    def _key(self, key: str) -> str:
        kind, _, value = key.partition(":")
        return f"{self.prefix}:{KINDS[kind]}:{value}"

    def _ttl(self, expires_at: datetime) -> int:
        return max(1, int((expires_at - self.clock.now()).total_seconds()))

    async def revoke(self, key: str, expires_at: datetime) -> None:
        """A second revocation can only lengthen the first (EXPIRE GT), as in the SQL store."""
        name, ttl = self._key(key), self._ttl(expires_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(name, 1, ex=ttl, nx=True)
            pipe.expire(name, ttl, gt=True)
            await pipe.execute()

    def _names_of(self, keys: tuple[str, ...]) -> tuple[bytes, ...]:
        return tuple(self._key(k).encode() for k in keys)  # bytes: redis-py sends them as they are

    async def is_revoked(self, *keys: str) -> bool:
        values = await self.gets.get(self._names(keys))
        return values.count(None) < len(values)

    async def claim_once(self, key: str, expires_at: datetime) -> bool:
        return bool(await self.redis.set(self._key(key), 1, ex=self._ttl(expires_at), nx=True))

    async def aclose(self) -> None:
        if self._owns_gets:
            await self.gets.aclose()
