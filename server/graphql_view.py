"""The GraphQL HTTP/WebSocket endpoint: request context, JSON error bodies, graphql-response+json."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from auth.request import authenticate, bearer_token
from domain.errors import DomainError, InvalidInput, Unauthenticated
from resolvers.context import RequestContext
from server.container import Container
from server.ws_keepalive import KeepAliveTransportWSHandler

GRAPHQL_RESPONSE = "application/graphql-response+json"


def error_body(error: DomainError) -> bytes:
    extensions = {"code": error.code, "errorId": error.error_id, **error.details}
    if error.field:
        extensions["field"] = error.field
    return orjson.dumps({"errors": [{"message": error.message, "extensions": extensions}]})


HTTP_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "BAD_USER_INPUT": 400,
    "TOO_MANY_REQUESTS": 429,
    "SERVICE_UNAVAILABLE": 503,
}


class GraphQLView(GraphQL):
    graphql_transport_ws_handler_class = KeepAliveTransportWSHandler

    def __init__(self, container: Container, schema: Any, **kwargs: Any):
        super().__init__(schema, **kwargs)
        self.container = container

    def encode_json(self, data: object) -> str:
        # Text, not bytes: strawberry sends bytes as binary WebSocket frames, which GraphQL WS clients refuse.
        return orjson.dumps(data).decode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)
        wants_graphql_response = GRAPHQL_RESPONSE in request.headers.get("accept", "")
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # GraphQL over HTTP: an operation type the method may not run (mutation over GET) is 405.
            not_allowed = isinstance(exc.__cause__, InvalidOperationTypeError)
            response = Response(
                error_body(InvalidInput(exc.reason)),
                status_code=405 if not_allowed else exc.status_code,
                media_type="application/json",
                headers={"allow": "POST"} if not_allowed else None,
            )
        except DomainError as exc:
            response = Response(
                error_body(exc), status_code=HTTP_STATUS.get(exc.code, 400), media_type="application/json"
            )
        if wants_graphql_response and response.media_type == "application/json":
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if getattr(request.state, "request_error", False) and response.status_code == 200:
                response.status_code = 400
        response.headers["x-request-id"] = request.state.request_id if hasattr(request.state, "request_id") else ""
        await response(scope, receive, send)

    async def process_result(self, request: Request, result: ExecutionResult, *args: Any) -> Any:
        # A request error (parse/validation/coercion) executes nothing: data is absent, not null.
        body = await super().process_result(request, result, *args)
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            request.state.request_error = True
            body.pop("data", None)
        return body

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Authenticate a WebSocket from its connection_init payload; refuse it before any operation runs."""
        params = context.connection_params or {}
        websocket: WebSocket = context.extras["request"]
        try:
            raw = params.get("authorization") or params.get("Authorization")
            token = bearer_token(raw) if raw else params.get("token")
            if not token:
                raise Unauthenticated(
                    'send the access token in the connection_init payload as {"authorization": "Bearer <token>"}'
                )
            viewer = await authenticate(
                self.container.services,
                self.container.tokens,
                str(token),
                request_id=context.viewer.request_id,
                client_address=context.viewer.client_address,
            )
        except DomainError as exc:
            # Both subprotocols close with 4401/4403 (strawberry would use 1011 for legacy graphql-ws).
            await websocket.close(code=4401 if isinstance(exc, Unauthenticated) else 4403, reason=exc.message[:120])
            raise ConnectionRejectionError() from exc
        context.sign_in(viewer)
        return UNSET

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        if isinstance(request, Request):
            request.state.request_id = request_id
        token = bearer_token(request.headers.get("authorization")) if isinstance(request, Request) else None
        client = request.client.host if request.client else None
        viewer = await authenticate(
            self.container.services, self.container.tokens, token, request_id=request_id, client_address=client
        )
        return RequestContext(
            viewer=viewer, services=self.container.services, extras={"request": request, "response": response}
        )
