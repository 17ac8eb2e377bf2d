"""A complete JSON response sent as two ASGI messages, for the paths that skip starlette's Response (a response
cache hit, a refused body), and its headers (the HTTP protocol's cache front writes them itself)."""

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
    await send({"type": "http.response.start", "status": status, "headers": json_headers(body, headers, media_type)})
    await send({"type": "http.response.body", "body": body})


def json_headers(
    body: bytes, headers: list[tuple[bytes, bytes]] | None = None, media_type: bytes = b"application/json"
) -> list[tuple[bytes, bytes]]:
    """The headers of a JSON `body`: its media type and length, then `headers`."""
    return [(b"content-type", media_type), (b"content-length", str(len(body)).encode()), *(headers or ())]
