"""PostgreSQL and Redis stopped and started under traffic and live subscriptions, against `rdflow serve` in
production configuration: 503 + ERR_503_001 + Retry-After while down (never a bare 500), new sockets closed with
1013, /ready 503, subscribers told to resync (4009), and recovery without restarting the API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import websockets
from cryptography.fernet import Fernet

from auth.tokens import ACCESS
from persistence.migrations import upgrade
from server.container import build_container
from server.settings import Settings
from tests.live import TransportWs, free_port
from tests.outage.servers import PG_BIN, ApiProcess, OwnPostgres, OwnRedis

pytestmark = [
    pytest.mark.outage,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="no PostgreSQL server binaries to start our own"),
]

PROJECTS = "{ projects(first: 5) { totalCount } }"
CREATE_PROJECT = 'mutation { createProject(input: {name: "Outage"}) { id } }'
CREATE_REQ = 'mutation($p: ID!) { createRequirement(input: {projectId: $p, title: "t", content: "c"}) { id } }'
PROJECT_EVENTS = "subscription($p: ID!) { projectEvents(projectId: $p) { action entityType } }"
SUBSCRIBERS = 5


@dataclass
class Stack:
    pg: OwnPostgres
    redis: OwnRedis
    api: ApiProcess
    base_url: str
    token: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws") + "/graphql"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory) -> AsyncIterator[Stack]:
    pg, own_redis = OwnPostgres(), OwnRedis()
    api = None
    try:
        pg.start()
        own_redis.start()
        data_dir = tmp_path_factory.mktemp("api")
        fields = {
            "env": "production",
            "database_url": pg.url,
            "redis_url": own_redis.url,
            "data_dir": data_dir,
            "jwt_secret": uuid.uuid4().hex * 2,
            "fernet_key": Fernet.generate_key().decode(),
            "host": "127.0.0.1",
            "port": free_port(),
            "ws_keepalive_s": 1,
        }
        upgrade(pg.url)
        container = build_container(Settings(**fields))
        try:
            admin = await container.services.users.bootstrap_admin(
                username="admin", email="admin@example.com", password="s3cret-pass-1"
            )
            token = container.tokens.issue(admin, ACCESS, container.services.deps.clock.now())[0]
        finally:
            await container.aclose()
        api = ApiProcess(fields, data_dir / "api.log").start()
        stack = Stack(pg, own_redis, api, f"http://127.0.0.1:{fields['port']}", token)
        async with httpx.AsyncClient(base_url=stack.base_url) as client:
            await until_ready(client, stack, 30)
        yield stack
    finally:
        if api is not None:
            api.stop()
        own_redis.remove()
        pg.remove()


async def until_ready(client: httpx.AsyncClient, stack: Stack, timeout: float) -> float:
    """Seconds until /ready says 200 (the API process must stay up meanwhile)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        stack.api.check_alive()
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/ready")).status_code == 200:
                return loop.time() - start
        if loop.time() - start > timeout:
            raise AssertionError(f"/ready not 200 within {timeout} s; API log:\n{stack.api.log()[-3000:]}")
        await asyncio.sleep(0.1)


def classify(response: httpx.Response) -> tuple[str, int | None, str | None]:
    code = None
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        code = response.json()["errors"][0]["extensions"]["code"]
    if response.status_code == 503:
        assert int(response.headers["retry-after"]) > 0, response.headers
        assert response.json()["errors"][0]["extensions"]["errorId"] == "ERR_503_001", response.text
    return ("answer", response.status_code, code)


@contextlib.asynccontextmanager
async def traffic(stack: Stack, workers: int = 4) -> AsyncIterator[list[tuple[str, int | None, str | None]]]:
    """Signed-in reads and writes in a loop; every answer (or dropped connection) is recorded."""
    answers: list[tuple[str, int | None, str | None]] = []
    stop = asyncio.Event()

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=15) as client:
            while not stop.is_set():
                query = CREATE_PROJECT if n == 0 else PROJECTS
                try:
                    response = await client.post("/graphql", json={"query": query}, headers=stack.headers())
                    answers.append(classify(response))
                except httpx.TransportError as exc:
                    answers.append(("dropped", None, type(exc).__name__))
                await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(worker(n)) for n in range(workers)]
    try:
        yield answers
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def assert_only_ok_or_unavailable(answers: list[tuple[str, int | None, str | None]]) -> Counter:
    counts = Counter(answers)
    bad = {k: v for k, v in counts.items() if k not in {("answer", 200, None), ("answer", 503, "SERVICE_UNAVAILABLE")}}
    assert not bad, f"answers other than 200 or 503 SERVICE_UNAVAILABLE: {bad} (all: {counts})"
    return counts


