"""Loading entities with the viewer's project scope applied (membership, not-found)."""

from __future__ import annotations

from typing import Any, TypeVar

from domain.errors import Forbidden, NotFound
from domain.model import Project
from domain.paging import ListQuery
from domain.permissions import Permission, Viewer
from domain.ports import Repository, UnitOfWork

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
    uow: UnitOfWork,
    viewer: Viewer,
    repo: Repository[T],
    entity: str,
    entity_id: Any,
    permission: Permission,
    *,
    for_update: bool = False,
) -> T:
    """Load an entity that belongs to a project, checking the permission and the viewer's membership."""
    viewer.require(permission)
    found = await load(repo, entity, entity_id, for_update=for_update)
    await require_member(uow, viewer, found.id if isinstance(found, Project) else found.project_id)  # type: ignore[attr-defined]
    return found


def scoped(viewer: Viewer, query: ListQuery) -> ListQuery:
    """Restrict a listing to the viewer's projects unless they are a super admin."""
    return query if viewer.is_super_admin else query.scoped_to(viewer.require_login())
