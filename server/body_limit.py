"""Request bodies over a size cap are refused with 413 before anything reads them: `read_body` for the GraphQL
endpoint, which reads its body itself, and the `BodySizeLimit` middleware for every other route."""

from __future__ import annotations

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.raw_response import send_json


class BodyTooLarge(Exception):
    pass


def declared_too_large(content_length: bytes | None, max_bytes: int) -> bool:
    return content_length is not None and content_length.isdigit() and int(content_length) > max_bytes


async def read_body(receive: Receive, content_length: bytes | None, max_bytes: int) -> bytes:
    """The whole body; BodyTooLarge past `max_bytes` (declared or counted), ClientDisconnect if the client left."""
    if declared_too_large(content_length, max_bytes):
        raise BodyTooLarge
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large_body(max_bytes: int) -> bytes:
    return orjson.dumps(
        {
            "errors": [
                {
                    "message": f"request body exceeds {max_bytes} bytes",
                    "extensions": {"code": "BAD_USER_INPUT", "errorId": "ERR_400_001"},
                }
            ]
        }
    )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        await send_json(send, 413, too_large_body(self.max_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if declared_too_large(dict(scope.get("headers", [])).get(b"content-length"), self.max_bytes):
            return await self._reject(send)
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await self._reject(send)
