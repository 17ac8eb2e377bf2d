"""Project queries and mutations."""

from __future__ import annotations

from typing import Any

import strawberry

from domain import repos
from domain.enums import ProjectStatus
from resolvers.context import RequestContext
from resolvers.ids import decode_id
from resolvers.listing import ConnectionArgs, to_list_query


def provided(input_obj: Any) -> dict[str, Any]:
    """The fields a client actually sent in an update input."""
    return {k: v for k, v in vars(input_obj).items() if v is not strawberry.UNSET}


async def list_projects(ctx: RequestContext, args: ConnectionArgs):
    return await ctx.services.projects.list(ctx.viewer, to_list_query(args))


async def create(ctx: RequestContext, data: Any):
    return await ctx.services.projects.create(ctx.viewer, **vars(data))


async def update(ctx: RequestContext, project_id: str, data: Any):
    return await ctx.services.projects.update(ctx.viewer, decode_id(project_id, "Project", "id"), **provided(data))


async def change_status(ctx: RequestContext, project_id: str, status: ProjectStatus):
    return await ctx.services.projects.change_status(ctx.viewer, decode_id(project_id, "Project", "id"), status)


async def delete(ctx: RequestContext, project_id: str) -> str:
    await ctx.services.projects.delete(ctx.viewer, decode_id(project_id, "Project", "id"))
    return project_id


async def add_member(ctx: RequestContext, project_id: str, user_id: str):
    await ctx.services.projects.add_member(
        ctx.viewer, decode_id(project_id, "Project", "projectId"), decode_id(user_id, "User", "userId")
    )
    return await ctx.services.projects.get(ctx.viewer, decode_id(project_id, "Project", "projectId"))


async def remove_member(ctx: RequestContext, project_id: str, user_id: str):
    await ctx.services.projects.remove_member(
        ctx.viewer, decode_id(project_id, "Project", "projectId"), decode_id(user_id, "User", "userId")
    )
    return await ctx.services.projects.get(ctx.viewer, decode_id(project_id, "Project", "projectId"))


async def members(ctx: RequestContext, project_id: Any):
    rows = await ctx.services.projects.members(ctx.viewer, project_id)
    return [u for u in await ctx.loaders.by_id(repos.USERS).load_many([m.user_id for m in rows]) if u is not None]
