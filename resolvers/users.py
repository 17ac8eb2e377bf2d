"""User queries and administration mutations."""

from __future__ import annotations

from typing import Any

from domain.enums import Role
from resolvers.context import RequestContext
from resolvers.ids import decode_id
from resolvers.listing import ConnectionArgs, to_list_query


async def me(ctx: RequestContext):
    return await ctx.services.users.get(ctx.viewer, ctx.viewer.require_login())


async def list_users(ctx: RequestContext, args: ConnectionArgs):
    return await ctx.services.users.list(ctx.viewer, to_list_query(args))


async def create_user(ctx: RequestContext, data: Any):
    return await ctx.services.users.create_user(ctx.viewer, **vars(data))


async def update_role(ctx: RequestContext, user_id: str, role: Role):
    return await ctx.services.users.update_role(ctx.viewer, decode_id(user_id, "User", "userId"), role)


async def deactivate(ctx: RequestContext, user_id: str):
    return await ctx.services.users.deactivate(ctx.viewer, decode_id(user_id, "User", "userId"))
