"""Fast outage answers on the embedded stack: a Redis nobody answers on, a read-only SQLite file; 503, never 500."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.live import LegacyWs, LiveServer, TransportWs, free_port

PROJECTS = "{ projects(first: 5) { totalCount } }"
REGISTER = (
    'mutation { register(username: "newcomer", email: "n@example.com", password: "long-enough-1") { accessToken } }'
)


def assert_unavailable(response) -> dict:
    """503 with Retry-After and one SERVICE_UNAVAILABLE / ERR_503_001 error in a JSON body; returns the error."""
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["errorId"]) == ("SERVICE_UNAVAILABLE", "ERR_503_001")
    return error


@pytest.fixture
async def api_without_redis(tmp_path):
    """An embedded database, but Redis configured on a port where nothing listens (Redis is down)."""
    async with running_api(sqlite_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")) as api:
        yield api


async def test_a_signed_in_request_while_redis_is_down_is_503(api_without_redis: Api):
    error = assert_unavailable(await api_without_redis.post(PROJECTS))
    assert "Redis" in error["message"]


async def test_ready_is_503_with_retry_after_while_redis_is_down(api_without_redis: Api):
    response = await api_without_redis.client.get("/ready")
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    assert response.json()["checks"]["broker"].startswith("error")


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
async def test_a_new_websocket_while_redis_is_down_is_closed_1013(api_without_redis: Api, client):
    app = api_without_redis.app
    async with LiveServer(app) as server, client(server.ws_url) as ws:
        await ws.ws.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"authorization": f"Bearer {api_without_redis.tokens['admin']}"},
                }
            )
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1013


@pytest.fixture
async def read_only_api(tmp_path):
    """An API whose SQLite file can only be read (a read-only volume): reads work, every write fails."""
    async with running_api(sqlite_settings(tmp_path)) as writable:
        token = writable.tokens["admin"]
    read_only = Settings(database_url=f"sqlite:///file:{tmp_path}/rdflow.db?mode=ro&uri=true", data_dir=tmp_path)
    async with running_api(read_only, first=False) as api:
        api.tokens["admin"] = token
        yield api


async def test_a_read_only_sqlite_answers_503_to_a_write(read_only_api: Api):
    assert (await read_only_api.gql(PROJECTS))["projects"]["totalCount"] == 0
    error = assert_unavailable(await read_only_api.post('mutation { createProject(input: {name: "P"}) { id } }'))
    assert error["path"] == ["createProject"] and "database" in error["message"]


async def test_a_read_only_sqlite_answers_503_from_a_resolver(read_only_api: Api):
    error = assert_unavailable(await read_only_api.post(REGISTER, as_=None))
    assert error["path"] == ["register"]


async def test_a_request_over_a_socket_while_redis_is_down_is_503_through_the_cache_front(api_without_redis: Api):
    """The server's cache front (server/http_protocol.py) looks up before the app; with Redis down it must hand the
    request to the app, which answers 503, the same request twice (nothing stored, nothing served stale)."""
    live = LiveServer(api_without_redis.app)
    async with live, httpx.AsyncClient(base_url=f"http://127.0.0.1:{live.port}") as client:
        headers = {"authorization": f"Bearer {api_without_redis.tokens['admin']}"}
        for _ in range(2):
            response = await client.post("/graphql", json={"query": PROJECTS}, headers=headers)
            error = assert_unavailable(response)
            assert "Redis" in error["message"]
