"""Benchmark: rdflow's read path side by side with PostGraphile 4 on the same PostgreSQL database (issue 13).

    .venv/bin/python -m bench.read_vs_postgraphile [--postgres URL] [--redis URL] [--seconds 10] [--connections 50]
        [--workers 1,2] [--only D2,audit] [--profile FILE.speedscope.json [--profile-mode uncached|cached]]

Creates a throw-away database on the PostgreSQL server at --postgres, seeds 100 projects x 20 requirements x 10
tasks through rdflow's own tables, installs PostGraphile 4 with npm into a temporary folder, then for each worker
count runs `rdflow serve` (RDFLOW_ENV=production, Redis, a super admin's token) and `postgraphile` (one process, or
--cluster-workers N) side by side on that database and drives each with the same load, one server after the other
for each shape and mode (the two runs a ratio compares are close in time). Prints requests/s and p50/p95/p99
per shape, uncached and cached, with the rdflow / PostGraphile ratio, and signed-in vs anonymous `{ __typename }`.
Then the ceiling of an answer that goes through an ASGI app: a do-nothing one (bench/ceiling_app.py) under uvicorn,
answering D2's request with the bytes rdflow gave, against 5x PostGraphile's D2 (issue 13's goal for repeated reads);
rdflow answers a cache hit ahead of its ASGI app (server/http_protocol.py), so its cached reads can pass it.
With --profile, py-spy records the 1-worker rdflow server while it serves the shapes `--only` selects (all by default)
once more, uncached or cached (needs `pip install py-spy`).
Everything is removed afterwards: servers, the npm folder, the database and the run's Redis keys.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.harness import free_port, production_settings, rdflow_server, running, seed, settle
from bench.load import Load, client_name, drive
from domain.enums import Role
from resolvers.ids import encode_cursor, to_global_id

PROJECTS, REQUIREMENTS, TASKS = 100, 20, 10
USERS, AUDIT_ENTRIES = 200, 2_000  # for the users and audit log shapes (the viewer is one more user)
ORDER = "orderBy: [CREATED_AT_ASC, ID_ASC]"  # rdflow's default order (created_at, then id)


@dataclass(frozen=True)
class Shape:
    """One read shape written for both servers; `offsets` are the windows uncached requests rotate through."""

    name: str
    rows: int
    offsets: range
    rdflow: str
    rdflow_path: tuple[str, ...]
    postgraphile: str
    postgraphile_path: tuple[str, ...]
    # Set for a shape read by id: the entity whose ids (in creation order) the windows index, not a page offset.
    entity: str | None = None


SHAPES = [
    Shape(
        "D1 nested 10x5x10",
        500,
        range(PROJECTS - 10 + 1),
        """query D1($after: String) { projects(first: 10, after: $after) { nodes { id name
            requirements(first: 5) { nodes { id title status tasks(first: 10) { nodes { id name status priority } } } }
        } } }""",
        ("projects", "requirements", "tasks"),
        f"""query D1($offset: Int) {{ allProjects(first: 10, offset: $offset, {ORDER}) {{ nodes {{ id name
            requirementsByProjectId(first: 5, {ORDER}) {{ nodes {{ id title status
                tasksByRequirementId(first: 10, {ORDER}) {{ nodes {{ id name status priority }} }} }} }}
        }} }} }}""",
        ("allProjects", "requirementsByProjectId", "tasksByRequirementId"),
    ),
    Shape(
        "D2 flat 20 projects",
        20,
        range(PROJECTS - 20 + 1),
        "query D2($after: String) { projects(first: 20, after: $after) { nodes { id name status } } }",
        ("projects",),
        f"query D2($offset: Int) {{ allProjects(first: 20, offset: $offset, {ORDER}) {{ nodes {{ id name status }} }}"
        " }",
        ("allProjects",),
    ),
    Shape(
        "filtered tasks (50)",
        50,
        # BACKEND tasks (t = 0, 6) with HIGH priority: a quarter of 2 per requirement, 1000 rows.
        range(PROJECTS * REQUIREMENTS * 2 // 4 - 50 + 1),
        """query F($after: String) { tasks(first: 50, after: $after, filter: {taskType: [BACKEND], priority: [HIGH]}) {
            nodes { id name status requirement { id title project { id name } } } } }""",
        ("tasks",),
        f"""query F($offset: Int) {{ allTasks(first: 50, offset: $offset, condition: {{taskType: "BACKEND",
            priority: "HIGH"}}, {ORDER}) {{ nodes {{ id name status
                requirementByRequirementId {{ id title projectByProjectId {{ id name }} }} }} }} }}""",
        ("allTasks",),
    ),
    # Not one of issue 13's three: a task list page with its count, page info, parents and decimals.
    Shape(
        "task page (30) with parents",
        30,
        range(PROJECTS * REQUIREMENTS * TASKS - 30 + 1),
        """query P($after: String) { tasks(first: 30, after: $after) { totalCount pageInfo { hasNextPage endCursor }
            nodes { id name priority estimatedHours createdAt parent { id name } requirement { id title } } } }""",
        ("tasks",),
        f"""query P($offset: Int) {{ allTasks(first: 30, offset: $offset, {ORDER}) {{ totalCount
            pageInfo {{ hasNextPage endCursor }} nodes {{ id name priority estimatedHours createdAt
                taskByParentId {{ id name }} requirementByRequirementId {{ id title }} }} }} }}""",
        ("allTasks",),
    ),
    # Two more shapes of the general path (issue 13: refetch by id, a parent with its children's counts).
    Shape(
        "node(id:) task refetch",
        1,
        range(PROJECTS * REQUIREMENTS * TASKS),
        """query N($id: ID!) { node(id: $id) { id ... on Task { name status priority estimatedHours
            requirement { id title project { id name } } } } }""",
        ("node",),
        """query N($id: UUID!) { taskById(id: $id) { id name status priority estimatedHours
            requirementByRequirementId { id title projectByProjectId { id name } } } }""",
        ("taskById",),
        entity="Task",
    ),
    Shape(
        "project -> 20 requirements with task counts",
        20,
        range(PROJECTS),
        """query R($id: ID!) { project(id: $id) { id name requirements(first: 20) { totalCount nodes { id title
            status tasks(first: 1) { totalCount } } } } }""",
        ("project", "requirements"),
        f"""query R($id: UUID!) {{ projectById(id: $id) {{ id name requirementsByProjectId(first: 20, {ORDER}) {{
            totalCount nodes {{ id title status tasksByRequirementId(first: 1) {{ totalCount }} }} }} }} }}""",
        ("projectById", "requirementsByProjectId"),
        entity="Project",
    ),
    # Two shapes outside the project tree, read through the resolvers (no compiled path).
    Shape(
        "users (20)",
        20,
        range(USERS - 20 + 1),
        """query U($after: String) { users(first: 20, after: $after) { nodes { id username email role status
            createdAt } } }""",
        ("users",),
        f"""query U($offset: Int) {{ allUsers(first: 20, offset: $offset, {ORDER}) {{ nodes {{ id username email
            role status createdAt }} }} }}""",
        ("allUsers",),
    ),
    Shape(
        "audit log (20), newest first",
        20,
        range(AUDIT_ENTRIES - 20 + 1),
        """query A($after: String) { auditLog(first: 20, after: $after) { nodes { id action outcome entityType
            entityId at } } }""",
        ("auditLog",),
        """query A($offset: Int) { allAuditLogs(first: 20, offset: $offset, orderBy: [AT_DESC, ID_DESC]) {
            nodes { id action outcome entityType entityId at } } }""",
        ("allAuditLogs",),
    ),
]

# Filled after seeding: each entity's ids in creation order (the windows of the shapes read by id).
IDS: dict[str, list[str]] = {}


async def load_ids(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for entity, table in (("Task", "tasks"), ("Project", "projects")):
            IDS[entity] = [str(r["id"]) for r in await conn.fetch(f"SELECT id FROM {table} ORDER BY created_at, id")]
    finally:
        await conn.close()


def rdflow_body(shape: Shape, offset: int) -> str:
    if shape.entity:
        return json.dumps(
            {"query": shape.rdflow, "variables": {"id": to_global_id(shape.entity, IDS[shape.entity][offset])}}
        )
    return json.dumps({"query": shape.rdflow, "variables": {"after": encode_cursor(offset - 1) if offset else None}})


def postgraphile_body(shape: Shape, offset: int) -> str:
    if shape.entity:
        return json.dumps({"query": shape.postgraphile, "variables": {"id": IDS[shape.entity][offset]}})
    return json.dumps({"query": shape.postgraphile, "variables": {"offset": offset}})


def count(data: dict, path: tuple[str, ...]) -> int:
    if not path:
        return 1
    value = data[path[0]]
    if value is None:
        return 0
    return sum(count(node, path[1:]) for node in value["nodes"]) if "nodes" in value else count(value, path[1:])


def check(url: str, headers: dict[str, str], body: str, path: tuple[str, ...], rows: int) -> None:
    """Fail unless the body answers without errors and with the expected number of rows."""
    reply = httpx.post(url, content=body, headers={"content-type": "application/json", **headers}, timeout=30).json()
    if "errors" in reply or count(reply["data"], path) != rows:
        raise RuntimeError(f"{url} answered {json.dumps(reply)[:500]} to {body[:200]}")


@dataclass
class Row:
    shape: str
    mode: str
    workers: int
    server: str
    load: Load


MODES = ("uncached", "cached")


def selected(args: argparse.Namespace) -> list[Shape]:
    return [s for s in SHAPES if not args.only or any(w in s.name for w in args.only.split(","))]


def load_of(shape: Shape, mode: str, body: Callable[[Shape, int], str]) -> tuple[list[str], dict[str, str]]:
    """The bodies and extra headers of a shape's load: cached repeats one request, uncached rotates the windows."""
    if mode == "cached":
        return [body(shape, shape.offsets[0])], {}
    return [body(shape, o) for o in shape.offsets], {"Cache-Control": "no-cache"}


