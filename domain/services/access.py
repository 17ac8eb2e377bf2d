"""Loading entities with the viewer's project scope applied (membership, not-found), and the generic get/list."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

from domain.errors import Forbidden, NotFound
from domain.model import Project
from domain.paging import ListQuery, Page
from domain.permissions import Permission, Viewer
from domain.ports import Repository, UnitOfWork
from domain.repos import Repo
from domain.services.base import Deps

T = TypeVar("T")


async def load(repo: Repository[T], entity: str, entity_id: Any, *, for_update: bool = False) -> T:
    """The entity or NotFound; `for_update` locks its row until the transaction ends (for check-then-write)."""
    found = await (repo.get_for_update(entity_id) if for_update else repo.get(entity_id))
    if found is None:
        raise NotFound(entity, entity_id)
    return found


async def require_member(uow: UnitOfWork, viewer: Viewer, project_id: Any) -> None:
    """Super admins see every project; everyone else only the ones they are members of."""
    user_id = viewer.require_login()
    if viewer.is_super_admin:
        return
    if await uow.members.find_one(project_id=project_id, user_id=user_id) is None:
        raise Forbidden("project:member", f"you are not a member of project {project_id}")


async def load_in_project(
    uow: UnitOfWork, viewer: Viewer, repo: Repo[T], entity_id: Any, permission: Permission, *, for_update: bool = False
) -> T:
    """Load an entity that belongs to a project, checking the permission and the viewer's membership."""
    viewer.require(permission)
    found = await load(repo.of(uow), repo.entity, entity_id, for_update=for_update)
    await require_member(uow, viewer, found.id if isinstance(found, Project) else found.project_id)  # type: ignore[attr-defined]  # every entity but Project has one
    return found


def scoped(viewer: Viewer, query: ListQuery) -> ListQuery:
    """Restrict a listing to the viewer's projects unless they are a super admin."""
    return query if viewer.is_super_admin else query.scoped_to(viewer.require_login())


class EntityReads(Generic[T]):
    """`get` and `list` of one entity type behind its read permission.

    A project's entity (`in_project`) is read only by the project's members (super admins: any) and listed from the
    viewer's projects; system records (audit log, AI configuration) need the permission only.
    """

    def __init__(self, deps: Deps, repo: Repo[T], permission: Permission, *, in_project: bool = True):
        self.deps = deps
        self.repo = repo
        self.permission = permission
        self.in_project = in_project

    async def get(self, viewer: Viewer, entity_id: uuid.UUID) -> T:
        viewer.require(self.permission)
        async with self.deps.uow() as uow:
            if self.in_project:
                return await load_in_project(uow, viewer, self.repo, entity_id, self.permission)
            return await load(self.repo.of(uow), self.repo.entity, entity_id)

    async def list(self, viewer: Viewer, query: ListQuery) -> Page[T]:
        viewer.require(self.permission)
        async with self.deps.uow() as uow:
            return await self.repo.of(uow).read_only().list(scoped(viewer, query) if self.in_project else query)
