"""A lean graphql-transport-ws subscriber for load generation: an asyncio Protocol that does the WebSocket handshake
and framing itself (RFC 6455) and parses only what the benchmark needs, so thousands of them per process cost the
client little CPU next to the server it measures."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from typing import Any

import orjson

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (the mask is mandatory; an all-zero key leaves the payload as it is)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class LeanSubscriber(asyncio.Protocol):
    """Signs in, subscribes `query` as operation "1", resolves `ready` on the snapshot, then records
    (entityId, receipt time) for each event; `failure` says why it ended early, if it did."""

    def __init__(self, host: str, port: int, path: str, token: str, query: str, variables: dict[str, Any]):
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
        self.init = orjson.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        self.subscribe = orjson.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.received: list[tuple[str, float]] = []
        self.other: list[str] = []
        self.failure: str | None = None
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "connection closed without a close frame")

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why[:200]
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(self.failure))

    def _send(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(opcode, payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.failure = self.failure or "closed by the benchmark"
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self._buffer + data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(f"handshake refused: {buf[:end].decode(errors='replace')}")
                return
            self._upgraded = True
            buf = buf[end + 4 :]
            self._send(TEXT, self.init)
        pos, size = 0, len(buf)
        while size - pos >= 2:
            opcode, n = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - start < 2:
                    break
                (n,) = struct.unpack_from("!H", buf, start)
                start += 2
            elif n == 127:
                if size - start < 8:
                    break
                (n,) = struct.unpack_from("!Q", buf, start)
                start += 8
            if size - start < n:
                break
            self._frame(opcode, buf[start : start + n], now)
            pos = start + n
        self._buffer = buf[pos:]

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == PING:
            self._send(PONG, payload)
        elif opcode == CLOSE:
            code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
            self._fail(f"closed {code} {payload[2:].decode(errors='replace')}")
        elif opcode == TEXT:
            self._message(orjson.loads(payload), now)

    def _message(self, msg: dict[str, Any], now: float) -> None:
        kind = msg.get("type")
        if kind == "next" and self.ready.done():
            self.received.append((msg["payload"]["data"]["projectEvents"]["entityId"], now))
        elif kind == "next":
            if msg["payload"]["data"]["projectEvents"]["action"] != "snapshot":
                self._fail(f"expected the snapshot, got {str(msg)[:150]}")
            else:
                self.ready.set_result(None)
        elif kind == "connection_ack":
            self._send(TEXT, self.subscribe)
        elif kind == "ping":
            self._send(TEXT, b'{"type":"pong"}')
        elif kind != "pong":
            self.other.append(str(msg)[:200])
            if not self.ready.done():
                self._fail(f"before the snapshot: {str(msg)[:150]}")
