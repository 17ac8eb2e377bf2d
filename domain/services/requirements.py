"""Requirements: the team's asks, scoped to a project."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from domain import status as machines
from domain import validation as v
from domain.enums import Priority, RequirementStatus
from domain.model import Requirement
from domain.permissions import Permission, Viewer
from domain.repos import PROJECTS, REQUIREMENTS
from domain.services.access import EntityReads, load, load_in_project
from domain.services.base import Deps, Tx, snapshot
from domain.services.changes import apply_changes
from domain.validation import UNSET, Unset


def _meta(tags: list[str] | None, estimate_hours: float | None, current: dict[str, Any]) -> dict[str, Any]:
    meta = dict(current)
    if tags is not None:
        meta["tags"] = v.string_list(tags, "tags", max_items=20, max_length=50)
    if estimate_hours is not None:
        meta["estimateHours"] = float(v.hours(estimate_hours, "estimateHours"))
    return meta


class RequirementService(EntityReads[Requirement]):
    def __init__(self, deps: Deps):
        super().__init__(deps, REQUIREMENTS, Permission.REQUIREMENT_READ)

    async def create(
        self,
        viewer: Viewer,
        *,
        project_id: uuid.UUID,
        title: str,
        content: str,
        priority: Priority = Priority.MEDIUM,
        assigned_to: uuid.UUID | None = None,
        tags: builtins.list[str] | None = None,
        estimate_hours: float | None = None,
    ) -> Requirement:
        async with Tx(self.deps, viewer, "requirement.create") as tx:
            project = await load_in_project(tx.uow, viewer, PROJECTS, project_id, Permission.REQUIREMENT_WRITE)
            if assigned_to is not None:
                await load(tx.uow.users, "User", assigned_to)
            now = tx.now()
            req = Requirement(
                project_id=project.id,
                title=v.text(title, "title", max_length=200),
                content=v.text(content, "content", max_length=100_000),
                created_by=viewer.user_id,
                priority=priority,
                assigned_to=assigned_to,
                meta=_meta(tags, estimate_hours, {}),
                created_at=now,
                updated_at=now,
            )
            tx.created(REQUIREMENTS, req, "requirement.create", project_id=req.project_id, new_status=req.status)
        return req

    async def update(
        self,
        viewer: Viewer,
        requirement_id: uuid.UUID,
        *,
        title: str | None = None,
        content: str | None = None,
        priority: Priority | None = None,
        assigned_to: uuid.UUID | Unset | None = UNSET,
        tags: builtins.list[str] | None = None,
        estimate_hours: float | None = None,
    ) -> Requirement:
        async with Tx(self.deps, viewer, "requirement.update") as tx:
            req = await load_in_project(
                tx.uow, viewer, REQUIREMENTS, requirement_id, Permission.REQUIREMENT_WRITE, for_update=True
            )
            before = snapshot(req)
            apply_changes(
                req,
                {"title": title, "content": content, "priority": priority},
                {
                    "title": lambda x: v.text(x, "title", max_length=200),
                    "content": lambda x: v.text(x, "content", max_length=100_000),
                },
            )
            if assigned_to is not UNSET:
                if assigned_to is not None:
                    await load(tx.uow.users, "User", assigned_to)
                req.assigned_to = assigned_to
            req.meta = _meta(tags, estimate_hours, req.meta)
            tx.updated(REQUIREMENTS, req, before, "requirement.update", project_id=req.project_id)
        return req

    async def change_status(self, viewer: Viewer, requirement_id: uuid.UUID, status: RequirementStatus) -> Requirement:
        async with Tx(self.deps, viewer, "requirement.status") as tx:
            req = await load_in_project(
                tx.uow, viewer, REQUIREMENTS, requirement_id, Permission.REQUIREMENT_WRITE, for_update=True
            )
            set_requirement_status(tx, req, status)
        return req

    async def delete(self, viewer: Viewer, requirement_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "requirement.delete") as tx:
            req = await load_in_project(
                tx.uow, viewer, REQUIREMENTS, requirement_id, Permission.REQUIREMENT_WRITE, for_update=True
            )
            await tx.deleted(REQUIREMENTS, req, "requirement.delete", project_id=req.project_id, old_status=req.status)
        return requirement_id


def set_requirement_status(tx: Tx, req: Requirement, status: RequirementStatus) -> None:
    """Move a requirement along its status machine, auditing and announcing the change."""
    tx.moved(machines.REQUIREMENT, REQUIREMENTS, req, status, action="requirement.status", project_id=req.project_id)
