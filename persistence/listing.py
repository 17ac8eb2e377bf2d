"""Windowed listing: one COUNT and one ROW_NUMBER query serve a page, or a page per parent key (a forward page read
for its rows only needs no COUNT).

The two statements of a listing are built once per shape (entity, filtered columns, scope, partition, ordering,
window) with bound parameters, and reused: a request binds only the values (building and cache-keying SQLAlchemy
constructs per request cost more than running them)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Table, bindparam, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.enums import SortDirection
from domain.errors import InvalidInput
from domain.paging import RANKED_COLUMNS, Between, ListQuery, Page
from persistence import tables


@dataclass(frozen=True)
class _Shape:
    """What a listing's SQL text depends on (not its values)."""

    table: Table
    cls: type | None  # None: plain columns (light reads), else the mapped entity
    filters: tuple[tuple[str, str], ...]  # (column, how: eq | in | ge | le | range)
    member: bool
    partition: str | None
    order_by: str
    direction: SortDirection
    before: bool
    last: bool


def _how(value: Any) -> str:
    if isinstance(value, Between):
        return {(True, True): "range", (True, False): "ge", (False, True): "le"}.get(
            (value.low is not None, value.high is not None), "none"
        )
    return "in" if isinstance(value, (tuple, list, frozenset)) else "eq"


def _filter_params(query: ListQuery) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, (_, value) in enumerate(query.filters):
        if isinstance(value, Between):
            if value.low is not None:
                params[f"f{i}_lo"] = value.low
            if value.high is not None:
                params[f"f{i}_hi"] = value.high
        else:
            params[f"f{i}"] = list(value) if isinstance(value, (tuple, list, frozenset)) else value
    if query.member_id is not None:
        params["member"] = query.member_id
    return params


def _conditions(shape: _Shape) -> list[Any]:
    table = shape.table
    conds: list[Any] = []
    for i, (name, how) in enumerate(shape.filters):
        column = table.c.get(name)
        if column is None:
            raise InvalidInput(f"cannot filter by {name}", field=name)
        if how in ("ge", "range"):
            conds.append(column >= bindparam(f"f{i}_lo"))
        if how in ("le", "range"):
            conds.append(column <= bindparam(f"f{i}_hi"))
        if how == "in":
            conds.append(column.in_(bindparam(f"f{i}", expanding=True)))
        elif how == "eq":
            conds.append(column == bindparam(f"f{i}"))
    if shape.member:
        scope = table.c.id if table is tables.projects else table.c.project_id
        members = tables.project_members
        conds.append(scope.in_(select(members.c.project_id).where(members.c.user_id == bindparam("member"))))
    return conds


def _ordering(table: Table, order_by: str, direction: SortDirection, reverse: bool) -> list[Any]:
    column = table.c.get(order_by)
    if column is None:
        raise InvalidInput(f"cannot order by {order_by}", field="orderBy")
    ranks = RANKED_COLUMNS.get(order_by)
    key = column if ranks is None else case({value: rank for rank, value in enumerate(ranks)}, value=column)
    asc = (direction is SortDirection.ASC) != reverse
    keys = [key, table.c.id] if order_by != "id" else [key]
    return [k.asc().nulls_last() if asc else k.desc().nulls_first() for k in keys]


def _window(shape: _Shape, rn: Any, rn_desc: Any) -> list[Any]:
    conds = [rn >= bindparam("lo")]
    if shape.before:
        conds.append(rn < bindparam("before"))
    if not shape.last:
        conds.append(rn < bindparam("hi"))
    elif not shape.before:
        conds.append(rn_desc < bindparam("last"))
    else:  # the last rows before the cursor, or of the whole list when the cursor lies beyond its end
        conds.append(or_(rn >= bindparam("before_last"), rn_desc < bindparam("last")))
    return conds


def _forward(shape: _Shape) -> bool:
    """One list (not a page per parent) read forwards (no `last`): cut with OFFSET/LIMIT in the list's order, which
    the database answers with one bounded sort or an index scan, where numbering every row needs a full sort."""
    return shape.partition is None and not shape.last


