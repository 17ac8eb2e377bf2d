"""Batched Redis reads for the request path: the GETs asked in one turn of the event loop, or while a read is on its
way to Redis, go together in the next single MGET (one round trip for many requests and for the several keys of one
request: its token's revocation and the data version), which names each key once.

A key is only ever answered by an MGET sent after it was asked: an answer already on its way may predate a write
(a logout, a commit's version bump) that the asking request must see."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis

Values = list[bytes | None]


class RedisGets:
    def __init__(self, client: redis.Redis):
        self.redis = client
        # Reads waiting for the next MGET: (their keys, the future their values go to, whether it takes the one value
        # of a single key rather than the list).
        self._waiting: list[tuple[Sequence[str | bytes], asyncio.Future[Any], bool]] = []
        self._busy = False  # an MGET is on its way, or one is scheduled for this turn of the loop

    @classmethod
    def from_url(cls, redis_url: str) -> RedisGets:
        return cls(redis.Redis.from_url(redis_url, socket_connect_timeout=2))

    def get(self, names: Sequence[str | bytes]) -> asyncio.Future[Values]:
        """The values of `names` (None where a key is absent), from an MGET sent after this call. Asked now, not when
        awaited: a caller can ask for several reads and await them after other work. A failed read's error counts
        as seen: the caller may have stopped waiting (a refused or cancelled request)."""
        return self._asked(names, False)

    def get_one(self, name: str | bytes) -> asyncio.Future[bytes | None]:
        """The value of `name`, as `get` reads it (nothing between the MGET and the awaiting request)."""
        return self._asked((name,), True)

    def _asked(self, names: Sequence[str | bytes], one: bool) -> asyncio.Future[Any]:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((names, answer, one))
        if not self._busy:
            self._busy = True
            # Sent at the end of this turn, so reads asked in the same turn share it.
            asyncio.get_running_loop().call_soon(self._send)
        return answer

    def _send(self) -> None:
        batch, self._waiting = self._waiting, []
        self._busy = bool(batch)
        if batch:
            asyncio.get_running_loop().create_task(self._ask(batch), name="rdflow-redis-gets")

    async def _ask(self, batch: list[tuple[Sequence[str | bytes], asyncio.Future[Any], bool]]) -> None:
        # Each key once: the requests of one turn mostly read the same data version, and a user's the same token.
        unique = list(dict.fromkeys(name for names, _, _ in batch for name in names))
        try:
            values = await self.redis.mget(unique)
        except BaseException as exc:  # every read of the batch fails as it would have alone (503 on an outage)
            for _, answer, _ in batch:
                if not answer.done():
                    answer.set_exception(exc if isinstance(exc, Exception) else ConnectionError("read cancelled"))
                    answer.exception()  # seen (see `get`)
            if not isinstance(exc, Exception):
                raise
        else:
            found = dict(zip(unique, values, strict=True))
            for names, answer, one in batch:
                if not answer.done():  # its request may have been cancelled meanwhile
                    answer.set_result(found[names[0]] if one else [found[name] for name in names])
        finally:
            self._send()

    async def aclose(self) -> None:
        await self.redis.aclose()
