"""PostgreSQL compiled reads: one statement per read plan that builds each root connection's JSON in the database.

Each connection is a correlated subquery: its rows numbered by the listing's ordering (the same ordering, window
and scope as persistence/listing.py), aggregated with json_agg into the connection's object; links are scalar
subqueries by id. Every value is presented as the GraphQL layer presents it (global ids, offset cursors, enum
names, ISO timestamps in UTC, decimals as floats), so the text can be spliced into the response unchanged."""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only, greenlet_spawn

from domain.compiled import (
    Cursor,
    EdgeNode,
    Edges,
    Field,
    Kind,
    Link,
    Listing,
    Literal,
    Lookup,
    Nodes,
    PageField,
    PageInfo,
    PageValue,
    ReadPlan,
    Total,
    Value,
)
from domain.enums import SortDirection
from domain.paging import RANKED_COLUMNS, ListQuery
from persistence import tables

TABLES = {
    "projects": tables.projects,
    "requirements": tables.requirements,
    "tasks": tables.tasks,
    "users": tables.users,
}
SCOPE_COLUMN = {"projects": "id", "requirements": "project_id", "tasks": "project_id"}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _b64(expr: str) -> str:
    """URL-safe base64 of a text (PostgreSQL's encoder breaks lines every 76 characters: removed)."""
    return f"translate(encode(convert_to({expr}, 'UTF8'), 'base64'), E'+/\\n', '-_')"


def global_id(type_name: str, column: str) -> str:
    prefix = _quote(type_name + ":")
    return "rtrim(" + _b64(f"{prefix} || {column}::text") + ", '=')"


def cursor(offset: str) -> str:
    encoded = _b64("'offset:' || " + offset + "::text")
    return f"(CASE WHEN {offset} IS NULL THEN NULL ELSE {encoded} END)"


