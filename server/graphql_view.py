"""The GraphQL HTTP/WebSocket endpoint: request context, JSON error bodies, graphql-response+json."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import OperationType as GraphQLOperationType
from graphql import get_operation_ast
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from auth.request import SignIn, SignIns, authenticate, bearer_token
from auth.user_cache import UserCache
from domain.errors import DomainError, InvalidInput, Unauthenticated
from domain.permissions import Viewer
from domain.services.shared_reads import BatchedReads
from domain.validation import CLIENT_ADDRESS_LENGTH, REQUEST_ID_LENGTH
from resolvers.context import RequestContext
from schema.known_queries import KnownQueries
from server import graphiql, metrics
from server.body_limit import BodyTooLarge, read_body, too_large_body
from server.container import Container
from server.input_guard import check_request
from server.logs import note_errors, note_operation, note_viewer
from server.outages import RETRY_AFTER_S, WS_TRY_AGAIN_LATER, unavailable
from server.raw_response import json_headers, send_json
from server.response_cache import Key, SingleRequest, single_request
from server.ws_handlers import LegacyWSHandler, TransportWSHandler

log = logging.getLogger("rdflow.ws")

GRAPHQL_RESPONSE = "application/graphql-response+json"
GRAPHQL_RESPONSE_BYTES = GRAPHQL_RESPONSE.encode()
# Set in the request's scope state when its client disconnected before the request was read.
CLIENT_GONE = "client_gone"
# The access log's status for such a request (nginx's "client closed request"; no response was sent).
CLIENT_CLOSED_REQUEST = 499
# What the endpoint answered an HTTP request, for its access line: the status, and the body when it is a refusal.
Answered = tuple[int, bytes]


def error_body(error: DomainError) -> bytes:
    extensions = {"code": error.code, "errorId": error.error_id, **error.details}
    if error.field:
        extensions["field"] = error.field
    return orjson.dumps({"errors": [{"message": error.message, "extensions": extensions}]})


REQUEST_ID = re.compile(rf"^[A-Za-z0-9._-]{{1,{REQUEST_ID_LENGTH}}}\Z")


class RequestIds:
    """Fresh request ids: 32 hex digits, a random half per process and a counter (uuid4 reads the kernel's random
    source for every request: a system call on the hot path that a correlation id does not need)."""

    def __init__(self) -> None:
        self._restart()
        os.register_at_fork(after_in_child=self._restart)  # a forked worker must not repeat its parent's ids

    def _restart(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


fresh_request_id = RequestIds()


def request_id_of(given: str) -> str:
    """The client's X-Request-ID (`given`, "" when absent) when it fits the audit log's column and alphabet, else a
    fresh one."""
    return given if REQUEST_ID.match(given) else fresh_request_id()


def _client_address(scope: Scope) -> str | None:
    """The client's address as the audit log's column holds it: behind a proxy trusted for every address
    (FORWARDED_ALLOW_IPS="*"), it is whatever the request's X-Forwarded-For says."""
    client = scope.get("client")
    return client[0][:CLIENT_ADDRESS_LENGTH] if client and client[0] else None


def _settle_request_id(scope: Scope, headers: Mapping[bytes, bytes]) -> str:
    """The request's id: the one the access line chose (so every log line of the request carries it), else chosen
    now from the client's header."""
    state = scope.setdefault("state", {})
    request_id: str | None = state.get("request_id")
    if request_id is None:
        request_id = state["request_id"] = request_id_of(headers.get(b"x-request-id", b"").decode("latin-1"))
    return request_id


# The request headers the endpoint reads (ASGI servers lowercase the names).
READ_HEADERS = frozenset(
    (b"accept", b"authorization", b"cache-control", b"content-length", b"content-type", b"x-request-id")
)


def _headers_of(scope: Scope) -> dict[bytes, bytes]:
    """The headers the endpoint reads, the first of each name (as starlette's Headers.get), in one pass."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in READ_HEADERS and name not in found:
            found[name] = value
    return found


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` with the body already read given back first: strawberry reads the request through starlette's."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _executing(scope: Scope, body: bytes, receive: Receive) -> Request:
    """Starlette's request for a request that executes, its body already read."""
    return Request(scope, _replaying(body, receive))


JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}

HTTP_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "BAD_USER_INPUT": 400,
    "TOO_MANY_REQUESTS": 429,
    "SERVICE_UNAVAILABLE": 503,
}


