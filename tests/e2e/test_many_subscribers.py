"""Many live subscribers on one project, over real WebSockets, embedded and on PostgreSQL + Redis: every event
reaches each of them once and in order, executed once for all, with no database connection held while they wait."""

from __future__ import annotations

import asyncio
import json

import pytest

from schema import fanout
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ
from tests.live import LiveServer, TransportWs

SUBSCRIBERS = 300
EVENTS = 5
# Only the event's own fields: one shared result for every viewer.
PROJECT_EVENTS = "subscription($p: ID!) { projectEvents(projectId: $p) { entityType entityId action } }"


@pytest.fixture(params=["embedded", pytest.param("postgres-redis", marks=pytest.mark.postgres)])
async def many_api(request, tmp_path):
    if request.param == "embedded":
        settings = sqlite_settings(tmp_path)
    else:
        settings = Settings(
            database_url=request.getfixturevalue("fresh_postgres_url"),
            data_dir=tmp_path,
            redis_url=request.getfixturevalue("redis_url"),
            redis_prefix=request.getfixturevalue("redis_prefix"),
        )
    async with running_api(settings) as api:
        yield api


async def _subscribed(url: str, token: str, project: str) -> TransportWs:
    ws = TransportWs(url, ping_interval=None)
    await ws.__aenter__()
    await ws.ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    assert (await ws.recv(timeout=60))["type"] == "connection_ack"  # 300 sign-ins at once on a busy machine
    await ws.subscribe("1", PROJECT_EVENTS, {"p": project})
    assert (await ws.next_payload(timeout=60))["data"]["projectEvents"]["action"] == "snapshot"
    return ws


async def _received(ws: TransportWs, count: int) -> list[str]:
    return [(await ws.next_payload(timeout=60))["data"]["projectEvents"]["entityId"] for _ in range(count)]


async def test_every_subscriber_gets_every_event_once_in_order_with_no_connection_held(many_api: Api):
    api = many_api
    pool = api.container.engine.sync_engine.pool
    project = (await api.gql(CREATE_PROJECT, {"input": {"name": "Crowd"}}))["createProject"]["id"]
    async with LiveServer(api.app) as live:
        clients = await asyncio.gather(
            *(_subscribed(live.ws_url, api.tokens["admin"], project) for _ in range(SUBSCRIBERS))
        )
        try:
            assert pool.checkedout() == 0, "an idle subscription holds a database connection"
            executions = fanout.SHARED.executions
            created = []
            for i in range(EVENTS + 1):  # the last one is a marker: nothing (no duplicate) arrives before it
                body = await api.gql(CREATE_REQ, {"input": {"projectId": project, "title": f"r{i}", "content": "c"}})
                created.append(body["createRequirement"]["id"])
            received = await asyncio.gather(*(_received(ws, EVENTS + 1) for ws in clients))
            assert all(ids == created for ids in received), "some subscriber missed, repeated or reordered an event"
            assert fanout.SHARED.executions - executions == EVENTS + 1, "each event runs once for all subscribers"
            assert pool.checkedout() == 0
        finally:
            await asyncio.gather(*(ws.__aexit__(None, None, None) for ws in clients), return_exceptions=True)
