"""Benchmark: N live graphql-transport-ws subscribers to one project's `projectEvents`, from client processes.

.venv/bin/python -m bench.subscribers [--mode embedded|production|both] [--subscribers 10000] [--processes 2]
    [--events 20] [--interval 0.75] [--postgres URL] [--redis URL] [--workers N] [--profile FILE]

Prints the file-descriptor limit it set, the time to connect (and get the snapshot event on) every subscription,
failures, and p50/p95/p99 delivery latency: from just before each mutation's HTTP request to each client's receipt
of the event it caused (time.time() on one machine; the event's entityId names the requirement it created).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import _cpu_seconds, pct, production_settings, rdflow_server, seed

QUERY = "subscription($p: ID!) { projectEvents(projectId: $p) { entityType entityId action newStatus at data } }"
CREATE = 'mutation($p: ID!, $t: String!) { createRequirement(input: {projectId: $p, title: $t, content: "c"}) { id } }'
PROJECT = "{ projects(first: 1) { nodes { id } } }"


def raise_fd_limit() -> int:
    """Soft limit up to the hard one (inherited by the server and the client processes)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- client processes ---------------------------------------------------------------------------------------------


def _text(message: dict) -> str:
    return orjson.dumps(message).decode()  # the protocol wants text frames


async def _subscriber(url: str, token: str, project: str, gate: asyncio.Semaphore, out: dict, ready: list) -> None:
    import websockets

    received: list[tuple[str, float]] = []
    try:
        async with gate:
            ws = await websockets.connect(
                url,
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                open_timeout=120,
                ping_interval=None,
                close_timeout=1,
                max_queue=None,
            )
            await ws.send(_text({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 120))
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no ack: {ack}")
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": QUERY, "variables": {"p": project}}}
            await ws.send(_text(subscribe))
            while True:
                msg = orjson.loads(await asyncio.wait_for(ws.recv(), 120))
                if msg.get("type") == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                if msg.get("type") != "next" or msg["payload"]["data"]["projectEvents"]["action"] != "snapshot":
                    raise RuntimeError(f"expected the snapshot, got {str(msg)[:200]}")
                break
    except Exception as exc:  # noqa: BLE001 - counted and reported
        out["failed"].append(f"{type(exc).__name__}: {exc}"[:200])
        ready.append(False)
        return
    ready.append(True)
    out["sequences"].append(received)
    try:
        async for raw in ws:
            now = time.time()
            msg = orjson.loads(raw)
            kind = msg.get("type")
            if kind == "next":
                event = msg["payload"]["data"]["projectEvents"]
                received.append((event["entityId"], now))
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            else:
                out["other"].append(str(msg)[:200])
    except Exception as exc:  # noqa: BLE001 - a dropped socket is a failure, reported
        out["dropped"].append(f"{type(exc).__name__}: {exc}"[:200])
    finally:
        await ws.close()


async def _lean_subscriber(url: str, token: str, project: str, gate: asyncio.Semaphore, out: dict, ready: list) -> None:
    """The same as `_subscriber` with bench/ws_client.py's lean protocol instead of the `websockets` library."""
    from urllib.parse import urlsplit

    from bench.ws_client import LeanSubscriber

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    client: LeanSubscriber | None = None
    try:
        async with gate:
            loop = asyncio.get_running_loop()
            _, client = await loop.create_connection(
                lambda: LeanSubscriber(host, port, parts.path, token, QUERY, {"p": project}), host, port
            )
            await asyncio.wait_for(asyncio.shield(client.ready), 120)
    except Exception as exc:  # noqa: BLE001 - counted and reported
        out["failed"].append(f"{type(exc).__name__}: {exc}"[:200])
        ready.append(False)
        if client is not None:
            client.close()
        return
    ready.append(True)
    out["sequences"].append(client.received)
    try:
        await asyncio.Event().wait()  # until the benchmark cancels us; the protocol records the events
    finally:
        if client.failure is not None:
            out["dropped"].append(client.failure)
        out["other"].extend(client.other)
        client.close()


async def _client(
    url: str, token: str, project: str, count: int, connected: Any, stop: Any, results: Any, lean: bool = True
) -> None:
    out: dict[str, list] = {"failed": [], "dropped": [], "other": [], "sequences": []}
    ready: list[bool] = []
    gate = asyncio.Semaphore(200)  # handshakes in flight per process
    start = time.time()
    subscriber = _lean_subscriber if lean else _subscriber
    tasks = [asyncio.create_task(subscriber(url, token, project, gate, out, ready)) for _ in range(count)]
    while len(ready) < count:  # noqa: ASYNC110 - a progress poll over thousands of tasks, not a wait for one event
        await asyncio.sleep(0.05)
    connected.put((sum(ready), count - sum(ready), time.time() - start))
    while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing.Event cannot be awaited
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Per-connection order, grouped (almost all are the same); receipt times per event.
    orders = Counter(tuple(e for e, _ in seq) for seq in out["sequences"])
    times: dict[str, list[float]] = {}
    for seq in out["sequences"]:
        for entity, at in seq:
            times.setdefault(entity, []).append(at)
    results.put({"orders": orders, "times": times, **{k: out[k] for k in ("failed", "dropped", "other")}})


def client_process(
    url: str, token: str, project: str, count: int, connected: Any, stop: Any, results: Any, lean: bool = True
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(url, token, project, count, connected, stop, results, lean))


# ---- driver -------------------------------------------------------------------------------------------------------


def pool_checked_out(url: str, token: str) -> str:
    """The server's pool gauge from /metrics, when it exports one."""
    try:
        text = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {token}"}, timeout=10).text
    except httpx.HTTPError:
        return "?"
    lines = [ln for ln in text.splitlines() if "pool" in ln and not ln.startswith("#")]
    return "; ".join(lines) or "no pool gauge in /metrics"


def _profile(args: argparse.Namespace, label: str, pid: int) -> subprocess.Popen | None:
    """py-spy on the server (and its workers) for one phase, when asked."""
    if not args.profile:
        return None
    out = args.profile.with_name(f"{args.profile.stem}-{label}-{args.profile_phase}{args.profile.suffix}")
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "-o", str(out), "-f", "speedscope"]
    command += ["--pid", str(pid), "--subprocesses", "-r", "50"]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    print(f"{label}: profiling the {args.profile_phase} phase into {out}", flush=True)
    return profiler


