"""Task queries and mutations."""

from __future__ import annotations

from typing import Any

from domain.enums import TaskStatus
from resolvers.context import RequestContext
from resolvers.ids import decode_id, decode_optional
from resolvers.listing import ConnectionArgs, to_list_query
from resolvers.projects import provided


def _task_id(global_id: str, field: str = "id"):
    return decode_id(global_id, "Task", field)


async def list_tasks(ctx: RequestContext, args: ConnectionArgs):
    return await ctx.services.tasks.list(ctx.viewer, to_list_query(args))


async def create(ctx: RequestContext, data: Any):
    fields = vars(data) | {
        "requirement_id": decode_id(data.requirement_id, "Requirement", "requirementId"),
        "assigned_to": decode_optional(data.assigned_to, "User", "assignedTo"),
        "parent_id": decode_optional(data.parent_id, "Task", "parentId"),
        "dependency_ids": [_task_id(d, "dependencyIds") for d in data.dependency_ids or []],
    }
    return await ctx.services.tasks.create(ctx.viewer, **fields)


async def update(ctx: RequestContext, task_id: str, data: Any):
    fields = provided(data)
    if "parent_id" in fields:
        fields["parent_id"] = decode_optional(fields["parent_id"], "Task", "parentId")
    return await ctx.services.tasks.update(ctx.viewer, _task_id(task_id), **fields)


async def assign(ctx: RequestContext, task_id: str, user_id: str | None):
    return await ctx.services.tasks.assign(ctx.viewer, _task_id(task_id), decode_optional(user_id, "User", "userId"))


async def add_dependency(ctx: RequestContext, task_id: str, depends_on_id: str):
    return await ctx.services.tasks.add_dependency(
        ctx.viewer, _task_id(task_id, "taskId"), _task_id(depends_on_id, "dependsOnId")
    )


async def remove_dependency(ctx: RequestContext, task_id: str, depends_on_id: str):
    return await ctx.services.tasks.remove_dependency(
        ctx.viewer, _task_id(task_id, "taskId"), _task_id(depends_on_id, "dependsOnId")
    )


async def change_status(ctx: RequestContext, task_id: str, status: TaskStatus):
    return await ctx.services.tasks.change_status(ctx.viewer, _task_id(task_id), status)


async def delete(ctx: RequestContext, task_id: str) -> str:
    await ctx.services.tasks.delete(ctx.viewer, _task_id(task_id))
    return task_id
