"""Keep-alives only where they tell something (server/ws_keepalive.py, server/ws_protocol.py): a graphql-transport-ws
`ping` to a connection that sent nothing for the interval, a WebSocket ping to a client not heard from, and a client
that answers nothing disconnected."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import struct

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_direct_fanout import OWN_FIELDS, event, project, signed_in, snapshots
from tests.live import LiveServer

PING_OPCODE, CLOSE_OPCODE = 0x9, 0x8


async def messages_until(ws, deadline: float) -> list[str]:
    """The types of the messages received until `deadline` (the loop's clock)."""
    loop, seen = asyncio.get_running_loop(), []
    while (left := deadline - loop.time()) > 0:
        with contextlib.suppress(asyncio.TimeoutError):
            seen.append(json.loads(await asyncio.wait_for(ws.ws.recv(), left))["type"])
    return seen


async def test_a_connection_busy_with_events_gets_no_pings_and_pings_resume_once_it_is_idle(tmp_path):
    async with (
        running_api(sqlite_settings(tmp_path, ws_keepalive_s=0.2)) as api,
        LiveServer(api.app) as server,
    ):
        pid, project_id = await project(api, "Busy")
        ws = await signed_in(server.ws_url, api.tokens["admin"])
        try:
            await ws.subscribe("1", OWN_FIELDS, {"p": pid})
            await snapshots(ws, 1)
            loop = asyncio.get_running_loop()
            busy_until = loop.time() + 1.2
            reader = asyncio.create_task(messages_until(ws, busy_until))
            n = 0
            while loop.time() < busy_until - 0.05:
                await api.container.bus.publish(event(project_id, n=n))
                n += 1
                await asyncio.sleep(0.05)
            busy = await reader
            # Six intervals passed; every one of them saw events go out.
            assert busy.count("next") == n and "ping" not in busy, busy
            idle = await messages_until(ws, loop.time() + 0.9)
            assert idle and set(idle) == {"ping"}, idle
        finally:
            await ws.__aexit__(None, None, None)


async def test_websocket_pings_go_to_a_client_not_heard_from_and_not_to_one_that_talks(tmp_path, monkeypatch):
    pinged: list[tuple[WebSocketsSansIOProtocol, float]] = []
    real = WebSocketsSansIOProtocol.send_keepalive_ping

    def counted(protocol: WebSocketsSansIOProtocol) -> None:
        pinged.append((protocol, asyncio.get_running_loop().time()))
        real(protocol)

    monkeypatch.setattr(WebSocketsSansIOProtocol, "send_keepalive_ping", counted)
    async with (
        running_api(sqlite_settings(tmp_path, ws_keepalive_s=0.1)) as api,
        LiveServer(api.app, ws_ping_interval=0.2, ws_ping_timeout=5) as server,
    ):
        talker = await signed_in(server.ws_url, api.tokens["admin"])
        mute = await signed_in(server.ws_url, api.tokens["admin"])  # reads, never answers a GraphQL ping

        async def answer_pings() -> None:
            while True:
                if json.loads(await talker.ws.recv())["type"] == "ping":
                    await talker.ws.send(json.dumps({"type": "pong"}))

        answering = asyncio.create_task(answer_pings())
        try:
            seen = await messages_until(mute, asyncio.get_running_loop().time() + 1.3)
            assert "ping" in seen  # the GraphQL pings go on beside the WebSocket ones
        finally:
            answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering
        to_talker = [at for p, at in pinged if p.client and p.client[1] == talker.ws.local_address[1]]
        to_mute = [at for p, at in pinged if p.client and p.client[1] == mute.ws.local_address[1]]
        assert len(to_talker) <= 1, to_talker
        # The mute client is asked every ~0.2 s: its library's answers to these pings count for nothing.
        gaps = sorted(b - a for a, b in itertools.pairwise(to_mute))
        assert len(gaps) >= 2 and gaps[len(gaps) // 2] < 0.3, to_mute
        for ws in (talker, mute):
            await ws.__aexit__(None, None, None)


async def frames_until_closed(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each server frame (unmasked) until the connection ends."""
    frames = []
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            first, second = await reader.readexactly(2)
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await reader.readexactly(8))
            frames.append((first & 0x0F, await reader.readexactly(n)))
    return frames


@pytest.mark.parametrize("heard_first", [False, True])
async def test_a_client_that_answers_nothing_is_disconnected(tmp_path, heard_first):
    async with (
        running_api(sqlite_settings(tmp_path)) as api,
        LiveServer(api.app, ws_ping_interval=0.2, ws_ping_timeout=0.3) as server,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        if heard_first:  # a message, then silence: being heard once earns no more than one skipped ping
            init = json.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {api.tokens['admin']}"}}
            ).encode()
            writer.write(struct.pack("!BBH", 0x81, 0x80 | 126, len(init)) + b"\0\0\0\0" + init)  # masked, key 0
        try:
            frames = await asyncio.wait_for(frames_until_closed(reader), 5)
        finally:
            writer.close()
        opcodes = [opcode for opcode, _ in frames]
        assert PING_OPCODE in opcodes, frames
        closes = [payload for opcode, payload in frames if opcode == CLOSE_OPCODE]
        assert closes and struct.unpack("!H", closes[0][:2])[0] == 1011, frames
