"""A real server process delivers 100,000 events to one WebSocket subscriber and its memory stays flat."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import redis.asyncio as redis

from domain.events import DomainEvent, project_topic
from resolvers.ids import from_global_id
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT
from tests.integration.test_replicas import Process, wait_healthy
from tests.jobstack import ALIASED
from tests.live import TransportWs, free_port

pytestmark = [pytest.mark.memory, pytest.mark.redis]

EVENTS, WARM_UP, BATCH = 100_000, 10_000, 500
MAX_GROWTH_BYTES = 20 * 1024 * 1024
SUBSCRIPTION = "subscription($p: ID!) { projectEvents(projectId: $p) { entityType entityId action newStatus at } }"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def test_delivering_100k_events_leaves_server_memory_flat(tmp_path, redis_url, redis_prefix):
    settings = sqlite_settings(tmp_path, redis_url=redis_url, redis_prefix=redis_prefix)
    async with running_api(settings) as api:
        pid = (await api.gql(CREATE_PROJECT, {"input": {"name": "Soak"}}))["createProject"]["id"]
        token = api.tokens["admin"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDFLOW_") and k not in ALIASED}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": redis_url,
            "RDFLOW_REDIS_PREFIX": redis_prefix,
            "RDFLOW_DATA_DIR": str(tmp_path),
            "RDFLOW_LOG_LEVEL": "warning",
            "RDFLOW_PORT": str(port),
        }
    )
    server = Process(["serve"], env, tmp_path / "server.log")
    publisher = redis.from_url(redis_url)
    try:
        await wait_healthy(port, server)
        channel = f"{redis_prefix}:events:{project_topic(str(from_global_id(pid)[1]))}"
        async with TransportWs(f"ws://127.0.0.1:{port}/graphql") as ws:
            assert (await ws.init({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
            await ws.subscribe("1", SUBSCRIPTION, {"p": pid})
            assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "snapshot"
            delivered, baseline = 0, None
            while delivered < EVENTS:
                # One batch in flight at a time: the subscriber keeps up and is never closed for falling behind.
                async with publisher.pipeline(transaction=False) as pipe:
                    for _ in range(BATCH):
                        event = DomainEvent(
                            entity_type="Requirement",
                            entity_id=str(uuid.uuid4()),
                            action="updated",
                            at=datetime.now(UTC),
                            project_id=str(from_global_id(pid)[1]),
                            new_status="DRAFT",
                        )
                        pipe.publish(channel, orjson.dumps(event.to_dict()))
                    await pipe.execute()
                for _ in range(BATCH):
                    assert (await ws.next_payload(timeout=30))["data"]["projectEvents"]["action"] == "updated"
                delivered += BATCH
                if delivered == WARM_UP:
                    baseline = rss_bytes(server.proc.pid)
            growth = rss_bytes(server.proc.pid) - baseline
        print(f"server RSS grew {growth / 2**20:.1f} MiB over {EVENTS - WARM_UP} events after warm-up")
        assert growth < MAX_GROWTH_BYTES, f"server RSS grew {growth / 2**20:.1f} MiB"
    finally:
        await publisher.aclose()
        server.stop()
