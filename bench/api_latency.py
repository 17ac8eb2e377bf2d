"""Benchmark: latency percentiles and throughput of GraphQL reads against a real uvicorn server.

    .venv/bin/python -m bench.api_latency [--database-url URL] [--clients 50] [--requests 2000] [--workers 1]

Seeds a project tree, starts `rdflow serve` in a subprocess on a free port, fires a bounded number of
requests from concurrent httpx clients, and prints p50/p95/p99 and requests per second per query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUERIES = {
    "me": "{ me { username role } }",
    "project list": "{ projects(first: 20) { totalCount nodes { name status } } }",
    "dashboard (nested, ~1k fields)": """{ projects(first: 5) { nodes { name requirements(first: 10) { totalCount
        nodes { title status tasks(first: 10) { totalCount nodes { name status priority estimatedHours } } } } } } }""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def seed(database_url: str, data_dir: Path) -> str:
    from auth.tokens import ACCESS
    from domain.enums import Role, TaskType
    from domain.model import Project, ProjectMember, Requirement, Task, User
    from persistence.migrations import upgrade
    from server.container import build_container
    from server.settings import Settings

    upgrade(database_url)
    container = build_container(Settings(database_url=database_url, data_dir=data_dir))
    try:
        now = container.services.deps.clock.now()
        async with container.services.deps.uow() as uow:
            user = User(
                username="bench",
                email="bench@example.com",
                password_hash="!",
                role=Role.DEVELOPER,
                created_at=now,
                updated_at=now,
            )
            uow.users.add(user)
            for p in range(5):
                project = Project(name=f"project {p}", created_by=user.id, created_at=now, updated_at=now)
                uow.projects.add(project)
                uow.members.add(ProjectMember(project_id=project.id, user_id=user.id, added_at=now))
                for r in range(10):
                    req = Requirement(
                        project_id=project.id,
                        title=f"req {r}",
                        content="c",
                        created_by=user.id,
                        created_at=now,
                        updated_at=now,
                    )
                    uow.requirements.add(req)
                    for t in range(10):
                        uow.tasks.add(
                            Task(
                                requirement_id=req.id,
                                project_id=project.id,
                                name=f"task {t}",
                                task_type=TaskType.BACKEND,
                                created_at=now,
                                updated_at=now,
                            )
                        )
            await uow.commit()
        return container.tokens.issue(user, ACCESS, now)[0]
    finally:
        await container.aclose()


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


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="rdflow-bench-"))
    database_url = args.database_url or f"sqlite:///{data_dir}/bench.db"
    token = await seed(database_url, data_dir)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RDFLOW_DATA_DIR": str(data_dir),
        "RDFLOW_PORT": str(port),
        "RDFLOW_WORKERS": str(args.workers),
        "RDFLOW_LOG_LEVEL": "warning",
        "RDFLOW_MAX_TOKENS": "20000",
    }
    server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
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
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
