"""Prometheus metrics: what is counted, the observers given to the event bus, job executor and pool, and /metrics."""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess as mp
from prometheus_client.exposition import generate_latest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Labels stay bounded: an operation name is kept only when it looks like one, and only the first MAX_OPERATIONS
# distinct names (per process); the rest are "other", a request without a name is "anonymous".
OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
MAX_OPERATIONS = 100

REQUEST_SECONDS = Histogram(
    "rdflow_graphql_request_duration_seconds", "GraphQL HTTP requests by operation name", ["operation"]
)
ERRORS = Counter("rdflow_graphql_errors_total", "GraphQL errors and HTTP refusals by extensions.code", ["code"])
WEBSOCKETS = Gauge("rdflow_websockets_active", "Open GraphQL WebSocket connections", multiprocess_mode="livesum")
SUBSCRIPTIONS = Gauge("rdflow_subscriptions_active", "Live event-bus subscriptions", multiprocess_mode="livesum")
EVENTS_PUBLISHED = Counter("rdflow_events_published_total", "Events handed to the event bus by this deployment")
EVENTS_DELIVERED = Counter("rdflow_events_delivered_total", "Events queued to a local subscriber")
EVENTS_DROPPED = Counter("rdflow_events_dropped_total", "Events lost, by reason", ["reason"])
JOB_SECONDS = Histogram(
    "rdflow_job_duration_seconds",
    "Job runs by kind and outcome (its _count: runs)",
    ["kind", "outcome"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
DB_CHECKED_OUT = Gauge("rdflow_db_pool_checked_out", "Database connections in use", multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge("rdflow_db_pool_size", "Database pool size (sum over processes)", multiprocess_mode="livesum")
RESPONSE_CACHE = Counter(
    "rdflow_response_cache_requests_total", "GraphQL HTTP requests by what the response cache did", ["outcome"]
)
_RESPONSE_CACHE = {outcome: RESPONSE_CACHE.labels(outcome) for outcome in ("hit", "miss", "bypass")}

_operations: set[str] = set()
_operations_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not OPERATION_NAME.match(name):
        return "other"
    with _operations_lock:
        if name in _operations:
            return name
        if len(_operations) >= MAX_OPERATIONS:
            return "other"
        _operations.add(name)
    return name


# The duration histogram's child per operation name that is its own label (admitted names and no name: bounded by
# MAX_OPERATIONS); every request observes one, and labels() takes a lock and builds a tuple each time.
_timers: dict[str | None, Any] = {}


def observe_request(operation: str | None, seconds: float, error_codes: list[str]) -> None:
    timer = _timers.get(operation)
    if timer is None:
        label = operation_label(operation)
        timer = REQUEST_SECONDS.labels(label)
        if label == operation or not operation:
            _timers[operation] = timer
    timer.observe(seconds)
    for code in error_codes:
        ERRORS.labels(code if OPERATION_NAME.match(code) else "other").inc()


def response_cache(outcome: str) -> None:
    _RESPONSE_CACHE[outcome].inc()


class EventMetrics:
    """The event buses' observer (integrations.events_memory.EventsObserver)."""

    def published(self) -> None:
        EVENTS_PUBLISHED.inc()

    def delivered(self, count: int = 1) -> None:
        EVENTS_DELIVERED.inc(count)

    def dropped(self, reason: str) -> None:
        EVENTS_DROPPED.labels(reason).inc()

    def subscribed(self, change: int) -> None:
        SUBSCRIPTIONS.inc(change)


def internal_subscriptions(change: int) -> None:
    """The server's own bus listeners (the user cache's) are not clients' subscriptions: taken back out."""
    SUBSCRIPTIONS.dec(change)


class JobMetrics:
    """The job executor's observer (jobs.executor.JobsObserver)."""

    def finished(self, kind: str, outcome: str, seconds: float) -> None:
        JOB_SECONDS.labels(kind, outcome).observe(seconds)


def watch_pool(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
    """Connections in use, counted as they are checked out and in, so every process's share adds up; returns
    what takes the pool's size back out when the engine is disposed."""
    pool = engine.sync_engine.pool
    size = getattr(pool, "size", None)
    capacity = size() if callable(size) else 0
    DB_POOL_SIZE.inc(capacity)

    @event.listens_for(pool, "checkout")
    def _out(*_: Any) -> None:
        DB_CHECKED_OUT.inc()

    @event.listens_for(pool, "checkin")
    def _in(*_: Any) -> None:
        DB_CHECKED_OUT.dec()

    async def forget() -> None:
        DB_POOL_SIZE.dec(capacity)

    return forget


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def process_exiting() -> None:
    """This process's live gauges (WebSockets, subscriptions, pool) stop counting once it is gone."""
    if multiprocess_dir() is not None:
        mp.mark_process_dead(os.getpid())


def exposition() -> bytes:
    """The text format: every process's values summed when several share PROMETHEUS_MULTIPROC_DIR."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    mp.MultiProcessCollector(registry)
    return generate_latest(registry)


def authorized(header: str | None, token: str | None) -> bool:
    """No token configured: anyone who reaches the port may scrape. Otherwise `Authorization: Bearer <token>`."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode())


def serve_in_thread(port: int, host: str, token: str | None) -> None:
    """A plain /metrics endpoint in a daemon thread, for `rdflow worker` (it has no HTTP server of its own)."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client.exposition import ThreadingWSGIServer

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("WWW-Authenticate", "Bearer"), ("Content-Type", "text/plain")])
            return [b"a bearer token is required\n"]
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [exposition()]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="rdflow-metrics", daemon=True).start()