HIT, MISS, BYPASS = "hit", "miss", "bypass"
HIT_BYTES = HIT.encode()
# What else a look-up can find: no response cache configured; a sign-in the normal path must refuse (or fail).
OFF, REFUSED = "off", "refused"
# The scope state's key for the request's Lookup.
LOOKUP = "cache_lookup"
# The scope state's keys for the request's reading of the data version (GraphQLView._data_version) and its sign-in.
DATA_VERSION = "data_version"
SIGN_IN = "sign_in"
# The response cache's scope of an anonymous request: (user, role).
ANONYMOUS: tuple[None, None] = (None, None)
EMPTY_PARAMS: Mapping[str, str] = {}  # a POST's query string is not read (GraphQL over HTTP: the body is the request)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the response cache made of a request it does not answer: OFF, REFUSED, BYPASS, or MISS (then the key and
    version to store the answer under)."""

    outcome: str
    single: SingleRequest | None
    key: Key | None = None
    version: Hashable = None


def media_type_for(headers: Mapping[bytes, bytes]) -> bytes:
    """The JSON media type of a response the client negotiated with `accept` (GraphQL over HTTP)."""
    return GRAPHQL_RESPONSE_BYTES if GRAPHQL_RESPONSE_BYTES in headers.get(b"accept", b"") else b"application/json"


def hit_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    """A response cache hit's own headers: what the cache did, and the request's id."""
    return [(b"x-rdflow-cache", HIT_BYTES), (b"x-request-id", request_id.encode())]


def _marked(response: Response, outcome: str) -> Response:
    """Tells tests and operators what the response cache did (`x-rdflow-cache`), and counts it."""
    response.headers["x-rdflow-cache"] = outcome
    metrics.response_cache(outcome)
    return response


def _retrieve(reading: asyncio.Future[Hashable]) -> None:
    if not reading.cancelled():
        reading.exception()


def _http_error(exc: HTTPException) -> Response:
    """Strawberry's HTTP refusals in the error contract; a mutation over GET is 405 (GraphQL over HTTP)."""
    cause = exc.__cause__
    wrong_type = cause.operation_type if isinstance(cause, InvalidOperationTypeError) else None
    if wrong_type is OperationType.SUBSCRIPTION:
        return Response(
            error_body(InvalidInput("subscriptions run over WebSocket (graphql-transport-ws or graphql-ws)")),
            status_code=400,
            media_type="application/json",
        )
    return Response(
        error_body(InvalidInput(exc.reason)),
        status_code=405 if wrong_type else exc.status_code,
        media_type="application/json",
        headers={"allow": "POST"} if wrong_type else None,
    )


def _name_the_surrogate(data: str | bytes) -> None:
    """orjson says only where a lone surrogate is; the standard library accepts it, so the input can be named."""
    try:
        request = json.loads(data)
    except (ValueError, RecursionError):
        return
    if isinstance(request, dict):
        check_request(request.get("query"), request.get("variables"))


def _connection_token(params: Mapping[str, Any]) -> str:
    """The access token of a connection_init payload: `authorization: "Bearer <token>"` (or a bare `token`)."""
    for name in ("authorization", "Authorization", "token"):
        raw = params.get(name)
        if raw and not isinstance(raw, str):
            raise InvalidInput(f"{name} must be a string", field=name)
        if raw:
            return raw if name == "token" else bearer_token(raw)  # type: ignore[return-value]  # raw is non-empty: a token or a raise
    raise Unauthenticated('send the access token in the connection_init payload as {"authorization": "Bearer <token>"}')


