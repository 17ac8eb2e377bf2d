"""Requirement queries and mutations."""

from __future__ import annotations

from typing import Any

from domain.enums import RequirementStatus
from resolvers.context import RequestContext
from resolvers.ids import decode_id, decode_optional
from resolvers.projects import provided


async def create(ctx: RequestContext, data: Any):
    fields = vars(data) | {
        "project_id": decode_id(data.project_id, "Project", "projectId"),
        "assigned_to": decode_optional(data.assigned_to, "User", "assignedTo"),
    }
    return await ctx.services.requirements.create(ctx.viewer, **fields)


async def update(ctx: RequestContext, requirement_id: str, data: Any):
    fields = provided(data)
    if "assigned_to" in fields:
        fields["assigned_to"] = decode_optional(fields["assigned_to"], "User", "assignedTo")
    return await ctx.services.requirements.update(ctx.viewer, decode_id(requirement_id, "Requirement", "id"), **fields)


async def change_status(ctx: RequestContext, requirement_id: str, status: RequirementStatus):
    return await ctx.services.requirements.change_status(
        ctx.viewer, decode_id(requirement_id, "Requirement", "id"), status
    )


async def delete(ctx: RequestContext, requirement_id: str) -> str:
    await ctx.services.requirements.delete(ctx.viewer, decode_id(requirement_id, "Requirement", "id"))
    return requirement_id
