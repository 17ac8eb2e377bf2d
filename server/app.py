"""The ASGI application: /graphql, /health, /ready and /metrics, built from Settings through the container."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from datetime import timedelta

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from jobs.inprocess import InProcessJobQueue
from jobs.reconciler import reconcile_forever
from schema.build import SchemaLimits, build_schema
from server import dashboard, graphiql, heap, hooks, metrics
from server.access import AccessLog
from server.body_limit import BodySizeLimit
from server.container import Container, build_container
from server.graphql_route import GraphQLRoute
from server.graphql_view import GraphQLView
from server.outages import RETRY_AFTER_S, unavailable
from server.settings import Settings

log = logging.getLogger("rdflow")

READY_TIMEOUT_S = 2.0


async def _probe(check: Awaitable[object]) -> str:
    """ "ok", or why not: a dependency that fails or stays silent for READY_TIMEOUT_S is down."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await check
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"error: {exc.__class__.__name__}"
    return "ok"


async def _select_one(container: Container) -> None:
    async with container.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def serving_app() -> Starlette:
    """`rdflow serve`'s app (uvicorn's factory, one per worker process): create_app, with the process's heap settled
    once startup is complete (server/heap.py). Not for tests or embedding: it changes the whole process's collector."""
    return create_app(settle_heap=True)


def create_app(
    settings: Settings | None = None, container: Container | None = None, *, settle_heap: bool = False
) -> Starlette:
    settings = settings or Settings()
    container = container or build_container(settings)
    schema = build_schema(
        SchemaLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
            introspection=settings.introspection_enabled,
        ),
        outage=unavailable,
    )
    graphql = GraphQLView(
        container,
        schema,
        max_body_bytes=settings.max_body_bytes,
        graphql_ide="graphiql" if settings.env != "production" else None,
        keep_alive=True,
        keep_alive_interval=settings.ws_keepalive_s,
    )

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> JSONResponse:
        checks = {"database": await _probe(_select_one(container))}
        ping = getattr(container.bus, "ping", None)
        checks["broker"] = await _probe(ping()) if ping is not None else "in-process"
        subscription_live = getattr(container.bus, "subscription_live", None)
        if subscription_live is not None:
            # Redis may answer again before this process has re-subscribed its channels: events would be lost.
            checks["events"] = "ok" if subscription_live() else "error: resubscribing"
        ok = all(v in ("ok", "in-process") for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
            headers=None if ok else {"retry-after": str(RETRY_AFTER_S)},
        )

    async def metrics_page(request: Request) -> Response:
        if not metrics.authorized(request.headers.get("authorization"), settings.metrics_token):
            return Response("a bearer token is required\n", status_code=401, headers={"www-authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        reconciler = None
        if isinstance(container.queue, InProcessJobQueue):
            # Embedded mode has no worker cron: this process requeues jobs a previous run left RUNNING.
            reconciler = asyncio.create_task(
                reconcile_forever(
                    container.services.job_lifecycle,
                    container.queue,
                    timedelta(seconds=settings.job_stale_after_s),
                    settings.job_reconcile_every_s,
                )
            )
        if settle_heap:
            heap.settle()
        yield
        if reconciler is not None:
            reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reconciler
        await container.aclose()
        metrics.process_exiting()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/health", health),
            Route("/ready", ready),
            Route("/metrics", metrics_page),
            *dashboard.routes,
            *hooks.routes,
            *(graphiql.routes if graphql.graphql_ide else []),
        ],
        middleware=[
            Middleware(GraphQLRoute, endpoint=graphql.answer),
            Middleware(AccessLog),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.cache_front = graphql  # answers response cache hits ahead of the app (server/http_protocol.py)
    return app
