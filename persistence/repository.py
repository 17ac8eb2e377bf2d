"""A generic SQLAlchemy repository implementing the domain's Repository port for one entity."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.paging import ListQuery, Page
from persistence.listing import list_pages

T = TypeVar("T")


class SqlRepository(Generic[T]):
    def __init__(self, session: AsyncSession, cls: type[T], table: Table):
        self.session = session
        self.cls = cls
        self.table = table

    async def get(self, entity_id: Any) -> T | None:
        if entity_id is None:
            return None
        return await self.session.get(self.cls, entity_id)

    async def get_for_update(self, entity_id: Any) -> T | None:
        # PostgreSQL: FOR NO KEY UPDATE, which foreign-key checks of concurrent inserts (KEY SHARE) do not wait for.
        # SQLite has no row locks; the write transaction (BEGIN IMMEDIATE) serialises the writers instead.
        if entity_id is None:
            return None
        return await self.session.get(self.cls, entity_id, with_for_update={"key_share": True}, populate_existing=True)

    async def get_many(self, ids: Iterable[Any]) -> list[T]:
        ids = list(ids)
        if not ids:
            return []
        return list((await self.session.scalars(select(self.cls).where(self.table.c.id.in_(ids)))).all())

    async def find(self, **equals: Any) -> list[T]:
        stmt = select(self.cls).filter_by(**equals)
        return list((await self.session.scalars(stmt)).all())

    async def find_one(self, **equals: Any) -> T | None:
        stmt = select(self.cls).filter_by(**equals).limit(1)
        return (await self.session.scalars(stmt)).first()

    async def find_in(self, field: str, values: Iterable[Any]) -> list[T]:
        values = list(values)
        if not values:
            return []
        stmt = select(self.cls).where(self.table.c[field].in_(values))
        return list((await self.session.scalars(stmt)).all())

    async def list(self, query: ListQuery) -> Page[T]:
        return (await list_pages(self.session, self.cls, self.table, query))[None]

    async def list_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, Page[T]]:
        if not keys:
            return {}
        return await list_pages(self.session, self.cls, self.table, query, partition=field, keys=keys)

    async def sum_by(self, group_field: str, keys: Sequence[Any], fields: Sequence[str]) -> dict[Any, dict[str, Any]]:
        group = self.table.c[group_field]
        stmt = (
            select(group, *(func.coalesce(func.sum(self.table.c[f]), 0) for f in fields))
            .where(group.in_(list(keys)))
            .group_by(group)
        )
        return {row[0]: dict(zip(fields, row[1:], strict=True)) for row in (await self.session.execute(stmt)).all()}

    def add(self, entity: T) -> None:
        self.session.add(entity)

    async def delete(self, entity: T) -> None:
        await self.session.delete(entity)
        await self.session.flush()
