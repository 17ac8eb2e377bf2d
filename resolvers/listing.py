"""Turning connection arguments (filters, ordering, cursors) into a domain ListQuery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.enums import SortDirection
from domain.errors import InvalidInput
from domain.paging import ListQuery, PageRequest
from resolvers.ids import decode_cursor, decode_id


@dataclass(frozen=True)
class ConnectionArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    filter: Any = None
    order_by: Any = None
    default_order: str = "created_at"
    rows_only: bool = False  # see ListQuery.rows_only


# GraphQL filter field -> (column, id type when the value is a global id)
FILTER_COLUMNS: Mapping[str, tuple[str, str | None]] = {
    "status": ("status", None),
    "priority": ("priority", None),
    "task_type": ("task_type", None),
    "environment": ("environment", None),
    "review_status": ("review_status", None),
    "test_type": ("test_type", None),
    "language": ("language", None),
    "role": ("role", None),
    "kind": ("kind", None),
    "provider": ("provider", None),
    "category": ("category", None),
    "assigned_to": ("assigned_to", "User"),
}


# A filter list becomes one SQL parameter per value; asyncpg allows 32,767 per statement.
MAX_FILTER_VALUES = 1_000


def _value(value: Any, id_type: str | None, field: str) -> Any:
    if isinstance(value, list) and len(value) > MAX_FILTER_VALUES:
        raise InvalidInput(f"{field} has {len(value)} values; at most {MAX_FILTER_VALUES} allowed", field=field)
    if id_type is None:
        return tuple(value) if isinstance(value, list) else value
    if isinstance(value, list):
        return tuple(decode_id(v, id_type, field) for v in value)
    return decode_id(value, id_type, field)


def to_list_query(args: ConnectionArgs, **fixed: Any) -> ListQuery:
    filters = []
    if args.filter is not None:
        for name, value in vars(args.filter).items():
            if value is None:
                continue
            column, id_type = FILTER_COLUMNS[name]
            filters.append((column, _value(value, id_type, f"filter.{name}")))
    filters.extend((k, v) for k, v in fixed.items() if v is not None)
    order_field, direction = args.default_order, SortDirection.ASC
    if args.order_by is not None:
        order_field = args.order_by.field.value
        direction = SortDirection(args.order_by.direction.value)
    page = PageRequest(
        first=args.first,
        after=decode_cursor(args.after, "after"),
        last=args.last,
        before=decode_cursor(args.before, "before"),
    )
    return ListQuery(
        filters=tuple(filters), order_by=order_field, direction=direction, page=page, rows_only=args.rows_only
    )
