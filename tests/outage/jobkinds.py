"""Job kinds meeting a dependency that is down (RDFLOW_JOB_MODULES=tests.outage.jobkinds)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

from integrations.artifacts_s3 import S3ArtifactStore
from jobs.registry import JobContext
from tests.jobkinds import trace


async def store_in_s3(ctx: JobContext) -> dict[str, Any]:
    """Stores a file in the S3-compatible server at payload "endpoint"."""
    trace(ctx, f"ran attempt {ctx.job.attempts}")
    store = S3ArtifactStore(
        "artifacts", endpoint_url=ctx.job.payload["endpoint"], access_key_id="k", secret_access_key="s", max_attempts=1
    )
    try:
        return {"key": await store.put(b"print('hello')\n")}
    finally:
        await store.aclose()


async def ping_redis(ctx: JobContext) -> dict[str, Any]:
    """Pings the Redis at payload "url" with the client library as is: its ConnectionError is not a domain error."""
    trace(ctx, f"ran attempt {ctx.job.attempts}")
    client = redis.Redis.from_url(ctx.job.payload["url"])
    try:
        return {"pong": await client.ping()}
    finally:
        await client.aclose()


HANDLERS = {"outage.store_in_s3": store_in_s3, "outage.ping_redis": ping_redis}
