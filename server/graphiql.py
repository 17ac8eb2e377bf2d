"""GraphiQL from the package's own assets: the page (with Subresource Integrity) and the immutable asset route."""

from __future__ import annotations

import base64
import functools
import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).parent / "static"
ASSETS = STATIC / "graphiql"
ASSETS_PATH = "/static/graphiql"
# Each served name carries its package version (web/graphiql/fetch_assets.sh), so its content never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    """The served files by name: package, source file and sha256 (hex), as fetch_assets.sh wrote them."""
    return json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))["files"]


def integrity(sha256_hex: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()


@functools.cache
def page(root_path: str = "") -> str:
    """The GraphiQL page: the manifest's stylesheets in the head and its scripts in order, each integrity-checked."""
    styles, scripts = [], []
    for name, entry in manifest().items():
        href = html.escape(f"{root_path}{ASSETS_PATH}/{name}")
        checked = f'integrity="{integrity(entry["sha256"])}"'
        if name.endswith(".css"):
            styles.append(f'<link rel="stylesheet" href="{href}" {checked} />')
        else:
            scripts.append(f'<script src="{href}" {checked}></script>')
    template = (STATIC / "graphiql.html").read_text(encoding="utf-8")
    return template.replace("$STYLES", "\n    ".join(styles)).replace("$SCRIPTS", "\n    ".join(scripts))


def render(request: Request) -> HTMLResponse:
    return HTMLResponse(page(request.scope.get("root_path", "")), headers={"cache-control": "no-cache"})


async def asset(request: Request) -> Response:
    """One file the manifest lists (nothing else under static/ is reachable)."""
    name = request.path_params["name"]
    if name not in manifest():
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(ASSETS / name, media_type=MEDIA_TYPES[Path(name).suffix], headers={"cache-control": IMMUTABLE})


routes = [Route(ASSETS_PATH + "/{name}", asset, methods=["GET", "HEAD"])]
