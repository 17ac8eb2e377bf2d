"""The WebSocket subprotocol handlers: the per-operation limit refused with the error contract, and a client that
disconnects mid-send logged as what it is (not a server fault)."""

from __future__ import annotations

import logging
from typing import Any

from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from domain.errors import RateLimited
from server.input_guard import operation_refusal
from server.ws_keepalive import KeepAliveTransportWSHandler

log = logging.getLogger("rdflow.ws")


def limit_error(limit: int) -> dict[str, Any]:
    """strawberry's own refusal ("Subscription limit reached") carries no code a client could act on."""
    error = RateLimited(f"at most {limit} operations may run at once on one connection; complete one first")
    return {"message": error.message, "extensions": {"code": error.code, "errorId": error.error_id, "limit": limit}}


def _full(limit: int | None, running: int) -> bool:
    return limit is not None and running >= limit


class TransportWSHandler(KeepAliveTransportWSHandler):
    """graphql-transport-ws: keep-alive pings, and the operation limit refused with the contract."""

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):  # e.g. aborted after falling behind: already logged once
            log.info("an operation ended: its client disconnected")
            return
        await super().handle_task_exception(error)

    async def handle_subscribe(self, message: Any) -> None:
        limit = self.max_subscriptions_per_connection
        if self.connection_acknowledged and message["id"] not in self.operations and _full(limit, len(self.operations)):
            await self.send_message({"id": message["id"], "type": "error", "payload": [limit_error(limit)]})
            return
        if self.connection_acknowledged and (refusal := operation_refusal(message.get("payload"))):
            await self.send_message({"id": message["id"], "type": "error", "payload": [refusal]})
            return
        await super().handle_subscribe(message)


class LegacyWSHandler(BaseGraphQLWSHandler):
    """Legacy graphql-ws: the operation limit refused with the contract."""

    async def handle_start(self, message: Any) -> None:
        limit = self.max_subscriptions_per_connection
        if self.connection_acknowledged and message["id"] not in self.tasks and _full(limit, len(self.tasks)):
            await self.send_message({"type": "error", "id": message["id"], "payload": limit_error(limit)})
            return
        if self.connection_acknowledged and (refusal := operation_refusal(message.get("payload"))):
            await self.send_message({"type": "error", "id": message["id"], "payload": refusal})
            return
        await super().handle_start(message)
