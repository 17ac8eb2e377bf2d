"""Batched reads behind the GraphQL DataLoaders: pages per parent and entities by id, in one query each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.paging import ListQuery, Page
from domain.permissions import Permission, Viewer
from domain.ports import Repository
from domain.services.base import Deps


class ReadService:
    """Nested reads below an entity the viewer was already allowed to read (same project)."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def pages_by(
        self, viewer: Viewer, repo: str, field: str, keys: Sequence[Any], query: ListQuery
    ) -> dict[Any, Page[Any]]:
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            repository: Repository[Any] = getattr(uow, repo)
            return await repository.list_by(field, keys, query)

    async def by_ids(self, viewer: Viewer, repo: str, ids: Sequence[Any]) -> dict[Any, Any]:
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            return {e.id: e for e in await getattr(uow, repo).get_many(ids)}

    async def find_in(self, viewer: Viewer, repo: str, field: str, keys: Sequence[Any]) -> list[Any]:
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            repository: Repository[Any] = getattr(uow, repo)
            return await repository.find_in(field, keys)

    async def users_by_ids(self, ids: Sequence[Any]) -> dict[Any, Any]:
        """Users by id, before any viewer exists (authentication itself)."""
        async with self.deps.uow() as uow:
            return {u.id: u for u in await uow.users.get_many(ids)}

    async def sums(
        self, viewer: Viewer, repo: str, group_field: str, keys: Sequence[Any], fields: Sequence[str]
    ) -> dict[Any, dict[str, Any]]:
        """Column totals per key (e.g. AI token usage per project), zero when a key has no rows."""
        viewer.require(Permission.REQUIREMENT_READ)
        async with self.deps.uow() as uow:
            found = await uow.sum_by(repo, group_field, keys, fields)
        return {k: found.get(k, dict.fromkeys(fields, 0)) for k in keys}
