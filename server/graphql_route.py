"""GraphQL's HTTP requests straight to its endpoint: past starlette's exception middleware and router, which the
endpoint does not use (it answers its own errors) and which cost a cache hit about a twentieth of its time."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

METHODS = frozenset(("GET", "POST"))


class GraphQLRoute:
    """The innermost middleware: GET and POST to `path` go to `endpoint`; everything else (the WebSocket, other
    methods and paths) to the router as before."""

    def __init__(self, app: ASGIApp, endpoint: ASGIApp, path: str = "/graphql"):
        self.app = app
        self.endpoint = endpoint
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and scope["method"] in METHODS:
            return await self.endpoint(scope, receive, send)
        return await self.app(scope, receive, send)
