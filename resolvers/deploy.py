"""Rollouts: a deployment's log, and rollback."""

from __future__ import annotations

from resolvers.context import RequestContext
from resolvers.ids import decode_id


async def deployment_logs(ctx: RequestContext, deployment_id: str, offset: int, limit: int | None):
    return await ctx.services.deployments.logs(ctx.viewer, decode_id(deployment_id, "Deployment", "id"), offset, limit)


async def rollback_deployment(ctx: RequestContext, deployment_id: str):
    return await ctx.services.deployments.rollback(ctx.viewer, decode_id(deployment_id, "Deployment", "id"))
