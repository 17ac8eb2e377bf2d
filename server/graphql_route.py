"""GraphQL's HTTP requests straight to its endpoint: ahead of starlette's router and of the middleware that wraps
every other route, so nothing stands between the endpoint and the server's receive and send (a response cache hit
costs ~70 us in-process; the wrappers and starlette's request and response objects were another ~30 us)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from server.access import logged
from server.graphql_view import Answered

METHODS = frozenset(("GET", "POST"))

Endpoint = Callable[[Scope, Receive, Send], Awaitable[Answered]]


class GraphQLRoute:
    """The first middleware: GET and POST to `path` go to `endpoint` (which reads its body within the size cap and
    says what it answered, for the access line); everything else (the WebSocket, other methods and paths) to the
    rest of the stack as before."""

    def __init__(self, app: ASGIApp, endpoint: Endpoint, path: str = "/graphql"):
        self.app = app
        self.endpoint = endpoint
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and scope["method"] in METHODS:
            return await logged(scope, self.endpoint(scope, receive, send))
        return await self.app(scope, receive, send)