def _closer(websocket: WebSocket) -> Callable[[int, str], Awaitable[None]]:
    """How a subscription closes its WebSocket (the transport aborts it when the client does not complete the close)."""

    async def close(code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # already closed or gone: nothing left to tell
            await websocket.close(code=code, reason=reason[:120])

    return close


class OnceClosedWebSocket(ASGIWebSocketAdapter):
    """on_ws_connect closes a refused socket with its own code; strawberry's second close and its
    connection_error message then find the socket closed and do nothing (instead of raising)."""

    def _closed(self) -> bool:
        return WebSocketState.DISCONNECTED in (self.ws.application_state, self.ws.client_state)

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self._closed():
            raise WebSocketDisconnected
        await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        if not self._closed():
            await super().close(code, reason)


class GraphQLView(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = OnceClosedWebSocket

    # Where the server's front (server/http_protocol.py) asks this view for response cache hits.
    path = "/graphql"
    methods = frozenset(("GET", "POST"))

    def __init__(self, container: Container, schema: Any, *, max_body_bytes: int, **kwargs: Any):
        super().__init__(schema, **kwargs)
        self.container = container
        self.max_body_bytes = max_body_bytes
        # Users read from the database: the sign-ins (and cache fills) that arrive while one read is on its way go
        # together in the next, so thousands of WebSockets signing in at once take a few reads and one pooled
        # connection (they took one read and one connection each, and the pool's checkout timeout refused them).
        self.stored_users: BatchedReads[uuid.UUID, Any] = BatchedReads(container.services.reads.users_by_ids)
        self.users = UserCache(
            container.bus, self.stored_users.get, on_listen=metrics.internal_subscriptions, versions=container.versions
        )
        container.closers.append(self.users.aclose)
        self.sign_ins = SignIns(container.services, container.tokens, self.users)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.render(request)

    def encode_json(self, data: object) -> str:
        # Text, not bytes: strawberry sends bytes as binary WebSocket frames, which GraphQL WS clients refuse.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> dict[str, Any]:
        """A request body or WebSocket message: one JSON object. orjson refuses invalid UTF-8, lone surrogates
        and nesting beyond 1,024 levels (the standard library recurses until RecursionError)."""
        value = orjson.loads(data)
        if not isinstance(value, dict):
            raise orjson.JSONDecodeError(f"expected a JSON object, not {JSON_KINDS[type(value)]}", "", 0)
        return value

    def parse_json(self, data: str | bytes) -> dict[str, Any]:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as exc:
            if "surrogate" in str(exc):
                _name_the_surrogate(data)
            raise HTTPException(400, f"the request is not a valid JSON object: {exc}") from exc

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            check_request(item.query, item.variables)
        return data

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: RequestContext,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, minus subscriptions: without a streaming transport they have nowhere to send events."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        note_operation(request_data.operation_name)
        # The request's reads share one connection and one read transaction (writes take their own).
        read_scope = getattr(self.container.services.deps.uow, "read_scope", None)
        try:
            async with read_scope() if read_scope is not None else contextlib.nullcontext():
                result = await self.schema.execute(
                    request_data.query,
                    root_value=root_value,
                    variable_values=request_data.variables,
                    context_value=context,
                    operation_name=request_data.operation_name,
                    allowed_operation_types=allowed,
                    operation_extensions=request_data.extensions,
                )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason(request_adapter.method)) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc
        if getattr(request.state, "cache_slot", False):
            # Only a query's complete answer: never a mutation's, never a partial or refused one.
            request.state.cacheable = not result.errors and result.data is not None and self._is_query(request_data)
        return result

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        await self.answer(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> Answered:
        """Answers one GraphQL HTTP request; returns the status and, for a refusal, the body (the access line's). A
        response cache hit is sent without starlette's request and response objects: it is most of the traffic of a
        watched dashboard, and they were about a quarter of its cost."""
        state = scope.setdefault("state", {})
        headers = _headers_of(scope)
        request_id = _settle_request_id(scope, headers)
        try:
            body = await read_body(receive, headers.get(b"content-length"), self.max_body_bytes)
        except ClientDisconnect:
            # The client went away before its request was read (a load generator ending its run, a closed tab):
            # nobody to answer, and not a server fault worth a traceback.
            state[CLIENT_GONE] = True
            log.info("a client disconnected before its request was read")
            return CLIENT_CLOSED_REQUEST, b""
        except BodyTooLarge:
            refusal = too_large_body(self.max_body_bytes)
            await send_json(send, 413, refusal, [(b"x-request-id", request_id.encode())])
            return 413, refusal
        try:
            answered = await self._respond(scope, receive, headers, body)
        except HTTPException as exc:
            answered = _http_error(exc)
        except DomainError as exc:
            answered = Response(
                error_body(exc), status_code=HTTP_STATUS.get(exc.code, 400), media_type="application/json"
            )
        except Exception as exc:
            outage = unavailable(exc)
            if outage is None:
                raise
            answered = Response(error_body(outage), status_code=503, media_type="application/json")
        if isinstance(answered, bytes):
            await send_json(send, 200, answered, hit_headers(request_id), media_type_for(headers))
            return 200, b""
        response = answered
        wants_graphql_response = GRAPHQL_RESPONSE in headers.get(b"accept", b"").decode("latin-1")
        if response.status_code == 503 or state.get("unavailable", False):
            response.status_code = 503
            response.headers["retry-after"] = str(RETRY_AFTER_S)
        if wants_graphql_response and response.media_type == "application/json":
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if state.get("request_error", False) and response.status_code == 200:
                response.status_code = 400
        response.headers["x-request-id"] = request_id
        await response(scope, receive, send)
        # Strawberry answers with a body; a streamed response would have none to read error codes from.
        return response.status_code, bytes(getattr(response, "body", b"")) if response.status_code >= 400 else b""

    async def look_up(self, scope: Scope, headers: Mapping[bytes, bytes], body: bytes) -> bytes | Lookup:
        """The stored body when the viewer's same request was answered since the last write (a hit); else what the
        cache made of the request, kept in its scope state: the server's front (server/http_protocol.py) looks
        before the app, and the endpoint then does not look again."""
        state = scope["state"]
        looked: Lookup | None = state.get(LOOKUP)
        if looked is not None:
            return looked
        found = await self._look_up(scope, headers, body)
        if isinstance(found, Lookup):
            state[LOOKUP] = found
        return found

    async def _look_up(self, scope: Scope, headers: Mapping[bytes, bytes], body: bytes) -> bytes | Lookup:
        method = scope["method"]
        single = single_request(
            method,
            headers.get(b"content-type", b"").decode("latin-1"),
            body,
            QueryParams(scope["query_string"]) if method == "GET" else EMPTY_PARAMS,
        )
        cache = self.container.responses
        if cache is None:
            return Lookup(OFF, single)
        if single is None or b"no-cache" in headers.get(b"cache-control", b"").lower():
            return Lookup(BYPASS, single)
        # Read BEFORE executing (server/response_cache.py); asked before the sign-in so that, in production, both
        # reads go to Redis in one MGET (integrations/redis_gets.py).
        version_read = cache.version(self._data_version(scope["state"]))
        try:
            sign_in = await self._sign_in(scope, headers.get(b"authorization"))
        except Exception:  # noqa: BLE001 - refused or an outage: the normal path answers it, in its own order
            await version_read
            return Lookup(REFUSED, single)
        except BaseException:  # cancelled (the client left): the read is not awaited
            version_read.close()
            raise
        version = await version_read
        if version is None:
            return Lookup(BYPASS, single)
        viewer_scope = sign_in.scope if sign_in is not None else ANONYMOUS
        key = (*viewer_scope, *single.key)
        stored = cache.get(key, version)
        if stored is not None:
            note_operation(single.operation_name)
            note_viewer(viewer_scope[0])
            metrics.response_cache(HIT)
            return stored
        return Lookup(MISS, single, key, version)

    async def hit(self, scope: Scope, body: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        """The response to this request when the cache has it (its body and headers, the length included), for the
        server's front; None when the app must answer it."""
        headers = _headers_of(scope)
        request_id = _settle_request_id(scope, headers)
        found = await self.look_up(scope, headers, body)
        if not isinstance(found, bytes):
            return None
        return found, json_headers(found, hit_headers(request_id), media_type_for(headers))

    async def _respond(
        self, scope: Scope, receive: Receive, headers: Mapping[bytes, bytes], body: bytes
    ) -> Response | bytes:
        """From the response cache (the stored body) when it has the answer; else executed (and stored when it is a
        query answered without errors). Starlette's Request is made only for a request that executes."""
        found = await self.look_up(scope, headers, body)
        if isinstance(found, bytes):
            return found
        request = _executing(scope, body, receive)
        single = found.single
        if found.outcome is OFF:
            return await self._execute(request, single)
        if found.outcome is REFUSED:
            return _marked(await self.run(request), BYPASS)
        if found.outcome is BYPASS:
            return _marked(await self._execute(request, single), BYPASS)
        state = scope["state"]
        state["cache_slot"] = True
        response = await self._execute(request, single)
        cache = self.container.responses
        if cache is not None and found.key is not None and state.get("cacheable") and response.status_code == 200:
            cache.put(found.key, found.version, bytes(response.body))
        return _marked(response, MISS)

    async def _execute(self, request: Request, single: SingleRequest | None) -> Response:
        """A known query (schema/known_queries.py) sent as a JSON POST runs without strawberry's per-request and
        per-operation layers; everything else through strawberry's view."""
        known: KnownQueries | None = getattr(self.schema, "known", None)
        if known is None or single is None or request.method != "POST" or single.canonical_extensions:
            return await self.run(request)
        if single.operation_name == "":
            return await self.run(request)
        variables = single.variables
        document = known.prepare(single.query, single.operation_name, variables or {})
        if document is None:
            return await self.run(request)
        # The order of strawberry's view: the viewer (401s) before the input's checks (400s).
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        check_request(single.query, variables)
        note_operation(single.operation_name)
        read_scope = getattr(self.container.services.deps.uow, "read_scope", None)
        async with read_scope() if read_scope is not None else contextlib.nullcontext():
            result = await known.execute(document, single.operation_name, variables, context)
        if getattr(request.state, "cache_slot", False):
            request.state.cacheable = not result.errors and result.data is not None
        return self.create_response(await self.process_result(request, result), sub_response)

    def _is_query(self, request_data: GraphQLRequestData) -> bool:
        documents = getattr(self.schema, "documents", None)
        document = documents.document(request_data.query) if documents is not None else None
        if document is None:  # too long to be kept parsed: not cached either
            return False
        operation = get_operation_ast(document, request_data.operation_name)
        return operation is not None and operation.operation is GraphQLOperationType.QUERY

    async def _sign_in(self, scope: Scope, authorization: bytes | None) -> SignIn | None:
        """The request's sign-in (None: anonymous), once per request: the cache lookup needs it before strawberry
        builds the context, which makes the Viewer of it."""
        state = scope["state"]
        if SIGN_IN in state:
            signed_in: SignIn | None = state[SIGN_IN]
            return signed_in
        token = bearer_token(authorization.decode("latin-1") if authorization is not None else None)
        sign_in = None
        if token is not None:
            sign_in = await self.sign_ins.sign_in(token, self._data_version(state))
        state[SIGN_IN] = sign_in
        return sign_in

    def _data_version(self, state: dict[str, Any]) -> asyncio.Future[Hashable] | None:
        """The request's one reading of the data version, asked at the first call (None: there is none). The response
        cache and the user cache compare with the same reading, and in production it goes to Redis in the MGET of the
        revocation check."""
        versions = self.container.versions
        if versions is None:
            return None
        reading: asyncio.Future[Hashable] | None = state.get(DATA_VERSION)
        if reading is None:
            current = versions.current()
            if isinstance(current, asyncio.Future):  # production's batched read: its failure counts as seen already
                reading = current
            else:
                reading = asyncio.ensure_future(current)
                reading.add_done_callback(_retrieve)  # a refused request may never look at it
            state[DATA_VERSION] = reading
        return reading

    async def process_result(self, request: Request, result: ExecutionResult, *args: Any) -> Any:
        # A request error (parse/validation/coercion) executes nothing: data is absent, not null.
        body = await super().process_result(request, result, *args)
        note_errors([str((e.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")) for e in result.errors or ()])
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            request.state.request_error = True
            body.pop("data", None)
        if any((e.extensions or {}).get("code") == "SERVICE_UNAVAILABLE" for e in result.errors or ()):
            request.state.unavailable = True
        return body

    async def on_ws_connect(self, context: RequestContext) -> Any:
        """Authenticate a WebSocket from its connection_init payload; refuse it before any operation runs."""
        params = context.connection_params or {}
        websocket: WebSocket = context.extras["request"]

        def sign_in() -> Awaitable[Viewer]:
            # From the database (batched), not the user cache: a socket opened while it is down is refused with 1013.
            return authenticate(
                self.container.services,
                self.container.tokens,
                _connection_token(params),
                request_id=context.viewer.request_id,
                client_address=context.viewer.client_address,
                users=self.stored_users,
            )

        try:
            viewer = await sign_in()
        except DomainError as exc:
            # Both subprotocols close with 4400/4401/4403 (strawberry would use 1011 for legacy graphql-ws); a
            # refusal is the client's doing, so one INFO line, never a traceback.
            code = 4400 if isinstance(exc, InvalidInput) else 4401 if isinstance(exc, Unauthenticated) else 4403
            log.info("websocket refused with %s: %s", code, exc.message)
            await websocket.close(code=code, reason=exc.message[:120])
            raise ConnectionRejectionError() from exc
        except Exception as exc:
            outage = unavailable(exc)
            if outage is None:
                raise
            await websocket.close(code=WS_TRY_AGAIN_LATER, reason=outage.message[:120])
            raise ConnectionRejectionError() from exc
        # Live subscriptions authenticate again when the sign-in may have ended (logout, password or role change),
        # from the database: the event that asks for it may not have reached the user cache yet.
        context.sign_in(viewer, sign_in)
        return UNSET

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        if isinstance(request, Request):
            headers = _headers_of(request.scope)
            request_id = _settle_request_id(request.scope, headers)
            sign_in = await self._sign_in(request.scope, headers.get(b"authorization"))
            client_address = _client_address(request.scope)
            if sign_in is None:
                viewer = Viewer(request_id=request_id, client_address=client_address)
            else:
                viewer = sign_in.viewer(request_id=request_id, client_address=client_address)
        else:
            viewer = await authenticate(
                self.container.services,
                self.container.tokens,
                None,
                request_id=_settle_request_id(request.scope, _headers_of(request.scope)),
                client_address=_client_address(request.scope),
                users=self.users,
            )
        note_viewer(viewer.user_id)
        return RequestContext(
            viewer=viewer,
            services=self.container.services,
            extras={"request": request, "response": response},
            close_connection=_closer(request) if isinstance(request, WebSocket) else None,
        )
