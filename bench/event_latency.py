"""Benchmark: event-delivery latency p50/p95/p99 to N concurrent subscribers in one process, per event bus.

.venv/bin/python -m bench.event_latency [--bus memory|redis|both] [--subscribers 1000] [--events 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime

from bench.harness import pct
from domain.events import DomainEvent, SubscriberOverflow, project_topic
from integrations.events_memory import InProcessEventBus
from integrations.events_redis import RedisEventBus


# Latency = receive time in the subscriber task - publish time carried in `data`: fan-out, (Redis) round trip and
# decoding, and waiting for the loop to run the task. deliveries/s = measured deliveries / (first publish to last
# receipt), so it is capped by the offered load (subscribers x 1000 / interval-ms).
class Result:
    def __init__(self, subscribers: int, events: int):
        self.latencies: list[float] = []
        self.received = [0] * subscribers
        self.duplicates = 0
        self.overflows = 0
        self.errors: list[str] = []
        self.expected = subscribers * events
        self.elapsed = 0.0
        self.last_receive = 0.0

    @property
    def ok(self) -> bool:
        """Every subscriber got every event once, with no overflow and no error."""
        return len(self.latencies) == self.expected and not (self.errors or self.duplicates or self.overflows)


def event(project_id: str, seq: int) -> DomainEvent:
    return DomainEvent(
        entity_type="Project",
        entity_id=project_id,
        action="bench",
        at=datetime.now(UTC),
        project_id=project_id,
        data={"seq": seq, "t": time.perf_counter()},
    )


async def subscriber(
    bus, topic: str, index: int, events: int, warmup: int, result: Result, ready: asyncio.Queue
) -> None:
    seen: set[int] = set()
    subscribed = False

    def overflowed(_: SubscriberOverflow) -> None:
        result.overflows += 1

    try:
        async with bus.subscribe([topic], on_overflow=overflowed) as stream:
            subscribed = True
            ready.put_nowait(index)
            async for ev in stream:
                now = time.perf_counter()
                seq = ev.data["seq"]
                if seq < warmup:
                    continue
                if seq in seen:
                    result.duplicates += 1
                    continue
                seen.add(seq)
                result.latencies.append((now - ev.data["t"]) * 1000)
                result.received[index] += 1
                result.last_receive = max(result.last_receive, now)
                if len(seen) == events:
                    return
    except SubscriberOverflow:
        pass  # counted by on_overflow
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        if not subscribed:
            ready.put_nowait(index)  # never leave the starter waiting on a subscriber that died
        result.errors.append(f"subscriber {index}: {exc!r}")


async def measure(label: str, bus, args: argparse.Namespace) -> Result:
    project_id = uuid.uuid4().hex
    topic = project_topic(project_id)
    result = Result(args.subscribers, args.events)
    ready: asyncio.Queue = asyncio.Queue()
    tasks = [
        asyncio.create_task(subscriber(bus, topic, i, args.events, args.warmup, result, ready))
        for i in range(args.subscribers)
    ]
    try:
        for _ in range(args.subscribers):
            await asyncio.wait_for(ready.get(), timeout=30)
        for seq in range(args.warmup):
            await bus.publish(event(project_id, seq))
            await asyncio.sleep(args.interval_ms / 1000)
        await asyncio.sleep(0.2)  # let warm-up deliveries drain before measuring
        start = time.perf_counter()
        for seq in range(args.warmup, args.warmup + args.events):
            await bus.publish(event(project_id, seq))
            await asyncio.sleep(args.interval_ms / 1000)
        _, pending = await asyncio.wait(tasks, timeout=args.drain_timeout)
        result.elapsed = (result.last_receive or time.perf_counter()) - start
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    report(label, args, result)
    return result


def report(label: str, args: argparse.Namespace, r: Result) -> None:
    got = len(r.latencies)
    line = f"{label:<7} deliveries {got}/{r.expected}"
    if r.latencies:
        line += (
            f"  p50 {pct(r.latencies, 50):7.2f} ms  p95 {pct(r.latencies, 95):7.2f} ms"
            f"  p99 {pct(r.latencies, 99):7.2f} ms  max {max(r.latencies):7.2f} ms"
            f"  {got / r.elapsed if r.elapsed > 0 else 0:9.0f} deliveries/s"
        )
    print(line, flush=True)
    if got != r.expected:
        short = sum(1 for n in r.received if n < args.events)
        print(
            f"!!! {label}: MISSING {r.expected - got} deliveries ({short} of {args.subscribers} subscribers short)",
            flush=True,
        )
    if r.duplicates:
        print(f"!!! {label}: {r.duplicates} duplicate deliveries", flush=True)
    if r.overflows:
        print(f"!!! {label}: {r.overflows} subscribers overflowed (max_pending)", flush=True)
    for error in r.errors[:5]:
        print(f"!!! {label}: {error}", flush=True)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bus", choices=("memory", "redis", "both"), default="both")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=5.0, help="pause between publishes")
    parser.add_argument("--warmup", type=int, default=5, help="events published first and not measured")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="seconds to wait after the last publish before counting deliveries missing",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    # max_pending above what one subscriber can ever hold, so the benchmark measures latency, not shedding.
    max_pending = args.events + args.warmup + 1
    print(
        f"subscribers: {args.subscribers}, events: {args.events} (+{args.warmup} warm-up), "
        f"{args.interval_ms:g} ms apart, one topic, one process, cores: {os.cpu_count()}",
        flush=True,
    )
    ok = True
    if args.bus in ("memory", "both"):
        ok &= (await measure("memory", InProcessEventBus(max_pending=max_pending), args)).ok
    if args.bus in ("redis", "both"):
        bus = RedisEventBus(args.redis_url, prefix=f"rdflow-bench-{uuid.uuid4().hex[:8]}", max_pending=max_pending)
        try:
            await bus.ping()
            ok &= (await measure("redis", bus, args)).ok
        finally:
            await bus.aclose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
