"""Per-request CPU cost of the rdflow ASGI app, called in-process (no socket, no HTTP parser, no load generator).

    .venv/bin/python -m bench.asgi_cost [--postgres URL] [--redis URL] [--requests 2000] [--concurrency 10]
        [--shape d2|typename|typename-anon|tasks|me|node] [--uncached] [--cprofile FILE.pstats]

Seeds a throw-away PostgreSQL database (10 projects x 10 requirements x 12 tasks), builds the production app
(RDFLOW_ENV=production, Redis), then sends `--requests` requests of one shape straight into the ASGI callable,
`--concurrency` at a time, and prints microseconds per request. A quick loop for the per-request path: the same
work a server does for a request, minus uvicorn, so changes to middleware, context, auth and execution show
without a 6-minute benchmark; `bench.read_vs_postgraphile` remains the measure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench.harness import production_settings, seed
from bench.read_vs_postgraphile import IDS, drop_redis_keys, load_ids, throwaway_database
from domain.enums import Role
from resolvers.ids import to_global_id

SHAPES = {
    "d2": ("query D2 { projects(first: 20) { nodes { id name status } } }", True),
    "typename": ("{ __typename }", True),
    "typename-anon": ("{ __typename }", False),
    "tasks": (
        (
            "query F { tasks(first: 50, filter: {taskType: [BACKEND]}) { nodes { id name status requirement { id "
            "title project { id name } } } } }"
        ),
        True,
    ),
    "me": ("query Me { me { id username role } }", True),
    "users": ("query U { users(first: 20) { totalCount nodes { id username email role status } } }", True),
    "audit": ("query A { auditLog(first: 20) { nodes { id action entityType outcome at } } }", True),
    "node": (
        (
            "query N($id: ID!) { node(id: $id) { id ... on Task { name status priority estimatedHours "
            "requirement { id title project { id name } } } } }"
        ),
        True,
    ),
}


async def _call(app, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(args: argparse.Namespace, database_url: str, folder: Path, prefix: str) -> None:
    from server.app import create_app
    from server.settings import Settings

    settings = {**production_settings(args.redis, prefix), "log_level": "warning"}
    # Enough users and audit rows that the users and audit shapes read full pages of 20.
    token = await seed(
        database_url,
        folder,
        projects=10,
        requirements=10,
        tasks=12,  # 1,200 tasks: more ids than the plan cache keeps (schema/compiled.py)
        role=Role.SUPER_ADMIN,
        settings=settings,
        users=40,
        audit_entries=200,
    )
    app = create_app(Settings(**settings, database_url=database_url, data_dir=folder), settle_heap=True)
    query, signed_in = SHAPES[args.shape]
    variables: list[dict[str, str]] = [{}]
    if "$id" in query:
        await load_ids(database_url)
        # Uncached, every task in turn (as bench.read_vs_postgraphile does): plans and statements cached per id
        # would otherwise all be hits.
        ids = IDS["Task"] if args.uncached else IDS["Task"][:1]
        variables = [{"id": to_global_id("Task", raw)} for raw in ids]
    bodies = itertools.cycle([json.dumps({"query": query, "variables": v}).encode() for v in variables])
    body = next(bodies)
    headers = [(b"authorization", f"Bearer {token}".encode())] if signed_in else []
    if args.uncached:
        headers.append((b"cache-control", b"no-cache"))
    async with app.router.lifespan_context(app):
        for _ in range(50):  # warm: caches, pool, document cache
            assert await _call(app, body, headers) == 200
        profiler = cProfile.Profile() if args.cprofile else None
        remaining = args.requests
        statuses: list[int] = []

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                statuses.append(await _call(app, next(bodies), headers))

        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    bad = sum(s != 200 for s in statuses)
    print(
        f"{args.shape}: {len(statuses)} requests, {wall / len(statuses) * 1e6:.0f} us wall, "
        f"{cpu / len(statuses) * 1e6:.0f} us CPU per request, non-200: {bad}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="d2")
    parser.add_argument("--cprofile", type=Path)
    parser.add_argument("--uncached", action="store_true", help="send Cache-Control: no-cache (no response cache)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rdflow-asgi-cost-"))
    prefix = f"rdflow-bench-{uuid.uuid4().hex[:8]}"
    try:
        with throwaway_database(args.postgres) as database_url:
            asyncio.run(run(args, database_url, folder, prefix))
    finally:
        asyncio.run(drop_redis_keys(args.redis, prefix))
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
