"""Token revocation in Redis (production): `token:blacklist:{jti}` and friends, each with a TTL to its expiry.
Every signed-in request asks whether its token is revoked: the checks that arrive while one is on its way to Redis
go together in the next single MGET (one round trip for many requests, each asked after its request arrived)."""

from __future__ import annotations

import asyncio
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
        # Checks waiting for the MGET in flight to finish: (their keys, the future their answer goes to).
        self._waiting: list[tuple[list[str], asyncio.Future[bool]]] = []
        self._in_flight = False

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
        names = [self._key(k) for k in keys]
        if not self._in_flight:
            self._in_flight = True
            try:
                return any(v is not None for v in await self.redis.mget(names))
            finally:
                self._next_batch()
        # Never the answer of an MGET already sent: it may have left before this request arrived (and before a
        # logout this request must see).
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((names, answer))
        return await answer

    def _next_batch(self) -> None:
        batch, self._waiting = self._waiting, []
        self._in_flight = bool(batch)
        if batch:
            asyncio.get_running_loop().create_task(self._ask(batch), name="rdflow-revocation-check")

    async def _ask(self, batch: list[tuple[list[str], asyncio.Future[bool]]]) -> None:
        try:
            values = await self.redis.mget([name for names, _ in batch for name in names])
        except BaseException as exc:  # every check of the batch fails as it would have alone (503 on an outage)
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc if isinstance(exc, Exception) else ConnectionError("check cancelled"))
            if not isinstance(exc, Exception):
                raise
        else:
            at = 0
            for names, answer in batch:
                if not answer.done():  # its request may have been cancelled meanwhile
                    answer.set_result(any(v is not None for v in values[at : at + len(names)]))
                at += len(names)
        finally:
            self._next_batch()

    async def claim_once(self, key: str, expires_at: datetime) -> bool:
        return bool(await self.redis.set(self._key(key), 1, ex=self._ttl(expires_at), nx=True))

    async def aclose(self) -> None:
        await self.redis.aclose()
