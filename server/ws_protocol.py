"""uvicorn's WebSocket protocol with a bounded close (a client that never completes it loses its connection) and a
direct text write for live-event fan-out (one loop over thousands of sockets, no ASGI send per message)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

PROTOCOL = "server.ws_protocol:BoundedCloseWebSocketProtocol"

# The ASGI scope extension under which the protocol offers its direct write (ASGI servers put theirs there).
DIRECT_TEXT = "rdflow.direct_text"


class BoundedCloseWebSocketProtocol(WebSocketsSansIOProtocol):
    """Closing waits at most `close_timeout` seconds, then aborts the connection.

    uvicorn's close waits for its write buffer to drain before sending the close frame, then closes the transport
    gracefully, which also waits for the buffer: a client that stopped reading (the one closed with 4008 because it
    fell behind) kept its socket and megabytes of queued frames for as long as its TCP connection lived.
    """

    close_timeout = 5.0
    direct_writes = 0  # messages written by write_text_now on this connection

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][DIRECT_TEXT] = self.write_text_now

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
        return True

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and self.handshake_complete and not self.close_sent:
            self.loop.call_later(self.close_timeout, self._abort_unless_closed)
        await super().send(message)

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


def websocket_options(max_message_bytes: int) -> dict[str, Any]:
    """uvicorn options for the served app: the bounded close, and messages capped like HTTP bodies (1009 beyond).
    No permessage-deflate: compressing each event again for each of thousands of subscribers costs more CPU than
    the few hundred bytes it saves."""
    return {"ws": PROTOCOL, "ws_max_size": max_message_bytes, "ws_per_message_deflate": False}