def timestamp(column: str) -> str:
    """datetime.isoformat() of a UTC datetime: microseconds only when not zero."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN to_char({utc}, 'US') = '000000' THEN '' ELSE to_char({utc}, '.US') END || '+00:00')"
    )


def decimal_as_float(column: str) -> str:
    """A NUMERIC as Python prints the float: 3.0, 3.5, 0.25."""
    return (
        f"(CASE WHEN {column} IS NULL THEN NULL WHEN {column} = trunc({column}) "
        f"THEN trunc({column})::text || '.0' ELSE {column}::float8::text END)::json"
    )


def _value(row: str, value: Value) -> str:
    column = f"{row}.{value.column}"
    match value.kind:
        case Kind.ID:
            return global_id(value.arg, column)
        case Kind.TIMESTAMP:
            return timestamp(column)
        case Kind.DATE:
            return f"to_char({column}, 'YYYY-MM-DD')"
        case Kind.DECIMAL:
            return decimal_as_float(column)
        case Kind.JSON_LIST:
            return f"{column}::json"
        case _:
            return column


def _object(pairs: Sequence[tuple[str, str]]) -> str:
    return "json_build_object(" + ", ".join(f"{_quote(k)}, {v}" for k, v in pairs) + ")"


class Statement:
    """Builds one SELECT and its positional parameters ($1, $2, ...)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        # (parameter index, root index, Lookup attribute): where each root lookup's own values go (see compile_plan).
        self.slots: list[tuple[int, int, str]] = []
        self._aliases = 0

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def fields(self, row: str, fields: Sequence[Field]) -> str:
        pairs = []
        for field in fields:
            if isinstance(field, Value):
                pairs.append((field.key, _value(row, field)))
            elif isinstance(field, Literal):
                pairs.append((field.key, f"{_quote(field.text)}::text"))
            elif isinstance(field, Link):
                pairs.append((field.key, self.link(row, field)))
            else:
                pairs.append((field.key, self.listing(field, row)))
        return _object(pairs)

    def link(self, row: str, link: Link) -> str:
        alias = self.alias("l")
        table = TABLES[link.entity].name
        return f"(SELECT {self.fields(alias, link.fields)} FROM {table} {alias} WHERE {alias}.id = {row}.{link.column})"

    def member_scope(self, alias: str, entity: str, member_id: Any) -> str:
        scope = f"{alias}.{SCOPE_COLUMN[entity]}"
        user = self.param(member_id, "uuid")
        return f"{scope} IN (SELECT m.project_id FROM project_members m WHERE m.user_id = {user})"

    def lookup(self, lookup: Lookup, index: int) -> str:
        """The row's object, or NULL when no row with that id lies in the scope (root `index`'s id and member)."""
        r = self.alias("r")
        self.slots.append((len(self.params), index, "id"))
        conds = [f"{r}.id = {self.param(lookup.id, 'uuid')}"]
        if lookup.member_id is not None:
            self.slots.append((len(self.params), index, "member_id"))
            conds.append(self.member_scope(r, lookup.entity, lookup.member_id))
        table = TABLES[lookup.entity].name
        return f"(SELECT {self.fields(r, lookup.fields)} FROM {table} {r} WHERE {' AND '.join(conds)})"

    def root(self, root: Listing | Lookup, index: int) -> str:
        return self.listing(root) if isinstance(root, Listing) else self.lookup(root, index)

    def _conditions(self, alias: str, listing: Listing, parent_row: str | None) -> list[str]:
        query = listing.query
        conds = []
        for name, value in query.filters:
            column = f"{alias}.{name}"
            if isinstance(value, (tuple, list, frozenset)):
                values = [_plain(v) for v in value]
                cast = "uuid[]" if values and isinstance(values[0], uuid.UUID) else "text[]"
                conds.append(f"{column} = ANY({self.param(values, cast)})")
            else:
                plain = _plain(value)
                conds.append(f"{column} = {self.param(plain, 'uuid' if isinstance(plain, uuid.UUID) else 'text')}")
        if query.member_id is not None:
            conds.append(self.member_scope(alias, listing.entity, query.member_id))
        if parent_row is not None and listing.parent_column is not None:
            conds.append(f"{alias}.{listing.parent_column} = {parent_row}.id")
        return conds

    def listing(self, listing: Listing, parent_row: str | None = None) -> str:
        query, page = listing.query, listing.query.page
        table = TABLES[listing.entity].name
        if all(isinstance(part, (Literal, Total)) for part in listing.parts):
            return self._total_only(listing, parent_row)
        t, w, a = self.alias("t"), self.alias("w"), self.alias("a")
        where = " AND ".join(self._conditions(t, listing, parent_row)) or "TRUE"
        lo_value = page.after + 1 if page.after is not None else 0
        lo = self.param(lo_value, "bigint")
        if page.last is None:
            # rn in [lo, lo + size), and below `before`: an OFFSET/LIMIT (a bounded sort), numbered from lo.
            hi = lo_value + page.size if page.before is None else min(lo_value + page.size, page.before)
            limit = self.param(max(hi - lo_value, 0), "bigint")
            s = self.alias("s")
            rows = (
                f"(SELECT {s}.*, {lo} + row_number() OVER (ORDER BY {_ordering(s, query, False)}) - 1 AS rn "
                f"FROM (SELECT {t}.* FROM {table} {t} WHERE {where} ORDER BY {_ordering(t, query, False)} "
                f"OFFSET {lo} LIMIT {limit}) {s}) {w}"
            )
            window = ["TRUE"]
        else:
            numbered = (
                f"row_number() OVER (ORDER BY {_ordering(t, query, False)}) - 1 AS rn, "
                f"row_number() OVER (ORDER BY {_ordering(t, query, True)}) - 1 AS rn_desc"
            )
            rows = f"(SELECT {t}.*, {numbered} FROM {table} {t} WHERE {where}) {w}"
            window = [f"{w}.rn >= {lo}"]
            if page.before is not None:
                window.append(f"{w}.rn < {self.param(page.before, 'bigint')}")
            if page.before is None:
                window.append(f"{w}.rn_desc < {self.param(page.last, 'bigint')}")
            else:
                window.append(
                    f"({w}.rn >= {self.param(page.before - page.last, 'bigint')} "
                    f"OR {w}.rn_desc < {self.param(page.last, 'bigint')})"
                )

        aggregates = [f"min({w}.rn) AS first_rn", f"max({w}.rn) AS last_rn", "count(*) AS n"]
        pairs: list[tuple[str, str]] = []
        needs_total = False
        for i, part in enumerate(listing.parts):
            if isinstance(part, Literal):
                pairs.append((part.key, f"{_quote(part.text)}::text"))
            elif isinstance(part, Nodes):
                aggregates.append(f"json_agg({self.fields(w, part.fields)} ORDER BY {w}.rn) AS agg{i}")
                pairs.append((part.key, f"coalesce({a}.agg{i}, '[]'::json)"))
            elif isinstance(part, Edges):
                aggregates.append(f"json_agg({self._edge(w, part)} ORDER BY {w}.rn) AS agg{i}")
                pairs.append((part.key, f"coalesce({a}.agg{i}, '[]'::json)"))
            elif isinstance(part, Total):
                needs_total = True
                pairs.append((part.key, f"{a}.total"))
            else:
                needs_total = needs_total or any(
                    isinstance(p, PageValue) and p.field in (PageField.HAS_NEXT, PageField.HAS_PREVIOUS)
                    for p in part.parts
                )
                pairs.append((part.key, self._page_info(a, part, lo)))
        if needs_total:
            c = self.alias("c")
            total_where = " AND ".join(self._conditions(c, listing, parent_row)) or "TRUE"
            aggregates.append(f"(SELECT count(*) FROM {table} {c} WHERE {total_where}) AS total")
        body = f"SELECT {', '.join(aggregates)} FROM {rows} WHERE {' AND '.join(window)}"
        return f"(SELECT {_object(pairs)} FROM ({body}) {a})"

    def _total_only(self, listing: Listing, parent_row: str | None) -> str:
        """A connection asked for nothing but its total: the COUNT, no rows."""
        c = self.alias("c")
        where = " AND ".join(self._conditions(c, listing, parent_row)) or "TRUE"
        count = f"(SELECT count(*) FROM {TABLES[listing.entity].name} {c} WHERE {where})"
        pairs = [
            (part.key, f"{_quote(part.text)}::text" if isinstance(part, Literal) else count) for part in listing.parts
        ]
        return _object(pairs)

    def _edge(self, row: str, edges: Edges) -> str:
        pairs = []
        for part in edges.parts:
            if isinstance(part, Literal):
                pairs.append((part.key, f"{_quote(part.text)}::text"))
            elif isinstance(part, Cursor):
                pairs.append((part.key, cursor(f"{row}.rn")))
            elif isinstance(part, EdgeNode):
                pairs.append((part.key, self.fields(row, part.fields)))
        return _object(pairs)

    def _page_info(self, a: str, info: PageInfo, lo: str) -> str:
        pairs = []
        for part in info.parts:
            if isinstance(part, Literal):
                pairs.append((part.key, f"{_quote(part.text)}::text"))
            elif part.field is PageField.HAS_NEXT:
                pairs.append(
                    (part.key, f"(CASE WHEN {a}.n > 0 THEN {a}.last_rn < {a}.total - 1 ELSE {lo} < {a}.total END)")
                )
            elif part.field is PageField.HAS_PREVIOUS:
                pairs.append(
                    (part.key, f"(CASE WHEN {a}.n > 0 THEN {a}.first_rn > 0 ELSE {lo} > 0 AND {a}.total > 0 END)")
                )
            elif part.field is PageField.START_CURSOR:
                pairs.append((part.key, cursor(f"{a}.first_rn")))
            else:
                pairs.append((part.key, cursor(f"{a}.last_rn")))
        return _object(pairs)


