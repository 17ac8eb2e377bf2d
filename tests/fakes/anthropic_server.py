"""A local HTTP server speaking Anthropic's Messages API (POST /v1/messages), scripted per test.

Each request is checked the way the real API checks it (credentials, `anthropic-version`, required
fields, tool definitions, forced tool choice, sampling parameters refused since 2026-10-21), recorded,
and answered with the next planned response. With nothing planned it answers 400, so a test that
calls more often than it planned fails loudly.

A request with `"stream": true` is answered with server-sent events when the planned response is a
`streamed(...)` one (message_start, content_block_start, ping, content_block_delta per chunk,
content_block_stop, message_delta, message_stop; or an `error` event part-way); `closed_early` counts
the streams whose client hung up before the last event.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SAMPLING_REFUSED_SINCE = "2026-10-21"
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True)
class StreamPlan:
    """A streamed text answer: `chunks` as text deltas, `delay_s` before each; an `error` event (type, message)
    instead of the delta at index `error_after` when set."""

    chunks: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    delay_s: float = 0.0
    error_after: int | None = None
    error: tuple[str, str] = ("overloaded_error", "Overloaded")


@dataclass(frozen=True)
class Planned:
    """One scripted answer: `body` builds the JSON from the request body (or `stream`, the events of a stream)."""

    status: int
    body: Callable[[dict[str, Any]], dict[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    stream: StreamPlan | None = None


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }


def _message(
    request: dict[str, Any], content: list[dict[str, Any]], stop_reason: str, input_tokens: int, output_tokens: int
) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def tool_call(
    tool_input: Any, *, input_tokens: int = 100, output_tokens: int = 50, stop_reason: str = "tool_use"
) -> Planned:
    """The model calls the tool the request forced, with `tool_input`."""

    def body(request: dict[str, Any]) -> dict[str, Any]:
        block = {
            "type": "tool_use",
            "id": f"toolu_{uuid.uuid4().hex[:24]}",
            "name": request["tool_choice"]["name"],
            "input": tool_input,
        }
        return _message(request, [block], stop_reason, input_tokens, output_tokens)

    return Planned(200, body)


def text_only(text: str, *, input_tokens: int = 100, output_tokens: int = 20) -> Planned:
    """The model answers in prose and calls no tool."""
    return Planned(
        200,
        lambda request: _message(request, [{"type": "text", "text": text}], "end_turn", input_tokens, output_tokens),
    )


def api_error(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> Planned:
    return Planned(status, lambda request: _error_body(error_type, message), headers or {})


def rate_limited(retry_after_s: float) -> Planned:
    return api_error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        {"retry-after": f"{retry_after_s:g}"},
    )


def overloaded() -> Planned:
    return api_error(529, "overloaded_error", "Overloaded")


def streamed(
    *chunks: str,
    input_tokens: int = 100,
    output_tokens: int = 20,
    delay_s: float = 0.0,
    error_after: int | None = None,
    error: tuple[str, str] = ("overloaded_error", "Overloaded"),
) -> Planned:
    """A streamed answer of `chunks`; with `error_after`, an error event replaces the rest (the API's mid-stream
    failure, e.g. overloaded); `delay_s` before each chunk makes a slow stream to cancel."""
    plan = StreamPlan(tuple(chunks), input_tokens, output_tokens, delay_s, error_after, error)
    return Planned(200, lambda request: _message(request, [], "end_turn", input_tokens, output_tokens), stream=plan)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def slow(delay_s: float, then: Planned) -> Planned:
    """`then`, answered only after `delay_s` (longer than a client's timeout, to provoke one)."""
    return Planned(then.status, then.body, then.headers, delay_s)


class FakeAnthropic:
    """Runs the fake API with uvicorn on a free 127.0.0.1 port in a background thread."""

    def __init__(self, api_key: str):
        self.api_key = api_key
        self.requests: list[Received] = []
        self._plan: deque[Planned] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.closed_early = 0
        self.stream_closed = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(self, *responses: Planned) -> None:
        with self._lock:
            self._plan.extend(responses)

    def reset(self) -> None:
        with self._lock:
            self._plan.clear()
            self.requests = []
            self.closed_early = 0
            self.stream_closed.clear()

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> FakeAnthropic:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-anthropic"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Anthropic server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _messages(self, request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = await request.json()
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Received(headers, body if isinstance(body, dict) else {}))
        refusal = self._refusal(headers, body)
        if refusal is not None:
            status, error_type, message = refusal
            return JSONResponse(_error_body(error_type, message), status_code=status)
        with self._lock:
            planned = self._plan.popleft() if self._plan else None
        if planned is None:
            return JSONResponse(_error_body("invalid_request_error", "fake server: no response planned"), 400)
        if planned.delay_s:
            await asyncio.sleep(planned.delay_s)
        if body.get("stream") is True and planned.status == 200:
            if planned.stream is None:
                return JSONResponse(_error_body("invalid_request_error", "fake server: no stream planned"), 400)
            return StreamingResponse(self._events(body, planned.stream), media_type="text/event-stream")
        return JSONResponse(planned.body(body), status_code=planned.status, headers=planned.headers)

    async def _events(self, request: dict[str, Any], plan: StreamPlan) -> AsyncIterator[bytes]:
        """The stream's events; a client that hangs up before the end is counted in `closed_early`."""
        ended = False
        start = _message(request, [], None, plan.input_tokens, 1)  # type: ignore[arg-type]  # null until the end
        try:
            yield _sse("message_start", {"type": "message_start", "message": start})
            yield _sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            yield _sse("ping", {"type": "ping"})
            for i, chunk in enumerate(plan.chunks):
                if plan.delay_s:
                    await asyncio.sleep(plan.delay_s)
                if i == plan.error_after:
                    ended = True
                    yield _sse("error", _error_body(*plan.error))
                    return
                delta = {"type": "text_delta", "text": chunk}
                yield _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
            yield _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": plan.output_tokens},
                },
            )
            ended = True
            yield _sse("message_stop", {"type": "message_stop"})
        finally:
            if not ended:
                with self._lock:
                    self.closed_early += 1
                self.stream_closed.set()

    def _refusal(self, headers: dict[str, str], body: Any) -> tuple[int, str, str] | None:
        """What the real API would refuse this request for, or None."""
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if key != self.api_key:
            return 401, "authentication_error", "invalid x-api-key"
        version = headers.get("anthropic-version", "")
        if not API_VERSION.match(version):
            return 400, "invalid_request_error", "anthropic-version: header is required"
        if not isinstance(body, dict):
            return 400, "invalid_request_error", "the request body is not a JSON object"
        if not isinstance(body.get("model"), str) or not body["model"]:
            return 400, "invalid_request_error", "model: Field required"
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return 400, "invalid_request_error", "max_tokens: Field required"
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, "invalid_request_error", "messages: at least one message is required"
        if version >= SAMPLING_REFUSED_SINCE and any(p in body for p in SAMPLING_PARAMS):
            return 400, "invalid_request_error", f"sampling parameters are not accepted since {SAMPLING_REFUSED_SINCE}"
        return self._tool_refusal(body)

    @staticmethod
    def _tool_refusal(body: dict[str, Any]) -> tuple[int, str, str] | None:
        tools = body.get("tools", [])
        for i, tool in enumerate(tools):
            if not TOOL_NAME.match(str(tool.get("name", ""))):
                return 400, "invalid_request_error", f"tools.{i}.name: String should match pattern"
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return 400, "invalid_request_error", f"tools.{i}.input_schema.type: Input should be 'object'"
        choice = body.get("tool_choice")
        if choice is not None and choice.get("type") == "tool" and choice.get("name") not in {t["name"] for t in tools}:
            return 400, "invalid_request_error", f"tool_choice: tool {choice.get('name')!r} not found in tools"
        if "tool_choice" in body and not tools:
            return 400, "invalid_request_error", "tool_choice may only be specified while providing tools"
        return None
