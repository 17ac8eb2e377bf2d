"""The fastest any Python ASGI app can answer under `rdflow serve`'s uvicorn settings: it reads the request body
and sends back fixed bytes (RDFLOW_CEILING_BODY, a file), doing no other work. read_vs_postgraphile serves it with
a response rdflow gave, to show the ceiling a response-cache hit is measured against."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["RDFLOW_CEILING_BODY"]).read_bytes()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # lifespan: nothing to start or stop
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
