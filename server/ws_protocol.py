"""uvicorn's WebSocket protocol with a bounded close: a client that never completes it loses its connection."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

PROTOCOL = "server.ws_protocol:BoundedCloseWebSocketProtocol"


class BoundedCloseWebSocketProtocol(WebSocketsSansIOProtocol):
    """Closing waits at most `close_timeout` seconds, then aborts the connection.

    uvicorn's close waits for its write buffer to drain before sending the close frame, then closes the transport
    gracefully, which also waits for the buffer: a client that stopped reading (the one closed with 4008 because it
    fell behind) kept its socket and megabytes of queued frames for as long as its TCP connection lived.
    """

    close_timeout = 5.0

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and self.handshake_complete and not self.close_sent:
            self.loop.call_later(self.close_timeout, self._abort_unless_closed)
        await super().send(message)

    def _abort_unless_closed(self) -> None:
        if not self.disconnected:
            self.transport.abort()


def websocket_options(max_message_bytes: int) -> dict[str, Any]:
    """uvicorn options for the served app: the bounded close, and messages capped like HTTP bodies (1009 beyond).
    No permessage-deflate: compressing each event again for each of thousands of subscribers costs more CPU than
    the few hundred bytes it saves."""
    return {"ws": PROTOCOL, "ws_max_size": max_message_bytes, "ws_per_message_deflate": False}
