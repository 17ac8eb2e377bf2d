"""The compiled read path's call into the domain: a read plan in, each root's JSON text out (or None)."""

from __future__ import annotations

from domain.compiled import ReadPlan
from resolvers.context import RequestContext


async def read(ctx: RequestContext, plan: ReadPlan) -> list[str] | None:
    return await ctx.services.reads.compiled(ctx.viewer, plan)
