"""Per GraphQL request: the request id every log line carries, one access line, and the request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from contextvars import Token

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import metrics
from server.graphql_view import CLIENT_CLOSED_REQUEST, CLIENT_GONE, Answered, request_id_of
from server.logs import RequestLog, begin_request, current_request, end_request

log = logging.getLogger("rdflow.access")

# A refusal's body is read for its error codes; refusals are short, anything longer is not one of ours.
MAX_REFUSAL_BYTES = 64_000


def _header(scope: Scope, name: bytes) -> str:
    """One header's value ("" when absent), without building a Headers object (ASGI servers lowercase the names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _codes_in(body: bytes) -> list[str]:
    try:
        errors = orjson.loads(body).get("errors") or []
        return [str(e["extensions"]["code"]) for e in errors if isinstance(e, dict)]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return []


def _outcome(status: int, codes: list[str]) -> str:
    if status == CLIENT_CLOSED_REQUEST:
        return "gone"
    if status == 503:
        return "unavailable"
    if status >= 500:
        return "failed"
    if status >= 400:
        return "refused"
    return "error" if codes else "ok"


def begin_access(scope: Scope) -> Token[RequestLog | None]:
    """The request's id (the client's X-Request-ID when usable; the one already chosen when the server's front began
    it) in its scope and on every log line it causes; end it with end_request."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id") or request_id_of(_header(scope, b"x-request-id"))
    state["request_id"] = request_id
    return begin_request(request_id)


async def logged(scope: Scope, answer: Awaitable[Answered]) -> None:
    """Awaits the endpoint's `answer` to a GraphQL HTTP request (it sends its own response and says what it sent),
    then writes the request's access line and metrics: no wrapper between the endpoint and the server's send."""
    token = begin_access(scope)
    started = time.perf_counter()
    status, refusal = 500, b""  # what an exception escaping the endpoint becomes (starlette's error middleware)
    try:
        status, refusal = await answer
    finally:
        if scope.get("state", {}).get(CLIENT_GONE):
            status = CLIENT_CLOSED_REQUEST
        finish_access(scope, status, refusal, time.perf_counter() - started)
        end_request(token)


def finish_access(scope: Scope, status: int, refusal: bytes, seconds: float) -> None:
    """The request's access line and metrics, within its begin_access."""
    request = current_request()
    assert request is not None  # set by begin_access for the whole request
    if request.noted_errors:
        codes = request.error_codes
    elif status >= 400 and status != CLIENT_CLOSED_REQUEST:
        codes = _codes_in(refusal) or ["INTERNAL_SERVER_ERROR" if status >= 500 else f"HTTP_{status}"]
    else:
        codes = []
    outcome = _outcome(status, codes)
    metrics.observe_request(request.operation, seconds, codes)
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        "%s %s %d %s %s %.1f ms",
        scope["method"],
        scope["path"],
        status,
        request.operation or "-",
        outcome,
        seconds * 1000,
        extra={
            "method": scope["method"],
            "status": status,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 3),
            "error_codes": codes,
        },
    )


class AccessLog:
    """Wraps what reaches the GraphQL path through the router (its WebSocket, other methods); GET and POST come
    through `logged` (server/graphql_route.py). The view reuses the request id set in the scope."""

    def __init__(self, app: ASGIApp, path: str = "/graphql"):
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        token = begin_access(scope)
        try:
            if scope["type"] == "http":
                await self._http(scope, receive, send)
            else:
                await self._websocket(scope, receive, send)
        finally:
            end_request(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        refusal = bytearray()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and len(refusal) < MAX_REFUSAL_BYTES:
                refusal.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            if scope.get("state", {}).get(CLIENT_GONE):
                status = CLIENT_CLOSED_REQUEST
            finish_access(scope, status, bytes(refusal), time.perf_counter() - started)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        metrics.WEBSOCKETS.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.WEBSOCKETS.dec()
            seconds = time.perf_counter() - started
            log.info(
                "websocket %s closed after %.1f s",
                scope["path"],
                seconds,
                extra={"duration_ms": round(seconds * 1000, 3), "outcome": "closed"},
            )
