"""uvicorn's WebSocket protocol with a bounded close (a client that never completes it loses its connection), a
direct text write for live-event fan-out (one loop over thousands of sockets, no ASGI send per message), and pings
only where they tell something (a client heard from needs no proof of life)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

PROTOCOL = "server.ws_protocol:BoundedCloseWebSocketProtocol"

# The ASGI scope extensions under which the protocol offers its direct write and its count of messages sent (ASGI
# servers put theirs there).
DIRECT_TEXT = "rdflow.direct_text"
SENT = "rdflow.messages_sent"

# WebSocket pings (RFC 6455 control frames, answered by every client library and browser): one to a client not heard
# from for this long; a client that does not answer within as long is disconnected (uvicorn's keepalive).
PING_INTERVAL_S = 20.0


class BoundedCloseWebSocketProtocol(WebSocketsSansIOProtocol):
    """Closing waits at most `close_timeout` seconds, then aborts the connection.

    uvicorn's close waits for its write buffer to drain before sending the close frame, then closes the transport
    gracefully, which also waits for the buffer: a client that stopped reading (the one closed with 4008 because it
    fell behind) kept its socket and megabytes of queued frames for as long as its TCP connection lived.
    """

    close_timeout = 5.0
    direct_writes = 0  # messages written by write_text_now on this connection
    messages_sent = 0  # data messages written, directly or through the ASGI send
    heard = False  # the client sent something since the last keepalive ping was due

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][DIRECT_TEXT] = self.write_text_now
            scope["extensions"][SENT] = self.sent

    def sent(self) -> int:
        """How many data messages this connection has written so far."""
        return self.messages_sent

    def data_received(self, data: bytes) -> None:
        self.heard = True
        super().data_received(data)

    def handle_pong(self, event: Any) -> None:
        super().handle_pong(event)
        self.heard = False  # the answer to our own ping: a client that says nothing else is pinged again

    def send_keepalive_ping(self) -> None:
        """uvicorn's ping, skipped for a client heard from since the last one was due: it is alive, and its own
        traffic (a graphql-transport-ws pong, say) keeps the path open. With 10,000 subscribers answering the
        server's GraphQL pings, these WebSocket pings and their pongs were 44 % of the idle server's CPU."""
        if not self.heard:
            super().send_keepalive_ping()
            return
        self.ping_timer = None
        self.heard = False
        if not (self.close_sent or self.transport.is_closing()):
            self.schedule_ping()

    def write_text_now(self, text: bytes) -> bool:
        """Writes one text message (UTF-8 `text`) to the socket now, as uvicorn's `websocket.send` would, without
        the ASGI round trip; False when it cannot: the connection is not open (or closing), or the transport paused
        writing because the client is not reading (a slow subscriber: its events then queue, and overflow ends it).

        Server frames are unmasked and unfragmented: the frame is a header and `text`. The sans-I/O connection keeps
        no per-frame state for sent data frames, so writing beside it is safe while it is OPEN; uvicorn's own sends
        write whole frames too, so the two never interleave inside a frame."""
        if (
            self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(_text_header(len(text)) + text)
        self.direct_writes += 1
        self.messages_sent += 1
        return True

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "websocket.close" and self.handshake_complete and not self.close_sent:
            self.loop.call_later(self.close_timeout, self._abort_unless_closed)
        await super().send(message)
        if kind == "websocket.send":
            self.messages_sent += 1

    def _abort_unless_closed(self) -> None:
        if not self.disconnected:
            self.transport.abort()


def _text_header(length: int) -> bytes:
    """RFC 6455 5.2: FIN + text opcode, then the payload length (7 bits, or 126 + 16 bits, or 127 + 64 bits)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


def direct_writer(scope: Mapping[str, Any]) -> Callable[[bytes], bool] | None:
    """The connection's direct text write, when its server protocol offers one."""
    return scope.get("extensions", {}).get(DIRECT_TEXT)


def sent_counter(scope: Mapping[str, Any]) -> Callable[[], int] | None:
    """The connection's count of data messages sent, when its server protocol keeps one."""
    return scope.get("extensions", {}).get(SENT)


def websocket_options(max_message_bytes: int) -> dict[str, Any]:
    """uvicorn options for the served app: the bounded close, and messages capped like HTTP bodies (1009 beyond).
    No permessage-deflate: compressing each event again for each of thousands of subscribers costs more CPU than
    the few hundred bytes it saves."""
    return {
        "ws": PROTOCOL,
        "ws_max_size": max_message_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": PING_INTERVAL_S,
        "ws_ping_timeout": PING_INTERVAL_S,
    }
