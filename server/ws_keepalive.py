"""Server pings on graphql-transport-ws (strawberry sends keep-alives only on legacy graphql-ws)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from resolvers.context import RequestContext
from server.ws_protocol import direct_writer, sent_counter

PING = b'{"type":"ping"}'


def _uncounted() -> int:
    """The count of a connection whose server keeps none: always the same, so it is pinged every interval."""
    return 0


class KeepAliveTransportWSHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """After connection_ack, a `ping` whenever the connection has sent nothing for `view.keep_alive_interval`
    seconds (either side may ping in this protocol; clients answer `pong`), so idle proxies keep the socket open
    and a dead peer is noticed. A connection busy with events needs none: its frames are the traffic, and the
    WebSocket ping (server/ws_protocol.py) still asks a client that stopped answering."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pinger: asyncio.Task | None = None

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.view.keep_alive and self._pinger is None:
            self._pinger = asyncio.create_task(self._ping_until_closed())

    async def _ping_until_closed(self) -> None:
        interval = self.view.keep_alive_interval
        # Written straight to the socket when the server offers it (thousands of idle subscribers ping every
        # interval: the ASGI send path cost more than the ping); through the ASGI send otherwise or when refused.
        ws = getattr(self.websocket, "ws", None)
        write = direct_writer(ws.scope) if ws is not None else None
        sent = (sent_counter(ws.scope) if ws is not None else None) or _uncounted
        with contextlib.suppress(Exception):  # the socket closed: shutdown() cancels us anyway
            before = sent()
            while interval is not None:
                await asyncio.sleep(interval)
                if sent() != before:  # messages went out meanwhile: no ping needed yet
                    before = sent()
                    continue
                if write is None or not write(PING):
                    await self.send_message({"type": "ping"})
                before = sent()

    async def shutdown(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
        await super().shutdown()
