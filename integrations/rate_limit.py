"""Fixed-window attempt counters: in memory (embedded mode) and in Redis (shared by every replica)."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as redis


class MemoryRateLimiter:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._monotonic = monotonic

    async def hit(self, key: str, limit: int, window_s: int) -> int:
        now = self._monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_s:
            start, count = now, 0
        self._windows[key] = (start, count + 1)
        if len(self._windows) > 100_000:  # forget finished windows so memory stays bounded
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_s}
        return max(1, int(window_s - (now - start))) if count + 1 > limit else 0


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
