"""Windowed listing: one COUNT and one ROW_NUMBER query serve a page, or a page per parent key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.enums import SortDirection
from domain.errors import InvalidInput
from domain.paging import RANKED_COLUMNS, Between, ListQuery, Page
from persistence import tables


def conditions(table: Table, query: ListQuery) -> list[Any]:
    conds: list[Any] = []
    for name, value in query.filters:
        column = table.c.get(name)
        if column is None:
            raise InvalidInput(f"cannot filter by {name}", field=name)
        if isinstance(value, Between):
            conds.extend(
                c
                for c in (
                    column >= value.low if value.low is not None else None,
                    column <= value.high if value.high is not None else None,
                )
                if c is not None
            )
        else:
            conds.append(column.in_(value) if isinstance(value, (tuple, list, frozenset)) else column == value)
    if query.member_id is not None:
        scope = table.c.id if table is tables.projects else table.c.project_id
        members = tables.project_members
        conds.append(scope.in_(select(members.c.project_id).where(members.c.user_id == query.member_id)))
    return conds


def _ordering(table: Table, query: ListQuery, reverse: bool) -> list[Any]:
    column = table.c.get(query.order_by)
    if column is None:
        raise InvalidInput(f"cannot order by {query.order_by}", field="orderBy")
    ranks = RANKED_COLUMNS.get(query.order_by)
    key = column if ranks is None else case({value: rank for rank, value in enumerate(ranks)}, value=column)
    asc = (query.direction is SortDirection.ASC) != reverse
    keys = [key, table.c.id] if query.order_by != "id" else [key]
    return [k.asc().nulls_last() if asc else k.desc().nulls_first() for k in keys]


def _window(query: ListQuery, rn: Any, rn_desc: Any) -> list[Any]:
    page = query.page
    lo = page.after + 1 if page.after is not None else 0
    conds = [rn >= lo]
    if page.before is not None:
        conds.append(rn < page.before)
    if page.last is None:
        conds.append(rn < lo + page.size)
    elif page.before is None:
        conds.append(rn_desc < page.last)
    else:  # the last rows before the cursor, or of the whole list when the cursor lies beyond its end
        conds.append(or_(rn >= page.before - page.last, rn_desc < page.last))
    return conds


async def list_pages(
    session: AsyncSession,
    cls: type,
    table: Table,
    query: ListQuery,
    partition: str | None = None,
    keys: Sequence[Any] = (),
    light: Callable[[Sequence[Any]], Any] | None = None,
) -> dict[Any, Page]:
    """Pages of `cls` rows matching `query`, one per value of `partition` in `keys` (or one under None); with
    `light`, the rows are read with Core and built by it instead of the ORM."""
    conds = conditions(table, query)
    part = table.c[partition] if partition else None
    if part is not None:
        conds.append(part.in_(list(keys)))
    over: dict[str, Any] = {"partition_by": part} if part is not None else {}
    rn = (func.row_number().over(order_by=_ordering(table, query, False), **over) - 1).label("rn")
    rn_desc = (func.row_number().over(order_by=_ordering(table, query, True), **over) - 1).label("rn_desc")
    inner = select(table, rn, rn_desc).where(*conds).subquery()
    part_col = inner.c[partition] if partition else None
    selected: list[Any] = [inner.c[c.key] for c in table.c] if light is not None else [aliased(cls, inner)]
    stmt = (
        select(*selected, inner.c.rn)
        .where(*_window(query, inner.c.rn, inner.c.rn_desc))
        .order_by(*([part_col] if part_col is not None else []), inner.c.rn)
    )

    count_stmt = (
        select(part, func.count()).where(*conds).group_by(part)
        if part is not None
        else select(true(), func.count()).select_from(table).where(*conds)
    )
    totals = {k if part is not None else None: n for k, n in (await session.execute(count_stmt)).all()}

    rows: dict[Any, list[tuple[Any, int]]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        obj, offset = (light(row), row[-1]) if light is not None else (row[0], row[1])
        rows[getattr(obj, partition) if partition else None].append((obj, offset))

    result = {}
    for key in keys if part is not None else [None]:
        found, total = rows.get(key, []), totals.get(key, 0)
        lo = query.page.after + 1 if query.page.after is not None else 0
        offsets = [o for _, o in found]
        result[key] = Page(
            items=[o for o, _ in found],
            offsets=offsets,
            total=total,
            has_previous=(offsets[0] > 0) if offsets else lo > 0 and total > 0,
            has_next=(offsets[-1] < total - 1) if offsets else lo < total,
        )
    return result
