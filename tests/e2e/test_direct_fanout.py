"""Live events written straight from the publisher to each graphql-transport-ws connection (server/ws_protocol.py):
each operation's own id, order and exactly-once across the direct and the queued path, slow subscribers, a removed
member cut off, and a socket that fails mid-fan-out leaving the others untouched."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets

from domain.events import DomainEvent
from resolvers.ids import from_global_id
from server.ws_handlers import TransportWSHandler
from server.ws_protocol import BoundedCloseWebSocketProtocol
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ
from tests.e2e.test_subscription_access import REMOVE_MEMBER, closed_with, project_with_member
from tests.e2e.test_subscriptions import websocket_connections
from tests.live import LegacyWs, LiveServer, TransportWs

# The event's own fields only: one shared result for every viewer, written directly.
OWN_FIELDS = "subscription($p: ID!) { projectEvents(projectId: $p) { entityId action data } }"


@pytest.fixture
async def live(sqlite_api: Api):
    async with LiveServer(sqlite_api.app) as server:
        yield server


async def project(api: Api, name: str) -> tuple[str, str]:
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": name}}))["createProject"]["id"]
    return pid, str(from_global_id(pid)[1])


def event(project_id: str, **data: object) -> DomainEvent:
    return DomainEvent(
        entity_type="Requirement",
        entity_id=str(uuid.uuid4()),
        action="updated",
        at=datetime.now(UTC),
        project_id=project_id,
        data=dict(data),
    )


async def signed_in(url: str, token: str, client: type[TransportWs] = TransportWs) -> TransportWs:
    ws = await client(url).__aenter__()
    assert (await ws.init({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
    return ws


async def nexts(ws: TransportWs, count: int) -> list[tuple[str, int]]:
    """(operation id, the event's `data.n`) of the next `count` messages, all of them `next`."""
    out = []
    for _ in range(count):
        message = await ws.recv()
        assert message["type"] in ("next", "data"), message
        out.append((message["id"], message["payload"]["data"]["projectEvents"]["data"]["n"]))
    return out


async def snapshots(ws: TransportWs, count: int) -> None:
    for _ in range(count):
        assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "snapshot"


async def closed_without_next(ws: TransportWs) -> tuple[int, str]:
    """The close code and reason; fails if an event arrives first."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            message = await ws.recv()
            assert message["type"] != "next", f"an event reached a removed member: {message}"
    assert closed.value.rcvd is not None, "the connection dropped without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def direct_writes(live: LiveServer) -> int:
    return sum(c.direct_writes for c in websocket_connections(live) if isinstance(c, BoundedCloseWebSocketProtocol))


async def test_each_operation_gets_every_event_under_its_own_id_once_in_order(sqlite_api: Api, live: LiveServer):
    pid, project_id = await project(sqlite_api, "Ids")
    token = sqlite_api.tokens["admin"]
    both = await signed_in(live.ws_url, token)
    other = await signed_in(live.ws_url, token)
    try:
        await both.subscribe("a", OWN_FIELDS, {"p": pid})
        await both.subscribe('b"quoted', OWN_FIELDS, {"p": pid})  # the id is JSON-escaped in the frame
        await other.subscribe("a", OWN_FIELDS, {"p": pid})
        await snapshots(both, 2)
        await snapshots(other, 1)
        for n in range(20):
            await sqlite_api.container.bus.publish(event(project_id, n=n))
        got = await nexts(both, 40)
        assert [n for i, n in got if i == "a"] == list(range(20))
        assert [n for i, n in got if i == 'b"quoted'] == list(range(20))
        assert await nexts(other, 20) == [("a", n) for n in range(20)]
        assert direct_writes(live) == 60, "the events were not written by the direct path"
        # Completing one operation stops its events; the other keeps getting them.
        await both.ws.send('{"id":"a","type":"complete"}')
        await asyncio.sleep(0.1)
        await sqlite_api.container.bus.publish(event(project_id, n=20))
        assert await nexts(both, 1) == [('b"quoted', 20)]
        assert await nexts(other, 1) == [("a", 20)]
    finally:
        for ws in (both, other):
            await ws.__aexit__(None, None, None)


async def test_a_completed_operation_gets_nothing_from_an_event_published_before_its_task_ends(
    sqlite_api: Api, live: LiveServer, monkeypatch
):
    """The client completes "a" and at once subscribes "a" again: an event published in that same turn of the loop
    (the old operation's task is cancelled but has not run, so its subscription is still on the bus) reaches the
    connection once, under the new operation, never under the completed one."""
    pid, project_id = await project(sqlite_api, "Reused")
    published: list[int] = []
    real_complete = TransportWSHandler.handle_complete

    async def complete_then_publish(self: TransportWSHandler, message: Any) -> None:
        await real_complete(self, message)
        published.append(len(published))
        await sqlite_api.container.bus.publish(event(project_id, n=100 + published[-1]))

    ws = await signed_in(live.ws_url, sqlite_api.tokens["admin"])
    try:
        await ws.subscribe("a", OWN_FIELDS, {"p": pid})
        await ws.subscribe("b", OWN_FIELDS, {"p": pid})
        await snapshots(ws, 2)
        monkeypatch.setattr(TransportWSHandler, "handle_complete", complete_then_publish)
        await ws.ws.send('{"id":"a","type":"complete"}')
        await ws.subscribe("a", OWN_FIELDS, {"p": pid})
        got: list[tuple[str, int]] = []  # (operation id, n), -1 for a snapshot
        while ("a", -1) not in got:
            message = await ws.recv()
            fields = message["payload"]["data"]["projectEvents"]
            got.append((message["id"], -1 if fields["action"] == "snapshot" else fields["data"]["n"]))
        await sqlite_api.container.bus.publish(event(project_id, n=1))
        while ("a", 1) not in got or ("b", 1) not in got:
            message = await ws.recv()
            got.append((message["id"], message["payload"]["data"]["projectEvents"]["data"]["n"]))
        assert published == [0]
        # "b" saw the event published at the completion; "a" did not: the completed operation is marked so before
        # the publish, and the new one subscribed after it.
        assert got.count(("b", 100)) == 1
        assert got.count(("a", 100)) == 0, got
        assert got.count(("a", 1)) == 1 and got.count(("b", 1)) == 1, got
    finally:
        await ws.__aexit__(None, None, None)


async def test_order_and_exactly_once_hold_when_some_events_take_the_queued_path(
    sqlite_api: Api, live: LiveServer, monkeypatch
):
    """Every third direct write on each connection is refused (as for a client not keeping up): those events and
    every one after them until the subscriber's task has caught up go through its queue; nothing overtakes."""
    real = BoundedCloseWebSocketProtocol.write_text_now
    calls: dict[int, int] = {}

    def sometimes(self: BoundedCloseWebSocketProtocol, text: bytes) -> bool:
        calls[id(self)] = calls.get(id(self), 0) + 1
        return calls[id(self)] % 3 != 0 and real(self, text)

    monkeypatch.setattr(BoundedCloseWebSocketProtocol, "write_text_now", sometimes)
    pid, project_id = await project(sqlite_api, "Order")
    clients = [await signed_in(live.ws_url, sqlite_api.tokens["admin"]) for _ in range(3)]
    try:
        for ws in clients:
            await ws.subscribe("1", OWN_FIELDS, {"p": pid})
            await snapshots(ws, 1)
        for n in range(30):
            await sqlite_api.container.bus.publish(event(project_id, n=n))
            if n % 7 == 0:
                await asyncio.sleep(0)  # let some tasks run in between, some not
        for ws in clients:
            assert await nexts(ws, 30) == [("1", n) for n in range(30)]
        assert 0 < direct_writes(live) < 90
    finally:
        for ws in clients:
            await ws.__aexit__(None, None, None)


async def test_a_client_that_stops_reading_is_closed_for_overflow_and_the_others_get_everything(
    sqlite_api: Api, live: LiveServer
):
    sqlite_api.container.bus.max_pending = 5
    pid, project_id = await project(sqlite_api, "Slow")
    stuck = await signed_in(live.ws_url, sqlite_api.tokens["admin"])
    reader = await signed_in(live.ws_url, sqlite_api.tokens["admin"])
    try:
        for ws in (stuck, reader):
            await ws.subscribe("1", OWN_FIELDS, {"p": pid})
            await snapshots(ws, 1)
        stuck.ws.transport.pause_reading()
        sent = 0
        while not stuck.ws.transport.is_closing() and sent < 400:
            await sqlite_api.container.bus.publish(event(project_id, n=sent, padding="x" * 100_000))
            assert await nexts(reader, 1) == [("1", sent)]
            sent += 1
        stuck.ws.transport.resume_reading()
        code, reason = await closed_with(stuck)
        assert code == 4008 and "too slow" in reason, (code, reason)
        await sqlite_api.container.bus.publish(event(project_id, n=sent))
        assert await nexts(reader, 1) == [("1", sent)]
    finally:
        for ws in (stuck, reader):
            await ws.__aexit__(None, None, None)


async def test_a_removed_member_is_cut_off_before_the_next_event(sqlite_api: Api, live: LiveServer):
    pid, maria = await project_with_member(sqlite_api)
    removed = await signed_in(live.ws_url, maria["accessToken"])
    admin = await signed_in(live.ws_url, sqlite_api.tokens["admin"])
    try:
        for ws in (removed, admin):
            await ws.subscribe("1", OWN_FIELDS, {"p": pid})
            await snapshots(ws, 1)
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "before", "content": "c"}})
        assert (await removed.next_payload())["data"]["projectEvents"]["action"] == "created"
        writes = direct_writes(live)
        assert writes >= 1
        await sqlite_api.gql(REMOVE_MEMBER, {"p": pid, "u": maria["id"]})
        # No pause: the next event is published while the removed member's re-check may still be running.
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "after", "content": "c"}})
        code, reason = await closed_without_next(removed)
        assert code == 4403 and "member" in reason, (code, reason)
        actions = [(await admin.next_payload())["data"]["projectEvents"]["action"] for _ in range(3)]
        assert actions == ["created", "member_removed", "created"]
    finally:
        for ws in (removed, admin):
            await ws.__aexit__(None, None, None)


