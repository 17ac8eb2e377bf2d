"""Job kinds for tests and benchmarks (RDFLOW_JOB_MODULES=tests.jobkinds); each leaves traces in a file of its payload.

The trace file (payload "log") gets one line per event, appended by whichever process runs the job, so a test
sees double runs, re-runs after a crash and handlers that were stopped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from domain.errors import RetryableError
from jobs.registry import JobContext


def trace(ctx: JobContext, line: str) -> None:
    path = ctx.job.payload.get("log")
    if path:
        with Path(path).open("a", encoding="utf-8") as f:
            f.write(f"{line}\n")


def traced(path: Path) -> list[str]:
    """The lines a job appended to its trace file (none when it never ran)."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


async def sleep(ctx: JobContext) -> dict[str, Any]:
    """Sleeps payload "seconds" in payload "steps" steps, reporting progress after each."""
    seconds, steps = float(ctx.job.payload.get("seconds", 1.0)), int(ctx.job.payload.get("steps", 4))
    trace(ctx, f"started attempt {ctx.job.attempts}")
    try:
        for step in range(1, steps + 1):
            await asyncio.sleep(seconds / steps)
            await ctx.progress(100 * step // (steps + 1), f"step {step} of {steps}")
    except asyncio.CancelledError:
        trace(ctx, "stopped")
        raise
    trace(ctx, "finished")
    return {"slept": seconds, "attempt": ctx.job.attempts}


async def count(ctx: JobContext) -> dict[str, Any]:
    trace(ctx, f"ran attempt {ctx.job.attempts}")
    return {"attempt": ctx.job.attempts}


async def flaky(ctx: JobContext) -> dict[str, Any]:
    """Fails retryably on its first payload "failures" attempts."""
    failures = int(ctx.job.payload.get("failures", 1))
    trace(ctx, f"ran attempt {ctx.job.attempts}")
    if ctx.job.attempts <= failures:
        raise RetryableError(f"dependency down on attempt {ctx.job.attempts}")
    return {"attempt": ctx.job.attempts}


async def boom(ctx: JobContext) -> dict[str, Any]:
    trace(ctx, f"ran attempt {ctx.job.attempts}")
    raise ValueError(ctx.job.payload.get("message", "boom"))


HANDLERS = {"test.sleep": sleep, "test.count": count, "test.flaky": flaky, "test.boom": boom}
