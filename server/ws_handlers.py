"""The WebSocket subprotocol handlers: the per-operation limit refused with the error contract, and a client that
disconnects mid-send logged as what it is (not a server fault)."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLFormattedError
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws import types as transport
from strawberry.subscriptions.protocols.graphql_ws import types as legacy
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from domain.errors import RateLimited
from resolvers.context import RequestContext
from schema import fanout
from server.input_guard import operation_refusal
from server.ws_keepalive import KeepAliveTransportWSHandler
from server.ws_protocol import direct_writer

log = logging.getLogger("rdflow.ws")


def limit_error(limit: int) -> GraphQLFormattedError:
    """strawberry's own refusal ("Subscription limit reached") carries no code a client could act on."""
    error = RateLimited(f"at most {limit} operations may run at once on one connection; complete one first")
    return {"message": error.message, "extensions": {"code": error.code, "errorId": error.error_id, "limit": limit}}


def _full_at(limit: int | None, running: int) -> int | None:
    """The limit when `running` operations reach it, else None."""
    return limit if limit is not None and running >= limit else None


class TransportWSHandler(KeepAliveTransportWSHandler):
    """graphql-transport-ws: keep-alive pings, and the operation limit refused with the contract."""

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):  # e.g. aborted after falling behind: already logged once
            log.info("an operation ended: its client disconnected")
            return
        await super().handle_task_exception(error)

    async def run_operation(self, operation: Any) -> None:
        # The operation's own task: its subscription resolvers find it (to send shared event results under its id)
        # and the connection's direct write (used while the operation is not completed: see cleanup_operation).
        fanout.OPERATION.set(operation)
        write = direct_writer(self.websocket.ws.scope) if isinstance(self.websocket, ASGIWebSocketAdapter) else None
        if write is not None:
            fanout.DIRECT_WRITER.set(write)
        await super().run_operation(operation)

    async def cleanup_operation(self, operation_id: str) -> None:
        # Strawberry forgets an operation the client completed (or the connection's end ended) and cancels its task,
        # which stops it later; marked completed now, it sends nothing more in between, the publisher's direct
        # writes included (its id may be reused at once by a new operation).
        operation = self.operations.get(operation_id)
        if operation is not None:
            operation.completed = True
        await super().cleanup_operation(operation_id)

    async def handle_subscribe(self, message: Any) -> None:
        full = _full_at(self.max_subscriptions_per_connection, len(self.operations))
        refusal = limit_error(full) if full is not None and message["id"] not in self.operations else None
        refusal = refusal or operation_refusal(message.get("payload"))
        if self.connection_acknowledged and refusal is not None:
            await self.send_message(transport.ErrorMessage(id=message["id"], type="error", payload=[refusal]))
            return
        await super().handle_subscribe(message)


class LegacyWSHandler(BaseGraphQLWSHandler[RequestContext, None]):
    """Legacy graphql-ws: the operation limit refused with the contract."""

    async def handle_start(self, message: Any) -> None:
        full = _full_at(self.max_subscriptions_per_connection, len(self.tasks))
        refusal = limit_error(full) if full is not None and message["id"] not in self.tasks else None
        refusal = refusal or operation_refusal(message.get("payload"))
        if self.connection_acknowledged and refusal is not None:
            await self.send_message(legacy.ErrorMessage(type="error", id=message["id"], payload=refusal))
            return
        await super().handle_start(message)
