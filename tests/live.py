"""A real uvicorn server on a free port in the test's event loop, and GraphQL WebSocket clients for it."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import uvicorn
import websockets

from server.settings import Settings
from server.ws_protocol import websocket_options


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app: Any, max_message_bytes: int = Settings.model_fields["max_body_bytes"].default):
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                **websocket_options(max_message_bytes),
            )
        )
        self.task: asyncio.Task | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def __aenter__(self) -> LiveServer:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task


class TransportWs:
    """A graphql-transport-ws client (the current protocol)."""

    protocol = "graphql-transport-ws"

    def __init__(self, url: str, **connect: Any):
        self.url = url
        self.connect = connect

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, subprotocols=[self.protocol], **self.connect)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def init(self, payload: dict | None) -> dict:
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        return await self.recv()

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.ws.send(
            json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        )

    async def recv(self, timeout: float = 10) -> dict:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message.get("type") not in ("ping", "pong", "ka"):
                return message

    async def next_payload(self, timeout: float = 10) -> dict:
        message = await self.recv(timeout)
        assert message["type"] in ("next", "data"), message
        return message["payload"]


class LegacyWs(TransportWs):
    """The legacy graphql-ws (subscriptions-transport-ws) protocol."""

    protocol = "graphql-ws"

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.ws.send(
            json.dumps({"id": op_id, "type": "start", "payload": {"query": query, "variables": variables or {}}})
        )