def _plain(value: Any) -> Any:
    """A filter value as the column stores it: enums by name (SQLAlchemy's Enum type), ids as UUIDs."""
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _ordering(alias: str, query: ListQuery, reverse: bool) -> str:
    """persistence.listing._ordering as SQL text: the column (enums by rank), then id; nulls last ascending."""
    column = f"{alias}.{query.order_by}"
    ranks = RANKED_COLUMNS.get(query.order_by)
    if ranks is not None:
        whens = " ".join(f"WHEN {_quote(v.name)} THEN {rank}" for rank, v in enumerate(ranks))
        column = f"(CASE {column} {whens} END)"
    asc = (query.direction is SortDirection.ASC) != reverse
    keys = [column, f"{alias}.id"] if query.order_by != "id" else [column]
    return ", ".join(f"{k} ASC NULLS LAST" if asc else f"{k} DESC NULLS FIRST" for k in keys)


# A root lookup in a plan's shape: its id stands out (a refetch asks for a new row each time), and so does its member.
_LookupShape = tuple[str, str, tuple[Field, ...], bool]
_MEMBER = object()  # a scoped lookup's member while its shape compiles, filled in per plan


def compile_plan(plan: ReadPlan) -> tuple[str, tuple[Any, ...]]:
    """The statement and its parameters. The text depends only on the plan's shape (which fields, filters, page
    arguments), so PostgreSQL's prepared statement is reused while the values vary; a root lookup's id and member
    are left out of the shape, so refetching row after row compiles the statement once."""
    roots = plan.roots
    shape = tuple((r.key, r.entity, r.fields, r.member_id is not None) if isinstance(r, Lookup) else r for r in roots)
    sql, params, slots = _compile_shape(shape)
    if not slots:
        return sql, params
    values = list(params)
    for at, index, attribute in slots:
        values[at] = getattr(roots[index], attribute)
    return sql, tuple(values)


@functools.lru_cache(maxsize=1_000)
def _compile_shape(shape: tuple[Listing | _LookupShape, ...]) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """The statement of a plan shape, its parameters (a lookup's id and member as None) and where those go."""
    statement = Statement()
    roots = [
        r if isinstance(r, Listing) else Lookup(r[0], r[1], None, r[2], member_id=_MEMBER if r[3] else None)
        for r in shape
    ]
    columns = [f"({statement.root(root, index)})::text" for index, root in enumerate(roots)]
    params = [None if p is _MEMBER else p for p in statement.params]
    return "SELECT " + ", ".join(columns), tuple(params), tuple(statement.slots)


class PgCompiledReader:
    """Runs a plan's one statement on a pooled connection, outside any transaction (a single SELECT). The pool's own
    connection, without SQLAlchemy's Connection around it, checked out, used and returned in one greenlet: a hop
    (and a shielding task) each for the checkout and the return cost more than the statement's Python."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def read(self, plan: ReadPlan) -> list[str | None]:
        sql, params = compile_plan(plan)
        return list(await self.fetch_row(sql, params))

    async def fetch_row(self, sql: str, params: Sequence[Any]) -> Any:
        return await greenlet_spawn(self._fetch_row, sql, params)

    def _fetch_row(self, sql: str, params: Sequence[Any]) -> Any:
        pooled = self.engine.sync_engine.raw_connection()
        try:
            return await_only(pooled.driver_connection.fetchrow(sql, *params))  # type: ignore[union-attr]  # asyncpg's
        finally:
            # Also when the request was cancelled: greenlet_spawn raises the cancellation inside the greenlet, at the
            # fetch, so the connection goes back before the request's task ends.
            pooled.close()
