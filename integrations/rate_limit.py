"""Fixed-window attempt counters in Redis, shared by every replica (without Redis: persistence/rate_limits.py)."""

from __future__ import annotations

import redis.asyncio as redis


class RedisRateLimiter:
    def __init__(self, redis_url: str, prefix: str = "rdflow"):
        self.redis = redis.Redis.from_url(redis_url)
        self.prefix = prefix

    async def hit(self, key: str, limit: int, window_s: int) -> int:
        name = f"{self.prefix}:ratelimit:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            count, _, ttl = await pipe.incr(name).expire(name, window_s, nx=True).ttl(name).execute()
        return max(1, int(ttl)) if count > limit else 0

    async def aclose(self) -> None:
        await self.redis.aclose()
