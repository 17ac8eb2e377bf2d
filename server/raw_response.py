"""A complete response sent as two ASGI messages, for the paths that skip starlette's Response (a response cache hit,
a refused body)."""

from __future__ import annotations

from starlette.types import Send


async def send_json(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    media_type: bytes = b"application/json",
) -> None:
    """A complete JSON response in two ASGI messages, without a Response object."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode()), *(headers or ())],
        }
    )
    await send({"type": "http.response.body", "body": body})
