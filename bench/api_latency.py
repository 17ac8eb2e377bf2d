"""Benchmark: latency percentiles and throughput of GraphQL reads against a real uvicorn server.

    .venv/bin/python -m bench.api_latency [--database-url URL] [--clients 50] [--requests 2000] [--workers 1]

Seeds a project tree, starts `rdflow serve` in a subprocess on a free port, fires a bounded number of
requests from concurrent httpx clients, and prints p50/p95/p99 and requests per second per query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import pct, rdflow_server, seed

QUERIES = {
    "me": "{ me { username role } }",
    "project list": "{ projects(first: 20) { totalCount nodes { name status } } }",
    "dashboard (nested, ~1k fields)": """{ projects(first: 5) { nodes { name requirements(first: 10) { totalCount
        nodes { title status tasks(first: 10) { totalCount nodes { name status priority estimatedHours } } } } } } }""",
}


async def fire(url: str, token: str, query: str, clients: int, total: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def client() -> None:
        nonlocal remaining, errors
        async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30) as c:
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                r = await c.post("/graphql", json={"query": query})
                latencies.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200 or "errors" in r.json():
                    errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - start, errors


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="rdflow-bench-"))
    database_url = args.database_url or f"sqlite:///{data_dir}/bench.db"
    token = await seed(database_url, data_dir, projects=5, requirements=10, tasks=10)
    env = {
        "DATABASE_URL": database_url,
        "RDFLOW_DATA_DIR": str(data_dir),
        "RDFLOW_WORKERS": str(args.workers),
        "RDFLOW_MAX_TOKENS": "20000",
    }
    with rdflow_server(env, data_dir / "server.log") as (url, _):
        print(
            f"database: {database_url.split('://')[0]}, clients: {args.clients}, requests per query: "
            f"{args.requests}, uvicorn workers: {args.workers}, cores: {os.cpu_count()}"
        )
        for name, query in QUERIES.items():
            await fire(url, token, query, 5, 50)  # warm-up
            lat, elapsed, errors = await fire(url, token, query, args.clients, args.requests)
            print(
                f"{name:32s} p50 {pct(lat, 50):7.1f} ms  p95 {pct(lat, 95):7.1f} ms  p99 {pct(lat, 99):7.1f} ms"
                f"  {len(lat) / elapsed:7.0f} req/s  errors {errors}"
            )


if __name__ == "__main__":
    asyncio.run(main())
