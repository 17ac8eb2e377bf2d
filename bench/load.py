"""Time-bounded HTTP POST load over N connections: wrk when installed (cheap on the CPU it shares with the servers),
else a one-process httpx fallback. Requests rotate through the given bodies."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.harness import pct

MARK = "BENCHJSON "

# The done() hook prints wrk's own totals and latency percentiles (microseconds) as one JSON line.
WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('%s{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d,'
    .. ' "p50": %d, "p95": %d, "p99": %d}\\n', "MARK", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
""".replace("MARK", MARK)


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int


def _lua(bodies: list[str], headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if len(bodies) == 1:
        lines.append(f"wrk.body = [==[{bodies[0]}]==]")
    else:
        lines.append("local bodies = {" + ",\n".join(f"[==[{b}]==]" for b in bodies) + "}")
        lines.append("local n = 0")
        lines.append("request = function() n = n % #bodies + 1; return wrk.format(nil, nil, nil, bodies[n]) end")
    return "\n".join(lines) + WRK_DONE


def wrk(url: str, bodies: list[str], headers: dict[str, str], connections: int, seconds: float) -> Load:
    with tempfile.TemporaryDirectory(prefix="rdflow-wrk-") as tmp:
        script = Path(tmp) / "load.lua"
        script.write_text(_lua(bodies, headers))
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    r = json.loads(next(line for line in out.splitlines() if line.startswith(MARK))[len(MARK) :])
    return Load(
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50"] / 1000,
        p95_ms=r["p95"] / 1000,
        p99_ms=r["p99"] / 1000,
        requests=r["requests"],
        errors=r["non2xx"] + r["socket_errors"],
    )


async def _httpx(url: str, bodies: list[str], headers: dict[str, str], connections: int, seconds: float) -> Load:
    latencies: list[float] = []
    errors = 0
    headers = {"content-type": "application/json", **headers}
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(headers=headers, timeout=10) as c:
            i = offset
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    r = await c.post(url, content=bodies[i % len(bodies)])
                    errors += r.status_code >= 300
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)
                i += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(connections)))
    elapsed = time.perf_counter() - start
    return Load(
        len(latencies) / elapsed, pct(latencies, 50), pct(latencies, 95), pct(latencies, 99), len(latencies), errors
    )


def drive(url: str, bodies: list[str], headers: dict[str, str], connections: int, seconds: float) -> Load:
    """POST `bodies` in turn to `url` from `connections` connections for `seconds`."""
    if shutil.which("wrk"):
        return wrk(url, bodies, headers, connections, seconds)
    return asyncio.run(_httpx(url, bodies, headers, connections, seconds))


def client_name() -> str:
    return "wrk (1 thread)" if shutil.which("wrk") else "httpx (1 process; wrk not found)"
