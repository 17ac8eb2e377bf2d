"""The live dashboard at `/`: its page (with a self-only Content-Security-Policy) and its built assets."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

BUILD = Path(__file__).parent / "static" / "dashboard"
ASSETS = BUILD / "assets"
# Vite names every asset after its content hash, so an asset URL never changes meaning.
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Everything from this origin only; the page talks to /graphql over fetch and WebSocket (ws: or wss: behind TLS).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


async def page(_: Request) -> Response:
    return HTMLResponse((BUILD / "index.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)


async def asset(request: Request) -> Response:
    """A script or stylesheet of the build's assets/ folder ({name} matches no "/": nothing else is reachable)."""
    path = ASSETS / request.path_params["name"]
    if path.suffix not in MEDIA_TYPES or not path.is_file():
        return PlainTextResponse("Not Found", status_code=404)
    headers = {"cache-control": IMMUTABLE, "x-content-type-options": "nosniff"}
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


routes = [Route("/", page, methods=["GET", "HEAD"]), Route("/assets/{name}", asset, methods=["GET", "HEAD"])]
