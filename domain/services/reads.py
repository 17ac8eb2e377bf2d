"""Batched reads behind the GraphQL DataLoaders: pages per parent and entities by id, in one query each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from domain.compiled import Listing, Lookup, ReadPlan
from domain.paging import ListQuery, Page
from domain.permissions import Permission, Viewer
from domain.repos import Repo
from domain.services.access import scoped
from domain.services.base import Deps

T = TypeVar("T")


class _Identified(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


E = TypeVar("E", bound=_Identified)


# What listing each root connection needs, as its service checks it (ProjectService, TaskService, UserService).
ROOT_PERMISSIONS = {
    "projects": Permission.PROJECT_READ,
    "tasks": Permission.REQUIREMENT_READ,
    "users": Permission.USER_MANAGE,
}
IN_PROJECT = frozenset({"projects", "tasks"})
# What reading one row by id needs, as its service's `get` checks it (EntityReads, UserService.get).
LOOKUP_PERMISSIONS = {
    "projects": Permission.PROJECT_READ,
    "requirements": Permission.REQUIREMENT_READ,
    "tasks": Permission.REQUIREMENT_READ,
}


class ReadService:
    """Nested reads below an entity the viewer was already allowed to read (same project)."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def pages_by(
        self, viewer: Viewer, repo: Repo[T], field: str, keys: Sequence[Any], query: ListQuery
    ) -> dict[Any, Page[T]]:
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            return await repo.of(uow).read_only().list_by(field, keys, query)

    async def counts_by(
        self, viewer: Viewer, repo: Repo[Any], field: str, keys: Sequence[Any], query: ListQuery
    ) -> dict[Any, int]:
        """The totals of `pages_by` alone (zero for a key without rows)."""
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            found = await repo.of(uow).read_only().count_by(field, keys, query)
        return {k: found.get(k, 0) for k in keys}

    async def by_ids(self, viewer: Viewer, repo: Repo[E], ids: Sequence[Any]) -> dict[Any, E]:
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            return {e.id: e for e in await repo.of(uow).read_only().get_many(ids)}

    async def find_in(self, viewer: Viewer, repo: Repo[T], field: str, keys: Sequence[Any]) -> list[T]:
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            return await repo.of(uow).read_only().find_in(field, keys)

    async def users_by_ids(self, ids: Sequence[Any]) -> dict[Any, Any]:
        """Users by id, before any viewer exists (authentication itself)."""
        async with self.deps.uow() as uow:
            return {u.id: u for u in await uow.users.get_many(ids)}

    async def sums(
        self, viewer: Viewer, repo: Repo[Any], group_field: str, keys: Sequence[Any], fields: Sequence[str]
    ) -> dict[Any, dict[str, Any]]:
        """Column totals per key (e.g. AI token usage per project), zero when a key has no rows."""
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            found = await repo.of(uow).sum_by(group_field, keys, fields)
        return {k: found.get(k, dict.fromkeys(fields, 0)) for k in keys}

    async def compiled(self, viewer: Viewer, plan: ReadPlan) -> list[str] | None:
        """Each root's JSON from one statement, scoped like the services' listings and gets; None when the viewer
        may not read every root or a looked-up row is missing or out of scope (the generic path then answers, with
        its refusal), or no compiled reader is configured."""
        if self.deps.compiled is None or viewer.user_id is None or not viewer.has(Permission.REQUIREMENT_READ):
            return None
        roots: list[Listing | Lookup] = []
        for root in plan.roots:
            scoped_root = _scoped(viewer, root)
            if scoped_root is None:
                return None
            roots.append(scoped_root)
        texts = await self.deps.compiled.read(ReadPlan(tuple(roots)))
        answered = [text for text in texts if text is not None]
        return answered if len(answered) == len(texts) else None


def _scoped(viewer: Viewer, root: Listing | Lookup) -> Listing | Lookup | None:
    """The root as the viewer may read it, or None when its service would refuse them."""
    if isinstance(root, Listing):
        if not viewer.has(ROOT_PERMISSIONS[root.entity]):
            return None
        return root.scoped(scoped(viewer, root.query)) if root.entity in IN_PROJECT else root
    if root.entity == "users":  # UserService.get: oneself (`me`: no id), or with USER_MANAGE
        if root.id is None:
            return root.of(viewer.require_login())
        return root if root.id == viewer.user_id or viewer.has(Permission.USER_MANAGE) else None
    if not viewer.has(LOOKUP_PERMISSIONS[root.entity]):
        return None
    return root if viewer.is_super_admin else root.scoped_to(viewer.user_id)
