"""A generic SQLAlchemy repository implementing the domain's Repository port for one entity."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.paging import ListQuery, Page
from persistence.listing import count_pages, list_pages
from persistence.mapping import light_reader

T = TypeVar("T")


class SqlRepository(Generic[T]):
    """With `light`, reads return plain entities built from Core rows (no identity map, no instance state): the
    repositories of a request's shared read session, which never writes what it reads."""

    def __init__(self, session: AsyncSession, cls: type[T], table: Table, *, light: bool = False):
        self.session = session
        self.cls = cls
        self.table = table
        self.light: Callable[[Sequence[Any]], T] | None = _readers(cls, table) if light else None

    def read_only(self) -> SqlRepository[T]:
        """Light reads on this session (which stays free to write what it loads otherwise)."""
        if self.light is not None:
            return self
        return SqlRepository(self.session, self.cls, self.table, light=True)

    async def _rows(self, stmt: Select[Any]) -> list[T]:
        """Entities of a `select(self.cls)`: read as light entities from its table's columns when light."""
        if self.light is None:
            return list((await self.session.scalars(stmt)).all())
        read = self.light
        core = stmt.with_only_columns(*self.table.c)
        return [read(row) for row in (await self.session.execute(core)).all()]

    async def _rows_in(self, field: str, values: list[Any]) -> list[T]:
        """Light entities whose `field` is one of `values`, through a statement built once per table and field."""
        read = self.light
        assert read is not None
        rows = await self.session.execute(_rows_in(self.table, field), {"values": values})
        return [read(row) for row in rows.all()]

    async def get(self, entity_id: Any) -> T | None:
        if entity_id is None:
            return None
        if self.light is not None:
            found = await self._rows_in("id", [entity_id])
            return found[0] if found else None
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
        if self.light is not None:
            return await self._rows_in("id", ids)
        return await self._rows(select(self.cls).where(self.table.c.id.in_(ids)))

    async def find(self, **equals: Any) -> list[T]:
        if self.light is not None and None not in equals.values():
            return await self._rows_where(equals, one=False)
        return await self._rows(select(self.cls).filter_by(**equals))

    async def find_one(self, **equals: Any) -> T | None:
        if self.light is not None and None not in equals.values():  # None: filter_by's IS NULL
            found = await self._rows_where(equals, one=True)
        else:
            found = await self._rows(select(self.cls).filter_by(**equals).limit(1))
        return found[0] if found else None

    async def _rows_where(self, equals: dict[str, Any], *, one: bool) -> list[T]:
        read = self.light
        assert read is not None
        stmt = _rows_where(self.table, tuple(sorted(equals)), one)
        return [read(row) for row in (await self.session.execute(stmt, equals)).all()]

    async def find_in(self, field: str, values: Iterable[Any]) -> list[T]:
        values = list(values)
        if not values:
            return []
        if self.light is not None:
            return await self._rows_in(field, values)
        return await self._rows(select(self.cls).where(self.table.c[field].in_(values)))

    async def list(self, query: ListQuery) -> Page[T]:
        return (await list_pages(self.session, self.cls, self.table, query, light=self.light))[None]

    async def list_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, Page[T]]:
        if not keys:
            return {}
        return await list_pages(self.session, self.cls, self.table, query, partition=field, keys=keys, light=self.light)

    async def count_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, int]:
        if not keys:
            return {}
        return await count_pages(self.session, self.table, query, field, keys)

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


# Statements of the light reads, built once per table and column(s); a request binds only the values.
@functools.cache
def _rows_in(table: Table, field: str) -> Select[Any]:
    return select(*table.c).where(table.c[field].in_(bindparam("values", expanding=True)))


@functools.lru_cache(maxsize=256)
def _rows_where(table: Table, fields: tuple[str, ...], one: bool) -> Select[Any]:
    stmt = select(*table.c).where(*(table.c[f] == bindparam(f) for f in fields))
    return stmt.limit(1) if one else stmt


_READERS: dict[type, Callable[[Sequence[Any]], Any]] = {}


def _readers(cls: type[T], table: Table) -> Callable[[Sequence[Any]], T]:
    reader = _READERS.get(cls)
    if reader is None:
        reader = _READERS[cls] = light_reader(cls, table)
    return reader
