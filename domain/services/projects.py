"""Projects and their members."""

from __future__ import annotations

import builtins
import uuid
from datetime import date

from domain import status as machines
from domain import validation as v
from domain.enums import ProjectStatus
from domain.errors import Conflict, InvalidInput
from domain.model import Project, ProjectMember
from domain.permissions import Permission, Viewer
from domain.repos import PROJECTS
from domain.services.access import EntityReads, load, load_in_project
from domain.services.base import Deps, Tx, snapshot
from domain.services.changes import apply_changes
from domain.validation import UNSET


class ProjectService(EntityReads[Project]):
    def __init__(self, deps: Deps):
        super().__init__(deps, PROJECTS, Permission.PROJECT_READ)

    async def create(
        self,
        viewer: Viewer,
        *,
        name: str,
        description: str | None = None,
        tech_stack: builtins.list[str] | None = None,
        start_date: date | None = None,
        end_date: date | None = None,
    ) -> Project:
        async with Tx(self.deps, viewer, "project.create") as tx:
            viewer.require(Permission.PROJECT_WRITE)
            v.date_range(start_date, end_date)
            now = tx.now()
            project = Project(
                name=v.text(name, "name", max_length=100),
                created_by=viewer.user_id,
                description=v.text(description, "description", max_length=10_000, required=False),
                tech_stack=v.string_list(tech_stack, "techStack"),
                start_date=start_date,
                end_date=end_date,
                created_at=now,
                updated_at=now,
            )
            tx.created(PROJECTS, project, "project.create", project_id=project.id, new_status=project.status)
            tx.uow.members.add(ProjectMember(project_id=project.id, user_id=viewer.require_login(), added_at=now))
        return project

    async def update(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        *,
        name: str | None = None,
        description: object = UNSET,
        tech_stack: builtins.list[str] | None = None,
        start_date: object = UNSET,
        end_date: object = UNSET,
    ) -> Project:
        async with Tx(self.deps, viewer, "project.update") as tx:
            project = await load_in_project(
                tx.uow, viewer, PROJECTS, project_id, Permission.PROJECT_WRITE, for_update=True
            )
            before = snapshot(project)
            apply_changes(
                project,
                {
                    "name": name,
                    "description": description,
                    "tech_stack": tech_stack,
                    "start_date": start_date,
                    "end_date": end_date,
                },
                {
                    "name": lambda x: v.text(x, "name", max_length=100),
                    "description": lambda x: v.text(x, "description", max_length=10_000, required=False),
                    "tech_stack": lambda x: v.string_list(x, "techStack"),
                },
                nullable={"description", "start_date", "end_date"},
            )
            v.date_range(project.start_date, project.end_date)
            tx.updated(PROJECTS, project, before, "project.update", project_id=project.id)
        return project

    async def change_status(self, viewer: Viewer, project_id: uuid.UUID, status: ProjectStatus) -> Project:
        async with Tx(self.deps, viewer, "project.status") as tx:
            project = await load_in_project(
                tx.uow, viewer, PROJECTS, project_id, Permission.PROJECT_WRITE, for_update=True
            )
            tx.moved(machines.PROJECT, PROJECTS, project, status, action="project.status", project_id=project.id)
        return project

    async def delete(self, viewer: Viewer, project_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "project.delete") as tx:
            project = await load_in_project(
                tx.uow, viewer, PROJECTS, project_id, Permission.PROJECT_WRITE, for_update=True
            )
            if await tx.uow.deployments.find_one(project_id=project.id) is not None:
                raise Conflict(f"project {project_id} has deployments; archive it instead")
            await tx.deleted(PROJECTS, project, "project.delete", project_id=project.id, old_status=project.status)
        return project_id

    async def members(self, viewer: Viewer, project_id: uuid.UUID) -> builtins.list[ProjectMember]:
        async with self.deps.uow() as uow:
            await load_in_project(uow, viewer, PROJECTS, project_id, Permission.PROJECT_READ)
            return await uow.members.find(project_id=project_id)

    async def add_member(self, viewer: Viewer, project_id: uuid.UUID, user_id: uuid.UUID) -> ProjectMember:
        async with Tx(self.deps, viewer, "project.member.add") as tx:
            await load_in_project(tx.uow, viewer, PROJECTS, project_id, Permission.MEMBER_MANAGE)
            await load(tx.uow.users, "User", user_id)
            # Two adds at once both pass this check; the membership key then refuses the second (a Conflict).
            if await tx.uow.members.find_one(project_id=project_id, user_id=user_id):
                raise Conflict(f"user {user_id} is already a member of project {project_id}")
            member = ProjectMember(project_id=project_id, user_id=user_id, added_at=tx.now())
            tx.uow.members.add(member)
            tx.audit("project.member.add", "Project", project_id, None, {"userId": str(user_id)})
            tx.emit("Project", project_id, "member_added", project_id=project_id, data={"userId": user_id})
        return member

    async def remove_member(self, viewer: Viewer, project_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "project.member.remove") as tx:
            await load_in_project(tx.uow, viewer, PROJECTS, project_id, Permission.MEMBER_MANAGE, for_update=True)
            member = await tx.uow.members.find_one(project_id=project_id, user_id=user_id)
            if member is None:
                raise InvalidInput(f"user {user_id} is not a member of project {project_id}", field="userId")
            await tx.uow.members.delete(member)
            tx.audit("project.member.remove", "Project", project_id, {"userId": str(user_id)}, None)
            tx.emit("Project", project_id, "member_removed", project_id=project_id, data={"userId": user_id})
        return user_id
