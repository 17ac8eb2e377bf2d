"""uvicorn's HTTP/1.1 protocol with the response cache in front: a GraphQL request whose answer is stored is answered
from its connection's task without entering the ASGI app (its middleware, its messages and uvicorn's checks of them
were ~15 us of a ~85 us hit); every other request, and every one the cache does not answer, goes to the app as
before, with what the front learned (the body, the sign-in, the data version) kept in its scope state."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from server.access import begin_access, finish_access
from server.logs import end_request
from server.ws_protocol import websocket_options

PROTOCOL = "server.http_protocol:CacheFrontHttpProtocol"

Fields = list[tuple[bytes, bytes]]


class CacheFront(Protocol):
    """What answers from the response cache (server/graphql_view.py's GraphQLView), found on the app's `state` as
    `cache_front`."""

    path: str
    methods: frozenset[str]
    max_body_bytes: int

    def hit(self, scope: Any, body: bytes) -> Awaitable[tuple[bytes, Fields] | None]: ...


def cache_front_of(app: Any) -> CacheFront | None:
    """The front of the app uvicorn serves, through the wrappers uvicorn puts around it (each keeps it as `app`)."""
    for _ in range(8):
        front: CacheFront | None = getattr(getattr(app, "state", None), "cache_front", None)
        if front is not None or app is None:
            return front
        app = getattr(app, "app", None)
    return None


class CacheFrontHttpProtocol(HttpToolsProtocol):
    """Starts a GET or POST to the front's path on the front; everything else as uvicorn does. The front keeps
    uvicorn's request cycle (keep-alive, pipelining, flow control and graceful shutdown are uvicorn's)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.front = cache_front_of(self.app)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        front, scope = self.front, cycle.scope
        if (
            front is None
            or app is not self.app  # uvicorn's 503 for a connection over its concurrency limit
            or scope["path"] != front.path
            or scope["method"] not in front.methods
            or cycle.waiting_for_100_continue
        ):
            return super()._start_asgi_task(cycle, app)
        context = contextvars.Context() if self.config.reset_contextvars else None
        task = self.loop.create_task(self._front_first(cycle, front), context=context)
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _front_first(self, cycle: RequestResponseCycle, front: CacheFront) -> None:
        body = await _whole_body(cycle, min(front.max_body_bytes, HIGH_WATER_LIMIT))
        if body is not None:
            scope: Any = cycle.scope  # the ASGI scope uvicorn made (its TypedDict is not a MutableMapping to mypy)
            token = begin_access(scope)
            started = time.perf_counter()
            try:
                try:
                    hit = await front.hit(scope, body)
                except Exception:  # noqa: BLE001 - the app answers it, and reports what went wrong its own way
                    hit = None
                if hit is not None and await _write(cycle, *hit):
                    finish_access(scope, 200, b"", time.perf_counter() - started)
                    return
            finally:
                end_request(token)
        await cycle.run_asgi(self.app)


def _content_length(cycle: RequestResponseCycle) -> int | None:
    """The request body's declared length (0 when none is declared); None for a chunked body or a malformed length."""
    length = 0
    for name, value in cycle.scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                return None
            length = int(value)
        elif name == b"transfer-encoding":
            return None
    return length


async def _whole_body(cycle: RequestResponseCycle, limit: int) -> bytes | None:
    """The request's body once it has all arrived, left in the cycle for the app to receive; None when the front
    does not take it (chunked, longer than `limit`, or the client left): the app then reads and judges it."""
    length = _content_length(cycle)
    if length is None or length > limit:
        return None
    while cycle.more_body and not cycle.disconnected:
        # The parser sets the event for each part and at the end; it stays set for the app's receive.
        cycle.message_event.clear()
        await cycle.message_event.wait()
    if cycle.disconnected:
        return None
    return bytes(cycle.body)


async def _write(cycle: RequestResponseCycle, body: bytes, fields: Fields) -> bool:
    """The whole response in one write, ending the cycle as uvicorn's own send does; False when the client left
    before it could be written (the app then answers the request as one whose client is gone)."""
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return False
    lines = [STATUS_LINE[200]]
    for name, value in (*cycle.default_headers, *fields):
        lines += (name, b": ", value, b"\r\n")
    if not cycle.keep_alive:
        lines.append(b"connection: close\r\n")
    lines += (b"\r\n", body)
    cycle.response_started = True
    cycle.transport.write(b"".join(lines))
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    on_response, cycle.on_response = cycle.on_response, _nothing
    on_response()
    return True


def _nothing() -> None:
    return None


def server_options(max_message_bytes: int) -> dict[str, Any]:
    """uvicorn options for the served app: this protocol for HTTP, and the WebSocket's (server/ws_protocol.py)."""
    return {"http": PROTOCOL, **websocket_options(max_message_bytes)}
