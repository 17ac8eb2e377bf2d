"""WebSocket sign-ins that arrive together read their users from the database together (a few reads for many
sockets, each read begun after its sign-ins asked), and a failed shared read refuses every one of them with 1013,
as each would have been refused alone; the next sign-ins read again."""

from __future__ import annotations

import asyncio

import websockets
from sqlalchemy.exc import OperationalError
from starlette.routing import WebSocketRoute

from server.graphql_view import GraphQLView
from tests.api import Api
from tests.live import LiveServer, TransportWs

SOCKETS = 30


def view_of(app) -> GraphQLView:
    return next(r.endpoint for r in app.routes if isinstance(r, WebSocketRoute) and isinstance(r.endpoint, GraphQLView))


async def sign_in_together(server: LiveServer, token: str, count: int) -> list[dict | int]:
    """Opens `count` sockets, then sends every connection_init at once; each answer, or the close code."""
    async with asyncio.TaskGroup() as group:
        clients = [TransportWs(server.ws_url) for _ in range(count)]
        opened = [await c.__aenter__() for c in clients]

        async def init(client: TransportWs) -> dict | int:
            try:
                return await client.init({"authorization": f"Bearer {token}"})
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code

        answers = [group.create_task(init(c)) for c in opened]
    for client in opened:
        await client.__aexit__(None, None, None)
    return [a.result() for a in answers]


async def test_sockets_signing_in_together_share_their_user_reads(sqlite_api: Api):
    view = view_of(sqlite_api.app)
    async with LiveServer(sqlite_api.app) as server:
        before = view.stored_users.reads
        answers = await sign_in_together(server, sqlite_api.tokens["admin"], SOCKETS)
        assert answers == [{"type": "connection_ack"}] * SOCKETS
        assert view.stored_users.reads - before < SOCKETS / 2, "one user read per socket"


async def test_a_failed_shared_read_refuses_each_socket_with_1013_and_the_next_ones_read_again(sqlite_api: Api):
    view = view_of(sqlite_api.app)
    load = view.stored_users.load

    async def database_down(ids: list) -> dict:
        raise OperationalError("SELECT users", {}, Exception("unable to open database file"))

    async with LiveServer(sqlite_api.app) as server:
        view.stored_users.load = database_down
        try:
            assert await sign_in_together(server, sqlite_api.tokens["admin"], SOCKETS) == [1013] * SOCKETS
        finally:
            view.stored_users.load = load
        assert await sign_in_together(server, sqlite_api.tokens["admin"], 3) == [{"type": "connection_ack"}] * 3


async def test_a_bad_token_among_good_ones_is_refused_alone(sqlite_api: Api):
    async with LiveServer(sqlite_api.app) as server:
        good = sign_in_together(server, sqlite_api.tokens["admin"], 5)
        bad = sign_in_together(server, "not-a-token", 1)
        good_answers, bad_answers = await asyncio.gather(good, bad)
    assert good_answers == [{"type": "connection_ack"}] * 5
    assert bad_answers == [4401]