@dataclass
class Target:
    """One server under test and how to ask it for a shape."""

    server: str
    pid: int
    url: str
    headers: dict[str, str]
    body: Callable[[Shape, int], str]
    path: Callable[[Shape], tuple[str, ...]]


def measure(targets: list[Target], workers: int, args: argparse.Namespace) -> Iterator[Row]:
    """Each shape cached (one identical request: rdflow serves it from its response cache) and uncached (rotating
    windows, `Cache-Control: no-cache`: rdflow bypasses its cache), on each server in turn: the runs a ratio compares
    are minutes apart at most, not a whole pass over the shapes (the machine's speed drifts)."""
    for shape in selected(args):
        offsets = list(shape.offsets)
        for t in targets:
            for offset in (offsets[0], offsets[len(offsets) // 2], offsets[-1]):
                check(t.url, t.headers, t.body(shape, offset), t.path(shape), shape.rows)
        for mode in MODES:
            for t in targets:
                bodies, extra = load_of(shape, mode, t.body)
                drive(t.url, bodies, {**t.headers, **extra}, min(args.connections, 10), 1)  # warm-up
                settle(t.pid)
                load = drive(t.url, bodies, {**t.headers, **extra}, args.connections, args.seconds)
                settle(t.pid)
                row = Row(shape.name, mode, workers, t.server, load)
                print_row(row)
                yield row


def print_row(row: Row) -> None:
    load = row.load
    print(
        f"  {row.server:12s} w{row.workers} {row.shape:22s} {row.mode:8s} {load.rps:8.0f} req/s  p50 {load.p50_ms:7.1f}"
        f"  p95 {load.p95_ms:7.1f}  p99 {load.p99_ms:7.1f} ms  errors {load.errors}",
        flush=True,
    )


def profile(pid: int, out: Path, url: str, headers: dict[str, str], args: argparse.Namespace) -> None:
    """py-spy records the server while the selected shapes (`--only`) run in `--profile-mode` for args.seconds each."""
    shapes = selected(args)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(len(shapes) * args.seconds + 2),
            "-r",
            "100",
            "-f",
            "speedscope",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for shape in shapes:
            bodies, extra = load_of(shape, args.profile_mode, rdflow_body)
            drive(url, bodies, {**headers, **extra}, args.connections, args.seconds)
    finally:
        recorder.wait(timeout=60)
        settle(pid)
    names = ", ".join(s.name for s in shapes)
    print(f"  profile of rdflow (1 worker) serving {names} ({args.profile_mode}): {out}", flush=True)


async def sql(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    name = f"rdflow_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(sql(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def drop_redis_keys(redis_url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def install_postgraphile(folder: Path) -> Path:
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "postgraphile@4"],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    return folder / "node_modules" / ".bin" / "postgraphile"


@contextmanager
def postgraphile(binary: Path, database_url: str, workers: int, log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [str(binary), "-c", database_url, "--schema", "public", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--disable-graphiql", "--no-setof-functions-contain-nulls", "--disable-query-log"]
    if workers > 1:
        command += ["--cluster-workers", str(workers)]
    url = f"http://127.0.0.1:{port}/graphql"
    with running(command, {"NODE_ENV": "production"}, url, log, cwd=str(binary.parents[2])) as pid:
        yield url, pid


def ratios(rows: list[Row]) -> None:
    print(
        "\n| shape | mode | workers | rdflow req/s | p50 / p95 / p99 ms | PostGraphile req/s | p50 / p95 / p99 ms "
        "| ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    by_key = {(r.shape, r.mode, r.workers, r.server): r.load for r in rows}
    for shape, mode, workers, server in by_key:
        if server != "rdflow":
            continue
        ours, theirs = by_key[shape, mode, workers, "rdflow"], by_key[shape, mode, workers, "postgraphile"]
        print(
            f"| {shape} | {mode} | {workers} | {ours.rps:.1f} | {ours.p50_ms:.1f} / {ours.p95_ms:.1f} / "
            f"{ours.p99_ms:.1f} | {theirs.rps:.1f} | {theirs.p50_ms:.1f} / {theirs.p95_ms:.1f} / {theirs.p99_ms:.1f} "
            f"| {ours.rps / theirs.rps:.2f}x |"
        )


def typename(pid: int, url: str, token: str, workers: int, args: argparse.Namespace) -> None:
    """Signed-in and anonymous `{ __typename }` in ABBA order, half the run time each turn: this machine's speed
    drifts by tens of percent within a minute, and a drift must not count as the sign-in's cost."""
    body = [json.dumps({"query": "{ __typename }"})]
    half = max(1, args.seconds // 2)
    turns: dict[str, list[Load]] = {"signed-in": [], "anonymous": []}
    for who in ("signed-in", "anonymous", "anonymous", "signed-in"):
        headers = {"Authorization": f"Bearer {token}"} if who == "signed-in" else {}
        turns[who].append(drive(url, body, headers, args.connections, half))
        settle(pid)
    signed_in, anonymous = (sum(load.rps for load in turns[who]) / 2 for who in ("signed-in", "anonymous"))
    p99 = {who: max(load.p99_ms for load in loads) for who, loads in turns.items()}
    print(
        f"  rdflow w{workers} {{ __typename }}: signed-in {signed_in:.0f} req/s (p99 {p99['signed-in']:.1f} ms), "
        f"anonymous {anonymous:.0f} req/s (p99 {p99['anonymous']:.1f} ms): "
        f"{signed_in / anonymous:.2f}x (goal >= 0.8x; each the mean of two {half} s turns, ABBA)",
        flush=True,
    )


@contextmanager
def ceiling_server(body: bytes, workers: int, folder: Path) -> Iterator[tuple[str, int]]:
    """bench/ceiling_app.py under `rdflow serve`'s uvicorn settings (uvloop and httptools when installed, as there)."""
    (folder / "ceiling.json").write_bytes(body)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.ceiling_app:app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--no-access-log", "--proxy-headers", "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}/graphql"
    with running(command, {"RDFLOW_CEILING_BODY": str(folder / "ceiling.json")}, url, folder / "ceiling.log") as pid:
        yield url, pid


def ceiling(rows: list[Row], body: bytes, request: str, workers: int, folder: Path, args: argparse.Namespace) -> None:
    """The ceiling's req/s beside rdflow's cached D2 and 5x PostGraphile's D2."""
    with ceiling_server(body, workers, folder) as (url, pid):
        drive(url, [request], {}, min(args.connections, 10), 1)  # warm-up
        settle(pid)
        load = drive(url, [request], {}, args.connections, args.seconds)
    by_key = {(r.shape, r.mode, r.server): r.load for r in rows if r.workers == workers}
    d2 = SHAPES[1].name
    ours, theirs = by_key.get((d2, "cached", "rdflow")), by_key.get((d2, "cached", "postgraphile"))
    line = f"  ceiling w{workers}: a do-nothing ASGI app answering D2 with rdflow's bytes: {load.rps:.0f} req/s"
    line += f" (p99 {load.p99_ms:.1f} ms)"
    if ours and theirs:
        line += (
            f"; rdflow's cached D2 {ours.rps:.0f} ({ours.rps / load.rps:.0%} of it); 5x PostGraphile's D2 would be"
            f" {5 * theirs.rps:.0f} ({5 * theirs.rps / load.rps:.0%} of it)"
        )
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=int, default=10, choices=range(1, 16), metavar="1..15")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--only", default="", help="comma-separated parts of shape names to run (default: all)")
    parser.add_argument("--profile", type=Path, help="py-spy records rdflow (1 worker) serving the --only shapes")
    parser.add_argument("--profile-mode", choices=MODES, default="uncached")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="rdflow-vs-postgraphile-"))
    prefix = f"rdflow-bench-{uuid.uuid4().hex[:8]}"
    settings = production_settings(args.redis, prefix)
    env = {
        "RDFLOW_ENV": "production",
        "JWT_SECRET": settings["jwt_secret"],
        "RDFLOW_FERNET_KEY": settings["fernet_key"],
        "REDIS_URL": args.redis,
        "RDFLOW_REDIS_PREFIX": prefix,
        "RDFLOW_DATA_DIR": str(folder),
    }
    try:
        with throwaway_database(args.postgres) as database_url:
            print(f"seeding {PROJECTS} x {REQUIREMENTS} x {TASKS} ...", flush=True)
            token = asyncio.run(
                seed(
                    database_url,
                    folder,
                    projects=PROJECTS,
                    requirements=REQUIREMENTS,
                    tasks=TASKS,
                    role=Role.SUPER_ADMIN,
                    settings=settings,
                    users=USERS,
                    audit_entries=AUDIT_ENTRIES,
                )
            )
            # The search index's node_id column collides with PostGraphile's own nodeId field; it is not a shape here.
            asyncio.run(sql(database_url, "COMMENT ON TABLE search_index IS E'@omit'"))
            asyncio.run(load_ids(database_url))
            print("installing postgraphile@4 ...", flush=True)
            binary = install_postgraphile(folder)
            version = subprocess.run(
                [str(binary), "--version"], capture_output=True, text=True, check=True
            ).stdout.strip()
            print(
                f"cores: {os.cpu_count()}, client: {client_name()}, connections: {args.connections}, "
                f"{args.seconds} s per run, postgraphile {version}",
                flush=True,
            )
            rows: list[Row] = []
            bearer = {"Authorization": f"Bearer {token}"}
            d2_request = rdflow_body(SHAPES[1], SHAPES[1].offsets[0])
            for workers in worker_counts:
                rdflow_env = {**env, "DATABASE_URL": database_url, "RDFLOW_WORKERS": str(workers)}
                with (
                    rdflow_server(rdflow_env, folder / "rdflow.log") as (base, pid),
                    postgraphile(binary, database_url, workers, folder / "postgraphile.log") as (pg_url, pg_pid),
                ):
                    url = f"{base}/graphql"
                    targets = [
                        Target("rdflow", pid, url, bearer, rdflow_body, lambda s: s.rdflow_path),
                        Target("postgraphile", pg_pid, pg_url, {}, postgraphile_body, lambda s: s.postgraphile_path),
                    ]
                    rows += measure(targets, workers, args)
                    typename(pid, url, token, workers, args)
                    d2_body = httpx.post(
                        url, content=d2_request, headers={"content-type": "application/json", **bearer}, timeout=30
                    ).content
                    if args.profile and workers == 1:
                        profile(pid, args.profile, url, bearer, args)
                ceiling(rows, d2_body, d2_request, workers, folder, args)
            ratios(rows)
    except BaseException:
        for log in folder.glob("*.log"):
            print(f"--- last lines of {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        raise
    finally:
        asyncio.run(drop_redis_keys(args.redis, prefix))
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
