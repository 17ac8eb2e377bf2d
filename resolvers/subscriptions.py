"""Live updates: each subscription authorizes, subscribes, sends the current state, then every change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.websockets import WebSocket

from domain.events import DomainEvent, SubscriberOverflow, entity_topic, project_topic
from domain.services.jobs import TERMINAL
from resolvers.context import RequestContext
from resolvers.ids import decode_id

OVERFLOW_CLOSE_CODE = 4008


def _subscribe(ctx: RequestContext, topics: list[str]):
    """Subscribe; a client that stops reading loses its connection, with the reason, instead of slowing others."""
    socket = ctx.extras.get("request")

    def close(exc: SubscriberOverflow) -> None:
        if isinstance(socket, WebSocket):
            asyncio.ensure_future(socket.close(code=OVERFLOW_CLOSE_CODE, reason=str(exc)))

    return ctx.services.deps.bus.subscribe(topics, on_overflow=close)


async def job_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[Any]:
    job_id = decode_id(global_id, "Job", "id")
    await ctx.services.jobs.get(ctx.viewer, job_id)
    async with _subscribe(ctx, [entity_topic("Job", str(job_id))]) as events:
        job = await ctx.services.jobs.get(ctx.viewer, job_id)  # read after subscribing: nothing is missed
        yield job
        if job.status in TERMINAL:
            return
        async for _ in events:
            job = await ctx.services.jobs.get(ctx.viewer, job_id)
            yield job
            if job.status in TERMINAL:
                return


async def deployment_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[Any]:
    deployment_id = decode_id(global_id, "Deployment", "id")
    await ctx.services.deployments.get(ctx.viewer, deployment_id)
    async with _subscribe(ctx, [entity_topic("Deployment", str(deployment_id))]) as events:
        yield await ctx.services.deployments.get(ctx.viewer, deployment_id)
        async for _ in events:
            yield await ctx.services.deployments.get(ctx.viewer, deployment_id)


async def project_events(ctx: RequestContext, global_id: str) -> AsyncIterator[DomainEvent]:
    project_id = decode_id(global_id, "Project", "projectId")
    await ctx.services.projects.get(ctx.viewer, project_id)
    async with _subscribe(ctx, [project_topic(str(project_id))]) as events:
        project = await ctx.services.projects.get(ctx.viewer, project_id)
        yield DomainEvent(
            entity_type="Project",
            entity_id=str(project.id),
            action="snapshot",
            at=ctx.services.deps.clock.now(),
            project_id=str(project.id),
            new_status=project.status.value,
        )
        async for event in events:
            yield event


async def closing_on_overflow(ctx: RequestContext, updates: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Ends the subscription quietly once the bus dropped it (the socket is being closed already)."""
    try:
        async for item in updates:
            yield item
    except SubscriberOverflow:
        return