async def refused_with(stack: Stack) -> int:
    """The close code of a new WebSocket that sends its connection_init (0 when it is accepted)."""
    async with TransportWs(stack.ws_url) as ws:
        try:
            reply = await ws.init({"authorization": f"Bearer {stack.token}"})
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
        assert reply["type"] == "connection_ack", reply
        return 0


async def subscribed(stack: Stack, project_id: str) -> TransportWs:
    ws = await TransportWs(stack.ws_url).__aenter__()
    assert (await ws.init({"authorization": f"Bearer {stack.token}"}))["type"] == "connection_ack"
    await ws.subscribe("1", PROJECT_EVENTS, {"p": project_id})
    assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "snapshot"
    return ws


async def closed_with(ws: TransportWs, timeout: float = 10) -> int:
    """The close code the server ends this socket with (events before it are skipped)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv(timeout)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006


async def a_live_event_arrives(stack: Stack, client: httpx.AsyncClient, project_id: str) -> None:
    ws = await subscribed(stack, project_id)
    try:
        created = await client.post(
            "/graphql", json={"query": CREATE_REQ, "variables": {"p": project_id}}, headers=stack.headers()
        )
        assert created.status_code == 200 and "errors" not in created.json(), created.text
        event = (await ws.next_payload())["data"]["projectEvents"]
        assert (event["entityType"], event["action"]) == ("Requirement", "created")
    finally:
        await ws.__aexit__(None, None, None)


async def new_project(stack: Stack, client: httpx.AsyncClient) -> str:
    response = await client.post("/graphql", json={"query": CREATE_PROJECT}, headers=stack.headers())
    assert response.status_code == 200, response.text
    return response.json()["data"]["createProject"]["id"]


async def down_for(seconds: float, stack: Stack, client: httpx.AsyncClient) -> None:
    """While a dependency is down: /ready is 503 with Retry-After and new sockets are closed with 1013."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    ready = await client.get("/ready")
    assert ready.status_code == 503 and int(ready.headers["retry-after"]) > 0, ready.text
    assert await refused_with(stack) == 1013
    await asyncio.sleep(max(0.0, end - loop.time()))


async def test_redis_stopped_and_started_under_traffic_and_subscriptions(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=15) as client:
        project_id = await new_project(stack, client)
        sockets = [await subscribed(stack, project_id) for _ in range(SUBSCRIBERS)]
        try:
            async with traffic(stack) as answers:
                await asyncio.sleep(1)
                stack.redis.stop()
                codes = await asyncio.gather(*(closed_with(ws) for ws in sockets))
                assert codes == [4009] * SUBSCRIBERS
                await down_for(3, stack, client)
                stack.redis.start()
                await until_ready(client, stack, 15)
                await asyncio.sleep(1)
            counts = assert_only_ok_or_unavailable(answers)
            assert counts[("answer", 503, "SERVICE_UNAVAILABLE")] > 0 and answers[-1] == ("answer", 200, None), counts
            assert await refused_with(stack) == 0
            await a_live_event_arrives(stack, client, project_id)
        finally:
            for ws in sockets:
                await ws.__aexit__(None, None, None)
    stack.api.check_alive()


async def test_postgres_stopped_and_started_under_traffic(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=15) as client:
        project_id = await new_project(stack, client)
        async with traffic(stack) as answers:
            await asyncio.sleep(1)
            stack.pg.stop()
            await down_for(4, stack, client)
            stack.pg.start()
            await until_ready(client, stack, 15)
            await asyncio.sleep(1)
        counts = assert_only_ok_or_unavailable(answers)
        assert counts[("answer", 503, "SERVICE_UNAVAILABLE")] > 0 and answers[-1] == ("answer", 200, None), counts
        assert await refused_with(stack) == 0
        await a_live_event_arrives(stack, client, project_id)
    stack.api.check_alive()
