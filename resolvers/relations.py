"""Relations between nodes, all through the request's DataLoaders."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from domain import repos
from domain.paging import Page
from domain.repos import Repo
from resolvers.context import RequestContext
from resolvers.listing import ConnectionArgs, to_list_query

T = TypeVar("T")


async def page(ctx: RequestContext, repo: Repo[T], field: str, key: uuid.UUID, args: ConnectionArgs) -> Page[T]:
    return await ctx.loaders.page_of(repo, field, to_list_query(args)).load(key)


async def total(ctx: RequestContext, repo: Repo[T], field: str, key: uuid.UUID, args: ConnectionArgs) -> Page[T]:
    """`page` for a connection whose only field is its total."""
    return await ctx.loaders.count_of(repo, field, to_list_query(args)).load(key)


async def one(ctx: RequestContext, repo: Repo[Any], key: uuid.UUID | None) -> Any:
    return None if key is None else await ctx.loaders.by_id(repo).load(key)


async def many(ctx: RequestContext, repo: Repo[Any], keys: list[Any]) -> list[Any]:
    found = await ctx.loaders.by_id(repo).load_many(keys)
    return [f for f in found if f is not None]


async def children(ctx: RequestContext, repo: Repo[Any], field: str, key: Any) -> list[Any]:
    return await ctx.loaders.all_of(repo, field).load(key)


async def task_dependencies(ctx: RequestContext, task_id: uuid.UUID) -> list[Any]:
    edges = await children(ctx, repos.DEPENDENCIES, "task_id", task_id)
    return await many(ctx, repos.TASKS, [e.depends_on_id for e in edges])
