"""Subscriptions over real WebSockets: authentication on both subprotocols, live pipeline events, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
import websockets
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from domain.enums import JobStatus, Role
from domain.events import DomainEvent
from domain.model import Job
from resolvers.ids import from_global_id, to_global_id
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ
from tests.live import LegacyWs, LiveServer, TransportWs

PROJECT_EVENTS = """subscription($p: ID!) { projectEvents(projectId: $p) { entityType entityId action oldStatus
  newStatus actor { username } } }"""
ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
JOB_UPDATES = "subscription($id: ID!) { jobUpdated(id: $id) { status progress message } }"


@pytest.fixture
async def live(sqlite_api: Api):
    async with LiveServer(sqlite_api.app) as server:
        yield server


def bearer(api: Api, name: str = "admin") -> dict:
    return {"authorization": f"Bearer {api.tokens[name]}"}


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
async def test_project_events_arrive_live_with_a_snapshot_first(sqlite_api: Api, live: LiveServer, client):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Live"}}))["createProject"]["id"]
    async with client(live.ws_url) as ws:
        assert (await ws.init(bearer(sqlite_api)))["type"] == "connection_ack"
        await ws.subscribe("1", PROJECT_EVENTS, {"p": pid})
        snapshot = (await ws.next_payload())["data"]["projectEvents"]
        assert snapshot["action"] == "snapshot" and snapshot["newStatus"] == "PLANNING"
        rid = (await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "t", "content": "c"}}))[
            "createRequirement"
        ]["id"]
        created = (await ws.next_payload())["data"]["projectEvents"]
        assert created == {
            "entityType": "Requirement",
            "entityId": rid,
            "action": "created",
            "oldStatus": None,
            "newStatus": "DRAFT",
            "actor": {"username": "admin"},
        }
        await sqlite_api.gql(
            "mutation($id: ID!) { changeRequirementStatus(id: $id, status: ANALYZING) { id } }", {"id": rid}
        )
        moved = (await ws.next_payload())["data"]["projectEvents"]
        assert (moved["action"], moved["oldStatus"], moved["newStatus"]) == ("status_changed", "DRAFT", "ANALYZING")


async def test_job_updates_follow_a_pipeline_job_to_the_end(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Jobs"}}))["createProject"]["id"]
    rid = (
        await sqlite_api.gql(
            CREATE_REQ,
            {"input": {"projectId": pid, "title": "Export invoices", "content": "Managers export invoices as CSV."}},
        )
    )["createRequirement"]["id"]
    async with TransportWs(live.ws_url) as ws:
        await ws.init(bearer(sqlite_api))
        job = (await sqlite_api.gql("mutation($r: ID!) { generatePrd(requirementId: $r) { id } }", {"r": rid}))[
            "generatePrd"
        ]
        await ws.subscribe("1", JOB_UPDATES, {"id": job["id"]})
        statuses = []
        while True:
            message = await ws.recv()
            if message["type"] == "complete":
                break
            statuses.append(message["payload"]["data"]["jobUpdated"]["status"])
        assert statuses[-1] == "SUCCEEDED"
        assert statuses == sorted(statuses, key=["QUEUED", "RUNNING", "SUCCEEDED"].index)


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
@pytest.mark.parametrize("payload", [None, {"authorization": "Bearer not-a-token"}, {"token": ""}])
async def test_unauthenticated_sockets_are_closed_before_any_operation(
    sqlite_api: Api, live: LiveServer, client, payload
):
    async with client(live.ws_url) as ws:
        await ws.ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code in (4401, 4403)


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
async def test_skipping_connection_init_gets_nothing(sqlite_api: Api, live: LiveServer, client):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Secret"}}))["createProject"]["id"]
    async with client(live.ws_url) as ws:
        await ws.subscribe("1", PROJECT_EVENTS, {"p": pid})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4401


async def test_non_members_cannot_subscribe_to_a_project(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Private"}}))["createProject"]["id"]
    await sqlite_api.user("outsider", Role.DEVELOPER)
    async with TransportWs(live.ws_url) as ws:
        await ws.init(bearer(sqlite_api, "outsider"))
        await ws.subscribe("1", PROJECT_EVENTS, {"p": pid})
        message = await ws.recv()
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_subscriber_that_falls_behind_is_closed_with_the_reason(sqlite_api: Api, live: LiveServer):
    bus = sqlite_api.container.bus
    bus.max_pending = 2
    busy = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Busy"}}))["createProject"]["id"]
    calm = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Calm"}}))["createProject"]["id"]
    async with TransportWs(live.ws_url) as slow, TransportWs(live.ws_url) as other:
        for ws, pid in ((slow, busy), (other, calm)):
            await ws.init(bearer(sqlite_api))
            await ws.subscribe("1", PROJECT_EVENTS, {"p": pid})
            await ws.next_payload()  # snapshot
        # A burst with no pause: the busy subscriber's sender cannot run in between, so it falls 3 behind.
        for _ in range(3):
            await bus.publish(
                DomainEvent(
                    entity_type="Requirement",
                    entity_id=str(uuid.uuid4()),
                    action="updated",
                    at=datetime.now(UTC),
                    project_id=str(from_global_id(busy)[1]),
                )
            )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await slow.recv(timeout=10)
        assert closed.value.rcvd.code == 4008 and "too slow: 2 events pending" in closed.value.rcvd.reason
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": calm, "title": "t", "content": "c"}})
        assert (await other.next_payload())["data"]["projectEvents"]["action"] == "created"


async def test_disconnecting_cleans_up_subscriptions(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Tidy"}}))["createProject"]["id"]
    bus = sqlite_api.container.bus
    # The server's own listeners (its user cache follows the admin the request above signed in as) are there
    # before and after: what is counted is what the sockets added.
    before, listeners = len(asyncio.all_tasks()), bus.subscriber_count()
    for _ in range(3):
        async with TransportWs(live.ws_url) as ws:
            await ws.init(bearer(sqlite_api))
            await ws.subscribe("1", PROJECT_EVENTS, {"p": pid})
            await ws.next_payload()
            assert bus.subscriber_count() == listeners + 1
    for _ in range(100):
        if bus.subscriber_count() <= listeners and len(asyncio.all_tasks()) <= before:
            break
        await asyncio.sleep(0.05)
    assert bus.subscriber_count() <= listeners
    assert len(asyncio.all_tasks()) <= before


@pytest.mark.parametrize("client, keep_alive", [(TransportWs, "ping"), (LegacyWs, "ka")])
async def test_idle_sockets_get_keep_alives_at_the_configured_interval(tmp_path, client, keep_alive):
    async with (
        running_api(sqlite_settings(tmp_path, ws_keepalive_s=0.2)) as api,
        LiveServer(api.app) as server,
        client(server.ws_url) as ws,
    ):
        assert (await ws.init(bearer(api)))["type"] == "connection_ack"
        seen: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.1
        while (left := deadline - loop.time()) > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                seen.append(json.loads(await asyncio.wait_for(ws.ws.recv(), left))["type"])
        assert 3 <= seen.count(keep_alive) <= 6, seen
        assert set(seen) == {keep_alive}, seen
        if keep_alive == "ping":  # the client answers; the connection stays usable
            await ws.ws.send(json.dumps({"type": "pong"}))
            await ws.ws.send(json.dumps({"type": "ping"}))
            answers = [json.loads(await asyncio.wait_for(ws.ws.recv(), 2))["type"] for _ in range(2)]
            assert "pong" in answers, answers


async def test_each_event_reads_related_data_afresh(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Fresh"}}))["createProject"]["id"]
    dev = await sqlite_api.user("dev", Role.DEVELOPER)
    dev_id = to_global_id("User", str(dev.id))
    await sqlite_api.gql(ADD_MEMBER, {"p": pid, "u": dev_id})
    async with TransportWs(live.ws_url) as ws:
        await ws.init(bearer(sqlite_api))
        await ws.subscribe("1", "subscription($p: ID!) { projectEvents(projectId: $p) { actor { role } } }", {"p": pid})
        await ws.next_payload()  # snapshot
        new_req = {"input": {"projectId": pid, "title": "t", "content": "c"}}
        await sqlite_api.gql(CREATE_REQ, new_req, as_="dev")
        assert (await ws.next_payload())["data"]["projectEvents"]["actor"] == {"role": "DEVELOPER"}
        await sqlite_api.gql(
            "mutation($u: ID!) { updateUserRole(userId: $u, role: PROJECT_ADMIN) { id } }", {"u": dev_id}
        )
        await sqlite_api.gql(CREATE_REQ, new_req, as_="dev")
        assert (await ws.next_payload())["data"]["projectEvents"]["actor"] == {"role": "PROJECT_ADMIN"}


async def test_operations_on_one_socket_do_not_share_cached_rows(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Before"}}))["createProject"]["id"]
    rid = (await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "t", "content": "c"}}))[
        "createRequirement"
    ]["id"]
    query = "query($id: ID!) { node(id: $id) { ... on Requirement { project { name } } } }"
    async with TransportWs(live.ws_url) as ws:
        await ws.init(bearer(sqlite_api))
        await ws.subscribe("1", query, {"id": rid})
        assert (await ws.next_payload())["data"]["node"]["project"]["name"] == "Before"
        await sqlite_api.gql(
            'mutation($id: ID!) { updateProject(id: $id, input: {name: "After"}) { id } }', {"id": pid}
        )
        await ws.subscribe("2", query, {"id": rid})
        message = await ws.recv()
        while message.get("id") != "2" or message["type"] != "next":
            message = await ws.recv()
        assert message["payload"]["data"]["node"]["project"]["name"] == "After"


async def test_job_updates_send_each_state_once(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Once"}}))["createProject"]["id"]
    project_id = from_global_id(pid)[1]
    deps = sqlite_api.container.services.deps
    job = Job(
        kind="test.none",
        subject_type="Project",
        subject_id=project_id,
        project_id=project_id,
        status=JobStatus.RUNNING,
        created_at=deps.clock.now(),
        updated_at=deps.clock.now(),
    )
    async with deps.uow() as uow:
        uow.jobs.add(job)
        await uow.commit()
    async with TransportWs(live.ws_url) as ws:
        await ws.init(bearer(sqlite_api))
        await ws.subscribe("1", JOB_UPDATES, {"id": to_global_id("Job", str(job.id))})
        assert (await ws.next_payload())["data"]["jobUpdated"] == {"status": "RUNNING", "progress": 0, "message": None}
        for _ in range(2):  # a second delivery, or an event whose change the first read already saw
            await deps.bus.publish(
                DomainEvent(entity_type="Job", entity_id=str(job.id), action="progress", at=deps.clock.now())
            )
        lifecycle = sqlite_api.container.services.job_lifecycle
        await lifecycle.progress(job.id, 50, "half")
        await lifecycle.progress(job.id, 60, "more")
        # Five reads of at most three distinct states: without de-duplication some state is sent twice in a row.
        sent = [(0, None)]
        while sent[-1] != (60, "more"):
            update = (await ws.next_payload())["data"]["jobUpdated"]
            sent.append((update["progress"], update["message"]))
        assert all(a != b for a, b in itertools.pairwise(sent)), sent


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
async def test_the_operation_limit_per_connection_is_refused_with_the_error_contract(
    sqlite_api: Api, live: LiveServer, client
):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Crowded"}}))["createProject"]["id"]
    async with client(live.ws_url) as ws:
        await ws.init(bearer(sqlite_api))
        for i in range(100):  # strawberry's default limit
            await ws.subscribe(str(i), PROJECT_EVENTS, {"p": pid})
        for _ in range(100):
            await ws.next_payload()
        await ws.subscribe("one too many", PROJECT_EVENTS, {"p": pid})
        refused = await ws.recv()
        assert (refused["type"], refused["id"]) == ("error", "one too many")
        error = refused["payload"][0] if isinstance(refused["payload"], list) else refused["payload"]
        assert error["extensions"] == {"code": "TOO_MANY_REQUESTS", "errorId": "ERR_429_001", "limit": 100}


async def test_websocket_messages_are_capped_like_http_bodies(sqlite_api: Api, live: LiveServer):
    limit = Settings().max_body_bytes
    async with TransportWs(live.ws_url, max_size=None) as ws:
        await ws.init(bearer(sqlite_api))
        await ws.subscribe("1", "query { me { username } }", {"padding": "x" * limit})
        closed = await closed_with(ws)
        assert closed.code == 1009, closed


async def closed_with(ws: TransportWs, timeout: float = 10) -> websockets.frames.Close:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.recv(timeout=timeout)
    assert closed.value.rcvd is not None, "the connection dropped without a close frame"
    return closed.value.rcvd


def websocket_connections(server: LiveServer) -> list[WebSocketsSansIOProtocol]:
    return [c for c in server.server.server_state.connections if isinstance(c, WebSocketsSansIOProtocol)]


async def test_a_subscriber_that_stops_reading_loses_its_connection_soon_after_the_overflow(
    sqlite_api: Api, live: LiveServer, caplog
):
    bus = sqlite_api.container.bus
    bus.max_pending = 5
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Stuck"}}))["createProject"]["id"]
    project_id = str(from_global_id(pid)[1])
    query = "subscription($p: ID!) { projectEvents(projectId: $p) { data } }"
    async with TransportWs(live.ws_url, compression=None) as stuck:  # uncompressed: the padding fills buffers
        await stuck.init(bearer(sqlite_api))
        await stuck.subscribe("1", query, {"p": pid})
        await stuck.next_payload()
        assert len(websocket_connections(live)) == 1
        # The client reads no more: the kernel's buffers and uvicorn's fill, the sender blocks, events pile up.
        stuck.ws.transport.pause_reading()
        for _ in range(2000):
            await bus.publish(
                DomainEvent(
                    entity_type="Requirement",
                    entity_id=str(uuid.uuid4()),
                    action="updated",
                    at=datetime.now(UTC),
                    project_id=project_id,
                    data={"padding": "x" * 100_000},
                )
            )
            await asyncio.sleep(0.001)
            if any("too slow" in r.getMessage() for r in caplog.records):
                break
        else:
            raise AssertionError("the subscriber never fell behind")
        loop = asyncio.get_running_loop()
        overflowed_at = loop.time()
        while websocket_connections(live) and loop.time() - overflowed_at < 15:
            await asyncio.sleep(0.1)
        assert not websocket_connections(live), "the server still holds the stuck client's connection"
    assert [r.levelname for r in caplog.records if "too slow" in r.getMessage()] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
