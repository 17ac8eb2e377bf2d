"""Sign-in, sessions and the audit log."""

from __future__ import annotations

from typing import Any

from domain import validation as v
from domain.paging import Between
from resolvers.context import RequestContext
from resolvers.ids import decode_optional
from resolvers.listing import ConnectionArgs, to_list_query


async def register(ctx: RequestContext, username: str, email: str, password: str):
    return await ctx.services.auth.register(ctx.viewer, username=username, email=email, password=password)


async def login(ctx: RequestContext, username: str, password: str):
    return await ctx.services.auth.login(ctx.viewer, username, password)


async def refresh(ctx: RequestContext, refresh_token: str):
    return await ctx.services.auth.refresh(ctx.viewer, refresh_token)


async def logout(ctx: RequestContext, refresh_token: str | None) -> bool:
    return await ctx.services.auth.logout(ctx.viewer, refresh_token)


async def change_password(ctx: RequestContext, current: str, new: str) -> bool:
    return await ctx.services.auth.change_password(ctx.viewer, current, new)


async def audit_log(
    ctx: RequestContext,
    args: ConnectionArgs,
    since: Any = None,
    until: Any = None,
    actor_id: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
):
    since, until = v.instant(since, "since"), v.instant(until, "until")
    query = to_list_query(
        args,
        actor_id=decode_optional(actor_id, "User", "actorId"),
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        outcome=outcome,
        at=Between(since, until) if since or until else None,
    )
    return await ctx.services.audit.list(ctx.viewer, query)