def _stop(profiler: subprocess.Popen) -> None:
    profiler.send_signal(2)
    profiler.wait(timeout=120)


def run(label: str, env: dict[str, str], token: str, args: argparse.Namespace, folder: Path) -> bool:
    with ExitStack() as stack:
        base, pid = stack.enter_context(rdflow_server(env, folder / f"{label}.log"))
        headers = {"authorization": f"Bearer {token}"}
        http = stack.enter_context(httpx.Client(base_url=base, headers=headers, timeout=60))
        project = http.post("/graphql", json={"query": PROJECT}).json()["data"]["projects"]["nodes"][0]["id"]
        ctx = mp.get_context("spawn")
        connected, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        ws_url = base.replace("http://", "ws://") + "/graphql"
        each, extra = divmod(args.subscribers, args.processes)
        shares = [each + (i < extra) for i in range(args.processes)]
        procs = [
            ctx.Process(
                target=client_process,
                args=(ws_url, token, project, n, connected, stop, results, args.client == "lean"),
                daemon=True,
            )
            for n in shares
        ]
        profiler = _profile(args, label, pid) if args.profile_phase == "connect" else None
        start = time.time()
        server_cpu_at_start = _cpu_seconds(pid)
        for p in procs:
            p.start()
        ok = failed = 0
        slowest = 0.0
        for _ in procs:
            o, f, took = connected.get(timeout=600)
            ok, failed, slowest = ok + o, failed + f, max(slowest, took)
        connect_s = time.time() - start
        print(
            f"{label}: {ok}/{args.subscribers} subscribed in {connect_s:.1f} s (slowest process {slowest:.1f} s, "
            f"includes process start-up), {failed} failed; load {os.getloadavg()[0]:.1f}; server CPU "
            f"{_cpu_seconds(pid) - server_cpu_at_start:.1f} s, client processes CPU "
            f"{sum(_cpu_seconds(p.pid) for p in procs if p.pid):.1f} s",
            flush=True,
        )
        print(f"{label}: idle, {pool_checked_out(base, token)}", flush=True)
        if profiler is not None:
            _stop(profiler)
        profiler = _profile(args, label, pid) if args.profile_phase == "events" else None
        sent: dict[str, float] = {}
        mutation_errors = 0
        cpu_before = (_cpu_seconds(pid), sum(_cpu_seconds(p.pid) for p in procs if p.pid), time.time())
        for i in range(args.events):
            t0 = time.time()
            body = http.post("/graphql", json={"query": CREATE, "variables": {"p": project, "t": f"bench {i}"}}).json()
            if body.get("errors"):
                mutation_errors += 1
                print(f"{label}: mutation error {body['errors']}", flush=True)
            else:
                sent[body["data"]["createRequirement"]["id"]] = t0
            time.sleep(max(0.0, args.interval - (time.time() - t0)))
        time.sleep(args.drain)
        wall = time.time() - cpu_before[2]
        server_cpu = _cpu_seconds(pid) - cpu_before[0]
        client_cpu = sum(_cpu_seconds(p.pid) for p in procs if p.pid) - cpu_before[1]
        print(
            f"{label}: events phase {wall:.1f} s: server CPU {server_cpu:.1f} s, "
            f"client processes CPU {client_cpu:.1f} s",
            flush=True,
        )
        if profiler is not None:
            _stop(profiler)
        stop.set()
        merged: Counter = Counter()
        latencies: list[float] = []
        problems: Counter = Counter()
        for _ in procs:
            r = results.get(timeout=300)
            merged.update(r["orders"])
            for entity, times in r["times"].items():
                if entity in sent:
                    latencies += [(t - sent[entity]) * 1000 for t in times]
                else:
                    problems["event of an unknown entity"] += len(times)
            for kind in ("failed", "dropped", "other"):
                problems.update(f"{kind}: {m}" for m in r[kind])
        for p in procs:
            p.join(timeout=30)
        expected = tuple(sent)  # creation order
        in_order = merged.get(expected, 0)
        print(
            f"{label}: {len(sent)} events x {ok} subscribers: {len(latencies)}/{len(sent) * ok} deliveries, "
            f"{in_order} subscribers got every event once in order",
            flush=True,
        )
        if latencies:
            print(
                f"{label}: delivery p50 {pct(latencies, 50):.0f} ms  p95 {pct(latencies, 95):.0f} ms  "
                f"p99 {pct(latencies, 99):.0f} ms  max {max(latencies):.0f} ms",
                flush=True,
            )
        for problem, n in problems.most_common(8):
            print(f"!!! {label}: {n} x {problem}", flush=True)
        return failed == 0 and mutation_errors == 0 and in_order == ok == args.subscribers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("embedded", "production", "both"), default="both")
    parser.add_argument("--subscribers", type=int, default=10_000)
    # Two client processes: four took ~25 % more client CPU (more wake-ups and context switches) on the cores the
    # server shares with them, and delivered later; one alone falls behind reading 10,000 sockets.
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.75, help="seconds between mutations")
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait after the last mutation")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="uvicorn workers (default: 1 embedded, as `rdflow serve`; one per core in production)",
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--client",
        choices=("lean", "websockets"),
        default="lean",
        help="load generator: bench/ws_client.py's lean protocol, or the websockets library (the earlier runs)",
    )
    parser.add_argument("--profile", type=Path, help="py-spy speedscope output (one file per mode)")
    parser.add_argument("--profile-phase", choices=("connect", "events"), default="events")
    args = parser.parse_args()
    limit = raise_fd_limit()
    print(
        f"RLIMIT_NOFILE soft limit set to {limit} (server and clients inherit it); subscribers {args.subscribers} "
        f"from {args.processes} {args.client} client processes; {args.events} events {args.interval} s apart; "
        f"cores {os.cpu_count()}; load {os.getloadavg()}",
        flush=True,
    )
    ok = True
    folder = Path(tempfile.mkdtemp(prefix="rdflow-subscribers-"))
    if args.mode in ("embedded", "both"):
        data = folder / "embedded"
        data.mkdir()
        database_url = f"sqlite:///{data}/bench.db"
        token = asyncio.run(seed(database_url, data, projects=1, requirements=0, tasks=0))
        env = {"DATABASE_URL": database_url, "RDFLOW_DATA_DIR": str(data), "RDFLOW_WORKERS": str(args.workers or 1)}
        ok &= run("embedded", env, token, args, folder)
    if args.mode in ("production", "both"):
        from bench.read_vs_postgraphile import throwaway_database

        prefix = f"rdflow-bench-{uuid.uuid4().hex[:8]}"
        settings = production_settings(args.redis, prefix)
        data = folder / "production"
        data.mkdir()
        with throwaway_database(args.postgres) as database_url:
            token = asyncio.run(seed(database_url, data, projects=1, requirements=0, tasks=0, settings=settings))
            env = {
                "RDFLOW_ENV": "production",
                "DATABASE_URL": database_url,
                "JWT_SECRET": settings["jwt_secret"],
                "RDFLOW_FERNET_KEY": settings["fernet_key"],
                "REDIS_URL": args.redis,
                "RDFLOW_REDIS_PREFIX": prefix,
                "RDFLOW_DATA_DIR": str(data),
                **({"RDFLOW_WORKERS": str(args.workers)} if args.workers else {}),
            }
            ok &= run("production", env, token, args, folder)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