async def test_a_socket_failing_mid_fan_out_leaves_the_others_untouched(sqlite_api: Api, live: LiveServer, monkeypatch):
    pid, project_id = await project(sqlite_api, "Broken")
    clients = [await signed_in(live.ws_url, sqlite_api.tokens["admin"]) for _ in range(4)]
    try:
        for ws in clients:
            await ws.subscribe("1", OWN_FIELDS, {"p": pid})
            await snapshots(ws, 1)
        # One connection's socket raises when written to (as a transport torn down under us would)...
        broken = websocket_connections(live)[0]

        def raising(_: bytes) -> None:
            raise ConnectionResetError("gone")

        monkeypatch.setattr(broken.transport, "write", raising)
        # ...and another client vanishes without a close.
        clients[-1].ws.transport.abort()
        for n in range(5):
            await sqlite_api.container.bus.publish(event(project_id, n=n))
        # The two healthy clients: every event once, in order (the broken one is not among them or is skipped).
        healthy = [ws for ws in clients[:-1] if ws.ws.transport.get_extra_info("sockname") != broken.client]
        for ws in healthy[:2]:
            assert await nexts(ws, 5) == [("1", n) for n in range(5)]
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "still", "content": "c"}})
        for ws in healthy[:2]:
            assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "created"
    finally:
        for ws in clients:
            await ws.__aexit__(None, None, None)


async def test_legacy_graphql_ws_keeps_the_per_subscriber_path(sqlite_api: Api, live: LiveServer):
    pid, project_id = await project(sqlite_api, "Legacy")
    ws = await signed_in(live.ws_url, sqlite_api.tokens["admin"], LegacyWs)
    try:
        await ws.subscribe("old", OWN_FIELDS, {"p": pid})
        await snapshots(ws, 1)
        for n in range(3):
            await sqlite_api.container.bus.publish(event(project_id, n=n))
        assert await nexts(ws, 3) == [("old", n) for n in range(3)]
        assert direct_writes(live) == 0
    finally:
        await ws.__aexit__(None, None, None)


async def test_keep_alive_pings_are_written_directly(tmp_path):
    async with (
        running_api(sqlite_settings(tmp_path, ws_keepalive_s=0.1)) as api,
        LiveServer(api.app) as server,
        TransportWs(server.ws_url) as ws,
    ):
        assert (await ws.init({"authorization": f"Bearer {api.tokens['admin']}"}))["type"] == "connection_ack"
        assert [json.loads(await asyncio.wait_for(ws.ws.recv(), 5))["type"] for _ in range(3)] == ["ping"] * 3
        assert direct_writes(server) >= 3