def _window_params(query: ListQuery, forward: bool = False) -> dict[str, Any]:
    page = query.page
    lo = page.after + 1 if page.after is not None else 0
    if forward:
        end = lo + page.size if page.before is None else min(lo + page.size, page.before)
        return {"lo": lo, "size": max(0, end - lo)}
    params: dict[str, Any] = {"lo": lo}
    if page.before is not None:
        params["before"] = page.before
    if page.last is None:
        params["hi"] = lo + page.size
    else:
        params["last"] = page.last
        if page.before is not None:
            params["before_last"] = page.before - page.last
    return params


@functools.lru_cache(maxsize=512)
def _statements(shape: _Shape) -> tuple[Executable, Executable]:
    """(count statement, page statement) of a listing shape."""
    table = shape.table
    conds = _conditions(shape)
    part = table.c[shape.partition] if shape.partition else None
    if part is not None:
        conds.append(part.in_(bindparam("keys", expanding=True)))
    over: dict[str, Any] = {"partition_by": part} if part is not None else {}
    order = _ordering(table, shape.order_by, shape.direction, False)
    count_stmt = (
        select(part, func.count()).where(*conds).group_by(part)
        if part is not None
        else select(true(), func.count()).select_from(table).where(*conds)
    )
    if _forward(shape):
        columns = list(table.c) if shape.cls is None else [shape.cls]
        forward = select(*columns).where(*conds).order_by(*order).offset(bindparam("lo")).limit(bindparam("size"))
        return count_stmt, forward
    rn = (func.row_number().over(order_by=order, **over) - 1).label("rn")
    numbers = [rn]
    if shape.last:  # numbered from the end too (a second sort), only for `last`
        order_desc = _ordering(table, shape.order_by, shape.direction, True)
        numbers.append((func.row_number().over(order_by=order_desc, **over) - 1).label("rn_desc"))
    inner = select(table, *numbers).where(*conds).subquery()
    part_col = inner.c[shape.partition] if shape.partition else None
    selected: list[Any] = [inner.c[c.key] for c in table.c] if shape.cls is None else [aliased(shape.cls, inner)]
    page_stmt = (
        select(*selected, inner.c.rn)
        .where(*_window(shape, inner.c.rn, inner.c.rn_desc if shape.last else None))
        .order_by(*([part_col] if part_col is not None else []), inner.c.rn)
    )
    return count_stmt, page_stmt


async def count_pages(
    session: AsyncSession, table: Table, query: ListQuery, partition: str, keys: Sequence[Any]
) -> dict[Any, int]:
    """The totals of `list_pages` alone: its COUNT statement, without the rows."""
    count_stmt, _ = _statements(_shape_of(table, None, query, partition))
    params = {**_filter_params(query), "keys": list(keys)}
    return {row[0]: row[1] for row in (await session.execute(count_stmt, params)).all()}


def _shape_of(table: Table, cls: type | None, query: ListQuery, partition: str | None) -> _Shape:
    return _Shape(
        table,
        cls,
        tuple((name, _how(value)) for name, value in query.filters),
        query.member_id is not None,
        partition,
        query.order_by,
        query.direction,
        query.page.before is not None,
        query.page.last is not None,
    )


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
    shape = _shape_of(table, None if light is not None else cls, query, partition)
    count_stmt, stmt = _statements(shape)
    params = _filter_params(query)
    if partition:
        params["keys"] = list(keys)
    forward = _forward(shape)
    counted = not (forward and query.rows_only)  # one list read forwards: the hot shape; the others always count
    totals = (
        {k if partition else None: n for k, n in (await session.execute(count_stmt, params)).all()} if counted else {}
    )

    rows: dict[Any, list[tuple[Any, int]]] = defaultdict(list)
    window = _window_params(query, forward)
    for i, row in enumerate((await session.execute(stmt, {**params, **window})).all()):
        obj = light(row) if light is not None else row[0]
        # A forward page's rows are numbered from its first offset; a windowed one's carry their number (rn) last.
        offset = window["lo"] + i if forward else row[-1]
        rows[getattr(obj, partition) if partition else None].append((obj, offset))

    if not counted:
        found = rows.get(None, [])
        return {None: Page.uncounted([o for o, _ in found], [o for _, o in found])}
    result = {}
    for key in keys if partition else [None]:
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
